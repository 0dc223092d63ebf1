"""The command layer: one module per command, registered on one typer app.

The modules are imported in the order a learner uses the commands, which is the order
`gdcli --help` lists them in.
"""

import importlib

from gdcli.cli.app import app, main

COMMANDS = (
    "fetch", "train", "configs", "runs", "sweep", "evaluate", "visualize", "plot", "report",
    "examples",
)  # fmt: skip
for _name in COMMANDS:  # evaluate.py holds evaluate and predict
    importlib.import_module(f"gdcli.cli.{_name}")

__all__ = ["app", "main"]
