"""A table in a CSV file: a header line and rows of numbers, LF or CRLF line endings.

Its content is the text with LF line endings: the lessons' own copies (CRLF) and the public
repository's (LF) hold the same rows and verify alike, by the SHA-256 of that content. The
parser checks the header and every field, so a copy with other columns or a row that is not
numbers is named for what it is, not only as a checksum mismatch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from gdcli.errors import GdcliError


class CsvError(GdcliError):
    """A file that is not the expected table (header, a field, the size or the checksum)."""


def content(path: Path, limit: int, name: str | None = None) -> bytes:
    """The file's text with LF line endings; a CsvError past `limit` bytes or if unreadable."""
    name = name or path.name
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise CsvError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if len(raw) > limit:
        raise CsvError(f"{name}: more than the {limit:,} bytes the table can be")
    return raw.replace(b"\r\n", b"\n")


def parse(text: bytes, columns: tuple[str, ...], name: str) -> np.ndarray:
    """The rows of `text` as float64 (n_rows, len(columns)); a CsvError naming the first
    problem: not text, another header, a row with another number of fields or a field that is
    not a number."""
    try:
        lines = text.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise CsvError(f"{name}: not a CSV text file") from None
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last row
    header = lines[0].strip() if lines else ""
    if header != ",".join(columns):
        shown = header[:60] or "empty"
        raise CsvError(f"{name}: header {shown!r}, expected {','.join(columns)!r}")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != len(columns):
            raise CsvError(
                f"{name}: line {number} has {len(fields)} fields, expected {len(columns)}"
            )
        try:
            rows.append([float(v) for v in fields])
        except ValueError:
            raise CsvError(f"{name}: line {number}: {line[:60]!r} is not numbers") from None
    if not rows:
        raise CsvError(f"{name}: no rows")
    return np.array(rows, dtype=np.float64)


def verify(
    path: Path, size: int, sha256: str, columns: tuple[str, ...], name: str | None = None
) -> np.ndarray:
    """Check that `path` holds the table of `size` bytes (LF line endings), `sha256` and
    `columns`; return its rows. Raises CsvError with one line saying what is wrong."""
    name = name or path.name
    text = content(path, 2 * size + 1024, name)  # CRLF adds at most a byte per line
    rows = parse(text, columns, name)
    if len(text) != size:
        raise CsvError(f"{name}: {len(rows)} rows in {len(text):,} bytes, expected {size:,} bytes")
    digest = hashlib.sha256(text).hexdigest()
    if digest != sha256:
        raise CsvError(f"{name}: checksum mismatch (sha256 {digest[:12]}... of its LF content)")
    return rows
