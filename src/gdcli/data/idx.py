"""The IDX file format of MNIST: read it gzip'd or raw, check it, verify its content.

Header: two zero bytes, a dtype code, the number of dimensions, then each dimension as a
big-endian uint32; the data follows in C order, big-endian.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gdcli.errors import GdcliError

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


class IdxError(GdcliError):
    """A file that is not a well-formed IDX file (or gzip of one)."""


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")  # type: ignore[return-value]


def content_size(path: Path) -> int:
    """Bytes of IDX content: the file size, or a gzip's ISIZE trailer (no decompression)."""
    if not is_gzip(path):
        return path.stat().st_size
    with open(path, "rb") as f:
        f.seek(-4, 2)
        return struct.unpack("<I", f.read(4))[0]


def parse_header(head: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, header length) from the first bytes of an IDX file."""
    if len(head) < 4 or head[:2] != b"\0\0":
        raise IdxError(f"{name}: not an IDX file (magic {head[:4].hex() or 'empty'})")
    code, ndim = head[2], head[3]
    if code not in DTYPES:
        raise IdxError(f"{name}: unknown IDX dtype code 0x{code:02x}")
    if ndim == 0 or len(head) < 4 + 4 * ndim:
        raise IdxError(f"{name}: IDX header too short for {ndim} dimensions")
    shape = struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])
    return np.dtype(DTYPES[code]), shape, 4 + 4 * ndim


def records(path: Path) -> int:
    """How many records (images, labels) an IDX file holds, from its header."""
    path = Path(path)
    try:
        with _open(path) as f:
            return parse_header(f.read(4 + 4 * 3), path.name)[1][0]
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IdxError(f"{path.name}: corrupt or truncated gzip ({exc})") from exc
    except OSError as exc:
        raise IdxError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc


def read_idx(path: Path, count: int | None = None, start: int = 0) -> np.ndarray:
    """Read an IDX file (gzip'd or raw) as an array of its own dtype and shape.

    count: read only `count` records (along the first axis) from record `start` (negative:
    counted from the end, as a Python index); the rest of a gzip'd file is not decompressed.
    The dimensions are checked against the file's content size either way.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            dtype, shape, header_len = parse_header(f.read(4 + 4 * 3), path.name)
            record = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            expected = header_len + shape[0] * record
            actual = content_size(path)
            if actual != expected:
                raise IdxError(
                    f"{path.name}: the header says {shape} ({expected} bytes) "
                    f"but the content is {actual} bytes"
                )
            first = max(0, shape[0] + start) if start < 0 else min(start, shape[0])
            n = shape[0] - first if count is None else min(count, shape[0] - first)
            f.seek(header_len + first * record)
            data = f.read(n * record)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IdxError(f"{path.name}: corrupt or truncated gzip ({exc})") from exc
    except OSError as exc:
        raise IdxError(f"{path.name}: cannot read ({exc.strerror or exc})") from exc
    if len(data) != n * record:
        raise IdxError(f"{path.name}: truncated ({len(data)} of {n * record} data bytes)")
    return np.frombuffer(data, dtype=dtype).reshape((n, *shape[1:])).astype(dtype.newbyteorder("="))


def verify(path: Path, size: int, sha256: str, name: str | None = None) -> None:
    """Check that `path` holds the IDX content of `size` bytes and `sha256`; raise IdxError if not.

    Streams the (decompressed) content once and stops as soon as it passes `size` (a gzip bomb
    costs no more than the real file): a bad gzip, a wrong magic, a wrong size and a wrong
    checksum each get their own message. name: the file name the messages use (default: the
    path's), so a temporary copy is reported as the file it will become.
    """
    name = name or path.name
    digest = hashlib.sha256()
    total = 0
    try:
        with _open(path) as f:
            head = f.read(CHUNK)
            parse_header(head, name)
            while head and total <= size:
                digest.update(head)
                total += len(head)
                head = f.read(CHUNK)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise IdxError(f"{name}: corrupt or truncated gzip ({exc})") from exc
    if total > size:
        raise IdxError(f"{name}: more than the expected {size} bytes of content")
    if total != size:
        raise IdxError(f"{name}: {total} bytes of content, expected {size}")
    if digest.hexdigest() != sha256:
        raise IdxError(f"{name}: checksum mismatch (sha256 {digest.hexdigest()[:12]}...)")
