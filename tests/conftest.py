"""Shared fixtures: the real MNIST files, a loopback HTTP mirror with scripted faults, the CLI."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not all((SHARED_MNIST / f).is_file() for f in MNIST_FILES):
        pytest.skip(
            f"the real MNIST files are not in {SHARED_MNIST} (see shared/datasets/README.md)"
        )
    return SHARED_MNIST


class Mirror:
    """A ThreadingHTTPServer on 127.0.0.1 serving a folder; `faults` scripts misbehaviour.

    faults[file name] is a list of actions used one per request, then normal service:
    an int status (404, 500), "corrupt" (flip one byte), "stall" (send headers, then hang).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.faults: dict[str, list[int | str]] = {}
        self.requests: list[str] = []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                actions = mirror.faults.get(name)
                action = actions.pop(0) if actions else None
                if isinstance(action, int):
                    self.send_error(action)
                elif action == "corrupt":
                    data = bytearray((folder / name).read_bytes())
                    data[len(data) // 2] ^= 0xFF
                    self._send(bytes(data))
                elif action == "stall":
                    self.send_response(200)
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    self.wfile.write(b"\x1f\x8b")
                    self.wfile.flush()
                    time.sleep(3)
                else:
                    super().do_GET()

            def _send(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror(mnist_dir: Path) -> Iterator[Mirror]:
    m = Mirror(mnist_dir)
    yield m
    m.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens (connection refused)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """Run `python -m gdcli ARGS` as a real subprocess, NO_COLOR, with no terminal."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120", **(env or {})}
    if "GDCLI_MIRROR" not in (env or {}):  # a mirror in the developer's shell must not leak in
        full_env.pop("GDCLI_MIRROR", None)
    return subprocess.run(
        [sys.executable, "-m", "gdcli", *args],
        capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout,
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *needles: str):
    """Exit `code`, an `error:` line (plus at most a hint), no traceback, each needle in it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("error: "), result.stderr
    assert len(lines) <= 2 and all(line.startswith("hint: ") for line in lines[1:]), lines
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> Path:
    """A data folder holding the real MNIST files (copied through the library's --from path)."""
    from gdcli.datasets import DATASETS
    from gdcli.fetch import fetch

    folder = tmp_path_factory.mktemp("data")
    fetch(DATASETS["mnist"], folder, from_dir=mnist_dir, use_system_copy=False)
    return folder


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


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with a small synthetic MNIST-like dataset at <dir>/mnist/ (600 train and
    200 test images, 10 learnable classes); see tests/synthetic.py."""
    from synthetic import write_dataset

    folder = tmp_path_factory.mktemp("synthetic")
    write_dataset(folder / "mnist")
    return folder
