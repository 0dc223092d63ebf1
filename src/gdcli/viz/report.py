"""The report: one self-contained HTML page about one or more training runs.

Every figure is embedded as a data: URI and the style is inline CSS, so the file reads offline and
can be mailed. What it shows, per run: the configuration and results, the learning curves, the
weights grid and its evolution, and, from the test images, the confusion matrix, the per-class
accuracy, the most confidently wrong guesses and the dot-product explanation of one image. With
several runs, the curves are overlaid and the configurations and results compared side by side.
"""

from __future__ import annotations

import base64
import datetime
import html
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gdcli import __version__
from gdcli.data.load import load_split
from gdcli.data.registry import DEFAULT_DATASET, IMAGE_SIDE, get_dataset
from gdcli.data.transforms import as_trained
from gdcli.errors import GdcliError, UsageError, key
from gdcli.nn.metrics import Evaluation, evaluate
from gdcli.viz.heatmap import Scale
from gdcli.viz.plot import PALETTE, Run, format_value, run_labels, why_no_history, why_no_snapshots


def _why(run: Run) -> str:
    """Why a run has no history, as the report words it."""
    why = why_no_history(run)
    return "a gdcli 0.1 file" if why.startswith("a file from gdcli 0.1") else why


THUMB_SCALE = 3  # mistakes are drawn 84x84 pixels
MISSING = "-"  # a figure a run does not have
OFF_DIAGONAL_FULL = 0.2  # a confusion cell is full red when 20% of its row lands there
# The page's column is 1180 px less its paddings: a figure at most this wide shows at its own
# size in a window 1280 px wide, so its text reads as drawn.
FIGURE_WIDTH = 1080
# The page's bound (bytes): it stays small enough to mail. The animations are what grows with
# a network's width, so they get what the rest leaves: fewer frames, then fewer hidden units.
MAX_PAGE_BYTES = 3_000_000
MIN_FRAMES = 4  # an animation of fewer epochs than this shows too little; animate fewer units
ANIMATED_UNITS = (100, 64, 36, 25, 16, 9)  # hidden units to animate, tried in turn


@dataclass
class TestImages:
    """A dataset's test split: images (n, 784) float64 in [0, 1] as stored, labels (n,)."""

    x: np.ndarray
    labels: np.ndarray


@dataclass
class Report:
    """The page, and one line for each thing it could not show (and why)."""

    html: str
    notes: list[str]


def load_test_images(runs: list[Run], data_dir: Path) -> dict[str, TestImages | str]:
    """Each run's dataset's test split, or the one-line reason it could not be read."""
    out: dict[str, TestImages | str] = {}
    for name in dict.fromkeys(dataset_name(r) for r in runs):
        try:
            x, labels = load_split(get_dataset(name), data_dir, "test")
            out[name] = TestImages(x, labels)
        except GdcliError as exc:
            out[name] = exc.message
    return out


def dataset_name(run: Run) -> str:
    return str(run.config.get("dataset", DEFAULT_DATASET))


def class_names(run: Run) -> list[str]:
    try:
        return list(get_dataset(dataset_name(run)).classes)
    except GdcliError:
        return [str(i) for i in range(run.weights.network.n_outputs)]  # type: ignore[union-attr]


def build_report(
    runs: list[Run],
    tests: dict[str, TestImages | str],
    mistakes: int = 24,
    explain_index: int = 0,
) -> Report:
    """The page for `runs` (weights files), with `tests` from load_test_images.

    mistakes: how many confidently wrong test images to show; explain_index: the test image
    whose dot products are drawn.
    """
    labels = run_labels(runs)
    for r in runs:
        test = tests.get(dataset_name(r))
        if isinstance(test, TestImages) and explain_index >= len(test.labels):
            raise UsageError(
                f"{key('explain_index')} {explain_index} is past the {len(test.labels)} test images"
            )
    colours = _colours(runs)
    body = [_curves_section(runs, labels), _runs_section(runs, labels, colours)]
    animations: list[Animation] = []
    for i, (run, label) in enumerate(zip(runs, labels, strict=True), 1):
        test = tests.get(dataset_name(run))
        heading = _run_heading(i, label, colours[i - 1]) if len(runs) > 1 else ""
        body.append(heading + _run_sections(i, run, test, mistakes, explain_index, animations))
    one = len(runs) == 1
    title = f"gdcli report: {runs[0].path.name}" if one else f"gdcli report: {len(runs)} runs"
    page = _page(title, runs, labels, body)
    # the animations last, in what the rest of the page leaves of its bound, shared evenly
    left = MAX_PAGE_BYTES - len(page.encode()) + sum(len(a.marker) for a in animations)
    for a in animations:
        page = page.replace(a.marker, a.draw(max(0, left // len(animations))), 1)
    return Report(page, _notes(runs, tests))


def _notes(runs: list[Run], tests: dict[str, TestImages | str]) -> list[str]:
    """One line per thing the page cannot show, and why."""
    notes = []
    for r in runs:
        if not r.history:
            notes.append(f"{r.path}: no training history ({_why(r)}): no learning curves")
        if not r.weights or not r.weights.snapshots:
            why = why_no_snapshots(r)
            notes.append(f"{r.path}: no weight snapshots ({why}): no evolution")
    for test in tests.values():
        if isinstance(test, str):
            notes.append(
                f"{test}: no confusion matrix, per-class accuracy, mistakes or explanation"
            )
    return notes


def _colours(runs: list[Run]) -> list[str | None]:
    """Each run's colour in the curves (runs without history are not drawn)."""
    drawn = iter(PALETTE * (1 + len(runs) // len(PALETTE)))
    return [next(drawn) if r.history else None for r in runs]


def _curves_section(runs: list[Run], labels: list[str]) -> str:
    from gdcli.viz.plot import SPLIT_NAMES, curves_png, splits, wants_log

    drawn = [(lab, r.history) for lab, r in zip(labels, runs, strict=True) if r.history]
    if drawn:
        png = curves_png(drawn, width=FIGURE_WIDTH)
        content = _img(png, "image/png", "learning curves", "figure")
    else:
        content = _note("No run holds a training history (files written by gdcli 0.1).")
    found = splits([h for _, h in drawn])
    styles = {"val": "dotted", "test": "dashed"}
    others = [f"on the {SPLIT_NAMES.get(s, s)} images ({styles.get(s, 'dash-dotted')}, at the "
              "epochs they were measured)" for s in found if s != "train"]  # fmt: skip
    log = (
        " The error axis is logarithmic: the errors span more than a decade."
        if wants_log([h for _, h in drawn])
        else ""
    )
    many = " One colour per run; the table below lists every setting that differs."
    intro = (
        "Error and accuracy on the training images (solid: each image's prediction just before "
        "its own update, as the book reports them)"
        + ("" if not others else " and " + " and ".join(others))
        + "."
        + log
        + (many if len(drawn) > 1 else "")
        + " A test curve that stops improving while the train curve keeps going is the network "
        "memorising its training images instead of learning the digits."
    )
    return _section("curves", "Learning curves", intro, content)


def _runs_section(runs: list[Run], labels: list[str], colours: list[str | None]) -> str:
    if len(runs) == 1:
        content = _result_cards(_results(runs[0])) + _config_grid(runs[0].config)
        return _section("runs", "Configuration and results", "", content)
    intro = (
        "The runs side by side. Highlighted rows are the settings where they differ (listed "
        "first); the best figure of each result is in green."
    )
    heads = [_swatch(c) + _e(lab) for lab, c in zip(labels, colours, strict=True)]
    content = _config_table(runs, heads) + _results_table(runs, heads)
    return _section("runs", "Runs compared", intro, content)


def _run_heading(i: int, label: str, colour: str | None) -> str:
    return f'<h2 class="run" id="run-{i}">{_swatch(colour)}Run {i}: {_e(label)}</h2>'


def _swatch(colour: str | None) -> str:
    return f'<span class="sw" style="background:{colour}"></span>' if colour else ""


# --- per run --------------------------------------------------------------------------------


def _run_sections(
    i: int,
    run: Run,
    test: TestImages | str | None,
    mistakes: int,
    explain_index: int,
    animations: list[Animation],
) -> str:
    wf = run.weights
    assert wf is not None
    net = wf.network
    classes = class_names(run)
    parts = [_weights_section(i, run, animations)]
    if isinstance(test, TestImages):
        x_seen = as_trained(test.x, run.config)
        ev = evaluate(net, x_seen, test.labels)
        parts.append(_accuracy_section(i, ev, classes, len(test.labels)))
        if mistakes:
            parts.append(_mistakes_section(i, run, test, x_seen, classes, mistakes))
        parts.append(_explain_section(i, run, test, x_seen, classes, explain_index))
    else:
        why = test or "no test images"
        note = _note(
            f"{why}. Run `gdcli fetch` (with the same data folder) and write the report again "
            "to see the confusion matrix, per-class accuracy, mistakes and explanation."
        )
        parts.append(_section(f"test-{i}", "Test images", "", note))
    return "\n".join(parts)


@dataclass
class Animation:
    """A run's evolution GIF, drawn once the rest of the page is known: `marker` stands in
    the page where draw(budget) puts it, within `budget` bytes of page."""

    marker: str
    run: Run
    scale: Scale

    def draw(self, budget: int) -> str:
        return _evolution(self.run, self.scale, budget)


def _weights_section(i: int, run: Run, animations: list[Animation]) -> str:
    from gdcli.viz.weights_figure import png
    from gdcli.viz.weights_views import final_figures

    wf = run.weights
    assert wf is not None
    layers = wf.network.layers
    scale, images = final_figures(wf, FIGURE_WIDTH)
    what = (
        "each class's 784 weights"
        if len(layers) == 1
        else f"each of the first layer's {layers[0].weights.shape[1]} hidden units' 784 weights"
    )
    figures = [_img(png(images[0]), "image/png", "the final weights of layer 1", "figure")]
    if wf.snapshots:
        marker = f"<!--gdcli-animation-{i}-->"
        animations.append(Animation(marker, run, scale))
        figures.append(marker)
    else:
        figures.append(_note(f"No snapshots in this file ({why_no_snapshots(run)}): no evolution."))
    for k, img in enumerate(images[1:], 2):
        figures.append(_img(png(img), "image/png", f"the final weights of layer {k}", "figure"))
    intro = (
        f"The weights as pictures: {what} as a 28x28 image, after training. A pixel where the "
        "weight is positive (red) raises that output's score when it is inked; a negative one "
        f"(blue) lowers it. One colour scale, \u00b1{scale.value:.3g}, for the picture and the "
        "animation of its training under it, so one colour is one weight in both."
    )
    if (conv := layers[0].conv) is not None:
        k, q, n = conv.kernel, conv.pooled_span, layers[0].weights.shape[1]
        to = "class" if len(layers) == 2 else "unit of layer 2"
        intro = (
            f"The weights as pictures: each of the {n} kernels' {k * k} weights as a {k}x{k} "
            "image, after training. A kernel slides over the image; where its weight is "
            "positive (red), ink on that pixel of the patch raises its sum; a negative one "
            f"(blue) lowers it. One colour scale, \u00b1{scale.value:.3g}, for the kernels and "
            "the animation of their training under them. Below, layer 2 as a table of maps: "
            f"for each {to} (a row) and kernel (a column), the weights from that kernel's "
            f"{q}x{q} feature map, laid out as the map is, on their own scale."
        )
        if len(layers) > 2:
            intro += " Then the later layers as heatmaps of their weight matrices."
    elif len(layers) > 1:
        later = "layer 2" if len(layers) == 2 else f"layers 2 to {len(layers)}"
        intro += (
            f" Below them, {later} as heatmaps of their weight matrices, each on its own "
            "scale (its colour bar)."
        )
    return _section(f"weights-{i}", "Weights", intro, "".join(figures))


def _evolution(run: Run, scale: Scale, budget: int) -> str:
    """The evolution GIF of `run`'s first layer on `scale` in at most `budget` bytes of page
    (base64), with a caption saying what it shows and what was left out to fit."""
    from gdcli.viz import weights_figure as figure
    from gdcli.viz import weights_views as views

    wf = run.weights
    assert wf is not None
    every = views.animation_epochs(wf)
    names = views.panel_names(wf)
    hidden = len(wf.network.layers) > 1
    ranked = _most_changed(run) if hidden else list(range(len(names)))
    counts = [len(names)] + [k for k in ANIMATED_UNITS if k < len(names)] if hidden else [10**9]
    conv = wf.network.layers[0].conv
    # a kernel's k x k panel about as large as a 28x28 one
    upscale = (3 if hidden else 4) * (1 if conv is None else max(1, IMAGE_SIDE // conv.kernel))

    def gif(units: list[int], epochs: list[int]) -> bytes:
        frames = views.animation_frames(wf, epochs, units)
        shown = (
            f"Layer 1: the {len(units)} hidden units that changed most"
            if len(units) < len(names)
            else views.animation_title(wf)
        )
        return figure.evolution_gif(
            frames, [names[u] for u in units], scale=scale, what=shown, subtitle="",
            poster=True, bar=False, max_width=FIGURE_WIDTH, upscale=upscale,
        )  # fmt: skip

    # Every frame (up to MAX_FRAMES) with as many units as fit; when even the fewest units
    # cannot have every frame, the most units that still get MIN_FRAMES.
    wanted = min(len(every), figure.MAX_FRAMES)
    fits = {}
    for k in counts:
        units = sorted(ranked[:k])
        probe = gif(units, [every[0], every[-1]])  # the first frames are as busy as any
        fits[k] = int(budget // (4 / 3 * len(probe) / 2))
        if fits[k] >= wanted:
            break
    fitting = [k for k in fits if fits[k] >= wanted] or [
        k for k in fits if fits[k] >= min(MIN_FRAMES, wanted)
    ]
    if fitting:
        units = sorted(ranked[: fitting[0]])
        epochs = figure.spread(every, min(fits[fitting[0]], wanted))
        data = gif(units, epochs)
        while 4 / 3 * len(data) > budget and len(epochs) > MIN_FRAMES:
            epochs = figure.spread(every, len(epochs) - 1 - len(epochs) // 4)
            data = gif(units, epochs)
        if 4 / 3 * len(data) <= budget:
            return _figure(
                _img(data, "image/gif", "the weights' evolution", "figure"),
                _evolution_caption(epochs, every, units, len(names), hidden, scale),
            )
    return _note(
        f"The evolution through the {len(every)} snapshots is left out: even {MIN_FRAMES} "
        f"frames of it would take the page past {MAX_PAGE_BYTES / 1e6:g} MB."
    )


def _most_changed(run: Run) -> list[int]:
    """The first layer's hidden units, the one whose weights moved furthest from their start
    (the epoch-0 snapshot, else zero) first."""
    wf = run.weights
    assert wf is not None
    final = wf.network.layers[0].weights
    start = np.asarray(wf.snapshots[0][0], np.float64) if 0 in wf.snapshots else 0.0
    moved = np.linalg.norm(final - start, axis=0)
    return [int(j) for j in np.argsort(-moved, kind="stable")]


def _evolution_caption(
    epochs: list[int], every: list[int], units: list[int], n_units: int, hidden: bool,
    scale: Scale,
) -> str:  # fmt: skip
    from gdcli.viz import weights_figure as figure

    listed = ", ".join(str(e) for e in epochs)
    text = (
        f"The training, one frame per epoch kept: {listed}. Its first frame is the final "
        "weights (so a still of the page shows them); it then plays from the first epoch and "
        f"loops back to them. Same colours as the picture above (\u00b1{scale.value:.3g})."
    )
    bound = f"to keep the page under {MAX_PAGE_BYTES / 1e6:g} MB"
    if len(epochs) < len(every):
        cap = figure.MAX_FRAMES
        why = bound if len(epochs) < cap else f"at most {cap} frames"
        text += (
            f" The animation shows {len(epochs)} of the {len(every)} snapshots, spread evenly "
            f"from epoch {epochs[0]} to {epochs[-1]} ({why})."
        )
    if hidden and len(units) < n_units:
        text += (
            f" Left out {bound}: {n_units - len(units)} of the {n_units} hidden units (shown: "
            f"the {len(units)} whose weights moved furthest from their start)."
        )
    if len(epochs) < len(every) or len(units) < n_units:
        text += " `gdcli visualize-weights --animate` draws them all."
    return text


def _accuracy_section(i: int, ev: Evaluation, classes: list[str], n: int) -> str:
    intro = (
        f"All {n} test images: {100 * ev.accuracy:.2f}% correct, error {ev.error:.4f}. In the "
        "matrix, rows are the true class and columns the network's guess; blue cells are right "
        "guesses, red cells mistakes (darker: more of the row's images)."
    )
    matrix = _figure(_confusion_table(ev.confusion, classes), "Confusion matrix")
    bars = _figure(_per_class_table(ev, classes), "Accuracy per class")
    return _section(f"test-{i}", "Test images", intro, f'<div class="pair">{matrix}{bars}</div>')


def _confusion_table(confusion: np.ndarray, classes: list[str]) -> str:
    totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fraction = confusion / totals
    head = "".join(f'<th title="{_e(c)}">{j}</th>' for j, c in enumerate(classes))
    rows = []
    for t, name in enumerate(classes):
        cells = []
        for g in range(len(classes)):
            count, f = int(confusion[t, g]), float(fraction[t, g])
            if t == g:
                colour, level = (37, 99, 235), f
            else:
                colour, level = (220, 38, 38), min(1.0, f / OFF_DIAGONAL_FULL)
            bg = ",".join(str(round(255 + (c - 255) * level)) for c in colour)
            ink = ' class="dark"' if level > 0.55 else ""
            tip = f"true {name}, guessed {classes[g]}: {count} ({100 * f:.1f}% of the row)"
            cells.append(f'<td{ink} style="background:rgb({bg})" title="{_e(tip)}">'
                         f"{count or ''}</td>")  # fmt: skip
        rows.append(f'<tr><th class="l">{_e(_class_label(t, name))}</th>{"".join(cells)}</tr>')
    return (f'<table class="cm"><thead><tr><th class="l">true \\ guess</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip


def _per_class_table(ev: Evaluation, classes: list[str]) -> str:
    totals = ev.confusion.sum(axis=1)
    worst = int(np.nanargmin(ev.per_class)) if np.isfinite(ev.per_class).any() else -1
    rows = []
    for c, name in enumerate(classes):
        acc = float(ev.per_class[c])
        pct = MISSING if math.isnan(acc) else f"{100 * acc:.1f}%"
        width = 0 if math.isnan(acc) else 100 * acc
        mark = ' class="worst"' if c == worst else ""
        rows.append(
            f'<tr{mark}><th class="l">{_e(_class_label(c, name))}</th>'
            f'<td><div class="bar"><span style="width:{width:.1f}%"></span></div></td>'
            f'<td>{pct}</td><td class="muted">{int(totals[c])}</td></tr>'
        )
    return ('<table class="pc"><thead><tr><th class="l">class</th><th></th><th>accuracy</th>'
            f'<th>images</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')  # fmt: skip


def _mistakes_section(
    i: int, run: Run, test: TestImages, x_seen: np.ndarray, classes: list[str], count: int
) -> str:
    from gdcli.viz.weights_figure import png

    net = run.weights.network  # type: ignore[union-attr]
    softmax = net.loss == "softmax"
    outputs = net.predict(x_seen)
    # Softmax outputs saturate at 1 and 0; their scores (before softmax) do not, and the gap
    # between two scores is the log of how much likelier the network finds one class.
    ranked = net.scores(x_seen) if softmax else outputs
    guess = np.argmax(outputs, axis=1)
    rows = np.arange(len(guess))
    wrong = np.flatnonzero(guess != test.labels)
    gap = ranked[rows, guess] - ranked[rows, test.labels]
    order = wrong[np.argsort(-gap[wrong], kind="stable")][:count]
    if softmax:
        how = (
            "sorted by how far the wrong guess's score beat the true class's (the scores "
            "before softmax: a gap of g means the network found its guess e^g times likelier). "
            "Under each image: the probabilities of the guess and of the true class, then "
            "their scores, then the image's number in the test set."
        )
    else:
        how = (
            "sorted by how far the network's output for the wrong guess beat its output for "
            "the true class (the two numbers under each image), then the image's number in "
            "the test set."
        )
    deskewed = bool(run.config.get("deskew"))
    seen = (
        " The images are shown deskewed (straightened by their second moments), as this "
        "network was trained and tested on them."
        if deskewed
        else ""
    )
    intro = (
        f"{len(wrong)} of {len(guess)} test images are guessed wrong. These are the "
        f"{len(order)} the network was surest of, {how}{seen}"
    )
    tiles = []
    for k in order:
        image = np.clip(x_seen[k], 0.0, 1.0)
        pixels = np.rint(image * 255).reshape(IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8)
        big = pixels.repeat(THUMB_SCALE, axis=0).repeat(THUMB_SCALE, axis=1)
        g, t = int(guess[k]), int(test.labels[k])
        alt = f"test image {k}: guessed {classes[g]}, true {classes[t]}"
        if softmax:
            figures = (f"p {_sig(outputs[k, g])} vs {_sig(outputs[k, t])}<br>"
                       f"scores {_sig(ranked[k, g])} vs {_sig(ranked[k, t])}")  # fmt: skip
        else:
            figures = f"{_sig(outputs[k, g])} vs {_sig(outputs[k, t])}"
        tiles.append(
            f'<figure class="m">{_img(png(big), "image/png", alt)}'
            f'<figcaption>guess <span class="bad">{_e(classes[g])}</span> · true '
            f'<span class="good">{_e(classes[t])}</span><br><span class="muted">'
            f"{figures}<br>test #{k}</span></figcaption></figure>"
        )
    content = f'<div class="mistakes">{"".join(tiles)}</div>' if tiles else _note("No mistakes.")
    return _section(f"mistakes-{i}", "Most confident mistakes", intro, content)


def _sig(value: float) -> str:
    """A figure to three significant digits, trailing zeros kept: 1.00, 0.0123, 1.23e-05."""
    text = f"{float(value):#.3g}".replace("e-0", "e-").replace("e+0", "e+")
    return text.replace(".e", "e").removesuffix(".")  # "123." and "1.e-5" keep no bare point


def _explain_section(
    i: int, run: Run, test: TestImages, x_seen: np.ndarray, classes: list[str], index: int
) -> str:
    from gdcli.viz.explain import explain_png, why_not

    net = run.weights.network  # type: ignore[union-attr]
    title = "Why it guessed what it guessed"
    if why := why_not(net):
        return _section(
            f"explain-{i}",
            title,
            "",
            _note(why.replace(key("explain"), "This picture", 1)),
        )
    scores = net.scores(x_seen[index])
    guess, true = int(np.argmax(scores)), int(test.labels[index])
    if net.layers[0].conv is not None:
        intro = (
            f"Test image #{index} (a {_e(classes[true])}, guessed {_e(classes[guess])}). Each "
            "kernel slides over the image; its activation at every position is its feature "
            "map, what the next layer reads. Each map is drawn under its kernel."
        )
        if len(net.layers) == 2:
            intro += (
                " A class's score is the sum over the kernels of each map times its output "
                "weights (plus the bias): under each map, what it adds to the guessed class's "
                "score, the largest first."
            )
        png = explain_png(net, x_seen[index], classes)
        return _section(
            f"explain-{i}", title, intro, _img(png, "image/png", "explanation", "figure")
        )
    intro = (
        f"Test image #{index} (a {_e(classes[true])}, guessed {_e(classes[guess])}). A class's "
        "score is the dot product of the image with that class's weights: multiply pixel by "
        "weight, then add up. Each row shows the input, a class's weights and their product, "
        "for the highest-scoring classes; the sum of the product is the score, and the largest "
        "score wins."
    )
    if run.config.get("deskew"):
        intro += " The input is the image deskewed, as this network sees it."
    if len(net.layers) > 1:
        intro += (
            " With hidden layers, a class's weights here are the ones this image sees: the "
            "first layer's weights through the hidden units it switches on, times the layers "
            "above (for a fixed input a relu network is linear)."
        )
    png = explain_png(net, x_seen[index], classes)
    return _section(f"explain-{i}", title, intro, _img(png, "image/png", "explanation", "figure"))


# --- comparison tables ----------------------------------------------------------------------


def _config_table(runs: list[Run], heads: list[str]) -> str:
    """Settings (rows) by runs (columns); rows that differ first, highlighted."""
    keys = list(dict.fromkeys(k for r in runs for k in r.config))
    rows = {
        k: [format_value(r.config[k]) if k in r.config else MISSING for r in runs] for k in keys
    }
    differ = [k for k in keys if len(set(rows[k])) > 1]
    body = []
    for k in differ + [k for k in keys if k not in differ]:
        mark = ' class="diff"' if k in differ else ""
        cells = "".join(f"<td>{_e(v)}</td>" for v in rows[k])
        body.append(f'<tr{mark}><th class="l">{_e(k)}</th>{cells}</tr>')
    head = "".join(f"<th>{h}</th>" for h in heads)
    return (f'<table class="cfg"><thead><tr><th class="l">setting</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")  # fmt: skip


def _config_grid(config: dict[str, Any]) -> str:
    items = "".join(
        f"<div><dt>{_e(k)}</dt><dd>{_e(format_value(v))}</dd></div>" for k, v in config.items()
    )
    return f'<h4>Configuration</h4><dl class="kv">{items}</dl>'


def _result_cards(results: dict[str, tuple[float | None, str]]) -> str:
    cards = "".join(
        f'<div class="card"><div class="v">{_e(text)}</div><div class="k">{_e(name)}</div></div>'
        for name, (_, text) in results.items()
    )
    return f'<div class="cards">{cards}</div>'


def _results(run: Run) -> dict[str, tuple[float | None, str]]:
    """Figures of a run: name -> (value to rank, text). From its history, else its meta."""
    summary = run.weights.meta.get("metrics", {}) if run.weights else {}
    h = run.history
    last = h[-1] if h else summary
    tested = [e for e in h if e.get("test_accuracy") is not None]
    # the figures of the weights the file holds: the best epoch's with keep = best
    last_epoch = last.get("epoch", last.get("epochs"))
    held = summary.get("weights_epoch", last_epoch)
    at_held = [e for e in tested if e.get("epoch") == held]
    final_test = at_held[-1] if at_held else tested[-1] if tested else ({} if h else summary)
    best = max(tested, key=lambda e: e["test_accuracy"]) if tested else None
    seconds = summary.get("seconds", h[-1].get("seconds") if h else None)

    def pct(v: Any) -> tuple[float | None, str]:
        return (v, f"{100 * v:.2f}%") if isinstance(v, (int, float)) else (None, MISSING)

    def num(v: Any) -> tuple[float | None, str]:
        return (v, f"{v:.4f}") if isinstance(v, (int, float)) else (None, MISSING)

    validation = {}
    if final_test.get("val_accuracy") is not None:
        validation = {"validation accuracy": pct(final_test.get("val_accuracy"))}
    return {
        **validation,
        "test accuracy": pct(final_test.get("test_accuracy")),
        "test error": num(final_test.get("test_error")),
        "train accuracy (during the last epoch)": pct(last.get("train_accuracy")),
        "train error (during the last epoch)": num(last.get("train_error")),
        "weights of epoch": (None, MISSING if held is None else str(held)),
        "best test accuracy": pct(best["test_accuracy"] if best else None),
        "best at epoch": (None, str(best["epoch"]) if best else MISSING),
        "epochs": (None, MISSING if last_epoch is None else str(last_epoch)),
        "training time": (
            None,
            f"{seconds:.1f} s" if isinstance(seconds, (int, float)) else MISSING,
        ),
    }


def _results_table(runs: list[Run], heads: list[str]) -> str:
    results = [_results(r) for r in runs]
    lower_is_better = {"train error (during the last epoch)", "test error"}
    rows = []
    names = list(dict.fromkeys(name for res in results for name in res))  # some have validation
    results = [{name: res.get(name, (None, MISSING)) for name in names} for res in results]
    for name in names:
        values = [res[name][0] for res in results]
        ranked = [v for v in values if v is not None]
        best = None
        if len(runs) > 1 and len(ranked) > 1 and len(set(ranked)) > 1:
            best = min(ranked) if name in lower_is_better else max(ranked)
        cells = "".join(
            f"<td{' class=best' if v is not None and v == best else ''}>{_e(res[name][1])}</td>"
            for v, res in zip(values, results, strict=True)
        )
        rows.append(f'<tr><th class="l">{_e(name)}</th>{cells}</tr>')
    head = "".join(f"<th>{h}</th>" for h in heads)
    return (f'<table class="res"><thead><tr><th class="l">result</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")  # fmt: skip


# --- HTML -----------------------------------------------------------------------------------


def _e(text: Any) -> str:
    return html.escape(str(text))


def _class_label(index: int, name: str) -> str:
    return name if name == str(index) else f"{index} {name}"


def _img(data: bytes, mime: str, alt: str, cls: str = "") -> str:
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} src="{uri}" alt="{_e(alt)}">'


def _figure(content: str, caption: str) -> str:
    return f"<figure>{content}<figcaption>{_e(caption)}</figcaption></figure>"


def _note(text: str) -> str:
    return f'<p class="note">{_e(text)}</p>'


def _section(anchor: str, title: str, intro: str, content: str) -> str:
    lead = f'<p class="lead">{intro}</p>' if intro else ""
    return f'<section id="{anchor}"><h3>{_e(title)}</h3>{lead}{content}</section>'


def _page(title: str, runs: list[Run], labels: list[str], body: list[str]) -> str:
    files = ", ".join(_e(r.path) for r in runs)
    datasets = ", ".join(dict.fromkeys(dataset_name(r) for r in runs))
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    links = ['<a href="#curves">curves</a>', '<a href="#runs">configuration</a>']
    if len(runs) == 1:
        links += [f'<a href="#{a}-1">{t}</a>' for a, t in
                  (("weights", "weights"), ("test", "test images"), ("mistakes", "mistakes"),
                   ("explain", "explanation"))]  # fmt: skip
    else:
        links += [f'<a href="#run-{i}" title="{_e(lab)}">run {i}</a>'
                  for i, lab in enumerate(labels, 1)]  # fmt: skip
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gdcli {__version__}">
<title>{_e(title)}</title>
<style>{CSS}</style></head>
<body>
<header><div class="wrap"><h1>{_e(title)}</h1>
<p class="sub">{files} · dataset {_e(datasets)} · written {when} by gdcli {__version__}</p>
<nav>{" ".join(links)}</nav></div></header>
<main class="wrap">
{"".join(body)}
</main>
<footer class="wrap">Everything on this page is in this one file: it reads offline and can be
mailed. Made by <code>gdcli report</code>.</footer>
</body></html>
"""


CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d8dee4; --bg: #f3f5f8; --accent: #2563eb;
        --diff: #fff4c2; --good: #15803d; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg);
       font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
header { background: #1e293b; color: #f8fafc; padding: 22px 0 14px; }
header h1 { margin: 0; font-size: 24px; font-weight: 650; }
header .sub { margin: 4px 0 10px; color: #cbd5e1; font-size: 13px; overflow-wrap: anywhere; }
nav a { color: #93c5fd; margin-right: 16px; text-decoration: none; font-size: 14px; }
nav a:hover { text-decoration: underline; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px;
          padding: 18px 24px 20px; margin: 18px 0; }
h2.run { margin: 34px 0 0; font-size: 21px; padding-bottom: 4px;
         border-bottom: 3px solid var(--accent); }
h3 { margin: 0 0 4px; font-size: 18px; }
p.lead { color: var(--muted); margin: 0 0 14px; max-width: 80ch; }
p.note { border-left: 4px solid #d4a72c; background: #fffbeb; padding: 8px 12px; margin: 8px 0; }
img.figure { display: block; max-width: 100%; height: auto; margin: 0 0 14px; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.pair { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.pair > figure { flex: 1 1 420px; min-width: 0; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px; }
th, td { padding: 4px 12px; text-align: right; border-bottom: 1px solid var(--line); }
th { font-weight: 600; }
th.l { text-align: left; }
thead th { border-bottom: 2px solid var(--line); vertical-align: bottom; }
table.cfg, table.res { margin: 0 24px 12px 0; display: inline-table; vertical-align: top; }
tr.diff th, tr.diff td { background: var(--diff); }
td.best { font-weight: 700; color: var(--good); }
table.cm td { width: 42px; height: 30px; padding: 0; text-align: center; font-size: 12px;
              border: 1px solid #fff; }
table.cm td.dark { color: #fff; }
table.cm th { padding: 2px 6px; font-size: 12px; text-align: center; }
table.cm th.l { text-align: left; }
.bar { width: 180px; height: 12px; background: #e5e7eb; border-radius: 6px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--accent); }
tr.worst th, tr.worst td { color: var(--bad); }
tr.worst .bar > span { background: var(--bad); }
.muted { color: var(--muted); }
.mistakes { display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr));
            gap: 14px 10px; }
figure.m { text-align: center; font-size: 13px; line-height: 1.35; }
figure.m img { width: 84px; height: 84px; border-radius: 4px; image-rendering: pixelated; }
figure.m figcaption { margin-top: 2px; color: var(--fg); }
.bad { color: var(--bad); font-weight: 700; }
.good { color: var(--good); font-weight: 700; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 4px 0 16px; }
.card { flex: 1 1 96px; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px;
        background: #fafbfc; }
.card .v { font-size: 19px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 13px; }
h4 { margin: 8px 0 6px; font-size: 15px; }
dl.kv { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr));
        gap: 0 18px; margin: 0; font-size: 14px; }
dl.kv > div { display: flex; justify-content: space-between; gap: 8px; padding: 3px 0;
              border-bottom: 1px solid var(--line); }
dl.kv dt { font-weight: 600; }
dl.kv dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 7px;
      vertical-align: baseline; }
footer { color: var(--muted); font-size: 13px; padding: 8px 24px 32px; }
code { font-size: 13px; }
@media print { body { background: #fff; } section { break-inside: avoid; } }
"""
