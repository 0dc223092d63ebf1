"""The kinds of expected failure, each with its exit code (docs/commands.md, "Exit codes").

A message names a setting with key("n_train"): through the library it reads `n_train`, the
config key; the CLI prints it as its option, `--n-train` (GdcliError.cli_lines, in main()).
"""

from __future__ import annotations

import signal

MAX_SHOWN = 60  # characters of a bad value (a config value, an environment variable) echoed


def shorten(value: object, limit: int = MAX_SHOWN) -> str:
    """repr(value), cut to `limit` characters: a huge value is not echoed whole, and a newline
    or a control character in it shows escaped (repr), never splitting the message's line."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text):,} chars)"


_MARK = "\x1f"  # around a key's name in a message; never in text a user gives


def key(name: str) -> str:
    """A config key or option named in a message: `name` in the library, `--name` in the CLI."""
    return f"{_MARK}{name}{_MARK}"


def spelled(text: str | None, as_flag: bool) -> str | None:
    """`text` with the keys it names (key()) as config keys, or `as_flag` as the CLI's
    options."""
    if text is None or _MARK not in text:
        return text
    parts = text.split(_MARK)  # odd parts are keys
    for i in range(1, len(parts), 2):
        parts[i] = "--" + parts[i].replace("_", "-") if as_flag else parts[i]
    return "".join(parts)


class GdcliError(Exception):
    """The work failed (network, checksum, corrupt file, divergence, full disk): exit code 1.

    message and hint: the one-line message and its hint as the library says them (keys by
    their config names); cli_lines(): the same with the CLI's option names.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(spelled(message, False))
        self._message, self._hint = message, hint

    @property
    def message(self) -> str:
        return spelled(self._message, False)  # type: ignore[return-value]

    @property
    def hint(self) -> str | None:
        return spelled(self._hint, False)

    @hint.setter
    def hint(self, value: str | None) -> None:
        self._hint = value

    def append(self, text: str) -> None:
        """Add `text` to the end of the message (what a caller knows that the raiser did not)."""
        self._message += text

    def prepend(self, text: str) -> None:
        """Put `text` before the message (where the caller was: "the run alpha=2: ...")."""
        self._message = text + self._message

    def cli_lines(self) -> tuple[str, str | None]:
        """(message, hint) as the CLI prints them: keys as their options (--n-train)."""
        return spelled(self._message, True), spelled(self._hint, True)  # type: ignore[return-value]


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
        # what was done about it (train: the last finished epoch written), and what to do next
        self.detail: str | None = None
        self.hint: str | None = None
