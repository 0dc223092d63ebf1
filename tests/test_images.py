"""Reading images with Pillow (every common format, 16-bit, interlaced, transparent, rotated),
refusing bombs before decoding them, and writing PGM/PNG that Pillow decodes."""

import io
import math
import struct
import zlib

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image
from test_weights_io import run_limited, save_weights

from gdcli.data.images import MAX_PIXELS, read_grey
from gdcli.errors import UsageError

PIXELS = np.random.RandomState(0).randint(0, 256, (30, 41)).astype(np.uint8)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC (written here to craft files Pillow would not)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width, height, raw_rows: bytes, depth=8, colour=0, interlace=0) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw_rows))
            + _chunk(b"IEND", b""))  # fmt: skip


def adam7_png(pixels: np.ndarray) -> bytes:
    """An interlaced (Adam7) 8-bit grey PNG: seven passes of sub-images, filter 0 per row."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]  # fmt: skip
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\x00" + row.tobytes() for row in sub)
    return png(pixels.shape[1], pixels.shape[0], raw, interlace=1)


@pytest.mark.parametrize(
    "name, save",
    [
        ("grey.png", lambda img, p: img.save(p)),
        ("rgb.png", lambda img, p: img.convert("RGB").save(p)),
        ("opaque-rgba.png", lambda img, p: img.convert("RGBA").save(p)),
        ("palette.png", lambda img, p: img.convert("P").save(p)),
        ("grey-alpha.png", lambda img, p: img.convert("LA").save(p)),
        ("interlaced.png", lambda img, p: p.write_bytes(adam7_png(np.asarray(img)))),
        ("image.bmp", lambda img, p: img.save(p)),
        ("image.tiff", lambda img, p: img.save(p, compression="tiff_lzw")),
        ("image.webp", lambda img, p: img.save(p, lossless=True)),
        ("image.gif", lambda img, p: img.save(p)),
        ("binary.pgm", lambda img, p: img.save(p)),
        ("image.jpg", lambda img, p: img.save(p, quality=100, subsampling=0)),
    ],
)
def test_reads_every_common_format(tmp_path, name, save):
    path = tmp_path / name
    save(Image.fromarray(PIXELS), path)
    got = read_grey(path)
    assert got.shape == PIXELS.shape and got.dtype == np.float64
    tolerance = 4 / 255 if name.endswith(".jpg") else 0.5 / 255
    assert np.max(np.abs(got - PIXELS / 255)) <= tolerance, name


def test_reads_plain_pgm_and_16_bit_png_at_full_precision(tmp_path):
    (tmp_path / "plain.pgm").write_text("P2\n# a comment\n3 2\n1000\n0 500 1000\n1 2 3\n")
    expected = [[0, 0.5, 1], [0.001, 0.002, 0.003]]
    assert np.allclose(read_grey(tmp_path / "plain.pgm"), expected, rtol=0, atol=1e-5)
    deep = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 1000).astype(">u2")
    (tmp_path / "deep.png").write_bytes(
        png(4, 3, b"".join(b"\x00" + row.tobytes() for row in deep), depth=16)
    )
    assert Image.open(tmp_path / "deep.png").mode.startswith("I;16")
    # 1000/65535 is not a multiple of 1/255: 8 bits would lose it
    assert np.allclose(read_grey(tmp_path / "deep.png"), deep / 65535, atol=1e-12)


def test_transparency_is_laid_on_a_contrasting_background(tmp_path):
    ink = np.zeros((20, 20), dtype=bool)
    ink[5:15, 9:11] = True
    for colour, background in ((0, 1.0), (255, 0.0)):  # black ink on white, white on black
        rgba = np.zeros((20, 20, 4), dtype=np.uint8)
        rgba[ink] = (colour, colour, colour, 255)  # transparent elsewhere (RGB 0: black)
        Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
        got = read_grey(tmp_path / "t.png")
        assert np.all(got[~ink] == background) and np.all(got[ink] == colour / 255)


def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path):
    upright = np.zeros((40, 60), dtype=np.uint8)
    upright[:10, :] = 255  # a bright band along the top
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turned 90 degrees clockwise
    stored = np.rot90(upright, k=1)  # what a camera held sideways stores
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "p.jpg", exif=exif, quality=95)
    got = read_grey(tmp_path / "p.jpg")
    assert got.shape == upright.shape
    assert np.allclose(got, upright / 255, atol=0.1)


def test_a_large_photo_is_reduced_while_decoded(tmp_path):
    big = np.zeros((3000, 4000), dtype=np.uint8)
    big[1000:2000, 1500:2500] = 255
    Image.fromarray(big).save(tmp_path / "big.jpg", quality=90)
    Image.fromarray(big).save(tmp_path / "big.png")
    for name in ("big.jpg", "big.png"):
        got = read_grey(tmp_path / name, max_side=1024)
        assert max(got.shape) <= 1024 and max(got.shape) >= 512, (name, got.shape)
        h, w = got.shape
        assert got[h // 2, w // 2] > 0.9 and got[5, 5] < 0.1


def test_pgm_and_png_written_here_decode_with_pillow(tmp_path):
    from gdcli.viz.weights_figure import pgm
    from gdcli.viz.weights_figure import png as png_of

    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_of(PIXELS)))), PIXELS)
    rgb = np.stack([PIXELS, 255 - PIXELS, PIXELS // 2], axis=2)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png_of(rgb)))), rgb)
    data = pgm(PIXELS)
    assert data.startswith(b"P5\n41 30\n255\n") and data.endswith(PIXELS.tobytes())
    (tmp_path / "x.pgm").write_bytes(data)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x.pgm")), PIXELS)
    assert np.array_equal(read_grey(tmp_path / "x.pgm"), PIXELS / 255)


def png_bomb(path, side=20000):
    """A real PNG of side x side black pixels: 400 million for 20000, about 389 KB. Deflated a
    block of rows at a time: after a full flush deflate keeps no history, so every block
    compresses to the same bytes (compressing 400 MB would take seconds)."""
    rows = math.gcd(side, 100)
    block = bytes(side + 1) * rows  # each row: filter byte 0, then its pixels
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    adler = 1
    for _ in range(side // rows):
        adler = zlib.adler32(block, adler)
    idat = b"\x78\xda" + body * (side // rows) + deflate.flush() + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat)
                     + _chunk(b"IEND", b""))  # fmt: skip
    return path


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, monkeypatch):
    path = png_bomb(tmp_path / "bomb.png")
    assert path.stat().st_size < 400_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # to look at it here
    with Image.open(path) as img:  # Pillow's lazy open: the header alone
        assert img.size == (20000, 20000)
    weights = save_weights(tmp_path / "w.npz", np.zeros((784, 10)))
    # in 512 MB of address space: decoding the 400 MB of pixels would fail with a traceback
    result = run_limited("predict", str(weights), "--image", str(path))
    assert_one_line_error(result, 2, "bomb.png: 400 megapixels",
                          f"at most {MAX_PIXELS // 1_000_000} megapixels")  # fmt: skip
    # between Pillow's own warning and error thresholds, too
    with pytest.raises(UsageError, match="72 megapixels"):
        read_grey(png_bomb(tmp_path / "72.png", side=8500))


def corrupt_files(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(PIXELS).save(good)
    data = good.read_bytes()
    flipped = bytearray(data)
    flipped[data.index(b"IDAT") + 20] ^= 0xFF
    float_tiff = tmp_path / "float.tiff"
    Image.fromarray(np.zeros((4, 4), np.float32)).save(float_tiff)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    return {
        "truncated.png": (data[: len(data) // 2], "corrupt image"),
        "flipped.png": (bytes(flipped), "corrupt image"),
        "header.png": (data[:20], "corrupt image"),
        "empty.png": (b"", "corrupt image (the file is empty)"),
        "notes.png": (b"just some text\n", "not an image file gdcli reads (PNG, JPEG"),
        "photo.heic": (b"\x00\x00\x00\x18ftypheic" + bytes(40), "HEIC images are not supported"),
        "drawing.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "SVG images are not"),
        "float.tiff": (None, "not supported (32-bit floating-point pixels)"),
        "folder.png": (None, "cannot read image"),
        "missing.png": (None, "cannot read image"),
    }  # fmt: skip


def test_bad_images_are_one_line_exit_2(tmp_path):
    """Each fault is a UsageError naming the file; three of them through the CLI."""
    files = corrupt_files(tmp_path)
    for name, (data, needle) in files.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
        with pytest.raises(UsageError) as caught:
            read_grey(tmp_path / name)
        assert name in caught.value.message and needle in caught.value.message, name
    weights = save_weights(tmp_path / "w.npz", np.zeros((784, 10)))
    for name in ("truncated.png", "photo.heic", "notes.png"):
        result = run_cli("predict", str(weights), "--image", str(tmp_path / name))
        assert_one_line_error(result, 2, name, files[name][1])
