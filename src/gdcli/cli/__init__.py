"""The command layer: one module per command, registered on one typer app."""

from gdcli.cli import configs, evaluate, examples, fetch, plot, report, train, visualize  # noqa: F401
from gdcli.cli.app import app, main

__all__ = ["app", "main"]
