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
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any, cast

from rich import box
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


def print_table(
    title: str | None, columns: list[str], rows: list[list[Any]], compact: bool = False
) -> None:
    """A table on stdout: the first column left-aligned, the others (numbers) right-aligned.

    Cells never wrap: a number or a word folded over two lines misreads (72. over 04%), so
    the callers keep tables narrow enough for 60 columns instead. `compact`: no box and one
    space between columns (the confusion matrix, eleven columns).
    """
    table = Table(title=title, title_justify="left")
    if compact:
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1),
                      pad_edge=False, show_edge=False)  # fmt: skip
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(str(v) for v in row))
    stdout.print(table)


def _cut(v: float, places: int) -> Decimal:
    """`v` cut (toward zero, never rounded) to `places` decimals, from its shortest repr, so
    that 0.7204 stays 0.7204 and is not 0.72039999."""
    return Decimal(repr(float(v))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)


def fmt_error(v: float | None) -> str:
    """An error as gdcli shows it on the screen: cut, never rounded, to 3 decimals, which is
    what the book's log line shows (its str(error)[0:5]) for errors from 0.01 to 9.999; below
    0.01, to 3 significant digits (the book's five characters would show 0.000). "-" for
    None; inf and nan as they are. Full precision is in --json and --metrics."""
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    if v == 0 or abs(v) >= 0.01:
        return f"{_cut(v, 3):f}"
    places = 2 - math.floor(math.log10(abs(v)))  # 0.00123 -> 5 places, 3 significant digits
    return f"{_cut(v, places):f}"


def fmt_pct(v: float | None) -> str:
    """A fraction (an accuracy) as a percentage cut, never rounded, to 2 decimals: the same
    digits as the book's Test-Acc:0.7204 (72.04%) for a 10,000-image test set. "-" for None."""
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    return f"{_cut(v, 6).scaleb(2).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}%"


def fmt_value(v: float | None, pct: bool = False) -> str:
    """A figure for a table: an error (fmt_error) or, with `pct`, an accuracy (fmt_pct)."""
    return fmt_pct(v) if pct else fmt_error(v)


def wrote(console: Console, path: object) -> None:
    """Say on stderr that a file was written: `wrote PATH`, one line, never folded.

    The rule of every command: stdout carries the result asked for (a table, a prediction,
    JSON); the files written are named on stderr (silenced by --quiet) and, with --json, in
    the JSON object.
    """
    console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)


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


class _StatusProgress(Progress):
    """A Progress with lines of text under its bar (rich's documented get_renderables hook)."""

    status: tuple[str, ...] = ()

    def get_renderables(self) -> Iterator[Any]:
        yield self.make_tasks_table(self.tasks)
        for line in self.status:
            yield Text(line, no_wrap=True, overflow="ellipsis")


def figures(m: Mapping[str, Any], which: str) -> str:
    """`err 0.797  acc 69.20%`: one set's error and accuracy from a history entry, as every
    screen of gdcli shows them (fmt_error, fmt_pct)."""
    error = m.get(f"{which}_error")
    shown = "" if error is None else f"err {fmt_error(error)}  "
    return f"{shown}acc {fmt_pct(m[f'{which}_accuracy'])}"


class TrainDisplay:
    """What `gdcli train` shows on stderr while it trains.

    Every tested epoch: the book's log line (`book.log_line`), in the book's format: its I
    counts from 0, so I:10 is epoch 11. On a terminal, below those lines, a live display: a
    spinner, epoch n/N (epochs counted from 1, as everywhere in gdcli but the book's line), a
    bar, elapsed and remaining time; then the last epoch's train figures and the latest test
    figures, which are those of the last log line, named by both numbers (`epoch 11, I:10`).
    Figures are cut as the log line cuts them (fmt_error, fmt_pct), so that one screen shows
    one number one way. Redrawn every epoch and, spinner and clocks, four times a second during
    long epochs; left on screen when training ends. With `console.quiet` (--quiet): nothing.
    """

    def __init__(self, console: Console, epochs: int) -> None:
        self.console = console
        self.test: list[str] = []  # the last tested epoch's lines: test, then validation
        self.progress: _StatusProgress | None = None
        if show_progress(console):
            self.progress = _StatusProgress(
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
        tested = m.get("test_accuracy") is not None
        if tested:
            at = f"at epoch {m['epoch']}, I:{m['epoch'] - 1}"
            self.test = [f"  test   {figures(m, 'test')}  {at}"]
            if m.get("val_accuracy") is not None:
                self.test.append(f"  val    {figures(m, 'val')}  {at}")
        # The display is brought up to this epoch before the log line is printed, and redrawn
        # at once: printing redraws it, and with the old figures it would lag the line above it
        # until the next refresh (a quarter of a second; many epochs when they are fast).
        if self.progress is not None:
            train = f"  train  {figures(m, 'train')}  at epoch {m['epoch']}"
            self.progress.status = (train, *self.test)
            self.progress.update(self.task, completed=m["epoch"])
        if tested:
            self.console.print(log_line(m), markup=False, highlight=False)
        if self.progress is not None:
            self.progress.refresh()
