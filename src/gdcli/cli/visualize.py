"""gdcli visualize-weights: the weights as pictures (see gdcli.viz.weights_views)."""

from __future__ import annotations

import math
import shlex
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from gdcli.cli.app import JsonOpt, QuietOpt, WeightsArg, app, option
from gdcli.cli.terminal import print_json, stderr_console, wrote
from gdcli.config import parse_spec
from gdcli.errors import UsageError, spelled
from gdcli.io import weights_file


class ImageFormat(str, Enum):
    png = "png"
    pgm = "pgm"
    both = "both"


class Colormap(str, Enum):
    diverging = "diverging"
    gray = "gray"


def no_likeness_note(
    wf: weights_file.WeightsFile, source: Path, score: float, epoch: int | None, change: bool
) -> str:
    """One line for pictures that show no class, naming the commands whose pictures do
    (visualize-weights and report print it)."""
    digits = wf.meta.get("config", {}).get("dataset", "mnist") == "mnist"
    noun = "digits" if digits else "classes"
    ways = []
    if not (epoch == 1 and change) and {0, 1} <= set(wf.snapshots):
        ways.append(f"in `gdcli visualize-weights {shlex.quote(str(source))} --epoch 1 --change`")
    if digits:
        ways.append("after `gdcli train --config best --out best.npz`")
    return (
        f"note: these pictures hardly look like the {noun} (correlation {score:.2f} with their "
        "mean images; the book's memorised run: 0.04, see docs/experiments.md)"
        + (f"; the {noun} show " + " and ".join(ways) if ways else "")
    )


@app.command("visualize-weights")
def visualize_cmd(
    weights: WeightsArg = Path("weights.npz"),
    out_dir: Annotated[
        Path, option("--out-dir", help="Folder for the images.", default="weights", metavar="DIR")
    ] = Path("weights"),
    fmt: Annotated[
        ImageFormat,
        option(
            "--format",
            help="Files of the 28x28 pictures.",
            default=ImageFormat.png,
            metavar="png|pgm|both",
        ),
    ] = ImageFormat.png,
    pixels: Annotated[
        int | None,
        option(
            "--pixels",
            help="Pixels per weight: each 28x28 picture drawn N times larger (nearest).",
            default=10,
            metavar="N",
            min=1,
            max=64,
        ),
    ] = None,
    # --pixels' name until 0.3 (read as the colour range --scale-max): kept, out of --help
    old_scale: Annotated[
        int | None, typer.Option("--scale", hidden=True, min=1, max=64, metavar="N")
    ] = None,
    colormap: Annotated[
        Colormap,
        option(
            "--colormap", help="PNG colours.", default=Colormap.diverging, metavar="diverging|gray"
        ),
    ] = Colormap.diverging,
    digits: Annotated[
        str | None,
        option("--digits", help="Only these outputs, e.g. 0,1,2.", default="all", metavar="SPEC"),
    ] = None,
    scale_max: Annotated[
        float | None,
        option(
            "--scale-max",
            help="Colour scale ±S of the 28x28 pictures.",
            default="the 99th percentile of |w|",
            metavar="S",
        ),
    ] = None,
    epoch: Annotated[
        int | None,
        option(
            "--epoch",
            help="Draw the snapshot of epoch E.",
            default="the final weights",
            metavar="E",
            min=0,
        ),
    ] = None,
    change: Annotated[
        bool, option("--change", help="Draw what training added: weights - epoch 0's.")
    ] = False,
    animate: Annotated[
        Path | None,
        option("--animate", help="Also write the snapshots as an animated GIF.", metavar="FILE"),
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Draw the weights as pictures. Each class's 784 weights as a 28x28 heatmap, all of them
    labelled in grid.png; for a network with hidden layers, its first layer's units and a
    heatmap of each later layer."""
    if pixels is not None and old_scale is not None:
        raise UsageError("--scale is the old name of --pixels; give one of them")
    pixels = pixels or old_scale or 10
    wf = weights_file.load(weights)
    outputs = None
    if digits is not None:
        outputs = tuple(parse_spec(digits, wf.network.n_outputs, "--digits"))
        if not outputs:
            raise UsageError("--digits names no output")
    if scale_max is not None and not (math.isfinite(scale_max) and scale_max >= sys.float_info.min):
        raise UsageError(
            f"--scale-max must be a positive number of at least {sys.float_info.min:.3g} "
            f"(a normal float), got {scale_max!r}"
        )
    # Pillow is imported only by the commands that draw (not by `gdcli --help` or `train`).
    from gdcli.viz import weights_views

    formats = ("png", "pgm") if fmt is ImageFormat.both else (fmt.value,)
    opts = weights_views.Options(out_dir, formats, pixels, colormap.value, outputs, scale_max,
                                 epoch, change, animate)  # fmt: skip
    drawn = weights_views.draw(wf, opts, weights)
    err = stderr_console(quiet)
    for note in drawn.notes:
        err.print(f"note: {spelled(note, True)}", markup=False)
    if drawn.likeness is not None and drawn.likeness < weights_views.LOOKS_LIKE_NOTHING:
        err.print(no_likeness_note(wf, weights, drawn.likeness, epoch, change), markup=False)
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
        wrote(err, path)
