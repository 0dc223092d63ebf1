"""Shared fixtures: synthetic and real MNIST data, a loopback HTTP mirror with real faults, the CLI.

Mechanics run on the synthetic dataset (tests/synthetic.py), made once per session:
- `synthetic_data_dir`: a data folder with it as <dir>/mnist/ (what `--data-dir` takes; the
  loaders do not check checksums, so train/evaluate/predict run on it as if it were MNIST);
- `synthetic_files`: the four .gz files in one folder (what `mirror` serves, for `--from`);
- the dataset `synthetic` (SYNTHETIC), defined by a registry file that $GDCLI_EXTRA_DATASETS
  names for the whole session, so `gdcli fetch --dataset synthetic` verifies it for real.
Tests of the real MNIST take `real_mnist_dir` (or `mnist_dir`, `data_dir`, `real_mirror`), which
skip, saying where they looked, when no copy is found.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import synthetic

import gdcli
from gdcli.data.idx import IdxError, verify
from gdcli.data.registry import DATASETS, EXTRA_DATASETS_ENV, Dataset, local_copy, resolve_data_dir

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "datasets" / "mnist"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
SYNTHETIC = "synthetic"  # the test registry's dataset: synthetic files under MNIST's names


# ------------------------------------------------------------------------ the report

# Said once at the end of the session, above the short summary, by title: what a skip reason
# would otherwise repeat on every skipped test's line (where a resource was looked for, how to
# provide it).
_notes: dict[str, str] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A skip raised by a fixture is reported where the fixture raised it, not at each test
    using it, so that `-ra` folds the tests one fixture skipped into one line."""
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if report.skipped and excinfo is not None and isinstance(report.longrepr, tuple):
        crash = excinfo._getreprcrash()
        if crash is not None and "_pytest" not in Path(crash.path).parts:  # not a skip mark
            report.longrepr = (crash.path, crash.lineno, report.longrepr[2])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for title, text in _notes.items():
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)


# ------------------------------------------------------------------------ synthetic data


@pytest.fixture(scope="session")
def synthetic_content() -> dict[str, bytes]:
    """The raw IDX content of the synthetic dataset's four files, by file name (no .gz)."""
    return synthetic.make_dataset()


@pytest.fixture(scope="session", autouse=True)
def synthetic_registry(
    tmp_path_factory: pytest.TempPathFactory, synthetic_content: dict[str, bytes]
) -> Iterator[Path]:
    """The registry file defining SYNTHETIC, named by $GDCLI_EXTRA_DATASETS for the session
    (so in-process calls and every `gdcli` subprocess know the dataset)."""
    path = tmp_path_factory.mktemp("registry") / "datasets.json"
    synthetic.write_registry(path, SYNTHETIC, synthetic_content)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(EXTRA_DATASETS_ENV, str(path))
        yield path


@pytest.fixture(scope="session")
def synthetic_dataset(synthetic_registry: Path) -> Dataset:
    """The registry entry of SYNTHETIC: its files' sizes and checksums."""
    from gdcli.data.registry import get_dataset

    return get_dataset(SYNTHETIC)


@pytest.fixture(scope="session")
def synthetic_files(
    tmp_path_factory: pytest.TempPathFactory, synthetic_content: dict[str, bytes]
) -> Path:
    """A folder holding the four synthetic files gzip'd, under MNIST's names. Do not modify."""
    return synthetic.write_files(tmp_path_factory.mktemp("synthetic"), synthetic_content)


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory: pytest.TempPathFactory, synthetic_files: Path) -> Path:
    """A data folder with the synthetic dataset as <dir>/mnist/: pass it as --data-dir.

    1000 training images (100 per class) and 200 test images (20 per class), 28x28, digit-like
    strokes on a black background. Do not modify (it is shared by the session).
    """
    folder = tmp_path_factory.mktemp("synthetic-data")
    shutil.copytree(synthetic_files, folder / "mnist")
    return folder


# ---------------------------------------------------------------------------- real MNIST


def _complete_copy(folder: Path) -> Path | None:
    """`folder` (or `folder`/mnist) if it holds the four MNIST files, gzip'd or raw."""
    for candidate in (folder, folder / "mnist"):
        if all(local_copy(candidate, f) for f in DATASETS["mnist"].files):
            return candidate
    return None


def _problem(folder: Path) -> str | None:
    """Why `folder` is not a verified copy of the real MNIST (None if it is)."""
    for f in DATASETS["mnist"].files:
        try:
            verify(local_copy(folder, f), f.idx_bytes, f.sha256)  # type: ignore[arg-type]
        except IdxError as exc:
            return exc.message
    return None


@pytest.fixture(scope="session")
def real_mnist_dir() -> Path:
    """A folder holding the real MNIST files, verified: $GDCLI_TEST_DATA, then
    ../shared/datasets/mnist beside the repository, then the user's gdcli data folder."""
    looked: list[str] = []
    explicit = os.environ.get("GDCLI_TEST_DATA")
    if explicit:
        folder = _complete_copy(Path(explicit))
        problem = "not the four MNIST files" if folder is None else _problem(folder)
        if problem:  # asked for explicitly: a misconfiguration must not pass as a skip
            pytest.fail(f"GDCLI_TEST_DATA={explicit}: {problem}")
        return folder  # type: ignore[return-value]
    looked.append("$GDCLI_TEST_DATA (not set)")
    for place in (SHARED_MNIST, resolve_data_dir() / "mnist"):
        folder = _complete_copy(place)
        problem = "no MNIST files" if folder is None else _problem(folder)
        if not problem:
            return folder  # type: ignore[return-value]
        looked.append(f"{place} ({problem})")
    _notes["real MNIST"] = (
        "Tests of the real MNIST skipped: looked in " + ", ".join(looked) + ". To run them: "
        "`gdcli fetch` (into your gdcli data folder), or GDCLI_TEST_DATA=DIR with the four files."
    )
    pytest.skip("needs the real MNIST (not found: see 'real MNIST' above)")


SHARED_ADMISSIONS = REPO.parent / "shared" / "datasets" / "admissions"


@pytest.fixture(scope="session")
def admissions_source() -> Path:
    """A folder holding the real admissions table (student_data.csv or binary.csv), verified:
    $GDCLI_TEST_ADMISSIONS, then ../shared/datasets/admissions, then the gdcli data folder's."""
    from gdcli.data.kinds import FILE_ERRORS
    from gdcli.data.kinds import verify as verify_file
    from gdcli.data.registry import TABLES

    f = TABLES["admissions"].file
    explicit = os.environ.get("GDCLI_TEST_ADMISSIONS")
    places = (
        [Path(explicit)] if explicit else [SHARED_ADMISSIONS, resolve_data_dir() / "admissions"]
    )
    looked = [] if explicit else ["$GDCLI_TEST_ADMISSIONS (not set)"]
    for place in places:
        copy = local_copy(place, f)
        try:
            if copy is None:
                raise FileNotFoundError(f"no {' or '.join(f.local_names)}")
            verify_file(f, copy)
            return place
        except (FileNotFoundError, *FILE_ERRORS) as exc:
            if explicit:  # asked for explicitly: a misconfiguration must not pass as a skip
                pytest.fail(f"GDCLI_TEST_ADMISSIONS={explicit}: {exc}")
            looked.append(f"{place} ({exc})")
    pytest.skip(
        "needs the real admissions table; looked in " + ", ".join(looked) + ". To run it: "
        "`gdcli fetch --dataset admissions`, or GDCLI_TEST_ADMISSIONS=DIR holding student_data.csv"
    )


@pytest.fixture(scope="session")
def admissions_data_dir(tmp_path_factory: pytest.TempPathFactory, admissions_source: Path) -> Path:
    """A data folder holding the real admissions table (copied through the library's --from)."""
    from gdcli.data.fetch import fetch
    from gdcli.data.registry import TABLES

    folder = tmp_path_factory.mktemp("admissions-data")
    fetch(TABLES["admissions"], folder, from_dir=admissions_source, use_system_copy=False)
    return folder


@pytest.fixture(scope="session")
def mnist_dir(real_mnist_dir: Path) -> Path:
    """The real MNIST files (another name for real_mnist_dir)."""
    return real_mnist_dir


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, real_mnist_dir: Path) -> Path:
    """A data folder holding the real MNIST files (copied through the library's --from path)."""
    from gdcli.data.fetch import fetch

    folder = tmp_path_factory.mktemp("data")
    fetch(DATASETS["mnist"], folder, from_dir=real_mnist_dir, use_system_copy=False)
    return folder


@pytest.fixture(scope="session")
def real_mnist_gz(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A folder of the real MNIST files, all gzip'd (what a mirror serves)."""
    folder = tmp_path_factory.mktemp("mnist-gz")
    for f in DATASETS["mnist"].files:
        src = local_copy(data_dir / "mnist", f)
        assert src is not None
        data = src.read_bytes()
        (folder / f.gz_name).write_bytes(data if data[:2] == b"\x1f\x8b" else gzip.compress(data))
    return folder


# ------------------------------------------------------------------------------- mirror


class Mirror:
    """A ThreadingHTTPServer on 127.0.0.1 serving a folder; `faults` scripts misbehaviour.

    faults[file name] is a list of actions used one per request, then normal service:
      404, 500, 503...    that status
      (503, 3600)         that status with a Retry-After of that many seconds
      "corrupt"           the file with one byte flipped
      "stall"             headers, two bytes, then 3 s of silence
      "slow"              the file trickled over about 3 s
      "hold"              half the file, then the rest once `release` is set (60 s at most)
      "forever"           bytes without end, no Content-Length
      "huge"              a Content-Length of 1 TB, then bytes without end
      "bad-length"        a Content-Length of "abc", then the file
    `requests` lists the file names asked for, in order.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.faults: dict[str, list[int | str | tuple[int, int]]] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                actions = mirror.faults.get(name)
                action = actions.pop(0) if actions else None
                mirror.requests.append(name)  # after taking its fault: tests wait on this
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    mirror._serve(self, name, action)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        # close() waits for serve_forever to notice: poll often (its default is every 0.5 s)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,),
                                       daemon=True)  # fmt: skip
        self.thread.start()

    def _serve(self, h: SimpleHTTPRequestHandler, name: str, action: object) -> None:
        if action is None:
            SimpleHTTPRequestHandler.do_GET(h)
        elif isinstance(action, int):
            h.send_error(action)
        elif isinstance(action, tuple):
            h.send_response(action[0])
            h.send_header("Retry-After", str(action[1]))
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif action == "corrupt":
            data = bytearray((self.folder / name).read_bytes())
            data[len(data) // 2] ^= 0xFF
            self._headers(h, len(data))
            h.wfile.write(bytes(data))
        elif action == "stall":
            self._headers(h, (self.folder / name).stat().st_size)
            h.wfile.write(b"\x1f\x8b")
            h.wfile.flush()
            time.sleep(3)
        elif action == "slow":
            data = (self.folder / name).read_bytes()
            self._headers(h, len(data))
            step = max(1, len(data) // 60)
            for i in range(0, len(data), step):
                h.wfile.write(data[i : i + step])
                h.wfile.flush()
                time.sleep(0.05)
        elif action == "hold":
            data = (self.folder / name).read_bytes()
            self._headers(h, len(data))
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            self.release.wait(60)
            h.wfile.write(data[len(data) // 2 :])
        elif action == "bad-length":
            h.send_response(200)
            h.send_header("Content-Length", "abc")
            h.end_headers()
            h.wfile.write((self.folder / name).read_bytes())
        elif action in ("forever", "huge"):
            self._headers(h, 10**12 if action == "huge" else None)
            block = b"\x1f\x8b" + bytes(1 << 16)
            while True:
                h.wfile.write(block)
        else:
            raise ValueError(action)

    @staticmethod
    def _headers(h: SimpleHTTPRequestHandler, length: int | None) -> None:
        h.send_response(200)
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.end_headers()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(synthetic_files: Path) -> Iterator[Mirror]:
    """A loopback mirror serving the synthetic dataset's .gz files (no faults until set)."""
    m = Mirror(synthetic_files)
    yield m
    m.close()


@pytest.fixture
def real_mirror(real_mnist_gz: Path) -> Iterator[Mirror]:
    """A loopback mirror serving the real MNIST .gz files (skips without them)."""
    m = Mirror(real_mnist_gz)
    yield m
    m.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


# -------------------------------------------------------------------------------- a disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs to fill up; skips where this machine does not let us mount one."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    try:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        reason = result.stderr.strip() or f"exit {result.returncode}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        result, reason = None, str(exc)
    if result is None or result.returncode != 0:
        pytest.skip(f"a full disk needs a small tmpfs, and mounting one failed ({reason}); "
                    "run the tests as root (e.g. in a container) to include it")  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


# ---------------------------------------------------------------------------------- CLI


class _Timeout(BaseException):
    """Raised in an in-process call that ran past its timeout (a BaseException, so that no
    `except Exception` in gdcli mistakes it for a failure of its own)."""


# What a fresh `python` does with warnings (its default filters): a warning gdcli lets out is on
# its stderr there, so it must be on the captured stderr here, not in pytest's warning summary.
_PYTHON_WARNING_FILTERS = (
    ("default", Warning),
    ("ignore", DeprecationWarning),
    ("ignore", PendingDeprecationWarning),
    ("ignore", ImportWarning),
    ("ignore", ResourceWarning),
)


def _pipe() -> io.TextIOWrapper:
    """A text stream like a pipe's: UTF-8, not a terminal, no fileno()."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    """What was written to `stream`, with newlines as `subprocess.run(text=True)` gives them."""
    stream.flush()
    data = stream.buffer.getvalue().decode("utf-8", errors="replace")  # type: ignore[attr-defined]
    return data.replace("\r\n", "\n").replace("\r", "\n")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 120,
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run `gdcli ARGS` in this process, as `run_cli_process` would run it as a subprocess.

    `gdcli.cli.app.main(ARGS)` runs with the environment of `cli_env(env)` (NO_COLOR, 120
    columns), in `cwd`, with stdin `input` (empty without it), stdout and stderr captured as from
    a pipe, its exit code taken from SystemExit and an uncaught exception printed as Python
    would (a traceback, exit 1). Everything it changes for the call is put back afterwards: the
    environment, the cwd, sys.argv and the standard streams, the SIGINT and SIGTERM handlers
    main() installs, the warning filters. A call still running after `timeout` seconds raises
    subprocess.TimeoutExpired, as subprocess.run does.
    """
    from gdcli.cli.app import main

    argv = [str(a) for a in args]
    out, err = _pipe(), _pipe()
    stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()), encoding="utf-8")
    saved_env = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr, sys.argv)
    saved_signals = {
        s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    }

    def time_out(signum: int, frame: object) -> None:
        raise _Timeout

    call_env = cli_env(env)
    code: int = 0
    try:
        os.environ.clear()
        os.environ.update(call_env)
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr, sys.argv = stdin, out, err, ["gdcli", *argv]
        signal.signal(signal.SIGALRM, time_out)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        with warnings.catch_warnings(record=True) as caught:
            for action, category in _PYTHON_WARNING_FILTERS:
                warnings.simplefilter(action, category)
            try:
                main(argv)
            except SystemExit as exc:
                if exc.code is None or isinstance(exc.code, int):
                    code = exc.code or 0
                else:  # sys.exit("message"): Python prints it and exits 1
                    print(exc.code, file=err)
                    code = 1
            except _Timeout:
                raise subprocess.TimeoutExpired(["gdcli", *argv], timeout, _read(out),
                                                _read(err)) from None  # fmt: skip
            except Exception:
                traceback.print_exc(file=err)
                code = 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            for w in caught:
                err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno,
                                                 w.line))  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for s, handler in saved_signals.items():
            signal.signal(s, handler)
        sys.stdin, sys.stdout, sys.stderr, sys.argv = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess(["gdcli", *argv], code, _read(out), _read(err))


def run_cli_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
                    input: str | None = None, timeout: float = 120,
                    ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run `python -m gdcli ARGS` as a real subprocess, NO_COLOR, with no terminal: for tests
    where the process itself matters (signals, pipes, start-up imports, resource limits)."""
    return subprocess.run(
        cli_command(*args), capture_output=True, text=True, cwd=cwd, env=cli_env(env),
        input=input, timeout=timeout,
    )  # fmt: skip


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gdcli", *args]


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a gdcli subprocess: ours, NO_COLOR, 120 columns, then `env`.

    PYTHONPATH starts with the folder this process imported gdcli from, so the subprocess runs
    the same code whatever its cwd (a relative PYTHONPATH=src would not).
    """
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    here = str(Path(gdcli.__file__).resolve().parents[1])
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (here, full_env.get("PYTHONPATH", "")) if p)
    if "GDCLI_MIRROR" not in (env or {}):  # a mirror in the developer's shell must not leak in
        full_env.pop("GDCLI_MIRROR", None)
    return full_env


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str):
    """Exit `code`, an `error:` line (plus at most a hint), no traceback, each needle in it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), lines
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# -------------------------------------------------------------------------- IDX helpers


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    """The IDX encoding of `array` (big-endian data)."""
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True, code: int = 0x08) -> Path:
    data = idx_bytes(array, code)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path
