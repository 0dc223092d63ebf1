"""The two kinds of expected failure, each with its exit code (DESIGN.md, "Exit codes")."""

from __future__ import annotations


class GdcliError(Exception):
    """The work failed (network, checksum, corrupt file, divergence): exit code 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(GdcliError):
    """Bad usage or a bad input value: exit code 2."""

    exit_code = 2
