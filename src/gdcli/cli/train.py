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
    KEEPS,
    KEYS,
    LOSSES,
    parse_list,
)
from gdcli.data.registry import DATASETS
from gdcli.errors import GdcliError, Interrupted, UsageError
from gdcli.io.atomic import write_text


def key_option(
    key: str, help: str, metavar: str | None = None, flag: str | None = None, **kwargs: Any
) -> Any:
    """The option that sets config key `key` (--key-name, or `flag` such as "--bias/--no-bias");
    its help shows the key's default from config.DEFAULTS, the one place defaults live."""
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
    val: Annotated[
        int | None,
        key_option(
            "val",
            "Hold out the last N training images for validation (never trained on).",
            "N",
            rich_help_panel="Data",
        ),
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
    keep: Annotated[
        str | None,
        key_option(
            "keep",
            "Weights to write: the last epoch's, or the best validation accuracy's (needs --val).",
            "|".join(KEEPS),
            rich_help_panel="Training",
        ),
    ] = None,
    early_stop: Annotated[
        int | None,
        option(
            "--early-stop",
            help="Stop after P tested epochs in a row without a better validation accuracy "
            "(needs --val).",
            default="never",
            metavar="P",
            rich_help_panel="Training",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        option(
            "--resume",
            help="Continue the run in this weights file (an interrupted one, or a finished one "
            "with a larger --epochs) with its own configuration; written back to it unless "
            "--out is given.",
            metavar="FILE",
            rich_help_panel="Training",
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
    out: Annotated[
        Path | None,
        option(
            "--out",
            help="Weights file to write (with --resume: the resumed file).",
            default="weights.npz",
            metavar="FILE",
        ),
    ] = None,
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
    if early_stop is not None and early_stop < 1:  # 0, the key's default, is "never": not asked
        raise UsageError(f"early_stop must be a whole number >= 1, got {early_stop}")
    if resume is not None:
        _check_resume_options(config, given)
        out = out or resume
        _check_outputs(out, metrics, None, resume)
        options: dict[str, Any] = {"resume": resume, "epochs": epochs}
        run = _train(options, out, metrics, as_json, data_dir, quiet)
    else:
        cfg = api.configure(config, **given)
        out = out or Path("weights.npz")
        _check_outputs(out, metrics, config)
        run = _train({"config": cfg}, out, metrics, as_json, data_dir, quiet)
    summary, cfg = run.summary, run.config
    if as_json:
        print_json({"status": "ok", **summary, "weights": str(out)})
        return
    print_table(None, ["", "error", "accuracy"], _summary_rows(summary))
    for line in _stopping_lines(summary, cfg):
        stdout.print(line)
    kept = summary["weights_epoch"]
    which = "" if kept == summary["epochs"] else f" (epoch {kept}, the best validation accuracy)"
    stdout.print(
        f"{summary['epochs']} epochs at alpha {cfg.alpha:g} in {summary['seconds']:.2f}s; "
        f"weights{which} written to {out}"
    )


def _train(
    how: dict[str, Any], out: Path, metrics: Path | None, as_json: bool, data_dir: Path | None,
    quiet: bool,
) -> Any:  # fmt: skip
    """api.train(**how), then the weights file and the metrics; after an interrupt, the last
    finished epoch's (see _save_interrupted); after a divergence, the metrics alone."""
    from gdcli import api

    try:
        run = api.train(data_dir=data_dir, quiet=quiet, **_without_none(how))
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
    except Interrupted as exc:
        _save_interrupted(exc, out, metrics, as_json)
        raise
    # The weights first: whatever fails after them (the metrics file, stdout) loses nothing.
    _write(out, run.save)
    if metrics is not None:
        # a resumed run's history starts at epoch 1: the file holds every epoch once
        lines = _metrics_lines(run.history)
        _write(metrics, write_text, lines, hint=f"the weights were written to {out}")
    return run


def _without_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _save_interrupted(exc: Interrupted, out: Path, metrics: Path | None, as_json: bool) -> None:
    """Ctrl-C or SIGTERM during training: write the run as it stood at the end of its last
    finished epoch (exc.run) to `out` and `metrics`, atomically, and say so in exc. A second
    signal meanwhile stops at once: the file being written is left as it was before."""
    run = getattr(exc, "run", None)
    if run is None:
        return  # no epoch finished: nothing to keep
    epoch, total = run.summary["interrupted_at"], run.config.epochs
    written: list[str] = []
    try:
        _write(out, run.save)
        written.append(str(out))
        if metrics is not None:
            _write(metrics, write_text, _metrics_lines(run.history))
            written.append(str(metrics))
    except Interrupted as again:
        where = f"{written[0]} holds epoch {epoch}; " if written else ""
        pending = metrics if written else out
        again.detail = (
            f"again while the run of epoch {epoch} of {total} was written: stopped at once; "
            f"{where}{pending} is as it was before"
        )
        raise again from None
    exc.detail = (
        f"after epoch {epoch} of {total}: its weights and history were written to "
        f"{' and '.join(written)}"
    )
    exc.hint = f"`gdcli train --resume {out}` continues it"
    if as_json:
        print_json({"status": "interrupted", **run.summary, "weights": str(out)})


def _check_resume_options(config: str | None, given: dict[str, Any]) -> None:
    """With --resume, only --epochs and the output options: anything else would change the
    run, which continues with its own configuration."""
    changed = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
    changed = [name for name in changed if name != "--epochs"]
    if config is not None:
        changed.insert(0, "--config")
    if changed:
        raise UsageError(
            f"--resume continues the run as it was configured; {changed[0]} would change it",
            hint="only --epochs, --out, --metrics, --data-dir, --json and --quiet go with --resume",
        )


def _stopping_lines(summary: dict[str, Any], cfg: Any) -> list[str]:
    """What the summary says beyond the table: where the best epoch was, and an early stop."""
    lines = []
    best = summary.get("best_epoch")
    if summary.get("stopped_early"):
        lines.append(
            f"stopped early after epoch {summary['epochs']}: no better validation accuracy in "
            f"{cfg.early_stop} tested epochs"
        )
    if best is not None:
        lines.append(
            f"best validation accuracy {100 * summary['best_val_accuracy']:.2f}% at epoch {best}"
        )
    return lines


def _summary_rows(summary: dict[str, Any]) -> list[list[str]]:
    """The summary table: the train row is the book's running figure (each image's prediction
    just before its own step), which `gdcli evaluate --split train` (the final weights on the
    same images) does not repeat; the validation row only for a run with validation images."""
    rows = [["train (during the epoch)", "train"]]
    if summary.get("val_accuracy") is not None:
        rows.append(["validation", "val"])
    rows.append(["test", "test"])
    return [
        [label, fmt_value(summary[f"{name}_error"]),
         fmt_value(summary[f"{name}_accuracy"], pct=True)]
        for label, name in rows
    ]  # fmt: skip


def _check_outputs(
    out: Path, metrics: Path | None, config: Any, resume: Path | None = None
) -> None:
    """Every output path can be written and is none of the inputs (the resumed file may be
    written back): checked before the data loads and training starts."""
    check_writable(out, "--out", [("the --config file", config)])
    if metrics is not None:
        inputs = [("the --out file", out), ("the --config file", config),
                  ("the --resume file", resume)]  # fmt: skip
        check_writable(metrics, "--metrics", inputs)


def _parse_alpha(text: str | None) -> float | None:
    """--alpha as a number; its range is checked with the rest of the config."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"alpha must be a positive number, got {text!r}") from None
