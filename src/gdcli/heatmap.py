"""Weights as pictures: each output's 784 weights as a 28x28 image, zero at the neutral colour.

One scale, symmetric around zero and shared by all ten digits, so the images can be compared:
a weight of +s (s the largest |weight|) is the brightest, -s the darkest.
"""

from __future__ import annotations

import numpy as np

from gdcli.datasets import IMAGE_SIDE

GREY_ZERO = 128  # a zero weight in the grey map

# A diverging map (ColorBrewer RdBu, reversed): dark blue for negative weights, near white at
# zero, dark red for positive ones; the book's figure puts its neutral colour at zero too.
_ANCHORS = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
_COLOURS = np.array(
    [[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]], dtype=np.float64
)
NEUTRAL = tuple(int(c) for c in _COLOURS[2])
SEPARATOR = (40, 40, 40)


def symmetric_scale(weights: np.ndarray) -> float:
    """The largest |weight| (1.0 for all-zero weights, so that zero still maps to neutral)."""
    s = float(np.max(np.abs(weights))) if weights.size else 0.0
    return s if s > 0 else 1.0


def to_grey(weights: np.ndarray, scale: float) -> np.ndarray:
    """Weights -> uint8 grey: 0 -> 128, +scale -> 255, -scale -> 1 (symmetric around 128)."""
    return np.clip(np.rint(GREY_ZERO + 127 * weights / scale), 1, 255).astype(np.uint8)


def to_diverging(weights: np.ndarray, scale: float) -> np.ndarray:
    """Weights -> uint8 RGB (..., 3) on the diverging map; 0 -> NEUTRAL."""
    t = np.clip(weights / scale, -1.0, 1.0)
    rgb = [np.interp(t, _ANCHORS, _COLOURS[:, c]) for c in range(3)]
    return np.rint(np.stack(rgb, axis=-1)).astype(np.uint8)


def digit_image(column: np.ndarray, scale: float, colormap: str, upscale: int) -> np.ndarray:
    """One output's weights (784,) -> an image (28*upscale, 28*upscale[, 3]), nearest neighbour."""
    square = column.reshape(IMAGE_SIDE, IMAGE_SIDE)
    pixels = to_grey(square, scale) if colormap == "gray" else to_diverging(square, scale)
    return pixels.repeat(upscale, axis=0).repeat(upscale, axis=1)


def grid_image(images: list[np.ndarray], columns: int = 5, gap: int = 2) -> np.ndarray:
    """Tiles of equal size in rows of `columns`, in order, with `gap` pixels of separator."""
    tile_h, tile_w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    colour = images[0].ndim == 3
    shape = (rows * tile_h + (rows + 1) * gap, columns * tile_w + (columns + 1) * gap)
    grid = np.empty((*shape, 3) if colour else shape, dtype=np.uint8)
    grid[...] = SEPARATOR if colour else SEPARATOR[0]
    for i, img in enumerate(images):
        r, c = divmod(i, columns)
        top, left = gap + r * (tile_h + gap), gap + c * (tile_w + gap)
        grid[top : top + tile_h, left : left + tile_w] = img
    return grid


# --- STAND-IN for D1's API.md drawing functions (lead replaces) -------------------------------
def weights_grid_png(
    weights: np.ndarray, labels: list[str], scale_max: float | None = None
) -> bytes:
    """STAND-IN: the (784, k) weights as a grid of 28x28 diverging tiles (no labels drawn)."""
    from gdcli.image_files import png_bytes

    s = scale_max or symmetric_scale(weights)
    tiles = [digit_image(weights[:, d], s, "diverging", 6) for d in range(weights.shape[1])]
    return png_bytes(grid_image(tiles, columns=5, gap=2))


def evolution_gif(frames: list[tuple[int, np.ndarray]], labels: list[str]) -> bytes:
    """STAND-IN: one grid per snapshot as an animated GIF (epochs not drawn)."""
    import io

    from PIL import Image

    s = max(symmetric_scale(w) for _, w in frames)
    images = []
    for _, w in frames:
        tiles = [digit_image(w[:, d], s, "diverging", 4) for d in range(w.shape[1])]
        images.append(Image.fromarray(grid_image(tiles, columns=5, gap=2)))
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=600, loop=0)
    return buf.getvalue()
