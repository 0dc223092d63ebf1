"""The command-line application: the typer app, the options every command shares, main().

Each command lives in its own module of this package; the library under gdcli/ knows nothing
about the terminal.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from gdcli import __version__
from gdcli.datasets import DATASETS
from gdcli.errors import GdcliError
from gdcli.terminal import (
    print_error,
    stdout,
)

app = typer.Typer(
    help="Learn and experiment with the gradient descent of Grokking Deep Learning, chapter 5.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DatasetOpt = Annotated[
    str, typer.Option("--dataset", help=f"Dataset: {', '.join(DATASETS)}.", show_default=True)
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data folder [default: $GDCLI_DATA_DIR, $XDG_CACHE_HOME/gdcli or ~/.cache/gdcli].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Nothing on stderr but errors.")]
WeightsArg = Annotated[Path, typer.Argument(help="Weights file written by `gdcli train`.")]


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
    """gdcli: fetch MNIST, train the book's 784x10 network, look at its weights."""


def main() -> None:
    """Entry point: run the app; an expected failure is one `error:` line and its exit code."""
    try:
        app()
    except GdcliError as exc:
        print_error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print_error("interrupted; nothing half-written was left behind")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
