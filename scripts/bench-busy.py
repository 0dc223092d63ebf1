"""`gdcli train` end to end on a quiet machine and with one core busy, with and without the
BLAS thread policies (gdcli/nn/threads.py), side by side.

    python scripts/bench-busy.py [--data-dir DIR] [--rounds 5] [-- TRAIN ARGS...]

Each run is `python -m gdcli train --alpha 0.01` (or TRAIN ARGS) as a subprocess, timed from
start to exit. Loads: quiet; busy, a `while True: pass` process the scheduler places freely;
pinned, the same process pinned to core 0. Policies: on (gdcli's default, chosen by the work),
one (GDCLI_BLAS_THREADS=1, gdcli 0.2's) and off (GDCLI_BLAS_THREADS=auto: OpenBLAS's own
threads, one per core). The runs are
interleaved, round after round, so a noisy neighbour hits every configuration alike; the table
gives medians, with ratios to the quiet run with the policy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gdcli.data.registry import resolve_data_dir
from gdcli.nn.threads import ENV, STANDARD_ENV

LOADS = ("quiet", "busy", "pinned")
# on: gdcli's choice (threads.py: one thread for per-image steps and small batches, BLAS's own
# for large batch products and the test); one: one thread for everything (gdcli 0.2); off:
# BLAS's own threads for everything
POLICIES = {"on": {}, "one": {ENV: "1"}, "off": {ENV: "auto"}}


@contextmanager
def load(kind: str) -> Iterator[None]:
    """Nothing ("quiet"), or a process spinning on a core, pinned to core 0 for "pinned"."""
    if kind == "quiet":
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        if kind == "pinned":
            os.sched_setaffinity(spinner.pid, {0})
        time.sleep(0.2)  # let it start spinning
        yield
    finally:
        spinner.kill()
        spinner.wait()


def run_train(train_args: list[str], data_dir: Path, out: Path, policy: str) -> tuple[float, float]:
    """Seconds of one `gdcli train` subprocess: wall clock, and training alone (its --json)."""
    env = {k: v for k, v in os.environ.items() if k not in (ENV, *STANDARD_ENV)}
    env.update(POLICIES[policy])
    cmd = [sys.executable, "-m", "gdcli", "train", *train_args]
    cmd += ["--data-dir", str(data_dir), "--out", str(out), "--quiet", "--json"]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - start, json.loads(done.stdout)["seconds"]


Times = dict[tuple[str, str], list[tuple[float, float]]]


def measure(train_args: list[str], data_dir: Path, rounds: int) -> Times:
    """Every (load, policy) pair `rounds` times, interleaved."""
    times: Times = {(kind, policy): [] for kind in LOADS for policy in POLICIES}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "weights.npz"
        run_train(train_args, data_dir, out, "on")  # warm the page cache
        for r in range(rounds):
            for kind in LOADS:
                # alternate which policy goes first, so neither always follows a cold start
                order = list(POLICIES) if r % 2 == 0 else list(reversed(POLICIES))
                with load(kind):
                    for policy in order:
                        times[kind, policy].append(run_train(train_args, data_dir, out, policy))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    return times


def report(times: Times) -> None:
    """The table: medians, ranges, and ratios to the quiet run with the policy on."""
    print("| load | BLAS policy | end to end, median s | min-max s | training s "
          "| vs quiet, policy on | this / on |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    base = _median(times["quiet", "on"])
    for kind in LOADS:
        on = _median(times[kind, "on"])
        for policy in POLICIES:
            runs = times[kind, policy]
            wall = _median(runs)
            ratio = f"{wall / on:.2f}x" if policy != "on" else ""
            print(f"| {kind} | {policy} | {wall:.2f} | {min(runs)[0]:.2f}-{max(runs)[0]:.2f} "
                  f"| {_median(runs, 1):.2f} | {wall / base:.2f}x | {ratio} |")  # fmt: skip


def _median(runs: list[tuple[float, float]], column: int = 0) -> float:
    return statistics.median(r[column] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("train_args", nargs="*", default=["--alpha", "0.01"])
    args = parser.parse_args()
    background = os.getloadavg()[0]  # what else runs on the machine, before we add to it
    times = measure(args.train_args, resolve_data_dir(args.data_dir), args.rounds)
    command = " ".join(["gdcli train", *args.train_args])
    print(f"`{command}`, {args.rounds} interleaved runs each, {os.cpu_count()} cores, "
          f"load average {background:.1f} before the first run")  # fmt: skip
    report(times)


if __name__ == "__main__":
    main()
