"""Weights as colours: each unit's 784 weights as a 28x28 image, zero at the neutral colour.

One scale, symmetric around zero and shared by every panel of a picture, so the panels can be
compared: a weight of +s is the brightest/reddest, -s the darkest/bluest. By default s is the
99th percentile of |w|, not the largest |w|: after the book's 350 epochs a few weights of
rarely-lit pixels reach 1.05 while 99% stay under 0.46, and scaling to the largest would wash
everything else out to the neutral colour. Weights beyond s show the end colours.

numpy only; the labelled pictures (Pillow) are in weights_figure.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gdcli.data.registry import IMAGE_SIDE

GREY_ZERO = 128  # a zero weight in the grey map
DEFAULT_PERCENTILE = 99.0  # the default scale clips at this percentile of |w|

# A diverging map (ColorBrewer RdBu, reversed): dark blue for negative weights, near white at
# zero, dark red for positive ones; the book's figure puts its neutral colour at zero too.
_ANCHORS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
_COLOURS = np.array(
    [[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]], dtype=np.float64
)
NEUTRAL = tuple(int(c) for c in _COLOURS[2])
COLORMAPS = ("diverging", "gray")


@dataclass(frozen=True)
class Scale:
    """The colour scale of a picture: weights in [-value, +value] spread over the colours.

    rule: how value was chosen ("99th percentile of |w|", "--scale-max", "largest |w|").
    symbol: what the values are called in the legend ("w", "change").
    largest: the largest |w| drawn. beyond: the fraction of the drawn weights with
    |w| > value (they show the end colours).
    """

    value: float
    rule: str
    largest: float
    beyond: float
    symbol: str = "w"

    def legend(self) -> str:
        """One line for the picture: the range, how it was chosen and how much was clipped."""
        text = f"colour scale \u00b1{self.value:.3g} = {self.rule}"
        if not self.rule.startswith("largest") and self.rule != "every weight is 0":
            text += f" (largest |{self.symbol}| {self.largest:.3g})"
        if self.beyond == 0:
            return text + ": nothing clipped"
        pct = 100 * self.beyond
        share = f"{pct:.1f}%" if pct >= 0.1 else "under 0.1%"
        values = "weights" if self.symbol == "w" else "values"
        return text + f": {share} of the {values} lie beyond, drawn in the end colours"


def choose_scale(
    weights: np.ndarray,
    scale_max: float | None = None,
    percentile: float = DEFAULT_PERCENTILE,
    symbol: str = "w",
) -> Scale:
    """The symmetric scale for `weights` (any shape): `scale_max` when given, else the
    `percentile`-th percentile of |w| (the largest |w| when that percentile is 0, 1.0 when
    every weight is 0, so that zero still maps to the neutral colour). `symbol` names the
    values in the legend ("w", or "change" for weight changes)."""
    magnitude = np.abs(np.asarray(weights, dtype=np.float64)).ravel()
    largest = float(magnitude.max()) if magnitude.size else 0.0
    if scale_max is not None:
        value, rule = float(scale_max), "--scale-max"
    elif largest == 0:
        value, rule = 1.0, "every weight is 0"
    else:
        value = float(np.percentile(magnitude, percentile))
        rule = f"{percentile:g}th percentile of |{symbol}|"
        if value == 0 or value == largest:
            value, rule = largest, f"largest |{symbol}|"
    beyond = float(np.mean(magnitude > value)) if magnitude.size else 0.0
    return Scale(value, rule, largest, beyond, symbol)


def to_grey(weights: np.ndarray, scale: float) -> np.ndarray:
    """Weights -> uint8 grey: 0 -> 128, +scale -> 255, -scale -> 1 (symmetric around 128)."""
    return np.clip(np.rint(GREY_ZERO + 127 * weights / scale), 1, 255).astype(np.uint8)


def to_diverging(weights: np.ndarray, scale: float) -> np.ndarray:
    """Weights -> uint8 RGB (..., 3) on the diverging map; 0 -> NEUTRAL."""
    t = np.clip(weights / scale, -1.0, 1.0)
    rgb = [np.interp(t, _ANCHORS, _COLOURS[:, c]) for c in range(3)]
    return np.rint(np.stack(rgb, axis=-1)).astype(np.uint8)


def to_colours(weights: np.ndarray, scale: float, colormap: str) -> np.ndarray:
    """Weights -> uint8 pixels: grey (...) for "gray", RGB (..., 3) for "diverging"."""
    return to_grey(weights, scale) if colormap == "gray" else to_diverging(weights, scale)


def to_rgb(weights: np.ndarray, scale: float, colormap: str) -> np.ndarray:
    """Weights -> uint8 RGB (..., 3) on either map (grey repeated in the three channels)."""
    pixels = to_colours(weights, scale, colormap)
    return np.repeat(pixels[..., None], 3, axis=-1) if colormap == "gray" else pixels


def digit_image(column: np.ndarray, scale: float, colormap: str, upscale: int) -> np.ndarray:
    """One unit's weights (784,) -> an image (28*upscale, 28*upscale[, 3]), nearest neighbour;
    a conv kernel's (k * k,) -> (k*upscale, k*upscale[, 3])."""
    side = IMAGE_SIDE if len(column) == IMAGE_SIDE * IMAGE_SIDE else math.isqrt(len(column))
    square = column.reshape(side, side)
    return to_colours(square, scale, colormap).repeat(upscale, axis=0).repeat(upscale, axis=1)
