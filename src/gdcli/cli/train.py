"""gdcli train: options -> TrainConfig, train, write the weights file, then the rest, report."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from gdcli.book.errata import ERRATA
from gdcli.cli.app import (
    app,
    check_writable,
    data_dir_option,
    json_option,
    option,
    quiet_option,
    shown,
)
from gdcli.cli.terminal import (
    fmt_value,
    print_json,
    print_table,
    stderr_console,
    stdout,
    to_json,
    wrote,
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
from gdcli.experiments import folders
from gdcli.experiments.pool import PROGRESS_FD_ENV
from gdcli.io.atomic import claim, write_text


def key_option(
    key: str,
    help: str,
    metavar: str | None = None,
    flag: str | None = None,
    also: str = "",
    **kwargs: Any,
) -> Any:
    """The option that sets config key `key` (--key-name, or `flag` such as "--bias/--no-bias");
    its help shows the key's default from config.DEFAULTS, the one place defaults live, then
    `also` (the datasets' own defaults). `kwargs` go to typer.Option: every train option names
    its `rich_help_panel` (app.PANELS)."""
    name = flag or f"--{key.replace('_', '-')}"
    default = getattr(DEFAULTS, key)
    shown_default = f"{shown(default)}{also}" if also else default
    return option(name, help=help, default=shown_default, metavar=metavar, **kwargs)


def _own_alphas() -> str:
    """The datasets' own default learning rates, for --alpha's help: "; fashion-mnist: 0.001"."""
    own = [f"{ds.name}: {ds.alpha:g}" for ds in DATASETS.values() if ds.alpha is not None]
    return "".join(f"; {text}" for text in own)


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
        str | None,
        key_option("dataset", f"Dataset: {', '.join(DATASETS)}.", "NAME", rich_help_panel="Data"),
    ] = None,
    data_dir: Annotated[Path | None, data_dir_option(rich_help_panel="Data")] = None,
    n_train: Annotated[
        int | None,
        key_option("n_train", "Train on the first N training images.", "N", rich_help_panel="Data"),
    ] = None,
    alpha: Annotated[
        str | None,
        key_option(
            "alpha", "Learning rate, > 0.", "ALPHA", also=_own_alphas(), rich_help_panel="Training"
        ),
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
    epochs: Annotated[
        int | None,
        key_option("epochs", "Passes over the training images.", "N", rich_help_panel="Training"),
    ] = None,
    batch_size: Annotated[
        int | None,
        key_option(
            "batch_size",
            "1: one image per step (the book); B > 1: mini-batches.",
            "B",
            rich_help_panel="Training",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        key_option(
            "seed", "Seed of the initial weights (RandomState).", "SEED", rich_help_panel="Network"
        ),
    ] = None,
    init: Annotated[
        str | None,
        key_option(
            "init",
            "Initial weights: book (uniform in [-0.1, 0.1)) or zeros.",
            "|".join(INITS),
            rich_help_panel="Network",
        ),
    ] = None,
    freeze_inputs: Annotated[
        str | None,
        key_option(
            "freeze_inputs",
            "Pixels whose weights never change, e.g. 0-27,700-783.",
            "SPEC",
            rich_help_panel="Training",
        ),
    ] = None,
    freeze_outputs: Annotated[
        str | None,
        key_option(
            "freeze_outputs",
            "Outputs whose weights never change, e.g. 3,8.",
            "SPEC",
            rich_help_panel="Training",
        ),
    ] = None,
    activation: Annotated[
        str | None,
        key_option(
            "activation", "Output activation.", "|".join(ACTIVATIONS), rich_help_panel="Network"
        ),
    ] = None,
    loss: Annotated[
        str | None,
        key_option(
            "loss",
            "mse: squared error; softmax: cross-entropy.",
            "|".join(LOSSES),
            rich_help_panel="Network",
        ),
    ] = None,
    bias: Annotated[
        bool | None,
        key_option(
            "bias",
            "A bias per unit of every layer, from 0.",
            flag="--bias/--no-bias",
            rich_help_panel="Network",
        ),
    ] = None,
    l2: Annotated[
        float | None,
        key_option(
            "l2", "Weight decay: adds L * W to each weight delta.", "L", rich_help_panel="Training"
        ),
    ] = None,
    eval_every: Annotated[
        int | None,
        key_option(
            "eval_every",
            "Test every N epochs, and after the last.",
            "N",
            rich_help_panel="Training",
        ),
    ] = None,
    alpha_decay: Annotated[
        float | None,
        key_option(
            "alpha_decay",
            "Learning rate of epoch e: alpha / (1 + D * (e - 1)).",
            "D",
            rich_help_panel="Training",
        ),
    ] = None,
    deskew: Annotated[
        bool | None,
        key_option(
            "deskew",
            "Straighten every image (train and test).",
            flag="--deskew/--no-deskew",
            rich_help_panel="Data",
        ),
    ] = None,
    augment: Annotated[
        str | None,
        key_option(
            "augment",
            "shifts: each image then its four one-pixel shifts.",
            "|".join(AUGMENTATIONS),
            rich_help_panel="Data",
        ),
    ] = None,
    hidden: Annotated[
        str | None,
        key_option(
            "hidden",
            "Hidden layer sizes, input side first, e.g. 40 or 128,64.",
            "SIZES",
            rich_help_panel="Network",
        ),
    ] = None,
    hidden_activation: Annotated[
        str | None,
        key_option(
            "hidden_activation",
            "Activation of the hidden layers.",
            "|".join(HIDDEN_ACTIVATIONS),
            rich_help_panel="Network",
        ),
    ] = None,
    dropout: Annotated[
        float | None,
        key_option(
            "dropout",
            "Probability a hidden unit is dropped in training, in [0, 1).",
            "P",
            rich_help_panel="Training",
        ),
    ] = None,
    init_scale: Annotated[
        str | None,
        key_option(
            "init_scale",
            "Initial weights uniform in [-s, s), per layer, e.g. 0.01,0.1.",
            "S",
            rich_help_panel="Network",
        ),
    ] = None,
    freeze_layers: Annotated[
        str | None,
        key_option(
            "freeze_layers",
            "Layers whose weights never change, e.g. 0 (the first).",
            "SPEC",
            rich_help_panel="Training",
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
            "snapshots",
            "Epochs whose weights are kept: auto, none or e.g. 0,1,10.",
            "SPEC",
            rich_help_panel="Output",
        ),
    ] = None,
    errata: Annotated[
        str | None,
        key_option(
            "errata",
            f"The book's errata to reproduce, comma-separated: {', '.join(ERRATA)}.",
            "NAMES",
            rich_help_panel="Book",
        ),
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
        Path | None,
        option(
            "--out",
            help="Weights file to write (with --resume: the resumed file).",
            default="weights.npz",
            metavar="FILE",
            rich_help_panel="Output",
        ),
    ] = None,
    metrics: Annotated[
        Path | None,
        option(
            "--metrics",
            help="Also write one JSON line per epoch to FILE.",
            metavar="FILE",
            rich_help_panel="Output",
        ),
    ] = None,
    run_dir: Annotated[
        Path | None,
        option(
            "--run-dir",
            help="Put the run in a new numbered folder under DIR (weights, metrics, config, "
            "summary), named after what differs: DIR/3-alpha0.001.",
            metavar="DIR",
            rich_help_panel="Output",
        ),
    ] = None,
    as_json: Annotated[bool, json_option(rich_help_panel="Output")] = False,
    quiet: Annotated[bool, quiet_option(rich_help_panel="Output")] = False,
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
    folder, about, progress = None, {}, _Progress()
    if run_dir is not None and (out is not None or metrics is not None or resume is not None):
        given_as = (
            "--out" if out is not None else "--metrics" if metrics is not None else "--resume"
        )
        raise UsageError(
            f"--run-dir puts the run in a new folder with its own files; {given_as} cannot go "
            "with it",
            hint="to continue a run folder's run: `gdcli train --resume DIR/N-name/weights.npz`",
        )
    if resume is not None:
        _check_resume_options(config, given)
        folder, about = _run_folder_of(resume)
        out = out or resume
        if metrics is None and folder is not None:
            metrics = folder / folders.METRICS
        _check_outputs(out, metrics, None, resume)
        how: dict[str, Any] = {"resume": resume, "epochs": epochs}
    else:
        cfg = api.configure(config, **given)
        if run_dir is not None:
            folder, about = _new_run_folder(run_dir, config, cfg)
            progress.send({"run_dir": str(folder)})
            out, metrics = folder / folders.WEIGHTS, folder / folders.METRICS
        out = out or Path("weights.npz")
        _check_outputs(out, metrics, config)
        how = {"config": cfg}
    with contextlib.ExitStack() as claims:
        # Held for the whole run: a second train into the same file is refused now, not
        # left to report a file that holds the other run (io/atomic.py, claim).
        claims.enter_context(claim(out, "weights file"))
        if metrics is not None:
            claims.enter_context(claim(metrics, "metrics file"))
        run = _train(how, out, metrics, as_json, data_dir, quiet, folder, about, progress)
    _report(run, out, metrics, about, as_json, quiet)


def _train(
    how: dict[str, Any],
    out: Path,
    metrics: Path | None,
    as_json: bool,
    data_dir: Path | None,
    quiet: bool,
    folder: Path | None,
    run_info: dict[str, Any],
    progress: _Progress,
) -> Any:
    """api.train(**how), then the weights file and the metrics; after an interrupt, the last
    finished epoch's (see _save_interrupted); after a divergence, the metrics alone. With a run
    folder, its summary.json says how the run ended (run_info: the folder's name, path, base
    config and settings)."""
    from gdcli import api

    try:
        epochs = how["config"].epochs if "config" in how else how["epochs"]
        run = api.train(data_dir=data_dir, quiet=quiet, on_epoch=progress.on_epoch(epochs),
                        **_without_none(how))  # fmt: skip
    except api.Diverged as exc:
        if folder is not None:
            _write_summary(folder, {"status": "diverged", **exc.run.summary, "weights": None,
                                    "error": exc.message, **run_info})  # fmt: skip
        # The metrics of the diverged run are written; the weights are not. Say which file is
        # which, so an older --out is not taken for this run's.
        if metrics is not None:
            _write(metrics, write_text, _metrics_lines(exc.run.history, exc.epoch))
            exc.append(f"; {metrics} holds this run's epochs")
            if out.exists():
                exc.append(f", {out} is left from an earlier run")
        if as_json:
            print_json({"status": "diverged", **exc.run.summary, "weights": None, **run_info})
        raise
    except Interrupted as exc:
        try:
            _save_interrupted(exc, out, metrics, as_json)
        finally:
            if folder is not None:  # the folder says how its run ended
                kept = getattr(getattr(exc, "run", None), "summary", {})
                with contextlib.suppress(GdcliError, OSError, Interrupted):
                    _write_summary(folder, {"status": "interrupted", **kept,
                                            "error": exc.message, **run_info})  # fmt: skip
        raise
    except GdcliError as exc:
        if folder is not None:
            with contextlib.suppress(GdcliError, OSError):
                _write_summary(folder, {"status": "failed", "error": exc.message, **run_info})
        raise
    # The weights first: whatever fails after them (the metrics file, stdout) loses nothing.
    _write(out, run.save)
    if metrics is not None:
        # a resumed run's history starts at epoch 1: the file holds every epoch once
        lines = _metrics_lines(run.history)
        _write(metrics, write_text, lines, hint=f"the weights were written to {out}")
    if folder is not None:
        _write_summary(folder, {"status": "ok", **run.summary, "weights": str(out), **run_info})
    return run


def _report(
    run: Any, out: Path, metrics: Path | None, run_info: dict[str, Any], as_json: bool, quiet: bool
) -> None:
    """The summary: JSON on stdout; or the table on stdout and what was written on stderr."""
    summary, cfg = run.summary, run.config
    if as_json:
        print_json({"status": "ok", **summary, "weights": str(out), **run_info})
        return
    err = stderr_console(quiet)
    err.print(f"trained {summary['epochs']} epochs at alpha {cfg.alpha:g} in "
              f"{summary['seconds']:.2f}s", markup=False, highlight=False)  # fmt: skip
    kept = summary["weights_epoch"]
    which = "" if kept == summary["epochs"] else f" (epoch {kept}, the best validation accuracy)"
    wrote(err, f"{out}{which}")
    if metrics is not None:
        wrote(err, metrics)
    title = f"after {summary['epochs']} epochs"
    if kept != summary["epochs"]:
        title = f"the weights of epoch {kept} of {summary['epochs']}"
    print_table(title, ["", "error", "accuracy"], _summary_rows(summary))
    for line in _stopping_lines(summary, cfg):
        stdout.print(line)


def _run_folder_of(weights: Path) -> tuple[Path | None, dict[str, Any]]:
    """The run folder `weights` is the weights file of (made by --run-dir), and what its
    summary says of it; (None, {}) for any other file."""
    from gdcli.experiments.table import read_summary

    folder = weights.parent
    summary = folder / folders.SUMMARY
    if weights.name != folders.WEIGHTS or not summary.is_file():
        return None, {}
    try:
        known = read_summary(summary)  # bounded and checked, as `gdcli runs` reads it
    except GdcliError:
        return None, {}
    return folder, {k: known[k] for k in ("name", "run_dir", "base", "settings") if k in known}


def _new_run_folder(run_dir: Path, config: str | None, cfg: Any) -> tuple[Path, dict[str, Any]]:
    """A new folder under `run_dir` named after what differs from the base (the --config file,
    else the defaults), holding the resolved config as config.toml; and what the summary says
    of it (name, run_dir, base, settings)."""
    from gdcli.config import DEFAULTS, TrainConfig
    from gdcli.experiments.config_file import config_toml
    from gdcli.experiments.grid import base_values
    from gdcli.experiments.naming import differences, run_label

    base = TrainConfig(**base_values(config)) if config else DEFAULTS
    base_name = Path(config).stem if config else None
    diffs = differences(cfg, base)
    folder = folders.new_run_folder(run_dir, run_label(diffs, base_name))
    comment = (
        f"Run {folder.name}: its whole configuration, as gdcli train resolved it.\n"
        f"`gdcli train --config {folder / folders.CONFIG}` runs it again."
    )
    _write(folder / folders.CONFIG, write_text, config_toml(cfg, comment))
    about = {"name": folder.name, "run_dir": str(folder), "base": config, "settings": diffs}
    return folder, about


def _write_summary(folder: Path, summary: dict[str, Any]) -> None:
    _write(folder / folders.SUMMARY, write_text, to_json(summary, indent=2) + "\n")


class _Progress:
    """With $GDCLI_PROGRESS_FD (set by `gdcli sweep` for its children), JSON lines to that file
    descriptor: the run folder once made (`{"run_dir": ...}`), then one line per epoch
    (`{"epoch": 3, "epochs": 10, ...}`): how a parent process follows the run. Silent when the
    variable is unset or the descriptor cannot be written (training goes on)."""

    def __init__(self) -> None:
        text = os.environ.get(PROGRESS_FD_ENV, "")
        self.fd = int(text) if text.isdigit() and len(text) <= 6 else None

    def send(self, record: dict[str, Any]) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, (to_json(record) + "\n").encode())
        except OSError:  # not open, or the reader went away
            self.fd = None

    def on_epoch(self, epochs: int | None) -> Callable[[dict[str, Any]], None] | None:
        if self.fd is None:
            return None

        def send_epoch(record: dict[str, Any]) -> None:
            line = {"epoch": record["epoch"], "epochs": epochs}
            for k in ("test_accuracy", "val_accuracy"):
                if record.get(k) is not None:
                    line[k] = record[k]
            self.send(line)

        return send_epoch


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
