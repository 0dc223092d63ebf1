"""The command layer: one module per command, registered on one typer app."""

from gdcli.cli import evaluate, examples, fetch, train, visualize  # noqa: F401  (registers commands)
from gdcli.cli.app import app, main

__all__ = ["app", "main"]
