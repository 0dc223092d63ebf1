"""gdcli report: one self-contained HTML page about one or more runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from gdcli.cli.app import DataDirOpt, JsonOpt, QuietOpt, app, option
from gdcli.cli.plot import check_out, warn
from gdcli.cli.terminal import print_json, stderr_console, wrote
from gdcli.cli.visualize import no_likeness_note
from gdcli.io.atomic import write_text

RunsArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="RUN",
        help="Weights files written by `gdcli train`, one or more.",
        show_default=False,
    ),
]


@app.command("report")
def report_cmd(
    runs: RunsArg,
    out: Annotated[
        Path,
        option(
            "--out",
            help="The page, one HTML file (figures embedded).",
            default="report.html",
            metavar="FILE",
        ),
    ] = Path("report.html"),
    data_dir: DataDirOpt = None,
    mistakes: Annotated[
        int,
        option(
            "--mistakes",
            help="How many confidently wrong test images to show.",
            default=24,
            metavar="N",
            min=0,
            max=500,
        ),
    ] = 24,
    explain_index: Annotated[
        int,
        option(
            "--explain-index",
            help="The test image whose dot products are drawn.",
            default=0,
            metavar="I",
            min=0,
        ),
    ] = 0,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Write one HTML page about one or more runs. Figures embedded, to open after training:
    curves, weights, mistakes."""
    from gdcli import api

    started = time.perf_counter()
    check_out(out, ("html", "htm"), runs)
    report = api.report(list(runs), data_dir, mistakes=mistakes, explain_index=explain_index)
    write_text(out, report.html)
    seconds = time.perf_counter() - started
    err = stderr_console(quiet)
    for note in report.cli_notes():
        warn(err, note)  # warn spells the options as flags
    _say_when_no_digit_shows(runs, data_dir, err)
    if as_json:
        print_json(
            {"written": str(out), "bytes": len(report.html.encode()),
             "seconds": round(seconds, 3), "left_out": report.notes}
        )  # fmt: skip
        return
    wrote(err, out)


def _say_when_no_digit_shows(runs: list[Path], data_dir: Path | None, err: Console) -> None:
    """The note visualize-weights prints, for each run whose final weights (the page's
    picture) show no class: the book's memorised run."""
    from gdcli.io import weights_file
    from gdcli.viz import weights_views

    for path in runs:
        wf = weights_file.load(path)
        score = weights_views.likeness(wf, wf.network.layers[0].weights, data_dir=data_dir)
        if score is not None and score < weights_views.LOOKS_LIKE_NOTHING:
            err.print(no_likeness_note(wf, path, score, None, False), markup=False)
