"""The command-line application: the typer app, the options every command shares, main().

Each command lives in its own module of this package; the library under gdcli/ knows nothing
about the terminal. Conventions every command follows:

- declare options with `option(...)` (its help shows the default, in every typer version) and
  take the shared ones below: `quiet: QuietOpt = False`, `as_json: JsonOpt = False`, ...;
- check output paths with `check_writable` before any long work;
- raise gdcli.errors.UsageError (exit 2) or GdcliError (exit 1); main() prints the one line;
- import matplotlib and Pillow inside the command functions that draw, never at module level
  (`gdcli --help` and `gdcli train` must not load them).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import os
import re
import sys
from collections.abc import Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from gdcli import __version__
from gdcli.cli.terminal import print_error, stdout
from gdcli.data.registry import DATASETS, DEFAULT_DATASET, TABLES
from gdcli.entry import exit_interrupted, install_signal_handlers
from gdcli.errors import GdcliError, Interrupted
from gdcli.io.paths import check_output

# The panels train's options are grouped in (typer's rich_help_panel), in this order; options
# without a panel are listed first, under "Options".
PANELS = ("Data", "Network", "Training", "Book", "Output")


def _first_sentence(text: str) -> str:
    """A docstring's first sentence, whole: the command's line in `gdcli --help`."""
    para = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    found = re.search(r"\.(\s|$)", para)
    return para[: found.start() + 1] if found else para


class GdcliCommand(typer.core.TyperCommand):
    """A command whose plain help reads as a person's: no internal type names, panels.

    Help stays plain text (see `app`), and click's plain help knows neither typer's panels nor
    its metavars: this class lists an argument by its metavar alone (`RUN...`, not
    `RUN <list[Path]>` or `{RUN}...`), groups options by their `rich_help_panel` in the order of
    PANELS, and gives `gdcli --help` the docstring's whole first sentence (click cuts it).
    """

    def get_short_help_str(self, limit: int = 45) -> str:
        return (self.short_help or _first_sentence(self.help or "")).strip()

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_usage(param))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        args = [
            (_argument_name(p), p.get_help_record(ctx)[1])
            for p in self.get_params(ctx)
            if p.param_type_name == "argument" and not p.hidden
        ]
        if args:
            with formatter.section("Arguments"):
                formatter.write_dl(args)
        panels: dict[str, list[tuple[str, str]]] = {"Options": []}
        for name in PANELS:
            panels[name] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx) if param.param_type_name == "option" else None
            if record is not None:
                panels.setdefault(getattr(param, "rich_help_panel", None) or "Options", [])
                panels[getattr(param, "rich_help_panel", None) or "Options"].append(record)
        for name, records in panels.items():
            if records:
                with formatter.section(name):
                    formatter.write_dl(records)


def _argument_name(param: Any) -> str:
    name = param.metavar or param.name.upper()
    return f"{name}..." if param.nargs != 1 else name


def _argument_usage(param: Any) -> str:
    name = _argument_name(param)
    return name if param.required else f"[{name}]"


class _Typer(typer.Typer):
    """typer.Typer whose commands are GdcliCommand unless they say otherwise."""

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or GdcliCommand, **kwargs)


app = _Typer(
    help="Learn and experiment with the gradient descent of Grokking Deep Learning on MNIST.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help is plain text: rich markup would eat "[default: ...]", and plain help reads the
    # same in every typer version and when piped.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

NO_DEFAULT = object()


def shown(value: Any, names: tuple[str, ...] = ()) -> str:
    """How a default reads in --help: flags by name or on/off, empty as "none", enums by value."""
    if isinstance(value, bool):
        pair = next((n for n in names if "/" in n), None)
        if pair:  # "--bias/--no-bias": the flag that is in effect
            on, off = (s.strip().split()[0] for s in pair.split("/", 1))
            return on if value else off
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Enum):
        return str(value.value)
    if value is None or value == "" or value == ():
        return "none"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def option(
    *names: str,
    help: str,
    default: Any = NO_DEFAULT,
    metavar: str | None = None,
    **kwargs: Any,
) -> Any:
    """A typer.Option whose help ends with "[default: ...]", shown alike by every typer version.

    `default` is only shown (`shown()` formats it; a string is shown as is): the value that
    applies is the parameter's own default in the signature, which may be None for "not given"
    (train's options, so that a config file can set them). Without `default`, an option with a
    metavar shows "none" and a flag (no metavar) "off".
    """
    if default is NO_DEFAULT:
        default = None if metavar else False
    text = f"{help} [default: {shown(default, names)}]"
    return typer.Option(*names, help=text, show_default=False, metavar=metavar, **kwargs)


def argument(*, help: str, default: Any, metavar: str) -> Any:
    """A typer.Argument whose help ends with "[default: ...]" (see `option`)."""
    text = f"{help} [default: {shown(default)}]"
    return typer.Argument(help=text, show_default=False, metavar=metavar)


DATA_DIR_DEFAULT = "$GDCLI_DATA_DIR, else $XDG_CACHE_HOME/gdcli, else ~/.cache/gdcli"

DatasetOpt = Annotated[
    str,
    option("--dataset", help=f"Dataset: {', '.join([*DATASETS, *TABLES])}.",
           default=DEFAULT_DATASET, metavar="NAME"),
]  # fmt: skip


def data_dir_option(**kwargs: Any) -> Any:
    """--data-dir; `kwargs` go to typer.Option (e.g. rich_help_panel)."""
    return option("--data-dir", help="Data folder.", default=DATA_DIR_DEFAULT, metavar="PATH",
                  **kwargs)  # fmt: skip


def json_option(**kwargs: Any) -> Any:
    """--json; `kwargs` go to typer.Option (e.g. rich_help_panel)."""
    return option("--json", help="Print one JSON object on stdout.", **kwargs)


def quiet_option(**kwargs: Any) -> Any:
    """--quiet; `kwargs` go to typer.Option (e.g. rich_help_panel)."""
    return option("--quiet", "-q", help="Nothing on stderr but errors.", **kwargs)


DataDirOpt = Annotated[Path | None, data_dir_option()]
JsonOpt = Annotated[bool, json_option()]
QuietOpt = Annotated[bool, quiet_option()]
WeightsArg = Annotated[
    Path,
    argument(help="Weights file written by `gdcli train`.", default="weights.npz",
             metavar="WEIGHTS"),
]  # fmt: skip


class Split(str, Enum):
    train = "train"
    test = "test"


def _version(value: bool) -> None:
    if value:
        stdout.print(f"gdcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """gdcli: fetch MNIST, train the book's networks, look at what they learned."""


def check_writable(path: Path, option_name: str, inputs: Sequence[tuple[str, Any]] = ()) -> None:
    """io.paths.check_output for an option's file: `option_name` and the path name it."""
    check_output(path, f"{option_name} {path}", inputs)


# typer >= 0.2x vendors click as typer._click; older typer uses click itself. Find its
# exception classes through one typer exports, whichever click that is.
_CLICK_USAGE_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)
_CLICK_EXCEPTION: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def _given(args: list[str], names: list[str]) -> str | None:
    """The value given on the command line `args` to the option called one of `names`."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(f"{name}="):
                return arg[len(name) + 1 :]
    return None


def _click_error_lines(exc: Exception, args: list[str]) -> tuple[str, str | None]:
    """click's own usage error (an unknown option, a bad or missing value) as our two lines."""
    possibilities = getattr(exc, "possibilities", None)
    message = exc.message if possibilities else exc.format_message()  # type: ignore[attr-defined]
    message = " ".join(str(message).split()).replace(": Value error, ", ": ")
    param = getattr(exc, "param", None)
    value = _given(args, list(getattr(param, "opts", []))) if param is not None else None
    if value is not None and repr(value) not in message and f" {value} " not in f" {message} ":
        message = f"{message.rstrip('.')} (got {value!r})"
    hint = None
    found = re.search(r"\.?\s*Did you mean (.+?)\??$", message)
    if found:
        message, hint = message[: found.start()], f"did you mean {found[1]}?"
    if possibilities:
        # the options the typed one begins (--epoch: --epochs), if any, else the nearest
        typed = getattr(exc, "option_name", None) or ""
        longer = [p for p in possibilities if typed and p.startswith(typed)]
        hint = f"did you mean {' or '.join(sorted(longer) or _closest(typed, possibilities))}?"
    ctx = getattr(exc, "ctx", None)
    if hint is None and ctx is not None:
        hint = f"see '{ctx.command_path} --help'"
    message = message.rstrip(".")
    return message[:1].lower() + message[1:], hint


def _closest(given: str, possibilities: Sequence[str]) -> list[str]:
    """The possibilities nearest to `given` (click offers every close one: --epoch gets
    --epochs and --keep)."""
    ratio = {p: difflib.SequenceMatcher(None, given, p).ratio() for p in possibilities}
    best = max(ratio.values())
    return sorted(p for p, r in ratio.items() if r == best)


def _exit_quietly_on_broken_pipe() -> None:
    """The reader of stdout went away (`gdcli ... | head`): no traceback at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)


@functools.cache
def _click_command() -> Any:
    """The click command of the app, built once: typer rebuilds it from the signatures on every
    call (50 ms), which a process calling main() more than once (the tests) need not repeat."""
    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; an expected failure is one `error:` line and its exit code.

    Exit codes: 0 done; 1 the work failed; 2 bad usage or input (click's own usage errors
    included); 130 Ctrl-C (SIGINT) and 143 SIGTERM, after clean-up.
    """
    install_signal_handlers()  # already done by gdcli.entry; again for callers of main() alone
    args = sys.argv[1:] if argv is None else argv
    command = _click_command()
    try:
        code = command.main(args=args, prog_name="gdcli", standalone_mode=False)
    except Interrupted as exc:
        exit_interrupted(exc)
    except GdcliError as exc:
        print_error(*exc.cli_lines())
        sys.exit(exc.exit_code)
    except _CLICK_USAGE_ERROR as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `gdcli`: the help, as asked
            stdout.print(exc.format_message(), markup=False, highlight=False)  # type: ignore[attr-defined]
            sys.exit(0)
        print_error(*_click_error_lines(exc, args))
        sys.exit(2)
    except _CLICK_EXCEPTION as exc:
        print_error(" ".join(exc.format_message().split()))  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        print_error("aborted")
        sys.exit(1)
    except BrokenPipeError:
        _exit_quietly_on_broken_pipe()
    except MemoryError:  # the last line of defence: sizes are estimated and bounded before
        what = next((a for a in args if not a.startswith("-")), None)
        doing = f"`gdcli {what}`" if what else "gdcli"
        print_error(
            f"out of memory while running {doing}; nothing half-written was left behind",
            hint="give gdcli more memory, or ask it for less (see the command's --help)",
        )
        sys.exit(1)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _exit_quietly_on_broken_pipe()
    sys.exit(code if isinstance(code, int) else 0)
