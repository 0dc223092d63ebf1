"""Run folders: `DIR/3-alpha0.001/` holding one run's files, numbered in the order they were
made, created so that runs started at the same instant (in parallel, from several machines on
one shared file system) each get a folder of their own.

How a folder is made without a lock (mkdir and rename are atomic, on NFS too): the number is
claimed by creating the bare folder `DIR/N` (mkdir fails if it exists); the claimant then looks
for a finished folder `N-...` that an earlier holder of N made, and if there is one, gives N up
and tries N + 1; else it renames `N` to `N-label`. Two processes never both hold `N`, and a
process that claims `N` after another renamed it away sees that other's `N-...` folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gdcli.errors import UsageError

WEIGHTS = "weights.npz"
METRICS = "metrics.jsonl"
CONFIG = "config.toml"
SUMMARY = "summary.json"
FILES = (WEIGHTS, METRICS, CONFIG, SUMMARY)

_NUMBERED = re.compile(r"(\d{1,9})(?:-.*)?")
MAX_TRIES = 10_000


def run_number(name: str) -> int | None:
    """The number a run folder's name starts with (`3-alpha0.001` -> 3), or None."""
    m = _NUMBERED.fullmatch(name)
    return int(m[1]) if m else None


def _entries(parent: Path) -> list[str]:
    try:
        return os.listdir(parent)
    except OSError as exc:
        raise UsageError(f"cannot read the run folder {parent}: {exc.strerror or exc}") from exc


def next_number(parent: Path) -> int:
    """One more than the highest number of the folders in `parent` (1 in an empty one)."""
    numbers = [n for n in map(run_number, _entries(parent)) if n is not None]
    return max(numbers, default=0) + 1


def new_run_folder(parent: Path, label: str) -> Path:
    """Make and return a new folder `parent/N-label`, N the next free number (see above);
    `parent` is made if missing. UsageError when `parent` cannot hold it."""
    parent = Path(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"run folder {parent}: is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"run folder {parent}: cannot make it: {exc.strerror or exc}") from exc
    if not parent.is_dir():
        raise UsageError(f"run folder {parent}: is not a folder")
    n = next_number(parent)
    for _ in range(MAX_TRIES):
        slot = parent / str(n)
        try:
            slot.mkdir()
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            raise UsageError(
                f"run folder {parent}: cannot write there: {exc.strerror or exc}"
            ) from exc
        if any(run_number(e) == n and e != str(n) for e in _entries(parent)):
            slot.rmdir()  # an earlier holder of n finished its folder: n is taken
            n += 1
            continue
        final = parent / f"{n}-{label}"
        os.rename(slot, final)
        return final
    raise UsageError(f"run folder {parent}: no free number after {MAX_TRIES:,} tries")


def is_run_folder(path: Path) -> bool:
    """A numbered folder holding a run's config or summary (what `new_run_folder` made and
    `gdcli train --run-dir` filled)."""
    return (
        run_number(path.name) is not None
        and path.is_dir()
        and any((path / f).is_file() for f in (CONFIG, SUMMARY))
    )
