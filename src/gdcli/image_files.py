"""PGM (binary P5) and PNG files with the standard library: 8-bit grey or RGB pixels.

PNG is written with zlib and struct (filter type 0 on every row); the reader handles what
other tools write for small images: 8-bit grey, grey+alpha, RGB, RGBA or palette, not
interlaced, any filter type.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np

from gdcli.atomic import write_bytes
from gdcli.errors import UsageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(pixels: np.ndarray) -> bytes:
    """An 8-bit PNG of pixels (h, w) grey or (h, w, 3) RGB, uint8."""
    h, w = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    rows = pixels.reshape(h, -1).astype(np.uint8)
    raw = np.hstack([np.zeros((h, 1), dtype=np.uint8), rows]).tobytes()  # filter 0 per row
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def pgm_bytes(pixels: np.ndarray) -> bytes:
    """A binary (P5) 8-bit PGM of grey pixels (h, w), uint8."""
    h, w = pixels.shape
    return f"P5\n{w} {h}\n255\n".encode() + pixels.astype(np.uint8).tobytes()


def write_png(path: Path, pixels: np.ndarray) -> None:
    write_bytes(path, png_bytes(pixels))


def write_pgm(path: Path, pixels: np.ndarray) -> None:
    write_bytes(path, pgm_bytes(pixels))


def read_grey(path: Path) -> np.ndarray:
    """A PGM (P5 or P2) or PNG file as grey levels (h, w) float64 in [0, 255]."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    try:
        if data.startswith(PNG_SIGNATURE):
            return _decode_png(data)
        if data[:2] in (b"P5", b"P2"):
            return _decode_pgm(data)
    except (ValueError, struct.error, zlib.error, IndexError) as exc:
        raise UsageError(f"{path}: corrupt image ({exc})") from exc
    raise UsageError(f"{path}: not a PGM or PNG image")


def _decode_pgm(data: bytes) -> np.ndarray:
    # Header: magic, width, height, maxval, separated by whitespace; comments start with #.
    header = re.match(rb"(P[25])((?:\s+(?:#[^\n]*\n\s*)*\d+){3})\s", data)
    if not header:
        raise ValueError("bad PGM header")
    w, h, maxval = (int(v) for v in re.findall(rb"\d+", re.sub(rb"#[^\n]*", b"", header[2])))
    body = data[header.end() :]
    if header[1] == b"P2":
        values = np.array(body.split()[: w * h], dtype=np.float64)
    else:
        dtype = ">u1" if maxval < 256 else ">u2"
        values = np.frombuffer(body, dtype=dtype, count=w * h).astype(np.float64)
    if values.size != w * h:
        raise ValueError(f"{values.size} of {w * h} pixels")
    return values.reshape(h, w) * (255.0 / maxval)


def _decode_png(data: bytes) -> np.ndarray:
    pos, idat, palette = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if depth != 8 or interlace or colour not in _CHANNELS:
        raise ValueError("only 8-bit, non-interlaced PNG images are read")
    bpp = _CHANNELS[colour]
    stride = w * bpp
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), dtype=np.int64)
    for r in range(h):
        kind, line = raw[r, 0], raw[r, 1:].astype(np.int64)
        prev = out[r - 1] if r else np.zeros(stride, dtype=np.int64)
        if kind == 0:
            out[r] = line
        elif kind == 2:
            out[r] = (line + prev) % 256
        else:  # Sub, Average and Paeth depend on the pixel to the left: byte by byte
            cur = out[r]
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                up, up_left = prev[i], (prev[i - bpp] if i >= bpp else 0)
                if kind == 1:
                    pred = left
                elif kind == 3:
                    pred = (left + up) // 2
                else:
                    p = left + up - up_left
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                cur[i] = (line[i] + pred) % 256
    pixels = out.reshape(h, w, bpp).astype(np.float64)
    if colour == 3:
        pixels = palette[out.reshape(h, w)].astype(np.float64)  # type: ignore[index]
        bpp = 3
    if bpp >= 3:  # RGB(A): luminance, ITU-R 601
        return pixels[..., 0] * 0.299 + pixels[..., 1] * 0.587 + pixels[..., 2] * 0.114
    return pixels[..., 0]
