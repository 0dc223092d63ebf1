"""Image transforms for experiments: deskewing by image moments, and one-pixel shifts.

Images are flattened 28x28 rows, (n, 784) float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gdcli.data.registry import IMAGE_SIDE

_ROWS, _COLS = np.mgrid[:IMAGE_SIDE, :IMAGE_SIDE].astype(np.float64)


CHUNK = 4096  # images deskewed at once: bounds the temporaries to ~25 MB each


def deskew(images: np.ndarray) -> np.ndarray:
    """Deskew every image (see _deskew), a chunk at a time to keep memory flat."""
    return np.vstack(
        [_deskew(images[i : i + CHUNK]) for i in range(0, len(images), CHUNK)]
        or [images.reshape(0, IMAGE_SIDE * IMAGE_SIDE)]
    )


def _deskew(images: np.ndarray) -> np.ndarray:
    """Shear each image so its principal axis is vertical, and centre its mass.

    With the centre of mass (r0, c0) and the second moments, the shear is
    s = cov(r, c) / var(r); output pixel (r, c) samples the input at
    (r + r0 - 14, c + s * (r - 14) + c0 - 14), bilinearly, 0 outside.
    """
    n = len(images)
    img = images.reshape(n, IMAGE_SIDE, IMAGE_SIDE)
    mass = img.sum(axis=(1, 2))
    mass = np.where(mass > 0, mass, 1.0)  # a blank image stays blank
    r0 = (img * _ROWS).sum(axis=(1, 2)) / mass
    c0 = (img * _COLS).sum(axis=(1, 2)) / mass
    dr = _ROWS - r0[:, None, None]
    dc = _COLS - c0[:, None, None]
    var_r = (img * dr * dr).sum(axis=(1, 2)) / mass
    cov = (img * dr * dc).sum(axis=(1, 2)) / mass
    shear = np.where(var_r > 0, cov / np.where(var_r > 0, var_r, 1.0), 0.0)

    centre = IMAGE_SIDE / 2
    src_r = _ROWS + (r0 - centre)[:, None, None]
    src_c = _COLS + shear[:, None, None] * (_ROWS - centre) + (c0 - centre)[:, None, None]
    return _bilinear(img, src_r, src_c).reshape(n, -1)


def _bilinear(img: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample img (n, h, w) at real coordinates (n, h, w), 0 outside the image."""
    n, h, w = img.shape
    r_lo, c_lo = np.floor(rows).astype(np.int64), np.floor(cols).astype(np.int64)
    fr, fc = rows - r_lo, cols - c_lo
    padded = np.pad(img, ((0, 0), (1, 1), (1, 1)))
    index = np.arange(n)[:, None, None]
    out = np.zeros_like(img)
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            r = np.clip(r_lo + dr, -1, h) + 1
            c = np.clip(c_lo + dc, -1, w) + 1
            out += wr * wc * padded[index, r, c]
    return out


def shifts(images: np.ndarray) -> list[np.ndarray]:
    """The images moved by one pixel up, down, left and right (what leaves the frame is lost)."""
    img = images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    out = []
    for axis in (1, 2):
        for step in (-1, 1):
            moved = np.zeros_like(img)
            src = [slice(None)] * 3
            dst = [slice(None)] * 3
            src[axis] = slice(max(0, -step), IMAGE_SIDE - max(0, step))
            dst[axis] = slice(max(0, step), IMAGE_SIDE - max(0, -step))
            moved[tuple(dst)] = img[tuple(src)]
            out.append(moved.reshape(len(img), -1))
    return out


def as_trained(x: np.ndarray, config: dict[str, Any]) -> np.ndarray:
    """Images (n, 784) preprocessed as the network of `config` (a TrainConfig's dict, as the
    weights file keeps it) was trained to see them: deskewed if it was trained so. Every place
    images meet a network (training, evaluate, predict, report, the API) goes through here."""
    return deskew(x) if config.get("deskew") else x
