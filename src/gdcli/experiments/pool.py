"""Commands run side by side, at most N at a time, each watched: started, at epoch e, finished.

Each command is a process of its own session (so a Ctrl-C at the terminal reaches this process
only, which then stops every child itself, the same way whatever stopped it). It gets a pipe
whose write end's number is in $GDCLI_PROGRESS_FD: `gdcli train` writes its run folder there
(`{"run_dir": "runs/3-alpha0.1"}`), then one JSON line per epoch (`{"epoch": 3, "epochs": 10}`),
which is how a parent follows a child between the lines
it prints. Its stdout (the child's `--json` result) and stderr (its `error:` line) are read
through the same select loop; nothing here runs a thread.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROGRESS_FD_ENV = "GDCLI_PROGRESS_FD"
KEEP_STDERR = 64_000  # bytes of a child's stderr kept: its last lines say why it failed
STOP_GRACE = 10.0  # seconds a stopped child has to finish cleanly before SIGKILL


@dataclass
class Job:
    """One command and what became of it.

    state: queued, running, done (exit 0), diverged (the child's result says so), failed
    (any other exit), stopped (stopped by `stop`), not started (the pool was stopped first).
    """

    argv: Sequence[str]
    state: str = "queued"
    epoch: int | None = None  # the last epoch the child reported finished
    epochs: int | None = None
    run_dir: str | None = None  # the folder the child said it made (`{"run_dir": ...}`)
    result: dict[str, Any] | None = None  # the child's JSON result on stdout
    error: str | None = None  # the child's `error:` line, or what happened to it
    returncode: int | None = None
    seconds: float | None = None
    _proc: subprocess.Popen | None = field(default=None, repr=False)
    _out: bytearray = field(default_factory=bytearray, repr=False)
    _err: bytearray = field(default_factory=bytearray, repr=False)
    _progress: bytearray = field(default_factory=bytearray, repr=False)
    _open: int = field(default=0, repr=False)
    _started: float = field(default=0.0, repr=False)


def _error_line(stderr: bytes) -> str | None:
    """The child's last `error:` line (without "error: "), else its last line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    if errors:
        return errors[-1].removeprefix("error: ")
    return lines[-1][:300] if lines else None


class Pool:
    """Run `jobs` with at most `workers` at a time; `on_change(job)` after each change of a
    job's state or epoch; `on_tick()` at least every `tick` seconds (a live display's clock)."""

    def __init__(
        self,
        jobs: Sequence[Job],
        workers: int,
        env: Mapping[str, str],
        on_change: Callable[[Job], None] = lambda job: None,
        on_tick: Callable[[], None] = lambda: None,
        tick: float = 0.25,
    ) -> None:
        self.jobs, self.workers, self.env = list(jobs), max(1, workers), dict(env)
        self.on_change, self.on_tick, self.tick = on_change, on_tick, tick
        self.selector = selectors.DefaultSelector()

    def run(self) -> None:
        """Run every job to its end. Any exception (Ctrl-C's Interrupted included) stops the
        running children first (`stop`), then goes on up."""
        queue = list(self.jobs)
        try:
            while queue or self._running():
                while queue and len(self._running()) < self.workers:
                    self._start(queue.pop(0))
                for key, _ in self.selector.select(self.tick):
                    self._read(key.data[0], key.data[1], key.fileobj)  # type: ignore[arg-type]
                for job in self._running():
                    if job._open == 0 and job._proc is not None and job._proc.poll() is not None:
                        self._finish(job)
                self.on_tick()
        except BaseException:
            self.stop()
            raise
        finally:
            self.selector.close()

    def _running(self) -> list[Job]:
        return [j for j in self.jobs if j.state == "running"]

    def _start(self, job: Job) -> None:
        read, write = os.pipe()
        env = {**self.env, PROGRESS_FD_ENV: str(write)}
        try:
            job._proc = subprocess.Popen(
                list(job.argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=env, pass_fds=(write,), start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            os.close(read)
            job.state, job.error = "failed", f"cannot start {job.argv[0]}: {exc.strerror or exc}"
            self.on_change(job)
            return
        finally:
            os.close(write)
        job.state, job._started = "running", time.monotonic()
        assert job._proc.stdout is not None and job._proc.stderr is not None
        for stream, kind in ((job._proc.stdout, "out"), (job._proc.stderr, "err")):
            os.set_blocking(stream.fileno(), False)
            self.selector.register(stream, selectors.EVENT_READ, (job, kind))
        progress = os.fdopen(read, "rb", buffering=0)
        os.set_blocking(read, False)
        self.selector.register(progress, selectors.EVENT_READ, (job, "progress"))
        job._open = 3
        self.on_change(job)

    def _read(self, job: Job, kind: str, stream: Any) -> None:
        try:
            data = os.read(stream.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(stream)
            stream.close()
            job._open -= 1
            return
        if kind == "out":
            job._out += data
        elif kind == "err":
            job._err += data
            del job._err[:-KEEP_STDERR]
        else:
            job._progress += data
            *lines, rest = job._progress.split(b"\n")
            job._progress = bytearray(rest)
            for line in lines:
                self._progress_line(job, line)

    def _progress_line(self, job: Job, line: bytes) -> None:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            record = json.loads(line)
            if isinstance(record, dict) and isinstance(record.get("run_dir"), str):
                job.run_dir = record["run_dir"]
            if isinstance(record, dict) and isinstance(record.get("epoch"), int):
                job.epoch = record["epoch"]
                if isinstance(record.get("epochs"), int):
                    job.epochs = record["epochs"]
                self.on_change(job)

    def _finish(self, job: Job) -> None:
        assert job._proc is not None
        job.returncode = job._proc.wait()
        job.seconds = time.monotonic() - job._started
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            result = json.loads(bytes(job._out))
            job.result = result if isinstance(result, dict) else None
        status = (job.result or {}).get("status")
        if job.returncode == 0:
            job.state = "done"
        elif status == "diverged":
            job.state = "diverged"
        else:
            job.state = "failed"
        if job.returncode != 0:
            job.error = _error_line(bytes(job._err)) or f"exit code {job.returncode}"
        self.on_change(job)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop every running child (SIGTERM to its session; SIGKILL after `grace` seconds) and
        mark the jobs not yet started "not started"."""
        running = [j for j in self._running() if j._proc is not None]
        for job in running:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job._proc.pid, signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + grace
        try:
            for job in running:
                assert job._proc is not None
                with contextlib.suppress(subprocess.TimeoutExpired):
                    job._proc.wait(max(0.0, deadline - time.monotonic()))
        finally:  # the grace is over, or a second Ctrl-C came: no child outlives the pool
            for job in running:
                if job._proc is not None and job._proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(job._proc.pid, signal.SIGKILL)
                    job._proc.wait()
        for job in running:
            proc = job._proc
            assert proc is not None
            job.returncode, job.state = proc.returncode, "stopped"
            job.seconds = time.monotonic() - job._started
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError, KeyError, ValueError):
                        self.selector.unregister(stream)
                    stream.close()
        for key in list(self.selector.get_map().values()):
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.selector.unregister(key.fileobj)
                key.fileobj.close()  # type: ignore[union-attr]
        for job in self.jobs:
            if job.state == "queued":
                job.state = "not started"
