"""What each kind of data file (registry.FILE_KINDS) is checked with: one place for the fetcher
and the loaders, so neither assumes IDX."""

from __future__ import annotations

from pathlib import Path

from gdcli.data import csvfile, idx
from gdcli.data.registry import DataFile

# What a copy that is not the registry's file raises.
FILE_ERRORS: tuple[type[Exception], ...] = (idx.IdxError, csvfile.CsvError)


def verify(f: DataFile, path: Path, name: str | None = None) -> None:
    """Check that `path` holds `f`'s content (size and SHA-256, and its kind's format); raise
    one of FILE_ERRORS naming the problem. name: the name messages use (default: the path's)."""
    if f.kind == "csv":
        csvfile.verify(path, f.idx_bytes, f.sha256, f.columns, name=name)
    else:
        idx.verify(path, f.idx_bytes, f.sha256, name=name)


def max_bytes(f: DataFile) -> int:
    """The most bytes a copy of `f` can have in any of its forms: more is not the file.

    IDX: gzip cannot grow its content much: deflate stores incompressible data in blocks of up
    to 65,535 bytes with 5 bytes of header each (0.008%), and the gzip header and trailer add 18
    bytes plus an optional name and comment; we allow 0.1% plus 64 KiB. CSV: CRLF line endings
    add a byte per line, at most doubling it.
    """
    if f.kind == "csv":
        return 2 * f.idx_bytes + 1024
    return f.idx_bytes + f.idx_bytes // 1000 + (1 << 16)
