"""Get a dataset's files into the data folder: from a local folder or HTTP mirrors, verified.

Order for each file: already present and verified -> kept; else `--from DIR` if given; else the
system copy (Debian's /usr/share/datasets/<dataset>/), then the mirrors in order. Every file
is written under a temporary name and renamed into place only once it verifies.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from gdcli.atomic import atomic_path
from gdcli.datasets import DataFile, Dataset, local_copy
from gdcli.errors import GdcliError
from gdcli.idx import IdxError, verify

DEFAULT_TIMEOUT = 30.0  # seconds, for connecting and for each read
RETRIES = 3
BACKOFF = 0.25  # seconds; urllib3 doubles it for each retry after the first
OFFLINE_HINT = (
    "put copies of the files in a folder and use --from DIR, or run offline on Debian's "
    "Fashion-MNIST: apt install dataset-fashion-mnist, then --dataset fashion-mnist"
)

# (file name, bytes so far, total bytes or None): called as a download advances.
ProgressHook = Callable[[str, int, "int | None"], None]


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


def mirror_list(
    explicit: list[str] | None, builtin: tuple[str, ...], use_builtin: bool
) -> list[str]:
    """--mirror URLs, then $GDCLI_MIRROR (comma-separated), then the built-in mirrors."""
    env = [m.strip() for m in os.environ.get("GDCLI_MIRROR", "").split(",") if m.strip()]
    urls = [*(explicit or []), *env, *(builtin if use_builtin else ())]
    return list(dict.fromkeys(u if u.endswith("/") else u + "/" for u in urls))


def _session() -> requests.Session:
    retry = Retry(
        total=RETRIES,
        connect=RETRIES,
        read=1,
        status=RETRIES,
        backoff_factor=BACKOFF,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=("GET",),
        raise_on_status=False,  # the last 5xx response is reported like any other status
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "gdcli"
    return session


def _why(exc: BaseException, timeout: float) -> str:
    """A short reason for a failed request, from the innermost cause that says something."""
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__ or (exc.args[0] if exc.args else None)  # type: ignore[assignment]
        if not isinstance(exc, BaseException):
            exc = getattr(chain[-1], "reason", None)  # type: ignore[assignment]
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text:
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain) or "resolve" in text:
        return "host not found"
    if "timed out" in text or "timeout" in text:
        return f"timed out after {timeout:g}s"
    return str(chain[-1]) or type(chain[-1]).__name__


def _install(f: DataFile, final: Path, fill: Callable[[Path], None]) -> None:
    """Fill a temporary file beside `final`, verify it, and rename it into place."""
    with atomic_path(final) as tmp:
        fill(tmp)
        verify(tmp, f.idx_bytes, f.sha256)


class _Sources:
    """The sources of one fetch, tried in order for each file, with what failed and why."""

    def __init__(
        self, dirs: list[Path], urls: list[str], timeout: float, progress: ProgressHook | None
    ):
        self.dirs, self.urls, self.timeout, self.progress = dirs, urls, timeout, progress
        self.session = _session()
        self.unreachable: set[str] = set()  # mirrors refused once are not asked again

    def download(self, url: str, dest: Path) -> None:
        with self.session.get(url, stream=True, timeout=(self.timeout, self.timeout)) as response:
            if response.status_code != 200:
                raise FetchError(f"HTTP {response.status_code}")
            total = int(response.headers.get("Content-Length", 0)) or None
            done = 0
            with open(dest, "wb") as out:
                for chunk in response.iter_content(chunk_size=1 << 16):
                    out.write(chunk)
                    done += len(chunk)
                    if self.progress:
                        self.progress(Path(url).name, done, total)
            if total is not None and done != total:
                raise FetchError(f"connection closed after {done} of {total} bytes")

    def get(self, f: DataFile, folder: Path, explicit_dir: bool) -> FetchedFile:
        failures: list[str] = []
        for source_dir in self.dirs:
            src = local_copy(source_dir, f)
            if src is None:
                if explicit_dir:
                    failures.append(f"{source_dir}: no {f.gz_name} or {f.name}")
                continue
            final = folder / src.name
            try:
                _install(f, final, partial(shutil.copyfile, src))
            except (IdxError, OSError) as exc:
                failures.append(f"{src}: {getattr(exc, 'message', exc)}")
                continue
            return FetchedFile(f.name, final, str(source_dir), final.stat().st_size, f.sha256)

        for base in self.urls:
            if base in self.unreachable:
                failures.append(f"{base}: skipped (unreachable for an earlier file)")
                continue
            final = folder / f.gz_name
            try:
                _install(f, final, partial(self.download, base + f.gz_name))
            except (FetchError, IdxError) as exc:
                failures.append(f"{base}: {exc.message}")
                continue
            except requests.RequestException as exc:
                reason = _why(exc, self.timeout)
                if reason in ("connection refused", "host not found"):
                    self.unreachable.add(base)
                failures.append(f"{base}: {reason}")
                continue
            return FetchedFile(f.name, final, base, final.stat().st_size, f.sha256)

        tried = "; ".join(failures) or "no source to try (no mirror given, built-in mirrors off)"
        raise FetchError(f"could not get {f.gz_name}: {tried}", hint=OFFLINE_HINT)


def _verified_copy(folder: Path, f: DataFile) -> Path | None:
    present = local_copy(folder, f)
    if present is None:
        return None
    try:
        verify(present, f.idx_bytes, f.sha256)
    except IdxError:
        return None  # fetched again; the bad copy goes once a good one is in place
    return present


def fetch(
    dataset: Dataset,
    data_dir: Path,
    *,
    mirrors: list[str] | None = None,
    from_dir: Path | None = None,
    force: bool = False,
    use_builtin_mirrors: bool = True,
    use_system_copy: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    progress: ProgressHook | None = None,
) -> list[FetchedFile]:
    """Make sure the four files of `dataset` are in `data_dir/<dataset>/`, verified.

    mirrors: base URLs tried before the built-in ones (the file name is appended).
    from_dir: take the files from this folder (gzip'd or raw) instead of downloading.
    timeout: seconds allowed to connect and for each read.
    Returns one FetchedFile per file. Raises FetchError naming every source tried for the
    first file that no source could provide.
    """
    folder = data_dir / dataset.name
    if from_dir is not None:
        sources = _Sources([from_dir], [], timeout, progress)
    else:
        dirs = [dataset.system_dir] if use_system_copy and dataset.system_dir.is_dir() else []
        urls = mirror_list(mirrors, dataset.mirrors, use_builtin_mirrors)
        sources = _Sources(dirs, urls, timeout, progress)

    fetched = []
    for f in dataset.files:
        present = None if force else _verified_copy(folder, f)
        if present is not None:
            fetched.append(
                FetchedFile(f.name, present, "present", present.stat().st_size, f.sha256)
            )
            continue
        got = sources.get(f, folder, explicit_dir=from_dir is not None)
        # A stale copy in the other form (raw or .gz) would shadow the new one.
        for other in (folder / f.gz_name, folder / f.name):
            if other != got.path:
                other.unlink(missing_ok=True)
        fetched.append(got)
    return fetched
