"""How many threads BLAS may use while gdcli trains: chosen by the work and the machine,
unless the user says.

One thread for small products: per-image steps and their blocks, mini-batches whose product
is under PARALLEL_WORK multiply-adds. For products at least that large (chapter 9's batches,
100 images times 784x100, 7.8 million multiply-adds; the 10,000 test images) BLAS's own threads,
but only while no other process is running on the machine, checked before every epoch and every
test (others_running): with a core taken, BLAS's threads wait for each other at the end of every
product and the one whose core is taken waits for a time slice. Measured with
scripts/bench-busy.py, book-ch9 end to end: 5.6 s on BLAS's threads and 7.1 s on one quiet, but
16.4 s on BLAS's threads and 7.5 s on one with one core busy. The figures are the same either way
(BLAS computes each element of a product on one thread, in the same order).

Why one for small products. OpenBLAS splits each one over all cores anyway
(two here) and its threads busy-wait for each other at the end of every product. On a quiet
machine that costs nothing, but when another process holds one core, the thread waiting on that
core gets a time slice only every few milliseconds, so each product of a few microseconds waits
milliseconds: `gdcli train --alpha 0.01` took 5 to 24 s instead of 1.2 s on a 2-core machine with
one core busy (with gdcli 0.1's blocks of 256). With one thread nothing waits on anything. The
test of the 10,000 test images between epochs is one larger product that two threads speed up a
little on a quiet machine, but it suffers under load like the rest, so the whole of training runs
on one thread (scripts/bench-busy.py measures the cases side by side).

Why at run time, with threadpoolctl. The usual cure, OPENBLAS_NUM_THREADS=1 in the environment,
works only if set before numpy is first imported, which a library cannot promise, and it lasts for
the whole process. threadpoolctl sets the limit of the BLAS already loaded (OpenBLAS, MKL or BLIS,
whichever numpy uses), for the duration of a `with` block, and restores it afterwards.


The user decides first: GDCLI_BLAS_THREADS=N uses N threads, GDCLI_BLAS_THREADS=auto leaves BLAS
as it is; when it is unset but one of the standard variables (OMP_NUM_THREADS,
OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, BLIS_NUM_THREADS) is, that choice is kept too.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from threadpoolctl import ThreadpoolController

from gdcli.errors import UsageError, shorten

ENV = "GDCLI_BLAS_THREADS"
STANDARD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
DEFAULT_THREADS = 1
MAX_THREADS = 1024
# A step's first product, batch x inputs x units multiply-adds, from which BLAS's threads pay.
PARALLEL_WORK = 1_000_000


def blas_thread_limit(
    environ: Mapping[str, str], default: int | None = DEFAULT_THREADS
) -> int | None:
    """The number of BLAS threads for training, or None to leave BLAS as it is: the user's
    choice, else `default` (threads_for_work)."""
    value = environ.get(ENV, "").strip()
    if value == "":
        return None if any(environ.get(name) for name in STANDARD_ENV) else default
    if value.lower() == "auto":
        return None
    # the length first: int() of thousands of digits is slow, and refused past 4300 of them
    ok = value.isascii() and value.isdigit() and len(value) <= len(str(MAX_THREADS))
    if not ok or not 1 <= int(value) <= MAX_THREADS:
        raise UsageError(
            f"{ENV} must be a whole number from 1 to {MAX_THREADS} or 'auto', "
            f"got {shorten(value, 10)}",
            hint="unset it to let gdcli choose by the work (docs/commands.md, BLAS threads)",
        )
    return int(value)


@functools.cache
def _blas() -> tuple[ThreadpoolController, int]:
    """The controller of numpy's BLAS and its own thread count, read once (it costs ms)."""
    controller = ThreadpoolController()
    counts = [lib["num_threads"] for lib in controller.select(user_api="blas").info()]
    return controller, max(counts, default=1)


def others_running(proc: Path = Path("/proc")) -> int | None:
    """How many tasks of other processes are running (or ready to) right now: the kernel's
    procs_running less this process's own running threads; None where /proc does not say."""
    try:
        stat = (proc / "stat").read_text()
        running = int(next(line.split()[1] for line in stat.splitlines()
                           if line.startswith("procs_running")))  # fmt: skip
        ours = 0
        for task in (proc / "self" / "task").iterdir():
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                ours += (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return max(0, running - ours)


def large_products(work: int, environ: Mapping[str, str] | None = None) -> AbstractContextManager:
    """What an epoch or a test whose products take `work` multiply-adds runs in, inside
    training_threads: BLAS's own threads for work of at least PARALLEL_WORK while no other
    process is running, else one thread; as training_threads said when the user chose."""
    environ = os.environ if environ is None else environ
    if blas_thread_limit(environ, default=None) is not None or work < PARALLEL_WORK:
        return contextlib.nullcontext()  # the user's number, or small products: one thread
    controller, own = _blas()
    return controller.limit(limits=1 if others_running() else own, user_api="blas")


def training_threads(
    environ: Mapping[str, str] | None = None, default: int | None = DEFAULT_THREADS
) -> AbstractContextManager:
    """What train() runs in: BLAS limited to blas_thread_limit(environ or os.environ, default)
    threads (restored on exit), or nothing when BLAS is left as it is."""
    limit = blas_thread_limit(os.environ if environ is None else environ, default)
    if limit is None:
        return contextlib.nullcontext()
    return _blas()[0].limit(limits=limit, user_api="blas")
