"""Write a file under a temporary name in its folder, rename it into place only when complete.

The temporary file is `.<final name>.<random>.part` beside the final one (a rename is atomic only
within one file system), created with the mode any new file gets: 0666 less the umask, so 0644
under the usual umask 022 (mkstemp's 0600 would hide a shared data folder from its other users).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from gdcli.errors import GdcliError

TEMP_SUFFIX = ".part"
_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


def temp_name(final: Path) -> Path:
    """A fresh temporary name beside `final`."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def leftovers(final: Path) -> list[Path]:
    """Temporary files of `final` that a writer killed mid-way (SIGKILL, power cut) left behind."""
    pattern = f".{glob.escape(final.name)}.*{TEMP_SUFFIX}"
    return sorted(final.parent.glob(pattern))


def _create(final: Path) -> Path:
    for _ in range(100):
        tmp = temp_name(final)
        try:
            # O_EXCL: never reuse another writer's file; 0o666: the kernel applies the umask.
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(final.parent))


def write_error(final: Path, exc: OSError) -> GdcliError:
    """The one-line error for a failed write of `final` (never naming the temporary file)."""
    reason = _FULL.get(exc.errno or 0) or exc.strerror or str(exc)
    return GdcliError(f"cannot write {final}: {reason}")


def _is_write_failure(exc: BaseException, tmp: Path) -> bool:
    """An OSError from writing `tmp` or renaming it (a full disk, whoever's write ran out)."""
    if not isinstance(exc, OSError):
        return False
    return exc.errno in _FULL or str(tmp) in (str(exc.filename), str(exc.filename2))


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a new empty temporary path beside `final`; on a clean exit rename it to `final`.

    Any exception (Ctrl-C included) removes the temporary file, so a reader of `final` sees the
    old file or the complete new one, never a partial one. A failure to write the temporary file
    (a full disk, a quota) becomes a GdcliError naming `final`.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create(final)
    except OSError as exc:
        raise write_error(final, exc) from exc
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if _is_write_failure(exc, tmp):
            raise write_error(final, exc) from exc  # type: ignore[arg-type]
        raise


def write_bytes(final: Path, data: bytes) -> None:
    """Write `data` to `final` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_text(final: Path, text: str) -> None:
    """Write `text` (UTF-8) to `final` atomically."""
    write_bytes(final, text.encode())
