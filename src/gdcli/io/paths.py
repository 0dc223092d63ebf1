"""The paths a command reads and writes, checked once, before any work, by every command.

An input must be what its reader can read to its end: a regular file (or a folder where a
folder is meant), not a FIFO that blocks forever or a device (a symlink to /dev/zero) that never
ends, and no larger than a file of its kind can be. An output must be writable, must not be a
folder or a device, and must not be one of the command's own inputs: writing it would replace
what the user made (the same file under two names counts, compared by device and inode).

Every refusal is one UsageError line (exit 2) naming the path.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gdcli.errors import UsageError, shorten

# What a file of each kind can be, in bytes: generous for anything gdcli writes, far below
# what would exhaust the machine.
MAX_INPUT_BYTES = {
    "config": 1_000_000,  # a config is a few lines
    "registry file": 1_000_000,  # $GDCLI_EXTRA_DATASETS: a few datasets
    "metrics file": 256_000_000,  # a JSON line per epoch
    "weights file": 1_100_000_000,  # sizes.MAX_FILE_BYTES decompressed, and a zip's overhead
    "image": 512_000_000,  # 64 megapixels of uncompressed RGBA, with room
}


def _what(mode: int) -> str | None:
    """What a file of `mode` is, when it is not a regular file or a folder."""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def _a(noun: str) -> str:
    return "an" if noun[:1] in "aeiou" else "a"


def check_input(
    path: Path,
    kind: str,
    max_bytes: int | None = None,
    *,
    folder: bool = False,
    hint: str | None = None,
) -> os.stat_result:
    """Check that `path` is a `kind` gdcli can read: a regular file (a folder when `folder`),
    at most `max_bytes` (default: MAX_INPUT_BYTES[kind]). Symlinks are followed, so a link to
    a device is a device. Returns its stat; a UsageError names the path and the fault."""
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise UsageError(f"cannot read {kind} {path}: no such file", hint=hint) from None
    except OSError as exc:
        raise UsageError(f"cannot read {kind} {path}: {exc.strerror or exc}") from None
    other = _what(st.st_mode)
    if other is not None:
        raise UsageError(f"{path} is {other}, not {_a(kind)} {kind}; gdcli reads regular files")
    if folder and not stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path} is a file; the {kind} must be a folder")
    if not folder and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"cannot read {kind} {path}: it is a folder, not {_a(kind)} {kind}")
    limit = MAX_INPUT_BYTES.get(kind) if max_bytes is None else max_bytes
    if not folder and limit is not None and st.st_size > limit:
        noun = kind if kind.endswith("file") else f"{kind} file"
        raise UsageError(
            f"{path}: {st.st_size:,} bytes, more than {_a(kind)} {kind} can be "
            f"(at most {limit:,}): not {_a(noun)} {noun}"
        )
    return st


def same_file(a: Path, b: Path) -> bool:
    """`a` and `b` name one file: the same resolved path, or the same device and inode."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return os.path.samefile(a, b)
    except (OSError, RuntimeError, ValueError):  # one does not exist; a symlink loop
        return False


def check_not_input(path: Path, where: str, inputs: Sequence[tuple[str, Any]]) -> None:
    """UsageError when output `path` (after `where`, e.g. "--out x.png") is one of `inputs`,
    (label, path) pairs such as ("the --config file", cfg); None paths are skipped."""
    for label, source in inputs:
        if source is not None and same_file(path, source):
            raise UsageError(
                f"{where} is {label}; writing it would replace that file: name another file"
            )


def in_the_way(path: Path) -> str | None:
    """What makes `path` unfit to be replaced by a file gdcli writes (a folder, a FIFO, a
    device), or None when it is a regular file or absent."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return "a folder"
    return _what(st.st_mode)


def check_output(path: Path, where: str, inputs: Sequence[tuple[str, Any]] = ()) -> None:
    """Fail now, before any long work, if a file cannot be written at `path`.

    UsageError when `path` is one of the command's `inputs` (see check_not_input), a folder or
    not a regular file, when a parent is a file, or when the nearest existing folder refuses a
    new file (permissions, read-only file system; tried for real). `where` names it in the
    message ("--out x.npz"). Missing folders are fine: the atomic writer creates them.
    """
    path = Path(path)
    check_not_input(path, where, inputs)
    try:
        other = in_the_way(path)
        if other == "a folder":
            raise UsageError(f"{where}: is a folder; name a file")
        if other is not None:
            raise UsageError(f"{where}: exists and is {other}, not a regular file")
        folder = path.absolute().parent
        while not folder.exists():
            folder = folder.parent
        if not folder.is_dir():
            raise UsageError(f"{where}: {folder} is not a folder")
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".check", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{where}: cannot write there: {exc.strerror or exc}") from exc


__all__ = [
    "MAX_INPUT_BYTES",
    "check_input",
    "check_not_input",
    "check_output",
    "in_the_way",
    "same_file",
    "shorten",
]
