"""Write a file under a temporary name in its folder, rename it into place only when complete.

The temporary file is `.<final name>.<random>.part` beside the final one (a rename is atomic only
within one file system), created with the mode any new file gets: 0666 less the umask, so 0644
under the usual umask 022 (mkstemp's 0600 would hide a shared data folder from its other users).

A writer holds a flock on its temporary file while it writes (fetch's convention for its data
folder: the kernel drops a flock when its process ends, however it ends). So a temporary file
nobody holds a lock on was left by a writer that was killed (SIGKILL, a power cut), and the next
write of the same file removes it; one that another live process is writing is never touched.
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

try:  # POSIX; elsewhere stale temporaries are left
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".part"
_FULL = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded"}


def temp_name(final: Path) -> Path:
    """A fresh temporary name beside `final`."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def leftovers(final: Path) -> list[Path]:
    """Temporary files of `final` that a writer killed mid-way (SIGKILL, power cut) left behind."""
    pattern = f".{glob.escape(final.name)}.*{TEMP_SUFFIX}"
    return sorted(final.parent.glob(pattern))


def try_lock(fd: int) -> bool:
    """Take an exclusive flock on `fd` without waiting: False when another process holds one.
    Where there is no flock (not POSIX), always True."""
    if fcntl is None:  # pragma: no cover
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_inode(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _create(final: Path) -> tuple[Path, int]:
    """A new temporary file beside `final`, and its descriptor, holding the file's flock."""
    for _ in range(100):
        tmp = temp_name(final)
        try:
            # O_EXCL: never reuse another writer's file; 0o666: the kernel applies the umask.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        # Between the open and the lock, another process may have taken the file for a dead
        # writer's and removed it: then it is no longer at tmp, and another name is tried.
        if try_lock(fd) and _same_inode(fd, tmp):
            return tmp, fd
        os.close(fd)
    raise FileExistsError(errno.EEXIST, "no free temporary name", str(final.parent))


def remove_stale(final: Path) -> list[Path]:
    """Remove the temporary files of `final` that no live process is writing (no flock held
    on them): what killed writers left behind. Returns those removed. Best effort: a file
    that cannot be opened or removed stays."""
    removed = []
    if fcntl is None:  # pragma: no cover
        return removed
    for tmp in leftovers(Path(final)):
        try:
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            if try_lock(fd) and _same_inode(fd, tmp):
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


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

    First, temporaries of `final` that killed writers left are removed (remove_stale).

    Any exception (Ctrl-C included) removes the temporary file, so a reader of `final` sees the
    old file or the complete new one, never a partial one. A failure to write the temporary file
    (a full disk, a quota) becomes a GdcliError naming `final`.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(final)
        tmp, lock = _create(final)
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
    finally:
        os.close(lock)


def write_bytes(final: Path, data: bytes) -> None:
    """Write `data` to `final` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_text(final: Path, text: str) -> None:
    """Write `text` (UTF-8) to `final` atomically."""
    write_bytes(final, text.encode())
