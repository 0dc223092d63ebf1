"""gdcli plot: the learning curves of one or more runs in one figure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gdcli.cli.app import JsonOpt, QuietOpt, app, option
from gdcli.cli.terminal import print_json, stderr_console, wrote
from gdcli.errors import UsageError, spelled
from gdcli.io.atomic import write_bytes
from gdcli.io.paths import check_not_input

RunsArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="RUN",
        help="Weights files (their history) or metrics files (`gdcli train --metrics`), "
        "one or more.",
        show_default=False,
    ),
]


def check_out(out: Path, suffixes: tuple[str, ...], runs: list[Path] | None = None) -> str:
    """--out's format (its suffix without the dot), checked before any work: a known suffix, not
    a folder, no parent that is a file, and none of the `runs` read."""
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give a file name")
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in suffixes:
        known = " or ".join(f".{s}" for s in suffixes)
        raise UsageError(f"--out {out}: unknown file type {out.suffix or '(none)'!r}; use {known}")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(f"--out {out}: {parent} is a file, not a folder")
            break
    check_not_input(out, f"--out {out}", [(f"the run {r}", r) for r in runs or []])
    return suffix


def warn(console: Console, message: str) -> None:
    """A warning on stderr, one line however long (silenced by --quiet with the console)."""
    console.print(f"warning: {spelled(message, True)}", markup=False, soft_wrap=True)


@app.command("plot")
def plot_cmd(
    runs: RunsArg,
    out: Annotated[
        Path,
        option(
            "--out",
            help="The figure: PNG or SVG, by the file name's suffix.",
            default="curves.png",
            metavar="FILE",
        ),
    ] = Path("curves.png"),
    log_y: Annotated[
        bool | None,
        option(
            "--log-y/--linear-y",
            help="The error axis logarithmic, or linear.",
            default="log when the errors span more than a decade",
        ),
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Plot the learning curves of one or more runs. Train and test error and accuracy against
    the epoch, the runs overlaid in one figure."""
    from gdcli.viz.plot import (
        curves_png,
        drawable,
        load_run,
        no_history_message,
        other_differences,
        run_labels,
        wants_log,
    )

    fmt = check_out(out, ("png", "svg"), runs)
    loaded = [load_run(path) for path in runs]
    kept = drawable(loaded)
    skipped = [r for r in loaded if not r.history]
    err = stderr_console(quiet)
    for r in skipped:
        warn(err, f"{no_history_message(r)}; plotting the other runs")
    labels = run_labels(kept)
    drawn = [(lab, r.history) for lab, r in zip(labels, kept, strict=True)]
    log = wants_log([r.history for r in kept]) if log_y is None else log_y
    write_bytes(out, curves_png(drawn, fmt, log, other_differences(kept)))
    if as_json:
        print_json(
            {"written": str(out), "log_y": log,
             "runs": [{"file": str(r.path), "label": lab, "epochs": len(r.history)}
                      for lab, r in zip(labels, kept, strict=True)],
             "skipped": [str(r.path) for r in skipped]}
        )  # fmt: skip
        return
    wrote(err, out)
