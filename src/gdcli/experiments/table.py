"""The runs in a folder as one table: what each run was (the settings that differ between
them), how it ended, its best and last validation and test accuracy, its time.

A run is read from its folder's files alone (folders.py): summary.json (how it ended),
config.toml (what it was), metrics.jsonl (every epoch, for the best figures). A folder whose
run has not finished has no summary yet: it is "running" while its train holds its weights
file, else "incomplete" (stopped without a word: killed, a machine gone).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdcli.config import DEFAULTS, KEYS, load_config
from gdcli.errors import GdcliError, UsageError, shorten
from gdcli.experiments import folders
from gdcli.io.atomic import is_claimed
from gdcli.io.paths import check_input

MAX_SUMMARY_BYTES = 1_000_000  # a summary is a few hundred bytes
# The table's columns that are figures, by name: (record attribute, larger is better).
FIGURES = {
    "epochs": ("epochs", False),
    "best_val": ("best_val_accuracy", True),
    "val": ("val_accuracy", True),
    "best_test": ("best_test_accuracy", True),
    "test": ("test_accuracy", True),
    "seconds": ("seconds", False),
}
COLUMNS = ("name", "status", *FIGURES)


@dataclass
class RunRecord:
    """One run folder, read. Figures are None where the run has none (no validation split, not
    finished); accuracies are fractions in [0, 1]."""

    path: Path
    name: str
    number: int
    status: str  # done, diverged, failed, interrupted, running, incomplete, unreadable
    config: dict[str, Any] = field(default_factory=dict)
    epochs: int | None = None
    best_val_accuracy: float | None = None
    val_accuracy: float | None = None
    best_test_accuracy: float | None = None
    test_accuracy: float | None = None
    seconds: float | None = None
    best_epoch: int | None = None
    stopped_early: bool | None = None
    interrupted_at: int | None = None
    error: str | None = None  # why it failed, or why the folder could not be read
    weights: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # set by read_runs

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "number": self.number,
            "status": self.status,
            "settings": self.settings,
            "epochs": self.epochs,
            "best_val_accuracy": self.best_val_accuracy,
            "val_accuracy": self.val_accuracy,
            "best_test_accuracy": self.best_test_accuracy,
            "test_accuracy": self.test_accuracy,
            "seconds": self.seconds,
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "interrupted_at": self.interrupted_at,
            "error": self.error,
            "weights": None if self.weights is None else str(self.weights),
            "config": self.config,
        }


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok and math.isfinite(value) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_summary(path: Path) -> dict[str, Any]:
    """A run's summary.json: a JSON object. GdcliError for anything else."""
    check_input(path, "summary", MAX_SUMMARY_BYTES)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise GdcliError(f"{path}: not a run's summary ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise GdcliError(f"{path}: not a run's summary (not a JSON object)")
    return data


def _best(history: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """(best, last) of `key` over the epochs that measured it."""
    values = [v for v in (_number(h.get(key)) for h in history) if v is not None]
    return (max(values), values[-1]) if values else (None, None)


def read_run(path: Path) -> RunRecord:
    """The run in folder `path` (never raises for what the folder holds: a folder that cannot
    be read is a record with status "unreadable" and the reason in `error`)."""
    from gdcli.viz.plot import read_metrics

    number = folders.run_number(path.name)
    record = RunRecord(path, path.name, -1 if number is None else number, "incomplete")
    try:
        if (path / folders.CONFIG).is_file():
            record.config = load_config(path / folders.CONFIG)
        summary_path = path / folders.SUMMARY
        if not summary_path.is_file():
            running = is_claimed(path / folders.WEIGHTS)
            record.status = "running" if running else "incomplete"
        else:
            _read_summary(record, read_summary(summary_path))
    except GdcliError as exc:
        record.status, record.error = "unreadable", exc.message
    try:
        if (path / folders.METRICS).is_file():
            _read_history(record, read_metrics(path / folders.METRICS))
    except GdcliError as exc:  # the summary still says how the run ended (a diverged run's
        record.error = record.error or exc.message  # last epoch may hold a runaway figure)
    if record.best_test_accuracy is None:
        record.best_test_accuracy = record.test_accuracy
    if record.best_val_accuracy is None:
        record.best_val_accuracy = record.val_accuracy
    if (path / folders.WEIGHTS).is_file():
        record.weights = path / folders.WEIGHTS
    return record


def _read_history(record: RunRecord, history: list[dict[str, Any]]) -> None:
    if not history:
        return
    record.epochs = record.epochs or history[-1]["epoch"]
    record.best_val_accuracy, last_val = _best(history, "val_accuracy")
    record.best_test_accuracy, last_test = _best(history, "test_accuracy")
    record.val_accuracy = last_val if last_val is not None else record.val_accuracy
    record.test_accuracy = last_test if last_test is not None else record.test_accuracy


def _read_summary(record: RunRecord, summary: dict[str, Any]) -> None:
    status = summary.get("status")
    record.status = {"ok": "done"}.get(status, status) if isinstance(status, str) else "done"
    record.status = shorten(record.status, 20).strip("'")
    record.epochs = _int(summary.get("epochs"))
    record.val_accuracy = _number(summary.get("val_accuracy"))
    record.test_accuracy = _number(summary.get("test_accuracy"))
    record.seconds = _number(summary.get("seconds"))
    record.best_epoch = _int(summary.get("best_epoch"))
    stopped = summary.get("stopped_early")
    record.stopped_early = stopped if isinstance(stopped, bool) else None
    record.interrupted_at = _int(summary.get("interrupted_at"))
    if record.interrupted_at is not None and record.status == "done":
        record.status = "interrupted"
    error = summary.get("error")
    record.error = shorten(error, 300)[1:-1] if isinstance(error, str) else None


def varying(records: list[RunRecord]) -> list[str]:
    """The config keys whose values are not all the same across `records` (for one run: those
    that differ from the defaults), in the config's order."""
    defaults = DEFAULTS.to_dict()
    configs = [{**defaults, **r.config} for r in records if r.config]
    if not configs:
        return []
    if len(configs) == 1:
        return [k for k in KEYS if configs[0][k] != defaults[k]]
    return [k for k in KEYS if any(c[k] != configs[0][k] for c in configs[1:])]


def read_runs(folder: Path) -> list[RunRecord]:
    """Every run folder in `folder`, by number, each with the settings that tell the runs apart.
    UsageError when `folder` is not a folder."""
    folder = Path(folder)
    if not folder.exists():
        raise UsageError(f"no run folder {folder}", hint="`gdcli train --run-dir DIR` makes one")
    check_input(folder, "run folder", folder=True)
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise UsageError(f"cannot read the run folder {folder}: {exc.strerror or exc}") from exc
    records = [read_run(p) for p in entries if folders.is_run_folder(p)]
    records.sort(key=lambda r: (r.number, r.name))
    keys = varying(records)
    defaults = DEFAULTS.to_dict()
    for r in records:
        r.settings = {k: r.config.get(k, defaults[k]) for k in keys} if r.config else {}
    return records


def sort_runs(records: list[RunRecord], column: str, reverse: bool = False) -> list[RunRecord]:
    """`records` sorted by `column`: one of COLUMNS or a config key. Accuracies best first,
    everything else from the smallest; runs without the figure last either way; `reverse`
    turns the order round (still keeping the missing ones last)."""
    if column not in COLUMNS and column not in KEYS:
        raise UsageError(
            f"cannot sort by {shorten(column)}",
            hint=f"sort by one of {', '.join(COLUMNS)}, or a config key (alpha, hidden, ...)",
        )
    if column == "name":
        return sorted(records, key=lambda r: (r.number, r.name), reverse=reverse)

    def value(r: RunRecord) -> Any:
        if column in FIGURES:
            return getattr(r, FIGURES[column][0])
        if column == "status":
            return r.status
        return r.config.get(column, getattr(DEFAULTS, column)) if r.config else None

    descending = FIGURES.get(column, ("", False))[1] != reverse
    present = [r for r in records if value(r) is not None]
    missing = [r for r in records if value(r) is None]
    present.sort(key=lambda r: (r.number, r.name))  # ties stay in this order (a stable sort)
    try:
        present.sort(key=value, reverse=descending)
    except TypeError:  # mixed types in one key (a hand-edited config): as text
        present.sort(key=lambda r: str(value(r)), reverse=descending)
    return present + missing
