"""gdcli visualize-weights: each output's weights as a heatmap."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from gdcli import heatmap, weights_file
from gdcli.cli.app import JsonOpt, WeightsArg, app
from gdcli.config import parse_spec
from gdcli.errors import UsageError
from gdcli.image_files import write_pgm, write_png
from gdcli.terminal import (
    print_json,
    stdout,
)


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
    fmt: Annotated[ImageFormat, typer.Option("--format", help="Image files.")] = ImageFormat.png,
    scale: Annotated[int, typer.Option(help="Upscaling factor (nearest).", min=1, max=64)] = 10,
    colormap: Annotated[Colormap, typer.Option(help="PNG colours.")] = Colormap.diverging,
    digits: Annotated[
        str | None, typer.Option(help="Only these outputs, e.g. 0,1,2 [default: all].")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Each digit's 784 weights as a 28x28 heatmap, and all ten side by side in grid.png."""
    net = weights_file.load(weights).network.layers[0]  # the first layer's weights
    chosen = parse_spec(digits, 10, "--digits") if digits else list(range(10))
    if not chosen:
        raise UsageError("--digits names no digit")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir} exists and is not a folder")
    weights = net.layers[0].weights  # the first layer: one 28x28 image per unit it feeds
    s = heatmap.symmetric_scale(weights)
    written = []
    tiles = []
    for d in chosen:
        column = weights[:, d]
        tile = heatmap.digit_image(column, s, colormap.value, scale)
        tiles.append(tile)
        if fmt in (ImageFormat.png, ImageFormat.both):
            write_png(out_dir / f"digit-{d}.png", tile)
            written.append(out_dir / f"digit-{d}.png")
        if fmt in (ImageFormat.pgm, ImageFormat.both):
            write_pgm(out_dir / f"digit-{d}.pgm", heatmap.digit_image(column, s, "gray", scale))
            written.append(out_dir / f"digit-{d}.pgm")
    grid = out_dir / "grid.png"
    write_png(grid, heatmap.grid_image(tiles, columns=5, gap=max(1, scale // 5)))
    written.append(grid)
    if as_json:
        print_json({"written": [str(p) for p in written], "scale": s})
        return
    for path in written:
        stdout.print(str(path))
