"""gdcli visualize-weights: the weights as pictures (see gdcli.weights_views)."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from gdcli import weights_file
from gdcli.cli.app import JsonOpt, QuietOpt, WeightsArg, app
from gdcli.config import parse_spec
from gdcli.errors import UsageError
from gdcli.terminal import print_json, stderr_console, stdout


class ImageFormat(str, Enum):
    png = "png"
    pgm = "pgm"
    both = "both"


class Colormap(str, Enum):
    diverging = "diverging"
    gray = "gray"


@app.command("visualize-weights")
def visualize_cmd(
    weights: WeightsArg = Path("weights.npz"),
    out_dir: Annotated[Path, typer.Option(help="Folder for the images.")] = Path("weights"),
    fmt: Annotated[
        ImageFormat, typer.Option("--format", help="Files of the 28x28 pictures.")
    ] = ImageFormat.png,
    scale: Annotated[int, typer.Option(help="Upscaling factor (nearest).", min=1, max=64)] = 10,
    colormap: Annotated[Colormap, typer.Option(help="PNG colours.")] = Colormap.diverging,
    digits: Annotated[
        str | None, typer.Option(help="Only these outputs, e.g. 0,1,2 \\[default: all].")
    ] = None,
    scale_max: Annotated[
        float | None,
        typer.Option(
            help="Colour scale ±S of the 28x28 pictures \\[default: the 99th percentile of |w|].",
            show_default=False,
        ),
    ] = None,
    epoch: Annotated[
        int | None, typer.Option(help="Draw the snapshot of this epoch.", min=0, show_default=False)
    ] = None,
    change: Annotated[
        bool, typer.Option("--change", help="Draw what training added: weights - epoch 0's.")
    ] = False,
    animate: Annotated[
        Path | None,
        typer.Option(help="Also write the snapshots as an animated GIF.", show_default=False),
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Each class's 784 weights as a 28x28 heatmap, all of them labelled in grid.png;
    for a network with hidden layers, its first layer's units and a heatmap of each later layer."""
    wf = weights_file.load(weights)
    outputs = None
    if digits is not None:
        outputs = tuple(parse_spec(digits, wf.network.n_outputs, "--digits"))
        if not outputs:
            raise UsageError("--digits names no output")
    if scale_max is not None and not (math.isfinite(scale_max) and scale_max > 0):
        raise UsageError(f"--scale-max must be a positive number, got {scale_max:g}")
    # Pillow is imported only by the commands that draw (not by `gdcli --help` or `train`).
    from gdcli import weights_views

    formats = ("png", "pgm") if fmt is ImageFormat.both else (fmt.value,)
    opts = weights_views.Options(out_dir, formats, scale, colormap.value, outputs, scale_max,
                                 epoch, change, animate)  # fmt: skip
    drawn = weights_views.draw(wf, opts, weights)
    err = stderr_console(quiet)
    for note in drawn.notes:
        err.print(f"note: {note}", markup=False)
    if as_json:
        print_json(
            {
                "written": [str(p) for p in drawn.written],
                "scale": drawn.scales[0].value,
                "epoch": drawn.epoch,
                "change": change,
                "layers": [
                    {"layer": i, "scale": s.value, "scale_rule": s.rule, "clipped": s.beyond}
                    for i, s in enumerate(drawn.scales, start=1)
                ],
            }
        )
        return
    for path in drawn.written:
        stdout.print(str(path), markup=False)
