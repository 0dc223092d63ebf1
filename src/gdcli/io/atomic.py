"""Write a file under a temporary name in its folder, rename it into place only when complete.

The temporary file is `.<final name>.<random>.part` beside the final one (a rename is atomic only
within one file system), created with the mode any new file gets: 0666 less the umask, so 0644
under the usual umask 022 (mkstemp's 0600 would hide a shared data folder from its other users).

A writer holds a flock on its temporary file while it writes (fetch's convention for its data
folder: the kernel drops a flock when its process ends, however it ends). So a temporary file
nobody holds a lock on was left by a writer that was killed (SIGKILL, a power cut), and the next
write of the same file removes it; one that another live process is writing is never touched.

The rename alone lets two processes that make the same file at once (two `gdcli train` into one
weights.npz) both succeed, the file then holding whichever renamed last while the other reports
it wrote it. A process that makes a file over a long time (training) therefore first claims it
(`claim`): a flock on `.<name>.lock` beside it, held until it is done; a second claimant is
refused at once, before it starts its work, naming the process that holds the file.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from gdcli.errors import GdcliError, UsageError

try:  # POSIX; elsewhere stale temporaries are left
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

TEMP_SUFFIX = ".part"
LOCK_SUFFIX = ".lock"
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


def lock_name(final: Path) -> Path:
    """The lock file that claims `final` (`.<name>.lock` beside it)."""
    return final.with_name(f".{final.name}{LOCK_SUFFIX}")


def _holder(lock: Path) -> str:
    """Who holds `lock`, as its holder wrote it ("pid 1234"), or "another process"."""
    try:
        text = lock.read_text(encoding="ascii", errors="replace")[:20].strip()
    except OSError:
        return "another process"
    return f"process {text}" if text.isdigit() else "another process"


def is_claimed(final: Path) -> bool:
    """Whether a live process holds `final` (see claim). A probe: it holds the lock it tests
    for an instant only, which a claimant's short wait (CLAIM_WAIT) covers."""
    if fcntl is None:  # pragma: no cover
        return False
    try:
        fd = os.open(lock_name(Path(final)), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's lock
    return False


CLAIM_WAIT = 0.5  # seconds a claimant retries: a probe (is_claimed) is not another writer


def _lock_within(fd: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not try_lock(fd):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextlib.contextmanager
def claim(final: Path, what: str = "file") -> Iterator[None]:
    """Hold `final` for this process until the block ends: no other process can claim it
    meanwhile. UsageError at once when another live process holds it (its lock is released
    by the kernel however that process ends, SIGKILL included).

    The lock file is removed on release, so none is left beside a finished file. Removing it
    is safe: a claimant checks, once it holds the flock, that the file it locked is still the
    one at the lock's name, and starts again when it is not (it was released and removed).
    Folders missing on the way to `final` are made, and removed again if still empty. Where
    there is no flock (not POSIX), nothing is claimed.
    """
    final = Path(final)
    if fcntl is None:  # pragma: no cover
        yield
        return
    made: list[Path] = []
    folder = final.absolute().parent
    while not folder.exists():
        made.append(folder)
        folder = folder.parent
    lock = lock_name(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
            if not _lock_within(fd, CLAIM_WAIT):
                os.close(fd)
                raise UsageError(
                    f"{final} is being written by {_holder(lock)}, which claimed it first; "
                    f"two runs into one {what} would leave it holding only one of them",
                    hint="give this run another output file, or a folder of its own "
                    "(gdcli train --run-dir DIR)",
                )
            if _same_inode(fd, lock):
                break
            os.close(fd)  # released and removed meanwhile: claim the new one
        else:
            raise UsageError(f"cannot claim {final}: its lock file keeps changing")
        with contextlib.suppress(OSError):  # who holds it, for the message: a full disk
            os.ftruncate(fd, 0)  # must not stop the claim (the write itself will say so)
            os.write(fd, str(os.getpid()).encode())
    except OSError as exc:
        if exc.errno in _FULL:
            raise write_error(final, exc) from exc
        raise UsageError(f"cannot write {final}: {exc.strerror or exc}") from exc
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()  # while it is still held: see the docstring
        os.close(fd)
        for empty in made:
            with contextlib.suppress(OSError):
                empty.rmdir()
