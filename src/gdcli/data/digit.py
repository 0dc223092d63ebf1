"""A person's own digit brought to MNIST's form, the way MNIST itself was made.

LeCun, Cortes and Burges on MNIST: NIST's black-and-white digits "were size normalized to fit
in a 20x20 pixel box while preserving their aspect ratio. The resulting images contain grey
levels as a result of the anti-aliasing technique used by the normalization algorithm. The
images were centered in a 28x28 image by computing the center of mass of the pixels, and
translating the image so as to position this point at the center of the 28x28 field."

A photo or a paint program's drawing differs from NIST's scans in three more ways, handled
first: the ink may be dark on light paper (MNIST is light on black), the paper is not exactly
one grey, and the digit can be anywhere in a picture of any size. So:

    1. polarity: the background is the median of the image's border; if it is light, the
       image is inverted, so ink is light on dark as in MNIST
    2. levels: the background level and the brightest ink are stretched to 0 and 1, and the
       weakest tenth of that range (paper grain, shadows, JPEG noise) is cut to 0
    3. crop to the ink: the bounding box of the pixels at least half as bright as the ink
    3b. thin strokes thickened: a pen of 3 pixels on a digit 200 tall would be a faint stroke
       of 0.3 pixels in the 20x20 box, where MNIST's are about 2 wide (NIST's pens, scanned);
       a stroke thinner than 1.2 there (thinner than 95% of MNIST's) is dilated, before the
       fit, until it is 2 (MNIST's median; stroke_width measures both alike)
    4. fit into 20x20 keeping the aspect ratio, anti-aliased (pixel-area averages when
       shrinking, bilinear when enlarging), the brightest pixel set to 1 as in MNIST
    5. centre: placed in 28x28 and moved by whole pixels so its centre of mass is the pixel
       nearest (14, 14) (rows, columns from 0), where MNIST's digits have theirs (mean
       13.99, 14.01 over the 10,000 test images)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gdcli.data.registry import IMAGE_SIDE
from gdcli.errors import UsageError, key

# A picture is worked on at most this large on its long side (a phone photo is reduced while
# it is decoded): the digit ends up 20 pixels tall, so this keeps 50 times that.
WORK_SIDE = 1024
BOX = 20  # the digit is fitted into a BOX x BOX square
CENTRE = 14.0  # where MNIST puts the centre of mass, in pixel indices (rows and columns)
MIN_CONTRAST = 0.15  # ink must differ from the background by this much of the full range
NOISE_FLOOR = 0.1  # the weakest tenth of the ink range is background
INK = 0.5  # a pixel at least half as bright as the ink is ink, for the crop
# Stroke widths in pixels of the 20x20 box, by stroke_width at INK. MNIST's (the first 1,000
# training images, at 28x28 where the digit has the box's scale): 5th percentile 1.32, median
# 1.95, 95th percentile 2.77. A drawn stroke thinner than THIN is thickened to STROKE.
THIN = 1.2
STROKE = 2.0
# Thick enough to dilate in a few steps, fine enough that the fit into 20x20 is unchanged: the
# long side a thin digit is worked on while it is thickened.
THICKEN_SIDE = 160


@dataclass
class MnistForm:
    """pixels: (28, 28) float64 in [0, 1], light digit on black, as MNIST's images.
    inverted: the input was dark ink on a light background.
    box: the ink's bounding box in the input, (top, left, bottom, right), bottom/right excluded.
    centre: the centre of mass (row, column) of `pixels`.
    stroke: the input's stroke width (stroke_width) in pixels of the 20x20 box, before any
    thickening; thickened: it was thinner than THIN and was dilated to STROKE."""

    pixels: np.ndarray
    inverted: bool
    box: tuple[int, int, int, int]
    centre: tuple[float, float]
    stroke: float = 0.0
    thickened: bool = False


def to_mnist_form(grey: np.ndarray) -> MnistForm:
    """Bring a picture of one digit, grey levels (h, w) in [0, 1], to MNIST's form.

    A picture with no ink (one grey level, or too little contrast) is a UsageError.
    """
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    inverted = bool(np.median(border) > 0.5)
    ink = 1.0 - grey if inverted else grey
    ink = _levels(ink, float(np.median(1.0 - border if inverted else border)))
    rows = np.flatnonzero((ink >= INK).any(axis=1))
    cols = np.flatnonzero((ink >= INK).any(axis=0))
    box = (int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1)
    crop = ink[box[0] : box[2], box[1] : box[3]]
    stroke = stroke_width(crop) * BOX / max(crop.shape)
    thickened = stroke < THIN
    digit = _fit(_thicken(crop, stroke) if thickened else crop, BOX)
    pixels = _centre(digit)
    return MnistForm(pixels, inverted, box, centre_of_mass(pixels), stroke, thickened)


def stroke_width(ink: np.ndarray) -> float:
    """The mean width in pixels of the strokes of `ink` (values in [0, 1]; ink is >= INK):
    twice their area over their outline, since a stroke w wide and L long has area wL and an
    outline of 2L + 2w. The outline is counted in pixel edges, so a diagonal stroke reads up to
    a third thinner than a straight one; MNIST's widths (THIN, STROKE) are measured alike."""
    b = np.pad(ink >= INK, 1)
    outline = int((b[1:] != b[:-1]).sum() + (b[:, 1:] != b[:, :-1]).sum())
    return 2.0 * float(b.sum()) / outline if outline else 0.0


def _thicken(crop: np.ndarray, stroke: float) -> np.ndarray:
    """`crop` (one digit, its ink box) with its strokes dilated to STROKE pixels of the
    20x20 box; `stroke` is their width there now. Worked on at THICKEN_SIDE at most (shrunk
    anti-aliased and its brightest pixel set to 1); the dilation alternates a 3x3 cross and
    a 3x3 square, which grows a stroke by 2 pixels a step, about as a round pen would."""
    from PIL import Image

    side = max(crop.shape)
    if side > THICKEN_SIDE:
        f = THICKEN_SIDE / side
        size = (max(1, round(crop.shape[1] * f)), max(1, round(crop.shape[0] * f)))
        img = Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX)
        crop = np.asarray(img, dtype=np.float64)
        crop = crop / crop.max()
    side = max(crop.shape)
    here = stroke * side / BOX  # the stroke width in pixels of `crop`
    # widening by 2r pixels also makes the box 2r larger: solve (here + 2r) / (side + 2r) for
    # STROKE / BOX
    steps = int(np.ceil((STROKE * side / BOX - here) / (2 * (1 - STROKE / BOX))))
    out = np.pad(crop, steps)
    cross = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    square = [*cross, (-1, -1), (-1, 1), (1, -1), (1, 1)]
    h, w = out.shape
    for step in range(steps):
        around = np.pad(out, 1)
        grown = out.copy()
        for dr, dc in square if step % 2 else cross:
            np.maximum(grown, around[1 + dr : 1 + dr + h, 1 + dc : 1 + dc + w], out=grown)
        out = grown
    return out


def _levels(ink: np.ndarray, background: float) -> np.ndarray:
    """Ink stretched from the background level (0) to the brightest ink (1), noise cut."""
    top = float(ink.max())
    contrast = top - background
    if contrast < MIN_CONTRAST:
        what = "one grey level" if contrast <= 0 else f"contrast {100 * contrast:.0f}%"
        raise UsageError(
            f"no ink found: the image is blank ({what}); "
            f"a digit must differ from its background by {100 * MIN_CONTRAST:.0f}% or more"
        )
    low = background + NOISE_FLOOR * contrast
    return np.clip((ink - low) / (top - low), 0.0, 1.0)


def _fit(digit: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is `side` pixels, keeping the aspect ratio, anti-aliased;
    the brightest pixel is 1 (a thin stroke shrunk to a faint one regains MNIST's ink)."""
    from PIL import Image

    h, w = digit.shape
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    img = Image.fromarray(digit.astype(np.float32), mode="F").resize(size, method)
    out = np.clip(np.asarray(img, dtype=np.float64), 0.0, 1.0)
    return out / out.max() if out.max() > 0 else out


def _centre(digit: np.ndarray) -> np.ndarray:
    """Place `digit` in a 28x28 field, moved by whole pixels so its centre of mass is as near
    (CENTRE, CENTRE) as the field allows without cutting the digit."""
    h, w = digit.shape
    r, c = centre_of_mass(digit)
    top = int(np.clip(round(CENTRE - r), 0, IMAGE_SIDE - h))
    left = int(np.clip(round(CENTRE - c), 0, IMAGE_SIDE - w))
    field = np.zeros((IMAGE_SIDE, IMAGE_SIDE))
    field[top : top + h, left : left + w] = digit
    return field


def centre_of_mass(pixels: np.ndarray) -> tuple[float, float]:
    """(row, column) of the brightness-weighted mean position, in pixel indices."""
    rows, cols = np.indices(pixels.shape)
    mass = pixels.sum()
    return float((rows * pixels).sum() / mass), float((cols * pixels).sum() / mass)


def read_digit(path: Path, as_is: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """A picture file as the network's input: (784,) floats in [0, 1], light ink on black.

    Any size and format Pillow reads is brought to MNIST's form (to_mnist_form); with `as_is`
    the picture must already be 28x28 and is taken as it is. Also returns what was done, for
    `predict --json` ("said": the sentence predict prints on stderr about it).
    """
    from gdcli.data.images import WrongSize, read_grey

    if as_is:
        try:  # the size is checked from the header, before the picture is decoded
            grey = read_grey(path, size=(IMAGE_SIDE, IMAGE_SIDE))
        except WrongSize as exc:
            raise UsageError(
                f"{path}: {exc.width}x{exc.height} pixels; {key('as_is')} takes a 28x28 image",
                hint=f"leave out {key('as_is')} to bring any picture to MNIST's form",
            ) from None
        return grey.ravel(), {"path": str(path), "as_is": True}
    grey = read_grey(path, max_side=WORK_SIDE)
    try:
        form = to_mnist_form(grey)
    except UsageError as exc:
        raise UsageError(f"{path}: {exc.message}", exc.hint) from None
    top, left, bottom, right = form.box
    ink = "dark ink on a light background" if form.inverted else "light ink on a dark one"
    turned = ", inverted to MNIST's light on black" if form.inverted else ", as MNIST"
    about = {
        # sizes and boxes in the picture as read (at most WORK_SIDE on its long side)
        "path": str(path), "as_is": False, "read_size": [grey.shape[1], grey.shape[0]],
        "ink": "dark-on-light" if form.inverted else "light-on-dark",
        "inverted": form.inverted, "ink_box": [top, left, bottom, right],
        "centre_of_mass": [round(v, 3) for v in form.centre],
        "stroke_width": round(form.stroke, 2), "thickened": form.thickened,
        "said": f"{path}: {ink}{turned}; its {right - left}x{bottom - top} ink box fitted into "
        f"{BOX}x{BOX}" + (f", its strokes thickened from {form.stroke:.1f} to MNIST's "
                          f"{STROKE:g} pixels" if form.thickened else "")
        + " and centred by its mass",
    }  # fmt: skip
    return form.pixels.ravel(), about
