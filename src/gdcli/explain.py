"""STAND-IN for C3's API.md explain_png (lead replaces): input, weights, product per top class."""

from __future__ import annotations

import numpy as np

from gdcli.heatmap import digit_image, grid_image, symmetric_scale
from gdcli.image_files import png_bytes
from gdcli.model import Network


def explain_png(net: Network, x: np.ndarray, labels: list[str], top: int = 3) -> bytes:
    """STAND-IN: rows of (input, class weights, elementwise product) for the top classes."""
    w = net.layers[0].weights
    best = np.argsort(net.scores(x))[::-1][:top]
    tiles = []
    for c in best:
        for img in (x, w[:, c], x * w[:, c]):
            tiles.append(digit_image(img, symmetric_scale(img), "diverging", 4))
    return png_bytes(grid_image(tiles, columns=3, gap=2))
