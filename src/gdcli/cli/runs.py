"""gdcli runs: the runs in a folder (`gdcli train --run-dir`, `gdcli sweep`) as one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gdcli.cli.app import JsonOpt, QuietOpt, app, option
from gdcli.cli.terminal import fmt_value, print_json, stdout

RUN_DIR = Path("runs")


def settings_text(settings: dict[str, Any]) -> str:
    """ "alpha=0.1 hidden=40": the settings that tell a run apart."""
    from gdcli.viz.plot import format_value

    return " ".join(f"{k}={format_value(v)}" for k, v in settings.items()) or "-"


def runs_rows(records: list[Any]) -> tuple[list[str], list[list[str]]]:
    """The table's columns and rows for `records` (experiments.table.RunRecord)."""
    columns = ["run", "settings", "status", "epochs", "best val", "val", "best test", "test",
               "time"]  # fmt: skip
    rows = []
    for r in records:
        rows.append([
            r.name, settings_text(r.settings), r.status,
            "-" if r.epochs is None else str(r.epochs),
            fmt_value(r.best_val_accuracy, pct=True), fmt_value(r.val_accuracy, pct=True),
            fmt_value(r.best_test_accuracy, pct=True), fmt_value(r.test_accuracy, pct=True),
            "-" if r.seconds is None else f"{r.seconds:.1f}s",
        ])  # fmt: skip
    return columns, rows


LEFT = 3  # run, settings, status: text, left-aligned; the figures right


def print_runs_table(columns: list[str], rows: list[list[str]]) -> None:
    table = Table()
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < LEFT else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    stdout.print(table)


@app.command("runs")
def runs_cmd(
    folder: Annotated[
        Path,
        typer.Argument(
            metavar="DIR",
            help="A folder of run folders (gdcli train --run-dir DIR). [default: runs]",
            show_default=False,
        ),
    ] = RUN_DIR,
    sort: Annotated[
        str,
        option(
            "--sort",
            help="Sort by a column (name, status, epochs, best_val, val, best_test, test, "
            "seconds) or a config key; accuracies best first.",
            default="name",
            metavar="COLUMN",
        ),
    ] = "name",
    reverse: Annotated[bool, option("--reverse", help="The other way round.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,  # it prints nothing on stderr but errors anyway
) -> None:
    """List the runs in a folder as one table. What differs between them, how each ended, its
    best and last validation and test accuracy, its time."""
    from gdcli.experiments.table import read_runs, sort_runs

    records = sort_runs(read_runs(folder), sort.replace("-", "_"), reverse)
    if as_json:
        print_json({"folder": str(folder), "runs": [r.to_json() for r in records]})
        return
    if not records:
        stdout.print(f"no runs in {folder}", markup=False)
        return
    print_runs_table(*runs_rows(records))
