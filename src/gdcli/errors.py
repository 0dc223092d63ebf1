"""The kinds of expected failure, each with its exit code (README, "Conventions")."""

from __future__ import annotations

import signal
from typing import Any

MAX_SHOWN = 60  # characters of a bad value (a config value, an environment variable) echoed


def shorten(value: Any, limit: int = MAX_SHOWN) -> str:
    """repr(value), cut to `limit` characters: a huge value is not echoed whole, and a newline
    or a control character in it shows escaped (repr), never splitting the message's line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text):,} chars)"


class GdcliError(Exception):
    """The work failed (network, checksum, corrupt file, divergence, full disk): exit code 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(GdcliError):
    """Bad usage or a bad input value: exit code 2."""

    exit_code = 2


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM arrived: exit code 128 + the signal's number (130, 143).

    A BaseException, like KeyboardInterrupt, so it unwinds through `except Exception` and every
    clean-up (temporary files are removed) runs; but not a KeyboardInterrupt, which typer would
    turn into a silent exit.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum
        self.message = "interrupted" if signum == signal.SIGINT else "terminated"
