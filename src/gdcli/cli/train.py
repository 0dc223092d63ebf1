"""gdcli train: options -> TrainConfig, train, write the weights file, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gdcli import __version__, weights_file
from gdcli.atomic import write_text
from gdcli.cli.app import DataDirOpt, JsonOpt, QuietOpt, app
from gdcli.config import DEFAULTS, KEYS, TrainConfig, make_config
from gdcli.datasets import get_dataset, resolve_data_dir
from gdcli.errors import GdcliError, UsageError
from gdcli.terminal import (
    fmt_value,
    print_json,
    print_table,
    show_progress,
    stderr_console,
    stdout,
)
from gdcli.train import EpochMetrics, load_data
from gdcli.train import train as train_network


def _metrics_dict(m: EpochMetrics) -> dict[str, Any]:
    return {k: v for k, v in vars(m).items() if v is not None}


def _summary(cfg: TrainConfig, history: list[EpochMetrics], seconds: float) -> dict[str, Any]:
    last = history[-1]
    tested = next((m for m in reversed(history) if m.test_accuracy is not None), None)
    return {
        "train_error": last.train_error,
        "train_accuracy": last.train_accuracy,
        "test_error": tested.test_error if tested else None,
        "test_accuracy": tested.test_accuracy if tested else None,
        "epochs": last.epoch,
        "alpha": cfg.alpha,
        "seconds": round(seconds, 4),
    }


@app.command("train")
def train_cmd(
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file with the keys below.")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset [default: mnist].")] = None,
    data_dir: DataDirOpt = None,
    n_train: Annotated[
        int | None, typer.Option(help=f"Train on the first N images [default: {DEFAULTS.n_train}].")
    ] = None,
    alpha: Annotated[
        str | None, typer.Option(help=f"Learning rate, > 0 [default: {DEFAULTS.alpha}].")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help=f"[default: {DEFAULTS.epochs}]")] = None,
    batch_size: Annotated[
        int | None, typer.Option(help="1: per example (the book); B > 1: averaged mini-batches.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help=f"[default: {DEFAULTS.seed}]")] = None,
    init: Annotated[str | None, typer.Option(help="book or zeros [default: book].")] = None,
    freeze_inputs: Annotated[
        str | None, typer.Option(help="Pixels whose weights never change, e.g. 0-27,700-783.")
    ] = None,
    freeze_outputs: Annotated[
        str | None, typer.Option(help="Digits whose weights never change, e.g. 3,8.")
    ] = None,
    activation: Annotated[
        str | None, typer.Option(help="linear or sigmoid [default: linear].")
    ] = None,
    loss: Annotated[str | None, typer.Option(help="mse or softmax [default: mse].")] = None,
    bias: Annotated[bool | None, typer.Option("--bias/--no-bias", help="Add a bias.")] = None,
    l2: Annotated[float | None, typer.Option(help="Weight decay, >= 0 [default: 0].")] = None,
    eval_every: Annotated[
        int | None, typer.Option(help=f"Test every N epochs [default: {DEFAULTS.eval_every}].")
    ] = None,
    alpha_decay: Annotated[
        float | None, typer.Option(help="alpha / (1 + decay * (epoch - 1)) [default: 0].")
    ] = None,
    deskew_images: Annotated[
        bool | None, typer.Option("--deskew/--no-deskew", help="Straighten every image.")
    ] = None,
    augment: Annotated[
        str | None, typer.Option(help="none or shifts (four one-pixel shifts).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Weights file to write.")] = Path("weights.npz"),
    metrics: Annotated[
        Path | None, typer.Option(help="Write one JSON line per epoch here.")
    ] = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Train the 784x10 network with the book's gradient descent and save its weights."""
    given = {k: v for k, v in locals().items() if k in KEYS}
    given["deskew"] = deskew_images
    given["alpha"] = _parse_alpha(alpha)
    cfg = make_config(config, given)
    data = load_data(cfg, resolve_data_dir(data_dir))
    err = stderr_console(quiet)

    progress = None
    if show_progress(err):
        progress = Progress(
            TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"), console=err, transient=True,
        )  # fmt: skip
        task = progress.add_task("train", total=cfg.epochs, status="")
        progress.start()

    def on_epoch(m: EpochMetrics) -> None:
        if progress is not None and (m.epoch % 5 == 0 or m.test_accuracy is not None):
            status = f"train err {m.train_error:.4f} acc {100 * m.train_accuracy:.1f}%"
            if m.test_accuracy is not None:
                status += f"  test acc {100 * m.test_accuracy:.1f}%"
            progress.update(task, completed=m.epoch, status=status)

    try:
        result = train_network(cfg, data, on_epoch)
    finally:
        if progress is not None:
            progress.stop()

    if metrics is not None:
        write_text(metrics, "".join(json.dumps(_metrics_dict(m)) + "\n" for m in result.history))

    summary = _summary(cfg, result.history, result.seconds)
    if result.diverged_at is not None:
        if as_json:
            print_json({"status": "diverged", **summary, "weights": None})
        raise GdcliError(
            f"training diverged at epoch {result.diverged_at} (alpha {cfg.alpha:g}): "
            "a weight or the error is no longer finite; no weights written",
            hint=f"try a smaller alpha, e.g. --alpha {cfg.alpha / 10:g}",
        )

    ds = get_dataset(cfg.dataset)
    meta = {
        "gdcli_version": __version__,
        "config": cfg.to_dict(),
        "metrics": summary,
        "dataset": {"name": ds.name, "sha256": {f.name: f.sha256 for f in ds.files}},
    }
    history = [_metrics_dict(m) for m in result.history]  # STAND-IN (C3): format 2
    weights_file.save(
        out, weights_file.WeightsFile(result.network, meta, history, result.snapshots)
    )
    if as_json:
        print_json({"status": "ok", **summary, "weights": str(out)})
        return
    print_table(
        None,
        ["", "error", "accuracy"],
        [
            [
                "train",
                fmt_value(summary["train_error"]),
                fmt_value(summary["train_accuracy"], pct=True),
            ],
            [
                "test",
                fmt_value(summary["test_error"]),
                fmt_value(summary["test_accuracy"], pct=True),
            ],
        ],
    )
    stdout.print(
        f"{summary['epochs']} epochs at alpha {cfg.alpha:g} in {result.seconds:.2f}s; "
        f"weights written to {out}"
    )


def _parse_alpha(text: str | None) -> float | None:
    """--alpha as a number; its range is checked with the rest of the config."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"alpha must be a positive number, got {text!r}") from None
