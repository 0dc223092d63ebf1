"""Everything that talks to the terminal: stderr console, progress bars, tables and JSON on stdout.

stdout carries results only; progress and logs go to stderr, and progress bars appear only when
stderr is a terminal. rich honours NO_COLOR by itself.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from gdcli.fetch import ProgressHook

stdout = Console(highlight=False, soft_wrap=True)


def stderr_console(quiet: bool) -> Console:
    """The console for progress and logs; `quiet` silences it (errors bypass it)."""
    return Console(stderr=True, quiet=quiet, highlight=False)


def show_progress(console: Console) -> bool:
    return console.is_terminal and not console.quiet


def print_error(message: str, hint: str | None = None) -> None:
    """The one-line error (and optional hint) of an expected failure, plain text on stderr."""
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


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
