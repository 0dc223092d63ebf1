"""gdcli examples: the chapter's worked examples, printed as the chapter prints them."""

from __future__ import annotations

from typing import Annotated, Any

from gdcli.book import examples
from gdcli.cli.app import JsonOpt, QuietOpt, app, argument
from gdcli.cli.terminal import (
    print_json,
    stdout,
)
from gdcli.errors import UsageError


def _print_example(e: examples.Example, steps: list[dict[str, Any]]) -> None:
    stdout.print(f"# {e.title} ({e.name}, alpha {e.alpha!r})")
    for s in steps[:-1]:
        stdout.print(f"Iteration:{s['iteration']}")
        for key in ("pred", "error", "delta", "weights"):
            stdout.print(f"{key.capitalize()}:{s[key]!r}")
        stdout.print(f"Weight_Deltas:\n{s['weight_deltas']!r}\n")
    stdout.print(f"Weights after:{steps[-1]['weights_after']!r}")


@app.command("examples")
def examples_cmd(
    name: Annotated[
        str,
        argument(help=f"{', '.join(examples.EXAMPLES)} or all.", default="all", metavar="NAME"),
    ] = "all",
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,  # accepted by every command; examples print results only
) -> None:
    """The chapter's worked examples on its toy data, printed as the chapter prints them."""
    if name != "all" and name not in examples.EXAMPLES:
        raise UsageError(f"unknown example {name!r} (known: {', '.join(examples.EXAMPLES)}, all)")
    chosen = list(examples.EXAMPLES.values()) if name == "all" else [examples.EXAMPLES[name]]
    results = {}
    for e in chosen:
        results[e.name] = {"alpha": e.alpha, "steps": examples.run(e)}
        if e.name == "freeze":
            long = examples.run(e, examples.FREEZE_FOLLOW_UP)
            results[e.name]["follow_up"] = {
                "iterations": examples.FREEZE_FOLLOW_UP,
                "error": long[-2]["error"],
                "weight_a": long[-1]["weights_after"][0],
            }
    if as_json:
        print_json(results if name == "all" else results[name])
        return
    for i, e in enumerate(chosen):
        if i:
            stdout.print()
        _print_example(e, results[e.name]["steps"])
        if "follow_up" in results[e.name]:
            f = results[e.name]["follow_up"]
            stdout.print(
                f"After {f['iterations']} iterations: error {f['error']!r}, weight a still "
                f"{f['weight_a']!r}: the error falls to near zero though a never moves."
            )
