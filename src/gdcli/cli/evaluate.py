"""gdcli evaluate and gdcli predict: a weights file against images."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from gdcli import weights_file
from gdcli.cli.app import DataDirOpt, JsonOpt, Split, WeightsArg, app
from gdcli.data import load_split
from gdcli.datasets import DEFAULT_DATASET, get_dataset, resolve_data_dir
from gdcli.errors import UsageError
from gdcli.image_files import read_grey
from gdcli.metrics import evaluate as evaluate_net
from gdcli.terminal import (
    fmt_value,
    print_json,
    print_table,
    stdout,
)
from gdcli.transforms import deskew


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
        [f"{i} {name}" if name != str(i) else name, fmt_value(per_class[i], pct=True),
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
