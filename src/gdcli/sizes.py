"""What a training configuration takes, estimated before a byte of it is allocated, and the
limits that train's writer and every reader of its weights file share.

One estimator (`estimate`) gives the peak memory of a run and the size of the weights file it
writes: the weights and their working copies, the snapshots (kept in memory as float64 copies,
written as float32), the images, one batch's activations, the history. `check` refuses, when
the configuration is validated, what the reader would refuse (MAX_FILE_BYTES, MAX_LAYERS) and
what the memory this process can still take would not hold, in one line that says how much it
would take. Python ints throughout: `hidden = [9223372036854775807]` is a number here, not an
overflow.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gdcli.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from gdcli.config import TrainConfig

# What a weights file may hold once decompressed, all members together (weights_file reads no
# more, so train writes no more). A 784-1024-1024-10 network with eleven snapshots needs 170 MB.
MAX_FILE_BYTES = 1_000_000_000
# The meta string as numpy stores it (UTF-32, 4 bytes a character): the history of about
# 200,000 epochs.
MAX_META_BYTES = 256 << 20
MAX_LAYERS = 64  # layers of weights in a network (hidden layers + 1)
MAX_SNAPSHOTS = 10_000  # epochs whose weights one run keeps
# One epoch's record in the history, as JSON: up to 9 keys with full-precision floats (measured
# 170-200 characters, 240-270 with the validation figures), and the rest of meta (config,
# dataset checksums, the random state a resume needs: 7,000) in characters.
EPOCH_CHARS = 290
META_CHARS = 16_000
# Evaluation runs through the images in chunks whose widest layer takes at most this.
EVAL_CHUNK_BYTES = 32 << 20
FLOAT = 8  # bytes of a float64
N_PIXELS = 784
N_CLASSES = 10
IDX_HEADER = 16  # bytes before the pixels of an IDX images file


@dataclass
class Estimate:
    """memory: the peak bytes a run takes; file: the weights file's bytes once decompressed;
    parts: what the memory is made of, by name, biggest first when shown."""

    memory: int
    file: int
    parts: dict[str, int] = field(default_factory=dict)

    def largest(self, n: int = 2) -> str:
        """The `n` biggest parts in words: "snapshots 3.1 GB, weights 1.0 GB"."""
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])[:n]
        return ", ".join(f"{name} {human(size)}" for name, size in top)


def human(n: int | float) -> str:
    """Bytes in words, with enough digits to tell a figure from a nearby limit."""
    if n >= 1e15:
        return f"{n:.2e} bytes"
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{int(n)} bytes"


def chunk_rows(widest: int) -> int:
    """Rows of a chunk of evaluation whose widest layer holds `widest` units."""
    return max(1, EVAL_CHUNK_BYTES // (FLOAT * max(1, widest)))


def estimate(
    cfg: TrainConfig, n_train: int, n_test: int, n_snapshots: int, epochs: int | None = None
) -> Estimate:
    """What training `cfg` on `n_train` images (testing on `n_test`) and keeping
    `n_snapshots` snapshots takes: peak memory and the weights file's size."""
    conv = cfg.conv_layer()
    first = [] if conv is None else [conv.units(cfg.kernels)]  # the conv layer's outputs
    sizes = [N_PIXELS, *first, *cfg.hidden, N_CLASSES]
    weights = sum(a * b for a, b in itertools.pairwise(sizes))
    if conv is not None:  # its weights are its kernels, not pixels x outputs
        weights += conv.kernel**2 * cfg.kernels - N_PIXELS * first[0]
    units = sum(sizes[1:])
    biases = units if cfg.bias else 0
    epochs = cfg.epochs if epochs is None else epochs
    rows = cfg.batch_size * (5 if cfg.augment == "shifts" else 1)
    widest = max(sizes)
    meta_chars = META_CHARS + EPOCH_CHARS * epochs
    parts = {
        # the images as float64, deskewed copies, and the engines' own copies (with the bias)
        "images": (n_train + n_test) * N_PIXELS * FLOAT * 2 + n_train * (N_PIXELS + 1) * FLOAT,
        # the weights, their step buffers, the gradient's temporaries, the copies of the last
        # finished epoch (for an interrupt) and of the best one (keep = best)
        "weights": (weights + biases) * FLOAT * 6,
        # float64 copies while training, float32 stacks while writing
        "snapshots": n_snapshots * weights * (FLOAT + 4),
        # one step's outputs, sums, deltas, derivatives and dropout masks
        "activations": rows * (N_PIXELS + units) * FLOAT * 6,
        # the test images' pass, a chunk at a time, and the predictions of an epoch
        "evaluation": min(n_test, chunk_rows(widest)) * widest * FLOAT * 3
        + (n_train + n_test) * N_CLASSES * FLOAT * 3,
        "history": meta_chars * 4 * 3 + epochs * 600,  # meta (UTF-32), JSON, Python objects
    }
    if conv is not None:
        patch = conv.kernel**2
        # the training images' patches (float64) and their rows with ink; the test images'
        # patches (float32) for the certified test (nn/certified.py), at most every position
        parts["patches"] = n_train * conv.positions * patch * FLOAT * 2
        parts["evaluation"] += n_test * conv.positions * (patch + 2) * 4
    file = (weights + biases) * FLOAT + n_snapshots * weights * 4 + meta_chars * 4
    return Estimate(sum(parts.values()), file, parts)


def _read_number(path: str, key: str | None = None) -> int | None:
    """A number from a /proc or /sys file: the value of line `key` (kB, as bytes), or the
    whole file (bytes); None when absent or "max"."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    if key is None:
        text = text.strip()
        return int(text) if text.isdigit() else None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return None


def memory_available() -> int | None:
    """Bytes this process can still allocate, as far as the system tells: the address-space
    limit (ulimit -v, prlimit --as) less what is mapped, the cgroup's limit less its use, and
    the memory the kernel says is available (with free swap). None when nothing tells."""
    room = []
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            room.append(soft - (_read_number("/proc/self/status", "VmSize") or 0))
    limit = _read_number("/sys/fs/cgroup/memory.max")
    if limit is not None:
        room.append(limit - (_read_number("/sys/fs/cgroup/memory.current") or 0))
    available = _read_number("/proc/meminfo", "MemAvailable")
    if available is not None:
        room.append(available + (_read_number("/proc/meminfo", "SwapFree") or 0))
    return max(0, min(room)) if room else None


def check(cfg: TrainConfig, n_train: int, n_test: int, n_snapshots: int) -> Estimate:
    """Refuse (UsageError, exit 2) a configuration whose weights file a reader would refuse or
    whose run would not fit in memory; the estimate otherwise."""
    if cfg.n_layers > MAX_LAYERS:
        raise UsageError(
            f"hidden: {len(cfg.hidden)} hidden layers; gdcli reads networks of 1 to "
            f"{MAX_LAYERS} layers, so at most {MAX_LAYERS - 1} hidden layers"
        )
    est = estimate(cfg, n_train, n_test, n_snapshots)
    meta = (META_CHARS + EPOCH_CHARS * cfg.epochs) * 4
    if meta > MAX_META_BYTES:
        raise UsageError(
            f"epochs: the history of {cfg.epochs:,} epochs would take {human(meta)} in the "
            f"weights file; gdcli reads at most {human(MAX_META_BYTES)} of it "
            f"(about {MAX_META_BYTES // (EPOCH_CHARS * 4):,} epochs)"
        )
    if est.file > MAX_FILE_BYTES:
        raise UsageError(
            f"the weights file would hold {human(est.file)} ({_params(cfg)} weights and "
            f"{n_snapshots:,} snapshots of them); gdcli reads weights files of at most "
            f"{human(MAX_FILE_BYTES)}",
            hint="keep fewer snapshots (snapshots = auto or none) or use smaller hidden layers",
        )
    room = memory_available()
    if room is not None and est.memory > room:
        raise UsageError(
            f"this configuration would take about {human(est.memory)} of memory "
            f"({est.largest()}); {human(room)} is available",
            hint="use smaller hidden layers, a smaller batch_size or fewer snapshots",
        )
    return est


def _params(cfg: TrainConfig) -> str:
    sizes = [N_PIXELS, *cfg.hidden, N_CLASSES]
    return f"{sum(a * b for a, b in itertools.pairwise(sizes)):,}"


def images_in(idx_bytes: int, per_image: int = N_PIXELS) -> int:
    """How many images an IDX images file of `idx_bytes` holds."""
    return max(0, (idx_bytes - IDX_HEADER) // per_image)
