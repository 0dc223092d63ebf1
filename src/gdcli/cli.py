"""The command layer: parse and validate options, call the library, print results.

Results go to stdout (tables, or JSON with --json); progress and logs to stderr.
"""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gdcli import __version__, examples, heatmap, weights_file
from gdcli.atomic import write_text
from gdcli.config import DEFAULTS, KEYS, TrainConfig, make_config, parse_spec
from gdcli.data import load_split
from gdcli.datasets import DATASETS, DEFAULT_DATASET, get_dataset, resolve_data_dir
from gdcli.errors import GdcliError, UsageError
from gdcli.fetch import DEFAULT_TIMEOUT, fetch
from gdcli.image_files import read_grey, write_pgm, write_png
from gdcli.metrics import evaluate as evaluate_net
from gdcli.terminal import (
    download_progress,
    print_error,
    print_json,
    print_table,
    show_progress,
    stderr_console,
    stdout,
)
from gdcli.train import EpochMetrics, load_data
from gdcli.train import train as train_network
from gdcli.transforms import deskew

app = typer.Typer(
    help="Learn and experiment with the gradient descent of Grokking Deep Learning, chapter 5.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

DatasetOpt = Annotated[
    str, typer.Option("--dataset", help=f"Dataset: {', '.join(DATASETS)}.", show_default=True)
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data folder [default: $GDCLI_DATA_DIR, $XDG_CACHE_HOME/gdcli or ~/.cache/gdcli].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Nothing on stderr but errors.")]
WeightsArg = Annotated[Path, typer.Argument(help="Weights file written by `gdcli train`.")]


class Split(str, Enum):
    train = "train"
    test = "test"


def _version(value: bool) -> None:
    if value:
        stdout.print(f"gdcli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """gdcli: fetch MNIST, train the book's 784x10 network, look at its weights."""


# --------------------------------------------------------------------------- fetch


@app.command("fetch")
def fetch_cmd(
    dataset: DatasetOpt = DEFAULT_DATASET,
    mirror: Annotated[
        list[str] | None,
        typer.Option("--mirror", help="Base URL tried before the built-in mirrors (repeatable)."),
    ] = None,
    from_dir: Annotated[
        Path | None, typer.Option("--from", help="Take the files from this folder instead.")
    ] = None,
    data_dir: DataDirOpt = None,
    n_train: Annotated[
        int, typer.Option(help="Training images to prepare.", min=1)
    ] = DEFAULTS.n_train,
    force: Annotated[
        bool, typer.Option("--force", help="Fetch even verified files again.")
    ] = False,
    builtin_mirrors: Annotated[
        bool, typer.Option(help="Also try the dataset's built-in mirrors after --mirror.")
    ] = True,
    timeout: Annotated[
        float, typer.Option(help="Seconds to connect and for each read.", min=0.01)
    ] = DEFAULT_TIMEOUT,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Download a dataset's four files, verify them, and prepare the book's arrays."""
    ds = get_dataset(dataset)
    folder = resolve_data_dir(data_dir)
    if from_dir is not None and not from_dir.is_dir():
        raise UsageError(f"--from {from_dir}: no such folder")
    err = stderr_console(quiet)
    with download_progress(err) as progress:
        files = fetch(
            ds, folder, mirrors=mirror, from_dir=from_dir, force=force,
            use_builtin_mirrors=builtin_mirrors, timeout=timeout, progress=progress,
        )  # fmt: skip
    x_train, labels_train = load_split(ds, folder, "train", n_train)
    x_test, _ = load_split(ds, folder, "test")
    prepared = {
        "train_images": list(x_train.shape),
        "train_labels": [len(labels_train), len(ds.classes)],
        "test_images": list(x_test.shape),
    }
    if as_json:
        print_json(
            {
                "dataset": ds.name,
                "data_dir": str(folder / ds.name),
                "files": [
                    {"name": f.name, "path": str(f.path), "bytes": f.bytes, "sha256": f.sha256,
                     "source": f.source, "verified": True}
                    for f in files
                ],
                "prepared": prepared,
            }
        )  # fmt: skip
        return
    rows = [[f.path.name, f"{f.bytes:,}", "yes", f.source] for f in files]
    print_table(f"{ds.name} in {folder / ds.name}", ["file", "bytes", "verified", "source"], rows)
    stdout.print(
        f"prepared: train images {x_train.shape[0]}x{x_train.shape[1]} float64 in [0, 1], "
        f"labels {len(labels_train)}x{len(ds.classes)} one-hot; "
        f"test images {x_test.shape[0]}x{x_test.shape[1]}"
    )


# --------------------------------------------------------------------------- train


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


def _fmt(v: float | None, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.2f}%" if pct else f"{v:.6g}"


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
    weights_file.save(out, result.network, meta)
    if as_json:
        print_json({"status": "ok", **summary, "weights": str(out)})
        return
    print_table(
        None,
        ["", "error", "accuracy"],
        [
            ["train", _fmt(summary["train_error"]), _fmt(summary["train_accuracy"], pct=True)],
            ["test", _fmt(summary["test_error"]), _fmt(summary["test_accuracy"], pct=True)],
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


# ------------------------------------------------------------------- evaluate, predict


def _as_trained(x: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """Images (n, 784) preprocessed as the weights' training run did (--deskew)."""
    return deskew(x) if meta.get("config", {}).get("deskew") else x


def _weights_and_data(
    weights: Path, split: str, data_dir: Path | None
) -> tuple[Any, dict[str, Any], np.ndarray, np.ndarray]:
    net, meta = weights_file.load(weights)
    config = meta.get("config", {})
    ds = get_dataset(config.get("dataset", DEFAULT_DATASET))
    # The train split is the images the weights were trained on: the first n_train.
    n = config.get("n_train") if split == "train" else None
    x, labels = load_split(ds, resolve_data_dir(data_dir), split, n)
    return net, meta, _as_trained(x, meta), labels


@app.command("evaluate")
def evaluate_cmd(
    weights: WeightsArg = Path("weights.npz"),
    split: Annotated[Split, typer.Option(help="Which images.")] = Split.test,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Error, accuracy, per-class accuracy and confusion matrix of a weights file."""
    net, meta, x, labels = _weights_and_data(weights, split.value, data_dir)
    ev = evaluate_net(net, x, labels)
    classes = get_dataset(meta.get("config", {}).get("dataset", DEFAULT_DATASET)).classes
    per_class = [None if math.isnan(a) else a for a in ev.per_class.tolist()]
    if as_json:
        print_json(
            {
                "split": split.value, "images": len(labels), "error": ev.error,
                "accuracy": ev.accuracy, "per_class_accuracy": per_class,
                "confusion": ev.confusion.tolist(), "classes": list(classes),
            }
        )  # fmt: skip
        return
    stdout.print(
        f"{split.value}: {len(labels)} images, error {ev.error:.6g}, "
        f"accuracy {100 * ev.accuracy:.2f}%"
    )
    rows = [
        [f"{i} {name}" if name != str(i) else name, _fmt(per_class[i], pct=True),
         *ev.confusion[i].tolist()]
        for i, name in enumerate(classes)
    ]  # fmt: skip
    print_table(
        "confusion matrix (rows: true class, columns: predicted)",
        ["class", "accuracy", *[str(i) for i in range(len(classes))]],
        rows,
    )


@app.command("predict")
def predict_cmd(
    weights: WeightsArg = Path("weights.npz"),
    index: Annotated[int | None, typer.Option(help="Image number in --split.", min=0)] = None,
    split: Annotated[Split, typer.Option(help="Which images --index counts in.")] = Split.test,
    image: Annotated[
        Path | None, typer.Option(help="A 28x28 PGM or PNG, white digit on black.")
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The ten scores of one image (its dot products with each digit's weights) and the winner."""
    if (index is None) == (image is None):
        raise UsageError("give exactly one of --index I and --image FILE")
    label = None
    if image is not None:
        net, meta = weights_file.load(weights)
        pixels = read_grey(image)
        if pixels.shape != (28, 28):
            raise UsageError(f"{image}: {pixels.shape[1]}x{pixels.shape[0]} pixels, expected 28x28")
        x = _as_trained(pixels.reshape(1, -1) / 255, meta)[0]
    else:
        net, meta, xs, labels = _weights_and_data(weights, split.value, data_dir)
        if index >= len(xs):  # type: ignore[operator]
            raise UsageError(f"--index {index} is past the {len(xs)} {split.value} images")
        x, label = xs[index], int(labels[index])  # type: ignore[index]
    scores = net.scores(x)
    predicted = int(np.argmax(scores))
    if as_json:
        print_json(
            {"scores": scores.tolist(), "predicted": predicted, "label": label,
             "outputs": net.predict(x).tolist()}
        )  # fmt: skip
        return
    print_table(None, ["class", "score"], [[i, f"{s:.6f}"] for i, s in enumerate(scores)])
    stdout.print(f"predicted: {predicted}" + (f" (label {label})" if label is not None else ""))


# ----------------------------------------------------------------- visualize-weights


class ImageFormat(str, Enum):
    png = "png"
    pgm = "pgm"
    both = "both"


class Colormap(str, Enum):
    diverging = "diverging"
    gray = "gray"


@app.command("visualize-weights")
def visualize_cmd(
    weights: WeightsArg = Path("weights.npz"),
    out_dir: Annotated[Path, typer.Option(help="Folder for the images.")] = Path("weights"),
    fmt: Annotated[ImageFormat, typer.Option("--format", help="Image files.")] = ImageFormat.png,
    scale: Annotated[int, typer.Option(help="Upscaling factor (nearest).", min=1, max=64)] = 10,
    colormap: Annotated[Colormap, typer.Option(help="PNG colours.")] = Colormap.diverging,
    digits: Annotated[
        str | None, typer.Option(help="Only these outputs, e.g. 0,1,2 [default: all].")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Each digit's 784 weights as a 28x28 heatmap, and all ten side by side in grid.png."""
    net, _ = weights_file.load(weights)
    chosen = parse_spec(digits, 10, "--digits") if digits else list(range(10))
    if not chosen:
        raise UsageError("--digits names no digit")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {out_dir} exists and is not a folder")
    s = heatmap.symmetric_scale(net.weights)
    written = []
    tiles = []
    for d in chosen:
        column = net.weights[:, d]
        tile = heatmap.digit_image(column, s, colormap.value, scale)
        tiles.append(tile)
        if fmt in (ImageFormat.png, ImageFormat.both):
            write_png(out_dir / f"digit-{d}.png", tile)
            written.append(out_dir / f"digit-{d}.png")
        if fmt in (ImageFormat.pgm, ImageFormat.both):
            write_pgm(out_dir / f"digit-{d}.pgm", heatmap.digit_image(column, s, "gray", scale))
            written.append(out_dir / f"digit-{d}.pgm")
    grid = out_dir / "grid.png"
    write_png(grid, heatmap.grid_image(tiles, columns=5, gap=max(1, scale // 5)))
    written.append(grid)
    if as_json:
        print_json({"written": [str(p) for p in written], "scale": s})
        return
    for path in written:
        stdout.print(str(path))


# --------------------------------------------------------------------------- examples


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
    name: Annotated[str, typer.Argument(help=f"{', '.join(examples.EXAMPLES)} or all.")] = "all",
    as_json: JsonOpt = False,
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


def main() -> None:
    """Entry point: run the app; an expected failure is one `error:` line and its exit code."""
    try:
        app()
    except GdcliError as exc:
        print_error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print_error("interrupted; nothing half-written was left behind")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
