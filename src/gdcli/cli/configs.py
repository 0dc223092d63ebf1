"""gdcli configs: the configs that ship with gdcli, each a name for `gdcli train --config`."""

from __future__ import annotations

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
    width = max(len(n) for n in shipped)
    for name, (_, about) in shipped.items():
        stdout.print(f"{name:<{width}}  {about}", markup=False)
