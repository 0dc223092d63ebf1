"""gdcli train: options -> TrainConfig, train, write the weights file, then the rest, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from gdcli.cli.app import DataDirOpt, JsonOpt, QuietOpt, app, check_writable, option
from gdcli.cli.terminal import (
    fmt_value,
    print_json,
    print_table,
    stdout,
    to_json,
)
from gdcli.config import (
    ACTIVATIONS,
    AUGMENTATIONS,
    DEFAULTS,
    HIDDEN_ACTIVATIONS,
    INITS,
    KEYS,
    LOSSES,
    parse_list,
)
from gdcli.data.registry import DATASETS
from gdcli.errors import GdcliError, UsageError
from gdcli.io.atomic import write_text


def key_option(
    key: str, help: str, metavar: str | None = None, flag: str | None = None, **kwargs: Any
) -> Any:
    """The option that sets config key `key` (--key-name, or `flag` such as "--bias/--no-bias");
    its help shows the key's default from config.DEFAULTS, the one place defaults live.
    kwargs: typer's (rich_help_panel=...)."""
    name = flag or f"--{key.replace('_', '-')}"
    return option(name, help=help, default=getattr(DEFAULTS, key), metavar=metavar, **kwargs)


def _metrics_lines(history: list[dict[str, Any]], diverged_at: int | None = None) -> str:
    """One JSON object per epoch; untested epochs have no test keys; the epoch where training
    diverged says so in "status" (its non-finite figures are null)."""
    lines = []
    for h in history:
        line = {**h, "status": "diverged"} if h["epoch"] == diverged_at else h
        lines.append(to_json(line) + "\n")
    return "".join(lines)


def _write(path: Path, write: Any, *args: Any, hint: str | None = None) -> None:
    """write(path, *args), a failure of the disk (full, gone read-only) as one GdcliError line."""
    try:
        write(path, *args)
    except GdcliError as exc:  # atomic.py's own "cannot write" line: add what was kept
        exc.hint = exc.hint or hint
        raise
    except OSError as exc:
        raise GdcliError(f"cannot write {path}: {exc.strerror or exc}", hint=hint) from exc


@app.command("train")
def train_cmd(
    config: Annotated[
        str | None,
        option(
            "--config",
            help="A shipped config's name (`gdcli configs` lists them) or a TOML file, setting "
            "the keys below.",
            metavar="NAME|FILE",
        ),
    ] = None,
    dataset: Annotated[
        str | None, key_option("dataset", f"Dataset: {', '.join(DATASETS)}.", "NAME")
    ] = None,
    data_dir: DataDirOpt = None,
    n_train: Annotated[
        int | None, key_option("n_train", "Train on the first N training images.", "N")
    ] = None,
    alpha: Annotated[str | None, key_option("alpha", "Learning rate, > 0.", "ALPHA")] = None,
    epochs: Annotated[
        int | None, key_option("epochs", "Passes over the training images.", "N")
    ] = None,
    batch_size: Annotated[
        int | None,
        key_option("batch_size", "1: one image per step (the book); B > 1: mini-batches.", "B"),
    ] = None,
    seed: Annotated[
        int | None, key_option("seed", "Seed of the initial weights (RandomState).", "SEED")
    ] = None,
    init: Annotated[
        str | None,
        key_option(
            "init", "Initial weights: book (uniform in [-0.1, 0.1)) or zeros.", "|".join(INITS)
        ),
    ] = None,
    freeze_inputs: Annotated[
        str | None,
        key_option(
            "freeze_inputs", "Pixels whose weights never change, e.g. 0-27,700-783.", "SPEC"
        ),
    ] = None,
    freeze_outputs: Annotated[
        str | None,
        key_option("freeze_outputs", "Outputs whose weights never change, e.g. 3,8.", "SPEC"),
    ] = None,
    activation: Annotated[
        str | None, key_option("activation", "Output activation.", "|".join(ACTIVATIONS))
    ] = None,
    loss: Annotated[
        str | None,
        key_option("loss", "mse: squared error; softmax: cross-entropy.", "|".join(LOSSES)),
    ] = None,
    bias: Annotated[
        bool | None,
        key_option("bias", "A bias per unit of every layer, from 0.", flag="--bias/--no-bias"),
    ] = None,
    l2: Annotated[
        float | None, key_option("l2", "Weight decay: adds L * W to each weight delta.", "L")
    ] = None,
    eval_every: Annotated[
        int | None, key_option("eval_every", "Test every N epochs, and after the last.", "N")
    ] = None,
    alpha_decay: Annotated[
        float | None,
        key_option("alpha_decay", "Learning rate of epoch e: alpha / (1 + D * (e - 1)).", "D"),
    ] = None,
    deskew: Annotated[
        bool | None,
        key_option(
            "deskew", "Straighten every image (train and test).", flag="--deskew/--no-deskew"
        ),
    ] = None,
    augment: Annotated[
        str | None,
        key_option(
            "augment", "shifts: each image then its four one-pixel shifts.", "|".join(AUGMENTATIONS)
        ),
    ] = None,
    hidden: Annotated[
        str | None,
        key_option("hidden", "Hidden layer sizes, input side first, e.g. 40 or 128,64.", "SIZES"),
    ] = None,
    hidden_activation: Annotated[
        str | None,
        key_option(
            "hidden_activation", "Activation of the hidden layers.", "|".join(HIDDEN_ACTIVATIONS)
        ),
    ] = None,
    dropout: Annotated[
        float | None,
        key_option("dropout", "Probability a hidden unit is dropped in training, in [0, 1).", "P"),
    ] = None,
    init_scale: Annotated[
        str | None,
        key_option(
            "init_scale", "Initial weights uniform in [-s, s), per layer, e.g. 0.01,0.1.", "S"
        ),
    ] = None,
    freeze_layers: Annotated[
        str | None,
        key_option(
            "freeze_layers", "Layers whose weights never change, e.g. 0 (the first).", "SPEC"
        ),
    ] = None,
    snapshots: Annotated[
        str | None,
        key_option(
            "snapshots", "Epochs whose weights are kept: auto, none or e.g. 0,1,10.", "SPEC"
        ),
    ] = None,
    errata: Annotated[
        str | None,
        key_option("errata", "The book's errata to reproduce, e.g. relu2deriv.", "NAMES"),
    ] = None,
    conv: Annotated[
        str | None,
        key_option(
            "conv",
            "A convolutional first layer: K kernels of SxS pixels, e.g. 16x3 (stride 1, no "
            "padding).",
            "KxS",
            rich_help_panel="Network",
        ),
    ] = None,
    pool: Annotated[
        int | None,
        key_option(
            "pool",
            "Max pooling of the conv layer's maps, PxP windows (1: none).",
            "P",
            rich_help_panel="Network",
        ),
    ] = None,
    out: Annotated[
        Path, option("--out", help="Weights file to write.", default="weights.npz", metavar="FILE")
    ] = Path("weights.npz"),
    metrics: Annotated[
        Path | None,
        option("--metrics", help="Also write one JSON line per epoch to FILE.", metavar="FILE"),
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train a network and save its weights. The book's gradient descent, one image at a
    time by default; a live bar and the book's log lines on stderr; a summary on stdout."""
    from gdcli import api

    given = {k: v for k, v in locals().items() if k in KEYS}
    given["alpha"] = _parse_alpha(alpha)
    given["hidden"] = parse_list(hidden, int, "hidden")
    given["init_scale"] = parse_list(init_scale, float, "init_scale")
    given["errata"] = parse_list(errata, str, "errata")
    cfg = api.configure(config, **given)
    _check_outputs(out, metrics, config)
    try:
        run = api.train(cfg, data_dir=data_dir, quiet=quiet)
    except api.Diverged as exc:
        # The metrics of the diverged run are written; the weights are not. Say which file is
        # which, so an older --out is not taken for this run's.
        if metrics is not None:
            _write(metrics, write_text, _metrics_lines(exc.run.history, exc.epoch))
            exc.append(f"; {metrics} holds this run's epochs")
            if out.exists():
                exc.append(f", {out} is left from an earlier run")
        if as_json:
            print_json({"status": "diverged", **exc.run.summary, "weights": None})
        raise
    # The weights first: whatever fails after them (the metrics file, stdout) loses nothing.
    _write(out, run.save)
    if metrics is not None:
        lines = _metrics_lines(run.history)
        _write(metrics, write_text, lines, hint=f"the weights were written to {out}")
    summary = run.summary
    if as_json:
        print_json({"status": "ok", **summary, "weights": str(out)})
        return
    print_table(
        None,
        ["", "error", "accuracy"],
        [
            ["train", fmt_value(summary["train_error"]),
             fmt_value(summary["train_accuracy"], pct=True)],
            ["test", fmt_value(summary["test_error"]),
             fmt_value(summary["test_accuracy"], pct=True)],
        ],
    )  # fmt: skip
    stdout.print(
        f"{summary['epochs']} epochs at alpha {cfg.alpha:g} in {summary['seconds']:.2f}s; "
        f"weights written to {out}"
    )


def _check_outputs(out: Path, metrics: Path | None, config: Path | None) -> None:
    """Every output path can be written and is none of the inputs: checked before the data
    loads and training starts."""
    check_writable(out, "--out", [("the --config file", config)])
    if metrics is not None:
        check_writable(
            metrics, "--metrics", [("the --out file", out), ("the --config file", config)]
        )


def _parse_alpha(text: str | None) -> float | None:
    """--alpha as a number; its range is checked with the rest of the config."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"alpha must be a positive number, got {text!r}") from None
