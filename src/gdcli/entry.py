"""The console entry point: the signal handlers first, then the application.

`gdcli` spends its first half second importing (typer, rich, numpy). Python's own SIGINT handler
turns a Ctrl-C in that time into a KeyboardInterrupt traceback of twenty lines, so this module
imports nothing heavy: it takes SIGINT and SIGTERM over first, then imports the application.
An interrupt at any instant from here on is one line and exit 130 (143 for SIGTERM), whether it
lands in an import, in a command, or in the clean-up after it.
"""

from __future__ import annotations

import contextlib
import signal
import sys

from gdcli.errors import Interrupted


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise errors.Interrupted, which unwinds through every clean-up."""
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)


def exit_interrupted(exc: Interrupted) -> None:
    """The one line of an interrupt, and its exit code; a second signal meanwhile is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    name = signal.Signals(exc.signum).name
    detail = f" {exc.detail}" if exc.detail else ""
    with contextlib.suppress(OSError):  # stderr gone (a closed terminal): the code still tells
        print(f"error: {exc.message} ({name}){detail}; nothing half-written was left behind",
              file=sys.stderr, flush=True)  # fmt: skip
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr, flush=True)
    sys.exit(exc.exit_code)


_deferred: list[int] = []


def _defer(signum: int, frame: object) -> None:
    _deferred.append(signum)


def main(argv: list[str] | None = None) -> None:
    """Run gdcli: handlers, then the import of the app, then the app (cli.app.main).

    While the app is imported, a signal is only noted, and acted on once the import is done
    (half a second at most): an exception raised inside a C extension's initialisation comes
    out as something else (numpy turns it into an ImportError saying numpy is broken).
    """
    signal.signal(signal.SIGINT, _defer)
    signal.signal(signal.SIGTERM, _defer)
    try:
        import gdcli.cli  # noqa: F401  (registers every command on the app)
        from gdcli.cli.app import main as app_main
    finally:
        install_signal_handlers()
    try:
        if _deferred:
            raise Interrupted(_deferred[0])
        app_main(argv)
    except Interrupted as exc:
        exit_interrupted(exc)
