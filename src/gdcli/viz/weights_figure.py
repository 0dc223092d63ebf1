"""Labelled pictures of weights, drawn with Pillow: a grid of 28x28 panels, a layer's weight
matrix as a small heatmap, and the animated GIF of the snapshots.

Every picture has a title, a label on each panel, a colour bar and one line saying how the
colour scale was chosen and what it clipped. The panels' pixels are heatmap's colours,
upscaled by whole factors (nearest neighbour), so a weight's colour can be read back exactly.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gdcli.data.registry import IMAGE_SIDE
from gdcli.viz.heatmap import Scale, choose_scale, to_rgb

BACKGROUND = (255, 255, 255)
INK = (25, 25, 25)
MUTED = (85, 85, 85)
FRAME = (150, 150, 150)
MARGIN = 16
MIN_WIDTH = 600  # room for the title and the legend under a grid of one or two panels
MAX_GRID_WIDTH = 1600  # a grid of many hidden units gets smaller tiles, not a huge picture
BAR_HEIGHT = 14

# GIF frames: how long each is shown (ms); the start and the end stay longer.
FRAME_MS, FIRST_MS, LAST_MS = 700, 1400, 3000


@lru_cache(maxsize=32)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at `size` pixels (a bitmap font when Pillow lacks FreeType)."""
    return ImageFont.load_default(size=size)


def _width(text: str, f: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    return math.ceil(f.getlength(text))


def _wrap(text: str, f: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Greedy word wrap of `text` into lines at most `width` pixels wide."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and _width(lines[-1] + " " + word, f) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def text_block(text: str, size: int, width: int, colour: tuple[int, int, int] = INK) -> Image.Image:
    """`text` wrapped to `width` pixels, left-aligned, on the background."""
    f = font(size)
    lines = _wrap(text, f, width)
    line_h = round(size * 1.3)
    img = Image.new("RGB", (width, line_h * len(lines)), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((0, i * line_h), line, fill=colour, font=f)
    return img


def _fitting_font(labels: list[str], size: int, width: int) -> ImageFont.FreeTypeFont:
    """The largest font up to `size` in which every label fits in `width` pixels (min 8)."""
    while size > 8 and max(_width(s, font(size)) for s in labels) > width:
        size -= 1
    return font(size)


def panel_grid(
    tiles: list[np.ndarray], labels: list[str], n_cols: int, gap: int = 10
) -> Image.Image:
    """Tiles (h, w, 3) uint8 of equal size in rows of `n_cols`, each under its label and
    inside a thin frame."""
    tile_h, tile_w = tiles[0].shape[:2]
    f = _fitting_font(labels, max(11, min(18, tile_w // 8)), tile_w + gap - 2)
    label_h = round(f.size * 1.4) if hasattr(f, "size") else 14
    cell_w, cell_h = tile_w + 2 + gap, label_h + tile_h + 2 + gap
    n_rows = -(-len(tiles) // n_cols)
    img = Image.new("RGB", (n_cols * cell_w - gap, n_rows * cell_h - gap), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for i, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        r, c = divmod(i, n_cols)
        left, top = c * cell_w, r * cell_h
        draw.text((left + 1 + tile_w / 2, top + label_h / 2), label, fill=INK, font=f, anchor="mm")
        draw.rectangle(
            (left, top + label_h, left + tile_w + 1, top + label_h + tile_h + 1), outline=FRAME
        )
        img.paste(Image.fromarray(tile), (left + 1, top + label_h + 1))
    return img


def colour_bar(scale: Scale, colormap: str, width: int, levels: int | None = None) -> Image.Image:
    """A horizontal colour bar from -scale to +scale with five ticks, arrow ends when weights
    lie beyond the scale, and the scale's legend line under it."""
    arrow = BAR_HEIGHT if scale.beyond > 0 else 0
    bar_w = max(100, min(width, 480) - 2 * arrow)
    ramp = colours(np.linspace(-1.0, 1.0, bar_w), colormap, levels)
    tick_f, legend = font(12), text_block(scale.legend(), 12, width, MUTED)
    height = BAR_HEIGHT + 6 + round(12 * 1.4) + 4 + legend.height
    img = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    x0 = (width - bar_w) // 2
    img.paste(Image.fromarray(np.repeat(ramp[None], BAR_HEIGHT, axis=0)), (x0, 0))
    draw.rectangle((x0 - 1, 0, x0 + bar_w, BAR_HEIGHT - 1), outline=FRAME)
    if arrow:  # the end colours continue past the scale: triangles, as matplotlib's "extend"
        mid = (BAR_HEIGHT - 1) / 2
        left, right = tuple(int(v) for v in ramp[0]), tuple(int(v) for v in ramp[-1])
        draw.polygon([(x0 - 1, 0), (x0 - 1, BAR_HEIGHT - 1), (x0 - arrow, mid)], fill=left)
        draw.polygon([(x0 + bar_w, 0), (x0 + bar_w, BAR_HEIGHT - 1), (x0 + bar_w + arrow - 1,
                     mid)], fill=right)  # fmt: skip
    for k in range(5):
        value = scale.value * (k - 2) / 2
        x = x0 + round(k * (bar_w - 1) / 4)
        draw.line((x, BAR_HEIGHT, x, BAR_HEIGHT + 3), fill=INK)
        label = "0" if k == 2 else f"{value:+.3g}"
        draw.text((x, BAR_HEIGHT + 5), label, fill=INK, font=tick_f, anchor="mt")
    img.paste(legend, (0, height - legend.height))
    return img


def stack(blocks: list[Image.Image], gap: int = 10) -> Image.Image:
    """Blocks one under the other, each centred, inside a margin."""
    width = max(b.width for b in blocks) + 2 * MARGIN
    height = sum(b.height for b in blocks) + gap * (len(blocks) - 1) + 2 * MARGIN
    img = Image.new("RGB", (width, height), BACKGROUND)
    top = MARGIN
    for b in blocks:
        img.paste(b, ((width - b.width) // 2, top))
        top += b.height + gap
    return img


def _titled(
    body: Image.Image,
    scale: Scale,
    colormap: str,
    title: str,
    subtitle: str | None,
    levels: int | None = None,
    bar: bool = True,
) -> Image.Image:
    width = max(body.width, MIN_WIDTH)
    heads = [text_block(title, 20, width)]
    if subtitle:
        heads.append(text_block(subtitle, 13, width, MUTED))
    foot = [colour_bar(scale, colormap, width, levels)] if bar else []
    return stack([*heads, body, *foot])


def grid_columns(k: int) -> int:
    """Panels per row: one row up to 5, two rows of 5 for 10 classes; beyond, between sqrt(k)
    and sqrt(2k) columns, the count that leaves the fewest empty places in the last row."""
    if k <= 10:
        return min(k, 5)
    low, high = math.ceil(math.sqrt(k)), math.ceil(math.sqrt(2 * k))
    return min(range(low, high + 1), key=lambda c: (-k % c, c))


def grid_figure(
    columns: np.ndarray,
    labels: list[str],
    scale: Scale,
    title: str,
    subtitle: str | None = None,
    colormap: str = "diverging",
    upscale: int = 6,
    levels: int | None = None,
    max_width: int = MAX_GRID_WIDTH,
    bar: bool = True,
) -> Image.Image:
    """Each column of `columns` (side * side, k) as a labelled square panel on one colour
    scale: 28x28 for a dense first layer, a conv layer's kernels 3x3 (or k x k).

    upscale: pixels per weight; lowered (not below 1) to keep the picture within `max_width`
    pixels. levels: round the colours to 2*levels+1 steps of the map (for a GIF's palette).
    bar: draw the colour bar and its legend line (a GIF for a page that shows them once
    leaves them out).
    """
    k = columns.shape[1]
    n_cols = grid_columns(k)
    gap = 10 if k <= 40 else 4  # many small panels: narrow gaps leave more room for weights
    side = math.isqrt(columns.shape[0])
    upscale = max(1, min(upscale, grid_upscale(n_cols, gap, max_width, side)))
    tiles = [
        colours(columns[:, j].reshape(side, side) / scale.value, colormap, levels)
        .repeat(upscale, axis=0)
        .repeat(upscale, axis=1)
        for j in range(k)
    ]
    body = panel_grid(tiles, labels, n_cols, gap)
    return _titled(body, scale, colormap, title, subtitle, levels, bar)


def grid_upscale(n_cols: int, gap: int, max_width: int, side: int = IMAGE_SIDE) -> int:
    """The largest pixels per weight (at least 1) at which `n_cols` panels of side x side
    weights, their frames and gaps fit `max_width` pixels with the picture's margins."""
    cell = (max_width - 2 * MARGIN + gap) // n_cols  # a panel's share: tile + frame + gap
    return max(1, (cell - 2 - gap) // side)


def maps_figure(
    maps: np.ndarray,
    row_labels: list[str],
    column_labels: list[str],
    scale: Scale,
    title: str,
    subtitle: str | None = None,
    colormap: str = "diverging",
    upscale: int = 4,
    max_width: int = MAX_GRID_WIDTH,
) -> Image.Image:
    """A table of square maps (rows, columns, side, side) on one colour scale, each row and
    column labelled once (a conv network's output weights: a row per class, a column per
    kernel, each map the weights from that kernel's feature map to that class).

    upscale: pixels per weight, lowered (not below 1) to keep the picture within
    `max_width` pixels."""
    n_rows, n_cols, side = maps.shape[0], maps.shape[1], maps.shape[2]
    gap = 4
    f = _fitting_font(row_labels, 14, 120)
    label_w = max(_width(s, f) for s in row_labels) + 10
    cell = (max_width - 2 * MARGIN - label_w + gap) // n_cols
    upscale = max(1, min(upscale, (cell - 2 - gap) // side))
    tile = side * upscale
    head_f = _fitting_font(column_labels, 13, tile + gap)
    head_h = round(head_f.size * 1.5) if hasattr(head_f, "size") else 16
    cell_w, cell_h = tile + 2 + gap, tile + 2 + gap
    body = Image.new(
        "RGB", (label_w + n_cols * cell_w - gap, head_h + n_rows * cell_h - gap), BACKGROUND
    )
    draw = ImageDraw.Draw(body)
    for c, name in enumerate(column_labels):
        x = label_w + c * cell_w + 1 + tile / 2
        draw.text((x, head_h / 2), name, fill=INK, font=head_f, anchor="mm")
    for r, name in enumerate(row_labels):
        top = head_h + r * cell_h
        draw.text((label_w - 8, top + 1 + tile / 2), name, fill=INK, font=f, anchor="rm")
        for c in range(n_cols):
            left = label_w + c * cell_w
            draw.rectangle((left, top, left + tile + 1, top + tile + 1), outline=FRAME)
            pixels = colours(maps[r, c] / scale.value, colormap).repeat(upscale, 0)
            body.paste(Image.fromarray(pixels.repeat(upscale, 1)), (left + 1, top + 1))
    return _titled(body, scale, colormap, title, subtitle)


def colours(t: np.ndarray, colormap: str, levels: int | None = None) -> np.ndarray:
    """Weights already divided by the scale -> RGB (..., 3) uint8, heatmap's colours exactly;
    with `levels`, t is first rounded to a multiple of 1/levels (2*levels+1 colours)."""
    t = np.clip(t, -1.0, 1.0)
    if levels:
        t = np.round(t * levels) / levels
    return to_rgb(t, 1.0, colormap)


def _tick_step(n: int, cell: int, min_px: int) -> int:
    """Label every step-th of n cells of `cell` pixels so labels are >= min_px apart."""
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if step * cell >= min_px or step >= n:
            return step
    return 1000


def matrix_figure(
    weights: np.ndarray,
    row_labels: list[str],
    scale: Scale,
    title: str,
    subtitle: str | None = None,
    colormap: str = "diverging",
    input_name: str = "input",
) -> Image.Image:
    """A layer's weights (n_in, n_out) as a heatmap: one row per output unit (labelled),
    one column per input unit (numbered along the bottom)."""
    n_in, n_out = weights.shape
    cell_w = max(2, min(28, 900 // n_in))
    cell_h = max(2, min(28, 420 // n_out))
    pixels = to_rgb(weights.T, scale.value, colormap).repeat(cell_h, 0).repeat(cell_w, 1)
    row_step = _tick_step(n_out, cell_h, 13)
    f = _fitting_font(row_labels, 14, 160) if row_step == 1 else font(11)
    shown = [(i, row_labels[i]) for i in range(0, n_out, row_step)]
    label_w = max(_width(s, f) for _, s in shown) + 8
    col_step = _tick_step(n_in, cell_w, 30)
    body = Image.new("RGB", (label_w + n_in * cell_w + 2, n_out * cell_h + 40), BACKGROUND)
    draw = ImageDraw.Draw(body)
    body.paste(Image.fromarray(pixels), (label_w + 1, 1))
    draw.rectangle((label_w, 0, label_w + n_in * cell_w + 1, n_out * cell_h + 1), outline=FRAME)
    for i, s in shown:
        draw.text((label_w - 6, 1 + i * cell_h + cell_h / 2), s, fill=INK, font=f, anchor="rm")
    ticks = font(11)
    for j in range(0, n_in, col_step):
        x = label_w + 1 + j * cell_w + cell_w / 2
        draw.line((x, n_out * cell_h + 2, x, n_out * cell_h + 5), fill=INK)
        draw.text((x, n_out * cell_h + 7), str(j), fill=INK, font=ticks, anchor="mt")
    draw.text((label_w + 1 + n_in * cell_w / 2, n_out * cell_h + 24), input_name, fill=MUTED,
              font=font(12), anchor="mt")  # fmt: skip
    return _titled(body, scale, colormap, title, subtitle)


def png(img: Image.Image | np.ndarray) -> bytes:
    """The PNG encoding of `img`: a picture, or pixels (h, w) grey or (h, w, 3) RGB, uint8."""
    buf = io.BytesIO()
    _image(img).save(buf, format="PNG")
    return buf.getvalue()


def pgm(pixels: np.ndarray) -> bytes:
    """A binary (P5) 8-bit PGM of grey pixels (h, w), uint8."""
    buf = io.BytesIO()
    _image(pixels).save(buf, format="PPM")  # Pillow writes a grey picture as P5
    return buf.getvalue()


def _image(img: Image.Image | np.ndarray) -> Image.Image:
    return img if isinstance(img, Image.Image) else Image.fromarray(np.asarray(img, np.uint8))


GIF_LEVELS = 100  # a GIF's panels use 201 colours of the map: -1, -0.99, ..., +1 times the scale
_GREYS = (BACKGROUND[0], INK[0], MUTED[0], FRAME[0])


def _palette(colormap: str) -> np.ndarray:
    """The GIF palette (256, 3): the map's 201 colours at the GIF_LEVELS steps, then greys for
    the text, frames and background (the figure's own greys exactly, then evenly spaced)."""
    ramp = colours(np.arange(-GIF_LEVELS, GIF_LEVELS + 1) / GIF_LEVELS, colormap, GIF_LEVELS)
    n_greys = 256 - len(ramp)
    greys = [*_GREYS, *np.rint(np.linspace(0, 255, n_greys - len(_GREYS)))]
    return np.concatenate([ramp, np.repeat(np.array(greys)[:, None], 3, axis=1)]).astype(np.uint8)


def _indexed(frame: Image.Image, palette: np.ndarray) -> Image.Image:
    """An RGB frame drawn with the palette's map colours and grey text as a "P" image: map
    colours to their exact entry, every other pixel (text antialiasing: grey) to the nearest
    grey of the palette."""
    rgb = np.asarray(frame).astype(np.int64)
    keys = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    pal = palette.astype(np.int64)
    pal_keys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    order = np.argsort(pal_keys, kind="stable")
    pos = np.clip(np.searchsorted(pal_keys[order], keys), 0, len(order) - 1)
    index = order[pos]
    other = pal_keys[index] != keys
    grey_entries = np.arange(2 * GIF_LEVELS + 1, len(pal))
    luminance = rgb[other].mean(axis=-1)
    index[other] = grey_entries[np.abs(luminance[:, None] - pal[grey_entries, 0]).argmin(axis=1)]
    index = index.astype(np.uint8)
    img = Image.fromarray(index, mode="P")
    img.putpalette(palette.tobytes())
    return img


def gif(
    frames: Iterable[Image.Image],
    colormap: str = "diverging",
    durations: Sequence[int] | None = None,
) -> bytes:
    """An animated GIF of RGB `frames` (drawn with levels=GIF_LEVELS), looping forever; the
    first frame shows FIRST_MS, the last LAST_MS, the others FRAME_MS, unless `durations`
    (ms, one per frame) says otherwise.

    Each frame is encoded as soon as it is drawn and then dropped: `frames` may be a generator,
    and only one frame's pixels are in memory at a time (Pillow's own animated writer keeps
    every frame until the end). Frames are padded to the first one's size; the screen grows
    to the largest.
    """
    palette = _palette(colormap)
    out = io.BytesIO()
    width = height = 0
    pending: bytes | None = None  # a frame is written once we know whether it is the last
    count = 0

    def shown(i: int, last: bool) -> int:
        if durations is not None:
            return durations[i]
        return LAST_MS if last and i > 0 else FIRST_MS if i == 0 else FRAME_MS

    for f in frames:
        w, h = max(width, f.width), max(height, f.height)
        canvas = Image.new("RGB", (w, h), BACKGROUND)
        canvas.paste(f, (0, 0))
        image = _gif_image(_indexed(canvas, palette))
        if pending is not None:
            out.write(_control(shown(count - 1, False)) + pending)
        pending, width, height, count = image, w, h, count + 1
    if pending is None:
        raise ValueError("a GIF needs at least one frame")
    if durations is not None and len(durations) != count:
        raise ValueError(f"{len(durations)} durations for {count} frames")
    out.write(_control(shown(count - 1, True)) + pending + b"\x3b")
    background = 2 * GIF_LEVELS + 1 + _GREYS.index(BACKGROUND[0])
    header = (b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, background, 0)
              + palette.tobytes()
              + b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # fmt: skip
    return header + out.getvalue()


def _control(ms: int) -> bytes:
    """A graphic control extension: show the next image for `ms`, then leave it in place."""
    return b"\x21\xf9\x04" + struct.pack("<BHB", 1 << 2, round(ms / 10), 0) + b"\x00"


def _gif_image(img: Image.Image) -> bytes:
    """One "P" image as a GIF image block (descriptor, local palette, LZW data), encoded by
    Pillow as a one-frame GIF whose image block is taken out."""
    buf = io.BytesIO()
    img.save(buf, format="GIF", optimize=False)
    data = buf.getvalue()
    flags = data[10]
    table = data[13 : 13 + (3 << ((flags & 7) + 1))] if flags & 0x80 else b""
    pos = 13 + len(table)
    while data[pos] == 0x21:  # extensions Pillow wrote: skip their sub-blocks
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise ValueError("Pillow wrote a GIF without an image block")
    descriptor = bytearray(data[pos : pos + 10])
    pos += 10
    if descriptor[9] & 0x80:  # a local table already: keep it
        size = 3 << ((descriptor[9] & 7) + 1)
        table, pos = data[pos : pos + size], pos + size
    else:  # use the frame's global table as its local one
        descriptor[9] |= 0x80 | (flags & 7)
    start = pos
    pos += 1  # LZW minimum code size
    while data[pos]:
        pos += data[pos] + 1
    return bytes(descriptor) + table + data[start : pos + 1]


def epoch_title(what: str, epoch: int) -> str:
    """A frame's title: "<what>, epoch 5"; epoch 0 is the start."""
    return f"{what}, epoch 0 (before training)" if epoch == 0 else f"{what}, epoch {epoch}"


# What the report's pictures say, for the classes of a one-layer network or the hidden units
# of a deeper network's first layer (visualize-weights says more: weights_views.Texts).
WHAT = {False: "Each class's weights", True: "Layer 1: each hidden unit's weights"}
SUBTITLE = {
    False: "red: ink on that pixel raises the class's score; blue: lowers it",
    True: "red: ink on that pixel raises the unit's input; blue: lowers it",
}


def weights_grid_png(
    weights: np.ndarray, labels: list[str], scale_max: float | None = None, *, hidden: bool = False
) -> bytes:
    """The labelled grid of `weights` (784, k), one panel per column titled with its label,
    with its colour bar; the scale is `scale_max` or the 99th percentile of |w|. hidden: the
    columns are a first layer's hidden units, not classes (the title says so). PNG bytes."""
    scale = choose_scale(weights, scale_max)
    title = WHAT[hidden] + " from the 784 pixels"
    return png(grid_figure(weights, labels, scale, title, SUBTITLE[hidden]))


def evolution_gif(
    frames: list[tuple[int, np.ndarray]],
    labels: list[str],
    scale_max: float | None = None,
    *,
    hidden: bool = False,
    what: str | None = None,
    subtitle: str | None = None,
    colormap: str = "diverging",
    upscale: int = 4,
    symbol: str = "w",
    scale: Scale | None = None,
    poster: bool = False,
    bar: bool = True,
    max_width: int = MAX_GRID_WIDTH,
) -> bytes:
    """An animated GIF: one labelled grid per (epoch, weights (784, k)) in `frames`, titled
    "<what>, epoch E", all on one colour scale (so growth shows): `scale`, else one chosen
    from every frame's weights together. hidden: the columns are hidden units (what and
    subtitle default to say so).

    poster: the last frame (the final weights) comes first too, held LAST_MS, so a still of
    the file (a screenshot, a printout, a viewer that shows the first frame) is the final
    weights; the loop then runs from the first epoch and ends on the one before the last,
    which leads back to the final frame. bar: draw the colour bar under each frame. GIF bytes.
    """
    if scale is None:
        scale = choose_scale(np.stack([w for _, w in frames]), scale_max, symbol=symbol)
    what = what or WHAT[hidden]
    subtitle = SUBTITLE[hidden] if subtitle is None else subtitle
    durations = None
    if poster and len(frames) > 1:
        frames = [frames[-1], *frames[:-1]]
        durations = [LAST_MS, FIRST_MS, *[FRAME_MS] * (len(frames) - 2)]
    images = (
        grid_figure(w, labels, scale, epoch_title(what, e), subtitle, colormap, upscale,
                    GIF_LEVELS, max_width, bar)
        for e, w in frames
    )  # fmt: skip
    return gif(images, colormap, durations)


MAX_FRAMES = 60  # frames of an animation: a bounded GIF, however many snapshots a file keeps


def spread(epochs: Sequence[int], limit: int = MAX_FRAMES) -> list[int]:
    """At most `limit` of the rising `epochs`, evenly spread, the first and the last kept."""
    if len(epochs) <= limit:
        return list(epochs)
    picks = {round(i * (len(epochs) - 1) / (limit - 1)) for i in range(limit)}
    return [epochs[i] for i in sorted(picks)]


def spread_note(shown: Sequence[int], total: int) -> str | None:
    """What an animation of `shown` epochs out of `total` snapshots says, or None if all."""
    if len(shown) >= total:
        return None
    return (f"the animation shows {len(shown)} of the {total} snapshots, spread evenly from "
            f"epoch {shown[0]} to {shown[-1]} (at most {MAX_FRAMES} frames)")  # fmt: skip
