"""gdcli examples: the chapter's worked examples and the second seed's labs, printed as the
chapter and the labs print them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from gdcli.book import examples, labs
from gdcli.book.errata import LAB_ERRATA, LAST_RECORD_LOSS
from gdcli.cli.app import DataDirOpt, JsonOpt, QuietOpt, app, argument, option
from gdcli.cli.terminal import (
    print_json,
    stdout,
)
from gdcli.data import admissions
from gdcli.data.registry import resolve_data_dir
from gdcli.errors import UsageError

# The labs' names (the contract) and titles; those on the admissions table need it fetched.
LABS = {
    "gradient-basic": "Gradient descent: one step of a sigmoid unit, the lab gradient_basic",
    "worked-backprop": "Backpropagation worked through by hand, the seed's example",
    "multilayer": "A forward pass through a 4-3-2 network, the lab multilayer",
    "backprop-basic": "Backpropagation: one step of a 3-2-1 network, the lab backprop_basic",
    "admissions-gd": "Gradient descent on the graduate-admissions data, the lab gradient",
    "admissions-backprop": "Backpropagation on the graduate-admissions data, the lab backprop",
}
ADMISSIONS_LABS = {
    "admissions-gd": labs.ADMISSIONS_GD,
    "admissions-backprop": labs.ADMISSIONS_BACKPROP,
}
# Which example each lab erratum changes.
ERRATUM_OF = {LAST_RECORD_LOSS: "admissions-backprop"}
NAMES = (*examples.EXAMPLES, *LABS)


def _line(text: str = "") -> None:
    stdout.print(text, markup=False)


def _print_example(e: examples.Example, steps: list[dict[str, Any]]) -> None:
    stdout.print(f"# {e.title} ({e.name}, alpha {e.alpha!r})")
    for s in steps[:-1]:
        stdout.print(f"Iteration:{s['iteration']}")
        for key in ("pred", "error", "delta", "weights"):
            stdout.print(f"{key.capitalize()}:{s[key]!r}")
        stdout.print(f"Weight_Deltas:\n{s['weight_deltas']!r}\n")
    stdout.print(f"Weights after:{steps[-1]['weights_after']!r}")


def _print_gradient_basic(r: dict[str, Any]) -> None:
    _line("Neural Network output:")
    _line(repr(r["nn_output"]))
    _line("Amount of Error:")
    _line(repr(r["error"]))
    _line("Change in Weights:")
    _line(labs.numpy_str(r["del_w"]))


WORKED_LABELS = {
    "h": "h, the hidden unit's input",
    "hidden_output": "the hidden unit's output",
    "output": "the output",
    "output_error_term": "the output error term",
    "hidden_error_term": "the hidden error term",
    "delta_w_hidden_output": "the hidden-to-output weight step",
    "delta_w_input_hidden": "the input-to-hidden weight steps",
}


def _print_worked(r: dict[str, Any]) -> None:
    for key, label in WORKED_LABELS.items():
        value, lesson = r["values"][key], r["lesson"][key]
        shown = repr(tuple(value)) if isinstance(value, list) else repr(value)
        lesson_shown = repr(tuple(lesson)) if isinstance(lesson, list) else repr(lesson)
        _line(f"{label}: {shown}  (lesson: {lesson_shown})")
    _line(r["note"])


def _print_multilayer(r: dict[str, Any]) -> None:
    _line("Hidden-layer Output:")
    _line(labs.numpy_str(r["hidden_layer_output"]))
    _line("Output-layer Output:")
    _line(labs.numpy_str(r["output_layer_output"]))


def _print_backprop_basic(r: dict[str, Any]) -> None:
    _line("Change in weights for hidden layer to output layer:")
    _line(labs.numpy_str(r["delta_w_h_o"]))
    _line("Change in weights for input layer to hidden layer:")
    _line(labs.numpy_str(r["delta_w_i_h"]))


def _print_admissions(r: dict[str, Any]) -> None:
    for point in r["losses"]:
        # the lab's print("Train loss: ", loss[, "  WARNING - Loss Increasing"])
        warning = "   WARNING - Loss Increasing" if point["increasing"] else ""
        _line(f"Train loss:  {point['loss']!r}{warning}")
    _line(f"Prediction accuracy: {r['accuracy']:.3f}")


ONE_RECORD_LABS: dict[str, tuple[Callable[[], dict[str, Any]], Callable[..., None]]] = {
    "gradient-basic": (labs.gradient_basic, _print_gradient_basic),
    "worked-backprop": (labs.worked_backprop, _print_worked),
    "multilayer": (labs.multilayer, _print_multilayer),
    "backprop-basic": (labs.backprop_basic, _print_backprop_basic),
}


def _lab_header(name: str, r: dict[str, Any]) -> str:
    if name not in ADMISSIONS_LABS:
        return f"# {LABS[name]} ({name})"
    loss = (
        "the lab's printed loss, erratum last-record-loss"
        if LAST_RECORD_LOSS in r["errata"]
        else "mean squared error over the training records"
    )
    return (
        f"# {LABS[name]} ({name}, {r['epochs']} epochs, learning rate {r['alpha']!r}, "
        f"{r['n_train']} rows for training, {r['n_test']} held out; loss: {loss})"
    )


def _parse_errata(errata: str | None, chosen: list[str]) -> frozenset[str]:
    names = frozenset(e.strip() for e in (errata or "").split(",") if e.strip())
    for e in sorted(names):
        if e not in LAB_ERRATA:
            raise UsageError(f"--errata: unknown erratum {e!r} (known: {', '.join(LAB_ERRATA)})")
        if ERRATUM_OF[e] not in chosen:
            raise UsageError(f"--errata {e} applies to the example {ERRATUM_OF[e]} only")
    return names


def run_labs(
    chosen: list[str], data_dir: Path, errata: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The chosen labs' results by name; the admissions table is read (and verified) once,
    before anything runs, so a missing table stops them all with how to get it."""
    rows = admissions.load(data_dir) if any(n in ADMISSIONS_LABS for n in chosen) else None
    results: dict[str, Any] = {}
    for name in chosen:
        if name in ONE_RECORD_LABS:
            results[name] = ONE_RECORD_LABS[name][0]()
        else:
            lab = ADMISSIONS_LABS[name]
            applied = frozenset(e for e in errata if ERRATUM_OF[e] == name)
            prepared = admissions.prepare(rows, lab.seed)  # type: ignore[arg-type]
            results[name] = labs.run_admissions(lab, prepared, applied)
    return results


@app.command("examples")
def examples_cmd(
    name: Annotated[
        str,
        argument(help=f"{', '.join(NAMES)} or all.", default="all", metavar="NAME"),
    ] = "all",
    errata: Annotated[
        str | None,
        option(
            "--errata",
            help=f"The labs' errata to reproduce, comma-separated: {', '.join(LAB_ERRATA)}.",
            default="none",
            metavar="LIST",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,  # accepted by every command; examples print results only
) -> None:
    """Print the book's worked examples and the labs. The chapter's worked examples and the
    second seed's labs, printed as they print them."""
    if name != "all" and name not in NAMES:
        raise UsageError(f"unknown example {name!r} (known: {', '.join(NAMES)}, all)")
    book_names = (
        list(examples.EXAMPLES) if name == "all" else [n for n in [name] if n in examples.EXAMPLES]
    )
    lab_names = list(LABS) if name == "all" else [n for n in [name] if n in LABS]
    applied = _parse_errata(errata, lab_names)
    lab_results = run_labs(lab_names, resolve_data_dir(data_dir), applied) if lab_names else {}
    chosen = [examples.EXAMPLES[n] for n in book_names]
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
    results.update(lab_results)
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
    for i, lab_name in enumerate(lab_names):
        if i or chosen:
            _line()
        r = lab_results[lab_name]
        _line(_lab_header(lab_name, r))
        if lab_name in ONE_RECORD_LABS:
            ONE_RECORD_LABS[lab_name][1](r)
        else:
            _print_admissions(r)
