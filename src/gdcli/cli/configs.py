"""gdcli configs: the configs that ship with gdcli, each a name for `gdcli train --config`."""

from __future__ import annotations

from rich.table import Table

from gdcli.cli.app import JsonOpt, QuietOpt, app
from gdcli.cli.terminal import print_json, stdout
from gdcli.config import shipped_configs


@app.command("configs")
def configs_cmd(as_json: JsonOpt = False, quiet: QuietOpt = False) -> None:
    """List the configs that ship with gdcli. Train one by name: `gdcli train --config
    book-ch8`; copy its file (--json gives the paths) to make your own."""
    shipped = shipped_configs()
    if as_json:
        print_json(
            [{"name": n, "description": about, "path": str(path)}
             for n, (path, about) in shipped.items()]
        )  # fmt: skip
        return
    if not stdout.is_terminal:  # a pipe: one plain line each, for grep and cut
        width = max(map(len, shipped))
        for name, (_, about) in shipped.items():
            stdout.print(f"{name:<{width}}  {about}", markup=False)
        return
    # two columns, the descriptions wrapped at words to the terminal's width
    table = Table(show_header=False, box=None, pad_edge=False, padding=(0, 2, 0, 0))
    table.add_column("config", no_wrap=True)
    table.add_column("what it trains")
    for name, (_, about) in shipped.items():
        table.add_row(name, about)
    stdout.print(table)
