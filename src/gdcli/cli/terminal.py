"""Everything that talks to the terminal: consoles, progress, the training display, tables, JSON.

stdout carries results only; progress and logs go to stderr. Live bars and spinners appear only
when stderr is a terminal; logs are plain lines elsewhere. rich honours NO_COLOR by itself.
Nothing here knows about training or networks: callers pass plain numbers.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from gdcli.book.errata import log_line

if TYPE_CHECKING:  # gdcli.data.fetch imports requests, gdcli.nn.train numpy: not at every start
    from gdcli.data.fetch import ProgressHook

# A file or a pipe has no width: lines and tables there are never folded to fit 80 columns.
UNBOUNDED_WIDTH = 10_000


def _console(**kwargs: Any) -> Console:
    console = Console(highlight=False, soft_wrap=True, **kwargs)
    if not console.is_terminal:
        console.width = UNBOUNDED_WIDTH
    return console


class _StdoutConsole:
    """The console for results, made for the sys.stdout of the moment.

    A Console decides at creation whether its file is a terminal and how wide it is. Made at
    import, it would keep those of whatever sys.stdout was then; made again whenever sys.stdout
    has been replaced (main() run in-process by the tests, with stdout captured), it sees the
    stream it writes to. A process that keeps its sys.stdout gets one console, as before.
    """

    def __init__(self) -> None:
        self._console: Console | None = None
        self._for: object = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None or self._for is not sys.stdout:
            self._console, self._for = _console(), sys.stdout
        return getattr(self._console, name)


stdout = cast(Console, _StdoutConsole())


def stderr_console(quiet: bool) -> Console:
    """The console for progress and logs; `quiet` silences it (errors bypass it)."""
    return _console(stderr=True, quiet=quiet)


def show_progress(console: Console) -> bool:
    """Live bars and spinners: only on a terminal, and not with --quiet."""
    return console.is_terminal and not console.quiet


def print_error(message: str, hint: str | None = None) -> None:
    """The one-line error (and optional hint) of an expected failure, plain text on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    if hint:
        print(f"hint: {hint}", file=sys.stderr, flush=True)


def json_safe(obj: Any) -> Any:
    """`obj` with every non-finite float (inf, -inf, nan) replaced by None, so that it encodes
    as RFC 8259 JSON (null); the caller's "status" says why a value is missing."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def to_json(obj: Any, indent: int | None = None) -> str:
    """Strict JSON text of `obj` (non-finite floats as null)."""
    return json.dumps(json_safe(obj), indent=indent, allow_nan=False)


def print_json(obj: Any) -> None:
    """One JSON object on stdout (non-finite floats as null)."""
    sys.stdout.write(to_json(obj, indent=2) + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        table.add_row(*(str(v) for v in row))
    stdout.print(table)


def fmt_value(v: float | None, pct: bool = False) -> str:
    """A number for a table: 6 significant digits, or a percentage; "-" for None."""
    if v is None:
        return "-"
    return f"{100 * v:.2f}%" if pct else f"{v:.6g}"


@contextlib.contextmanager
def spinner(console: Console, text: str) -> Iterator[None]:
    """A spinner with `text` on a terminal while something slow happens; nothing elsewhere."""
    if not show_progress(console):
        yield
        return
    with console.status(text):
        yield


@contextlib.contextmanager
def download_progress(console: Console) -> Iterator[ProgressHook | None]:
    """A ProgressHook drawing one bar per file on stderr, or None when not on a terminal."""
    if not show_progress(console):
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    tasks: dict[str, TaskID] = {}
    with Progress(*columns, console=console, transient=False) as progress:

        def hook(name: str, done: int, total: int | None) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        yield hook


class _TwoLineProgress(Progress):
    """A Progress with a line of text under its bar (rich's documented get_renderables hook)."""

    status = ""

    def get_renderables(self) -> Iterator[Any]:
        yield self.make_tasks_table(self.tasks)
        yield Text(self.status, no_wrap=True, overflow="ellipsis")


class TrainDisplay:
    """What `gdcli train` shows on stderr while it trains.

    Every tested epoch: the book's log line (`book.log_line`). On a terminal, below those lines,
    a live display of two lines: a spinner, epoch n/N, a bar, elapsed and remaining time; then
    the last epoch's train error and accuracy and the latest test figures (kept between tests).
    Redrawn every epoch and, spinner and clocks, four times a second during long epochs; left on
    screen when training ends. With `console.quiet` (--quiet): nothing at all.
    """

    def __init__(self, console: Console, epochs: int) -> None:
        self.console = console
        self.test = ""
        self.progress: _TwoLineProgress | None = None
        if show_progress(console):
            self.progress = _TwoLineProgress(
                SpinnerColumn(finished_text="[green]✓[/]"),
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(bar_width=None),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
                refresh_per_second=4,
            )
            self.task = self.progress.add_task("train", total=epochs)

    def __enter__(self) -> TrainDisplay:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def epoch(self, m: Mapping[str, Any]) -> None:
        """Show an epoch's figures (plain numbers: epoch from 1, train_error, train_accuracy,
        and test_error, test_accuracy when it was tested)."""
        if m.get("test_accuracy") is not None:
            self.console.print(log_line(m), markup=False, highlight=False)
            error = "" if m.get("test_error") is None else f"err {m['test_error']:.4g} "
            accuracy = 100 * m["test_accuracy"]
            self.test = f"   test (epoch {m['epoch']}): {error}acc {accuracy:.2f}%"
            if m.get("val_accuracy") is not None:
                self.test += f"   val: acc {100 * m['val_accuracy']:.2f}%"
        if self.progress is not None:
            train = f"err {m['train_error']:.4g} acc {100 * m['train_accuracy']:.1f}%"
            self.progress.status = f"  train: {train}{self.test}"
            self.progress.update(self.task, completed=m["epoch"])
