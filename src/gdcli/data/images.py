"""Image files in: any common raster image read as grey levels, with Pillow.

Reading refuses what could exhaust the machine before it is decoded: Pillow opens files
lazily, so the width and height in the header are checked against MAX_PIXELS before a pixel
is decompressed (a 400 KB PNG can claim 20000x20000 pixels, 400 million of them). Pillow is
imported only when an image is read, so commands that never read one do not pay for it.

The pictures gdcli writes are encoded by viz/weights_figure.py (Pillow too).
"""

from __future__ import annotations

import math
import re
import struct
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gdcli.errors import UsageError
from gdcli.io.paths import check_input

if TYPE_CHECKING:
    from PIL import Image

# The largest image read, in pixels: 8000x8000, more than a 50-megapixel phone photo. Decoding
# needs up to 4 bytes per pixel (RGBA), so at most about 260 MB.
MAX_PIXELS = 64_000_000
# The raster formats Pillow decodes itself (no Ghostscript for EPS, no plugins that call out).
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "DIB", "TIFF", "WEBP", "AVIF", "PPM", "TGA",
           "QOI", "ICO", "PCX", "SGI", "JPEG2000", "PSD")  # fmt: skip
READ_NAMES = "PNG, JPEG, GIF, BMP, TIFF, WebP, AVIF, PNM (PGM/PPM/PBM), TGA, QOI, ICO"
# Signatures of images that are valid but not readable here, to say "not supported", not corrupt.
_UNSUPPORTED = (
    (4, b"ftypheic", "HEIC"), (4, b"ftypheix", "HEIC"), (4, b"ftyphevc", "HEIC"),
    (4, b"ftypmif1", "HEIF"), (4, b"ftypmsf1", "HEIF"), (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (0, b"\xff\x0a", "JPEG XL"), (0, b"%PDF", "PDF"), (0, b"%!PS", "PostScript/EPS"),
    (0, b"\xc5\xd0\xd3\xc6", "EPS"), (0, b"<svg", "SVG"), (0, b"<?xml", "SVG/XML"),
    (0, b"Pf", "PFM (floating-point PNM)"), (0, b"PF", "PFM (floating-point PNM)"),
)  # fmt: skip

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- reading -------------------------------------------------------------------------------


class WrongSize(UsageError):
    """An image that is not of the one size asked for; width and height say what it is."""

    def __init__(self, path: Path, width: int, height: int, wanted: tuple[int, int]) -> None:
        super().__init__(f"{path}: {width}x{height} pixels, not {wanted[0]}x{wanted[1]}")
        self.width, self.height = width, height


def read_grey(
    path: Path, max_side: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """The image at `path` as grey levels (h, w) float64 in [0, 1] (0 black, 1 white).

    Colour becomes luminance (ITU-R 601); 16-bit images keep their precision; a transparent
    image is laid on a background that contrasts with what is drawn on it (white under dark
    strokes, black under light ones), so its drawing shows whatever colour it is. Photos are
    turned upright by their EXIF orientation. With `max_side`, an image larger than that on its
    long side is reduced by a whole factor (averaging blocks of pixels) once decoded.

    With `size` (width, height), an image of any other size is a WrongSize error, told from
    its header before a pixel is decoded.

    Every fault is a UsageError (exit 2) naming the file: unreadable, corrupt, too large, or
    valid but not supported.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    check_input(path, "image")
    try:
        fp = open(path, "rb")  # noqa: SIM115  (closed below, after Pillow's lazy reads)
    except OSError as exc:
        raise UsageError(f"cannot read image {path}: {exc.strerror or exc}") from None
    saved_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS  # Pillow's own check, in its header parsers
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                Image.init()  # register every plugin, so `formats` can name them
                img = Image.open(fp, formats=FORMATS)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise UsageError(f"{path}: {_too_large(exc)}", hint=_SHRINK) from None
            except UnidentifiedImageError:
                raise UsageError(f"{path}: {_unidentified(path)}") from None
            except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
                raise UsageError(f"{path}: corrupt image ({_reason(exc)})") from None
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise UsageError(f"{path}: {_too_large(width * height)}", hint=_SHRINK)
            if size is not None and (width, height) != size:
                raise WrongSize(path, width, height, size)
            if max_side and img.format in ("JPEG", "MPO"):
                # JPEG decodes at 1/2, 1/4 or 1/8 scale for free: never larger than needed
                scale = max_side / max(width, height)
                img.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
            try:
                img.load()
                img = ImageOps.exif_transpose(img) or img
                return _grey(img, max_side, path)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise UsageError(f"{path}: {_too_large(exc)}", hint=_SHRINK) from None
            except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error) as exc:
                what = "not supported" if _unsupported_feature(exc) else "corrupt image"
                raise UsageError(f"{path}: {what} ({_reason(exc)})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit
        fp.close()


_SHRINK = "shrink it first, e.g. to 2000 pixels on its long side"


def _grey(img: Image.Image, max_side: int | None, path: Path) -> np.ndarray:
    """A loaded Pillow image -> grey (h, w) float64 in [0, 1], transparency flattened."""
    if img.mode == "F":
        raise UsageError(f"{path}: not supported (32-bit floating-point pixels)")
    if img.mode.startswith("I"):  # 16-bit grey (I;16, I;16B) or 32-bit int
        img, full_scale = img.convert("I"), 65535.0
        grey, alpha = np.asarray(_reduce(img, max_side), dtype=np.float64), None
        if grey.max(initial=0) > full_scale:
            raise UsageError(f"{path}: not supported (grey levels beyond 16 bits)")
        grey = grey / full_scale
    else:
        transparent = "A" in img.getbands() or "transparency" in img.info
        img = _reduce(img.convert("RGBA").convert("LA") if transparent else img.convert("L"),
                      max_side)  # fmt: skip
        pixels = np.asarray(img, dtype=np.float64) / 255.0
        grey, alpha = (pixels[..., 0], pixels[..., 1]) if transparent else (pixels, None)
    if alpha is not None and alpha.min() < 1.0:
        grey = _flatten(grey, alpha)
    return grey


def _reduce(img: Image.Image, max_side: int | None) -> Image.Image:
    """Reduce by a whole factor (block averages) so the long side is at most max_side."""
    factor = math.ceil(max(img.size) / max_side) if max_side else 1
    return img.reduce(factor) if factor > 1 else img


def _flatten(grey: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Lay a transparent image on white if what is drawn (the opaque part) is dark on
    average, else on black."""
    drawn = float((grey * alpha).sum() / alpha.sum()) if alpha.sum() > 0 else 0.0
    background = 1.0 if drawn < 0.5 else 0.0
    return alpha * grey + (1.0 - alpha) * background


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(32)
    except OSError:
        return b""


def _unidentified(path: Path) -> str:
    """Why Pillow could not identify a file: a known but unsupported format, or not an image."""
    head = _head(path)
    for offset, magic, name in _UNSUPPORTED:
        if head[offset : offset + len(magic)] == magic:
            return f"{name} images are not supported (gdcli reads {READ_NAMES}); save it as PNG"
    known = (PNG_SIGNATURE, b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")
    if any(head.startswith(m) for m in known) or head[8:12] == b"WEBP":
        return "corrupt image (its header cannot be read)"
    if not head:
        return "corrupt image (the file is empty)"
    return f"not an image file gdcli reads ({READ_NAMES})"


def _too_large(what: int | Exception) -> str:
    """The refusal of an image of `what` pixels (or Pillow's exception naming them)."""
    found = re.search(r"\((\d+) pixels\)", str(what)) if isinstance(what, Exception) else None
    pixels = int(found[1]) if found else what if isinstance(what, int) else None
    size = f"{_megapixels(pixels)} megapixels" if pixels else "too many pixels"
    return f"{size}; gdcli reads images of at most {MAX_PIXELS // 1_000_000} megapixels"


def _megapixels(pixels: int) -> str:
    """Megapixels with the digits it takes to differ from the limit: 64.01, not 64."""
    limit = MAX_PIXELS / 1e6
    for digits in range(7):
        text = f"{pixels / 1e6:.{digits}f}"
        if float(text) != limit:
            return text
    return f"{pixels:,} pixels, i.e. {pixels / 1e6}"


def _unsupported_feature(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("not supported", "unsupported", "not available", "unknown"))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 80 else text[:77] + "..."
