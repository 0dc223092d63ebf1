"""Get a dataset's files into the data folder: from a local folder or HTTP mirrors, verified.

Order for each file: already present and verified -> kept; else `--from DIR` if given; else the
system copy (Debian's /usr/share/datasets/<dataset>/), then the mirrors in order. Every file
is written under a temporary name and renamed into place only once it verifies.

What a mirror can do to us is bounded: a download stops once it is larger than the file can be,
each wait (connect, read, backoff, Retry-After) is at most `timeout` seconds, and a fetch holds a
lock on the dataset's folder, so two fetches never write (or clean up) the same files at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import partial
from pathlib import Path

import requests

from gdcli.config import FETCH_TIMEOUT as DEFAULT_TIMEOUT
from gdcli.data import kinds
from gdcli.data.registry import DataFile, Dataset, Table, local_copy
from gdcli.errors import GdcliError, UsageError, shorten
from gdcli.io.atomic import atomic_path, remove_stale, try_lock, write_error
from gdcli.io.paths import in_the_way

try:  # POSIX; elsewhere fetches are not serialised
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

RETRIES = 3  # more attempts after a refused connection or a 429/5xx
BACKOFF = 0.25  # seconds before the first retry, doubled for each next one
RETRY_STATUSES = (429, 500, 502, 503, 504)
LOCK_WAIT = 300.0  # seconds a fetch waits for another one writing the same dataset folder
LOCK_FILE = ".lock"
CHUNK = 1 << 16
MAX_URL = 2000  # characters of a mirror's URL
NO_SOURCE_HINT = (
    "give a mirror with --mirror URL or $GDCLI_MIRROR, or put copies of the files in a folder "
    "and use --from DIR; offline, Debian's Fashion-MNIST works: apt install "
    "dataset-fashion-mnist, then --dataset fashion-mnist"
)

# (file name, bytes so far, total bytes or None): called as a download advances.
ProgressHook = Callable[[str, int, "int | None"], None]
# A one-line message for the user, e.g. that this fetch is waiting for another one.
NotifyHook = Callable[[str], None]


@dataclass(frozen=True)
class FetchedFile:
    """What `fetch` did for one file: where it is and where it came from ("present": kept)."""

    name: str
    path: Path
    source: str
    bytes: int
    sha256: str


class FetchError(GdcliError):
    pass


def max_bytes(f: DataFile) -> int:
    """The most bytes a copy of `f` can have in any of its forms: more is not the file
    (kinds.max_bytes)."""
    return kinds.max_bytes(f)


# ----------------------------------------------------------------------------- mirrors


def validate_mirror(url: str, origin: str) -> str:
    """`url` ending in "/" if it is an http(s) base URL with a host; a UsageError otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        # urlsplit silently drops tabs and newlines; a URL has no spaces or control characters
        ok = url.isprintable() and " " not in url and len(url) <= MAX_URL
        ok = ok and parts.scheme in ("http", "https") and bool(parts.hostname)
        ok = ok and not parts.query and not parts.fragment and parts.port != 0
    except ValueError:  # a bad port or IPv6 address
        ok = False
    if not ok:
        raise UsageError(
            f"{origin} {shorten(url)} is not an http:// or https:// base URL",
            hint="a mirror is a folder URL such as https://example.org/mnist/ "
            "(each file's name is appended)",
        )
    return url if url.endswith("/") else url + "/"


def mirror_list(
    explicit: list[str] | None, builtin: tuple[str, ...], use_builtin: bool
) -> list[str]:
    """--mirror URLs, then $GDCLI_MIRROR (comma-separated), then the built-in mirrors.

    Each is checked (a UsageError names the first bad one); duplicates are tried once.
    """
    env = [m.strip() for m in os.environ.get("GDCLI_MIRROR", "").split(",") if m.strip()]
    urls = [validate_mirror(u, "--mirror") for u in explicit or []]
    urls += [validate_mirror(u, "$GDCLI_MIRROR entry") for u in env]
    urls += [validate_mirror(u, "built-in mirror") for u in builtin if use_builtin]
    return list(dict.fromkeys(urls))


# -------------------------------------------------------------------------------- HTTP


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "gdcli"
    # The files are .gz already; no transfer compression keeps Content-Length the file's size.
    session.headers["Accept-Encoding"] = "identity"
    return session


def _retry_after(response: requests.Response) -> float | None:
    """Seconds a 429/503 asks us to wait (Retry-After: seconds or an HTTP date), if it says."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


def _why(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed request, from the innermost cause that says something."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args else None)  # type: ignore[assignment]
        if not isinstance(exc, BaseException):
            exc = getattr(chain[-1], "reason", None)  # type: ignore[assignment]
    # http.client's (partial: bytes) or urllib3's (partial: int, in an exception's args)
    for e in chain + [a for c in chain for a in c.args if isinstance(a, BaseException)]:
        if type(e).__name__ == "IncompleteRead":
            partial = getattr(e, "partial", None)
            got = len(partial) if isinstance(partial, (bytes, bytearray)) else partial
            expected = getattr(e, "expected", None)
            more = f", {expected:,} more expected" if isinstance(expected, int) else ""
            if isinstance(got, int):
                return f"the connection closed after {got:,} bytes{more}"
            return "connection closed before the whole file was sent"
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "resolve" in text:
        return "host not found"
    if "timed out" in text or "timeout" in text:
        return f"timed out after {timeout:g}s"
    return str(chain[-1]) or type(chain[-1]).__name__


def _content_length(response: requests.Response) -> int | None:
    """The announced size in bytes, if the server gave one that is a number."""
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


class _Http:
    """GET with bounded retries and waits; streamed downloads with a size cap."""

    def __init__(self, timeout: float, progress: ProgressHook | None) -> None:
        self.timeout, self.progress = timeout, progress
        self.session = _session()

    def _wait(self, seconds: float) -> None:
        time.sleep(min(seconds, self.timeout))

    def open(self, url: str) -> requests.Response:
        """The response to GET `url` (streamed), after retrying refused connections and 429/5xx.

        A Retry-After longer than the timeout is not waited for: the mirror counts as failed
        (a server's "come back in an hour" must not keep gdcli sleeping).
        """
        for attempt in range(RETRIES + 1):
            backoff = BACKOFF * 2**attempt
            try:
                response = self.session.get(url, stream=True, timeout=(self.timeout,) * 2)
            except requests.exceptions.SSLError:
                raise  # a certificate does not get better by asking again
            except requests.ConnectionError:
                if attempt == RETRIES:
                    raise
                self._wait(backoff)
                continue
            if response.status_code not in RETRY_STATUSES or attempt == RETRIES:
                return response
            after = _retry_after(response)
            response.close()
            if after is not None and after > self.timeout:
                raise FetchError(
                    f"HTTP {response.status_code} asking to retry after {after:g}s "
                    f"(longer than the {self.timeout:g}s timeout)"
                )
            self._wait(backoff if after is None else after)
        raise AssertionError("unreachable")  # pragma: no cover

    def download(self, url: str, dest: Path, limit: int) -> None:
        """Stream `url` into `dest`; stop with a FetchError once it passes `limit` bytes."""
        with self.open(url) as response:
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}")
            total = _content_length(response)
            if total is not None and total > limit:
                raise FetchError(f"announces {total:,} bytes: more than the file can be")
            done = 0
            with open(dest, "wb") as out:
                for chunk in response.iter_content(chunk_size=CHUNK):
                    done += len(chunk)
                    if done > limit:  # a server streaming forever must not fill the disk
                        raise FetchError(f"stopped at {limit:,} bytes: more than the file can be")
                    out.write(chunk)
                    if self.progress:
                        self.progress(Path(url).name, done, total)
            if total is not None and done != total:
                raise FetchError(f"connection closed after {done} of {total} bytes")


# -------------------------------------------------------------------------------- lock


@contextlib.contextmanager
def folder_lock(folder: Path, wait: float, notify: NotifyHook | None = None) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (a flock on folder/.lock), waiting up to `wait` s.

    The kernel drops a flock when its process ends, however it ends, so a killed fetch never
    leaves the folder locked. The lock file itself stays (deleting it would let two processes
    lock two different files).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise write_error(folder / LOCK_FILE, exc) from exc
    try:
        _acquire(fd, folder, wait, notify)
        with contextlib.suppress(OSError):  # the holder's pid, for the message; best effort
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _acquire(fd: int, folder: Path, wait: float, notify: NotifyHook | None) -> None:
    if fcntl is None:  # pragma: no cover
        return
    deadline = time.monotonic() + wait
    told = False
    while True:
        if try_lock(fd):
            return
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        other = f"another gdcli fetch (pid {holder})" if holder else "another gdcli fetch"
        if time.monotonic() >= deadline:
            raise FetchError(
                f"{other} has been writing to {folder} for more than {wait:g}s",
                hint="try again once it has finished",
            )
        if notify and not told:
            notify(f"waiting for {other} writing to {folder}")
            told = True
        time.sleep(0.1)


def _remove_leftovers(folder: Path, dataset: Dataset | Table) -> None:
    """Delete temporary files of killed fetches (SIGKILL skips clean-up): those nobody holds
    a flock on (atomic.remove_stale); we hold the folder's lock besides."""
    for f in dataset.files:
        for name in f.local_names:
            remove_stale(folder / name)


# ----------------------------------------------------------------------------- sources


def _install(f: DataFile, final: Path, fill: Callable[[Path], None]) -> None:
    """Fill a temporary file beside `final`, verify it, and rename it into place."""
    with atomic_path(final) as tmp:
        fill(tmp)
        kinds.verify(f, tmp, name=final.name)


class _Sources:
    """The sources of one fetch, tried in order for each file, with what failed and why."""

    def __init__(self, dirs: list[Path], urls: list[str], explicit_dir: bool, http: _Http):
        self.dirs, self.urls, self.explicit_dir, self.http = dirs, urls, explicit_dir, http
        self.unreachable: set[str] = set()  # mirrors refused once are not asked again

    def get(self, f: DataFile, folder: Path) -> FetchedFile:
        """`f` installed in `folder` from the first source that has it whole and verified."""
        failures: list[str] = []
        got = self._from_folders(f, folder, failures) or self._from_mirrors(f, folder, failures)
        if got is None:
            tried = "; ".join(failures) or "no source to try (no mirror given, built-in ones off)"
            raise FetchError(f"could not get {f.served_name}: {tried}", hint=NO_SOURCE_HINT)
        return got

    def _from_folders(self, f: DataFile, folder: Path, failures: list[str]) -> FetchedFile | None:
        for source_dir in self.dirs:
            src = local_copy(source_dir, f)
            if src is None:
                if self.explicit_dir:
                    failures.append(f"{source_dir}: no {' or '.join(f.local_names)}")
                continue
            final = folder / f.installed_name(src.name)
            try:
                if src.stat().st_size > max_bytes(f):  # not worth copying
                    raise FetchError(f"{src.stat().st_size:,} bytes, more than {f.name} can be")
                _install(f, final, partial(shutil.copyfile, src))
            except (FetchError, *kinds.FILE_ERRORS, OSError) as exc:  # OSError: reading the source
                failures.append(f"{src}: {getattr(exc, 'message', None) or exc}")
                continue
            return FetchedFile(f.name, final, str(source_dir), final.stat().st_size, f.sha256)
        return None

    def _from_mirrors(self, f: DataFile, folder: Path, failures: list[str]) -> FetchedFile | None:
        for base in self.urls:
            if base in self.unreachable:
                failures.append(f"{base}: skipped (unreachable for an earlier file)")
                continue
            final = folder / f.served_name
            fill = partial(self.http.download, base + f.served_name, limit=max_bytes(f))
            try:
                _install(f, final, fill)
            except (FetchError, *kinds.FILE_ERRORS) as exc:
                failures.append(f"{base}: {exc.message}")
                continue
            except requests.RequestException as exc:
                reason = _why(exc, self.http.timeout)
                if reason in ("connection refused", "host not found"):
                    self.unreachable.add(base)
                failures.append(f"{base}: {reason}")
                continue
            return FetchedFile(f.name, final, base, final.stat().st_size, f.sha256)
        return None


# ------------------------------------------------------------------------------- fetch


def _verified_copy(folder: Path, f: DataFile) -> FetchedFile | None:
    present = local_copy(folder, f)
    if present is None:
        return None
    try:
        kinds.verify(f, present)
    except kinds.FILE_ERRORS:
        return None  # fetched again; the bad copy goes once a good one is in place
    return FetchedFile(f.name, present, "present", present.stat().st_size, f.sha256)


def _replace(f: DataFile, folder: Path, sources: _Sources) -> FetchedFile:
    got = sources.get(f, folder)
    # A stale copy in another form (raw or .gz, or under an alias) would shadow the new one.
    for other in (folder / name for name in f.local_names):
        if other != got.path:
            other.unlink(missing_ok=True)
    return got


def _check_nothing_in_the_way(folder: Path, dataset: Dataset) -> None:
    """UsageError when the dataset's folder, or a place where a data file goes, is taken by a
    folder or a special file (a rename onto it would fail half-way)."""
    for path in (folder.parent, folder):
        what = in_the_way(path)
        if path.exists() and what != "a folder":
            raise UsageError(f"{path} is {what or 'a file'}, where gdcli keeps a data folder")
    for f in dataset.files:
        for path in (folder / f.gz_name, folder / f.name):
            what = in_the_way(path)
            if what is not None:
                raise UsageError(
                    f"{path} is {what}, where gdcli keeps the data file {path.name}",
                    hint="move it out of the way, then fetch again",
                )


def fetch(
    dataset: Dataset | Table,
    data_dir: Path,
    *,
    mirrors: list[str] | None = None,
    from_dir: Path | None = None,
    force: bool = False,
    use_builtin_mirrors: bool = True,
    use_system_copy: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    progress: ProgressHook | None = None,
    lock_wait: float = LOCK_WAIT,
    notify: NotifyHook | None = None,
) -> list[FetchedFile]:
    """Make sure the files of `dataset` (an image dataset's four, a table's one) are in
    `data_dir/<dataset>/`, verified.

    mirrors: base URLs tried before $GDCLI_MIRROR and the built-in ones (the file name is
    appended); a UsageError if one is not an http(s) URL.
    from_dir: take the files from this folder (gzip'd or raw; a table's under an alias too)
    instead of downloading.
    timeout: seconds allowed to connect, for each read, and for any one wait between retries.
    lock_wait: seconds to wait for another fetch writing the same folder; notify is told once.
    Returns one FetchedFile per file. Raises FetchError naming every source tried for the
    first file that no source could provide, GdcliError if the disk is full.
    """
    folder = data_dir / dataset.name
    http = _Http(timeout, progress)
    if from_dir is not None:
        sources = _Sources([from_dir], [], True, http)
    else:
        dirs = [dataset.system_dir] if use_system_copy and dataset.system_dir.is_dir() else []
        urls = mirror_list(mirrors, dataset.mirrors, use_builtin_mirrors)
        sources = _Sources(dirs, urls, False, http)

    present = {} if force else {f.name: _verified_copy(folder, f) for f in dataset.files}
    if present and all(present.values()):  # nothing to write: no lock (the folder may be read-only)
        return list(present.values())  # type: ignore[arg-type]

    _check_nothing_in_the_way(folder, dataset)
    with folder_lock(folder, lock_wait, notify):
        _remove_leftovers(folder, dataset)
        fetched = []
        for f in dataset.files:
            kept = present.get(f.name)
            if kept is None or not kept.path.is_file():
                # Another fetch may have installed it while we waited for the lock.
                kept = None if force else _verified_copy(folder, f)
            fetched.append(kept or _replace(f, folder, sources))
        return fetched
