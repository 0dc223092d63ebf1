"""gdcli evaluate and gdcli predict: a weights file against images, at any depth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from rich.table import Table

from gdcli.cli.app import DataDirOpt, JsonOpt, QuietOpt, Split, WeightsArg, app, option
from gdcli.cli.terminal import (
    fmt_error,
    fmt_pct,
    print_json,
    print_table,
    stderr_console,
    stdout,
    wrote,
)
from gdcli.data.load import load_split
from gdcli.data.registry import DEFAULT_DATASET, IMAGE_SIDE, get_dataset, resolve_data_dir
from gdcli.data.transforms import as_trained
from gdcli.errors import UsageError
from gdcli.io import weights_file
from gdcli.io.atomic import write_bytes
from gdcli.io.paths import check_output, same_file

BAR_WIDTH = 30  # characters of the longest bar in predict's table
BAR_MIN = 10  # ... on a narrow terminal


def _config(wf: weights_file.WeightsFile) -> dict[str, Any]:
    return wf.meta.get("config", {})


def _classes(wf: weights_file.WeightsFile) -> list[str]:
    return list(get_dataset(_config(wf).get("dataset", DEFAULT_DATASET)).classes)


def _images(
    wf: weights_file.WeightsFile, split: str, data_dir: Path | None
) -> tuple[np.ndarray, np.ndarray]:
    """The split's images as the network was trained to see them, and their labels. The train
    split is the images the weights were trained on: the first n_train."""
    config = _config(wf)
    n = config.get("n_train") if split == "train" else None
    ds = get_dataset(config.get("dataset", DEFAULT_DATASET))
    x, labels = load_split(ds, resolve_data_dir(data_dir), split, n)
    return as_trained(x, _config(wf)), labels


def _shape(wf: weights_file.WeightsFile) -> list[int]:
    """The layer sizes, input first: [784, 10] for the book's network."""
    return [wf.network.n_inputs] + [layer.weights.shape[1] for layer in wf.network.layers]


def split_option(help: str) -> Any:
    """--split: train (the first n_train images the weights were trained on) or test."""
    return option("--split", help=help, default=Split.test, metavar="train|test")


@app.command("evaluate")
def evaluate_cmd(
    weights: WeightsArg = Path("weights.npz"),
    split: Annotated[Split, split_option("Which images.")] = Split.test,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Error, accuracy and confusion matrix of weights. Also the accuracy of each class, on
    the test images or the train images the weights learned from."""
    from gdcli import api

    result = api.evaluate(api.load(weights), split.value, data_dir)
    if as_json:
        print_json(result)
        return
    print_evaluation(split.value, result)


def print_evaluation(split: str, result: dict[str, Any]) -> None:
    """evaluate's tables, each narrow enough for a 60-column terminal: the figures, then the
    accuracy of each class (by name), then the confusion matrix (classes by number)."""
    classes, per_class = result["classes"], result["per_class_accuracy"]
    confusion = result["confusion"]
    stdout.print(f"{split}: {result['images']} images, network "
                 f"{'-'.join(map(str, result['layers']))}")  # fmt: skip
    stdout.print(f"error {fmt_error(result['error'])}, accuracy {fmt_pct(result['accuracy'])}")
    stdout.print()
    if split == "train":
        stdout.print(
            "(the final weights on the images they were trained on; the train row of "
            "`gdcli train` is measured during the epoch, each image just before its own step)"
        )
        stdout.print()
    rows = [
        [_label(classes, i), sum(confusion[i]), confusion[i][i], fmt_pct(per_class[i])]
        for i in range(len(classes))
    ]
    print_table("each class", ["class", "images", "right", "accuracy"], rows)
    stdout.print()
    print_table(
        "confusion matrix: rows the true class, columns the predicted",
        ["", *[str(i) for i in range(len(classes))]],
        [[str(i), *confusion[i]] for i in range(len(classes))],
        compact=True,
    )


@dataclass
class PredictInput:
    """One image for the network: x (784,) in [0, 1] as the network sees it, its label if
    known, and what was done to a picture to get there (for --json)."""

    x: np.ndarray
    label: int | None
    about: dict[str, Any] | None = None


@app.command("predict")
def predict_cmd(
    weights: WeightsArg = Path("weights.npz"),
    index: Annotated[
        int | None,
        option("--index", help="Image number I in --split (or give --image).", metavar="I", min=0),
    ] = None,
    split: Annotated[Split, split_option("Which images --index counts in.")] = Split.test,
    image: Annotated[
        Path | None,
        option(
            "--image",
            help="A picture of one digit: any size, PNG, JPEG or any format Pillow reads, "
            "dark on light or light on dark; brought to MNIST's form first.",
            metavar="FILE",
        ),
    ] = None,
    as_is: Annotated[
        bool,
        option(
            "--as-is",
            help="With --image: a 28x28 image already in MNIST's form (light digit on black, "
            "centred), fed unchanged.",
        ),
    ] = False,
    show_input: Annotated[
        Path | None,
        option(
            "--show-input", help="Write the 28x28 image fed to the network (PNG).", metavar="FILE"
        ),
    ] = None,
    explain: Annotated[
        Path | None,
        option(
            "--explain",
            help="Draw why the network chose its class (PNG): input, weights and their product "
            "for the three highest scores; a conv network: each kernel's feature map.",
            metavar="FILE",
        ),
    ] = None,
    data_dir: DataDirOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Score one image and name the winning class. The scores (the last layer's weighted sums)
    as a bar chart; the image is one of --split's (--index) or a picture of one's own (--image)."""
    if (index is None) == (image is None):
        raise UsageError("give exactly one of --index I and --image FILE")
    if as_is and image is None:
        raise UsageError("--as-is applies to --image FILE")
    inputs = [("the weights file", weights), ("the --image file", image)]
    for name, path in (("--show-input", show_input), ("--explain", explain)):
        if path is not None and path.is_dir():
            raise UsageError(f"{name} {path} is a folder; give a file name like digit.png")
        if path is not None:
            check_output(path, f"{name} {path}", inputs)
    if show_input is not None and explain is not None and same_file(show_input, explain):
        raise UsageError(f"--show-input and --explain name one file, {show_input}; name two")
    wf = weights_file.load(weights)
    if explain is not None:
        from gdcli.viz.explain import why_not

        reason = why_not(wf.network)
        if reason:
            raise UsageError(reason)
    err = stderr_console(quiet)
    if image is not None:
        got = _picture(image, as_is, wf, err)
    else:
        xs, labels = _images(wf, split.value, data_dir)
        if index >= len(xs):  # type: ignore[operator]
            raise UsageError(f"--index {index} is past the {len(xs)} {split.value} images")
        got = PredictInput(xs[index], int(labels[index]))  # type: ignore[index]

    net, classes = wf.network, _classes(wf)
    scores, outputs = net.scores(got.x), net.predict(got.x)
    predicted = int(np.argmax(scores))
    written = []
    if show_input is not None:
        from gdcli.viz.weights_figure import png

        pixels = np.rint(np.clip(got.x, 0, 1) * 255).astype(np.uint8)
        write_bytes(show_input, png(pixels.reshape(IMAGE_SIDE, IMAGE_SIDE)))
        written.append(str(show_input))
    if explain is not None:
        from gdcli.viz.explain import explain_png

        write_bytes(explain, explain_png(net, got.x, classes, top=3))
        written.append(str(explain))

    if as_json:
        print_json(
            {
                "scores": scores.tolist(), "predicted": predicted,
                "predicted_class": classes[predicted], "label": got.label,
                "outputs": outputs.tolist(), "classes": classes, "layers": _shape(wf),
                **({"image": got.about} if got.about else {}), "written": written,
            }
        )  # fmt: skip
        return
    _print_scores(scores, outputs, classes, predicted, net.loss, net.layers[-1].activation)
    truth = f" (label {_label(classes, got.label)})" if got.label is not None else ""
    stdout.print(f"predicted: {_label(classes, predicted)}{truth}")
    for path in written:
        wrote(err, path)


def _picture(path: Path, as_is: bool, wf: weights_file.WeightsFile, err: Any) -> PredictInput:
    """A picture file -> the network's input: MNIST's form (or as is), deskewed if trained so."""
    from gdcli.data.digit import read_digit

    x, about = read_digit(path, as_is)
    if "said" in about:
        err.print(about.pop("said"), soft_wrap=True)
    if _config(wf).get("deskew"):
        x = as_trained(x[None], _config(wf))[0]
        about["deskewed"] = True
        err.print("deskewed, as the weights were trained", soft_wrap=True)
    return PredictInput(x, None, about)


def _print_scores(
    scores: np.ndarray,
    outputs: np.ndarray,
    classes: list[str],
    predicted: int,
    loss: str,
    activation: str,
) -> None:
    """A table of the scores with a bar each (zero in one column, negatives to its left)."""
    extra = "probability" if loss == "softmax" else "output" if activation != "linear" else None
    labels = [_label(classes, i) for i in range(len(scores))]
    shown = [f"{s:.4f}" for s in scores]
    extras = [f"{o:.4f}" for o in outputs] if extra else []
    # The bar column takes what the terminal leaves (a box: 3 characters a column, and 1)
    widths = [max(map(len, [*labels, "class"])), max(map(len, [*shown, "score"]))]
    if extra:
        widths.append(max(map(len, [*extras, extra])))
    room = stdout.width - sum(widths) - 3 * (len(widths) + 1) - 1
    mark = "  <- predicted" if room >= BAR_MIN + 2 + len("  <- predicted") else " <-"
    width = max(BAR_MIN, min(BAR_WIDTH, room - len(mark) - 2))  # 2: the axis, rounding
    table = Table()
    table.add_column("class", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    if extra:
        table.add_column(extra, justify="right", no_wrap=True)
    table.add_column("", justify="left", no_wrap=True)
    bars = score_bars(scores, width, _bar_chars())
    for i, bar in enumerate(bars):
        chosen = i == predicted
        extra_cell = [extras[i]] if extra else []
        table.add_row(labels[i], shown[i], *extra_cell, bar + (mark if chosen else ""),
                      style="bold" if chosen else None)  # fmt: skip
    stdout.print(table)


def score_bars(scores: np.ndarray, width: int, chars: tuple[str, str] = ("#", "|")) -> list[str]:
    """One text bar per score, all on one scale: zero at a fixed column, positive bars to its
    right, negative ones to its left; the largest magnitude gets `width` characters in all."""
    full, axis = chars
    lo, hi = min(0.0, float(scores.min())), max(0.0, float(scores.max()))
    span = (hi - lo) or 1.0
    left = round(width * -lo / span)  # columns left of zero
    out = []
    for s in scores:
        n = round(width * abs(float(s)) / span)
        neg = full * n if s < 0 else ""
        pos = full * n if s > 0 else ""
        out.append(neg.rjust(left) + (axis if lo < 0 else "") + pos)
    return out


def _bar_chars() -> tuple[str, str]:
    """Block characters where stdout can print them, ASCII elsewhere."""
    encoding = (stdout.encoding or "").lower()
    return ("\u2588", "\u2502") if "utf" in encoding else ("#", "|")


def _label(classes: list[str], i: int) -> str:
    return classes[i] if classes[i] == str(i) else f"{i} {classes[i]}"
