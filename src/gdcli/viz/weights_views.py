"""What visualize-weights draws from a weights file, and the files it writes.

Which weights: the final ones, a snapshot (`epoch`), or what training added (`change`: the
weights minus their epoch-0 snapshot). How: a one-layer network as one 28x28 panel per class;
a deeper one as its first layer's hidden units (28x28 panels, the pixels each unit looks at)
and every later layer as a small heatmap of its weight matrix. A convolutional network (chapter
10): its kernels (k x k panels, one colour scale) and its second layer as a table of maps, one
per kernel (column) and output unit (row): the weights from that kernel's feature map, laid out
as the map is (25x25 for the book). Options are checked against the file before anything is
written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gdcli.data.registry import IMAGE_SIDE, registry, resolve_data_dir
from gdcli.errors import GdcliError, UsageError, key
from gdcli.io.atomic import write_bytes
from gdcli.io.paths import check_not_input
from gdcli.io.weights_file import WeightsFile, snapshot_frames
from gdcli.viz import weights_figure as figure
from gdcli.viz.heatmap import Scale, choose_scale, digit_image

if TYPE_CHECKING:
    from PIL import Image


# A first layer of more hidden units than this gets no file per unit (best-mlp's 256 would be
# 256 files, 512 with --format both): grid.png holds them all. The book's chapter-8 network
# (40 units) keeps its per-unit files.
MAX_UNIT_FILES = 40


@dataclass(frozen=True)
class Options:
    """What to draw and where. formats: per-panel files, "png" and/or "pgm". outputs: the
    classes to draw (--digits), None for all. upscale: pixels per weight in the panel files."""

    out_dir: Path
    formats: tuple[str, ...] = ("png",)
    upscale: int = 10
    colormap: str = "diverging"
    outputs: tuple[int, ...] | None = None
    scale_max: float | None = None
    epoch: int | None = None
    change: bool = False
    animate: Path | None = None


@dataclass
class Drawn:
    """What was written: the files, each layer's colour scale, the epoch drawn (None when
    unknown) and notes on what the file could not give."""

    written: list[Path] = field(default_factory=list)
    scales: list[Scale] = field(default_factory=list)
    epoch: int | None = None
    notes: list[str] = field(default_factory=list)
    likeness: float | None = None  # see likeness(): below LOOKS_LIKE_NOTHING shows no class


# Below this mean correlation of the classes' weights with their mean images, a person sees no
# class in the panels: the book's memorised chapter-5 run scores 0.04, its 10-epoch run 0.08;
# what its first epoch added 0.18 (the 1's stroke shows), configs/best.toml 0.43 (measured on
# the real MNIST, docs/experiments.md).
LOOKS_LIKE_NOTHING = 0.1
# The mean images are taken over the first training images of the run, at most this many
# (the book's 1,000 all): the means of more hardly differ, and reading them costs more.
LIKENESS_IMAGES = 2000


def likeness(
    wf: WeightsFile,
    weights: np.ndarray,
    outputs: list[int] | None = None,
    data_dir: Path | None = None,
) -> float | None:
    """How much the 28x28 pictures of a one-layer network look like its classes.

    Parameters
    ----------
    wf : WeightsFile
        The run: its config names the dataset, the training images and their preprocessing.
    weights : (784, k) array
        The first layer's weights as drawn (a snapshot, or what training added).
    outputs : list of int, optional
        The classes drawn; None: all of them.
    data_dir : path, optional
        The data folder; None: the default one (and Debian's system copy).

    Returns
    -------
    float or None
        The mean over the classes of nn.metrics.mean_image_correlations (each class's weights
        against the mean of its training images, as the network saw them); below
        LOOKS_LIKE_NOTHING a person sees no class in the panels. None when it cannot be
        measured: a network with hidden layers (its panels are units, not classes), or the
        run's training images cannot be read.
    """
    from gdcli.config import DEFAULTS
    from gdcli.data.load import load_split
    from gdcli.data.transforms import as_trained
    from gdcli.nn.metrics import mean_image_correlations
    from gdcli.sizes import images_in

    config = wf.meta.get("config", {})
    dataset = registry().get(str(config.get("dataset", "mnist")))
    if len(wf.network.layers) != 1 or dataset is None or weights.shape[1] != len(dataset.classes):
        return None
    try:
        folder = resolve_data_dir(data_dir)
        n_train = int(config.get("n_train", DEFAULTS.n_train))
        n = min(n_train, LIKENESS_IMAGES, images_in(dataset.train_images.idx_bytes))
        x, labels = load_split(dataset, folder, "train", n)
    except GdcliError:  # not fetched, or a data folder that is not one: nothing to say
        return None
    corr = mean_image_correlations(weights, as_trained(x, config), labels)
    chosen = corr[list(outputs)] if outputs is not None else corr
    chosen = chosen[np.isfinite(chosen)]
    return float(chosen.mean()) if len(chosen) else None


def class_labels(wf: WeightsFile) -> list[str]:
    """The output classes' names from the dataset registry (digits, clothing), else numbers."""
    n = wf.network.n_outputs
    dataset = registry().get(str(wf.meta.get("config", {}).get("dataset", "mnist")))
    if dataset is not None and len(dataset.classes) == n:
        return list(dataset.classes)
    return [str(i) for i in range(n)]


def final_epoch(wf: WeightsFile) -> int | None:
    """The epoch of the file's final weights (its network): the summary's weights_epoch (with
    keep = best the best epoch, not the last one run), else the last of its history, else the
    summary's epochs."""
    kept = wf.meta.get("metrics", {}).get("weights_epoch")
    if isinstance(kept, int):
        return kept
    if wf.history:
        return int(wf.history[-1]["epoch"])
    epochs = wf.meta.get("metrics", {}).get("epochs")
    return epochs if isinstance(epochs, int) else None


def _no_snapshots(wf: WeightsFile, source: Path, what: str) -> UsageError:
    if not wf.history:  # gdcli 0.2's train always writes the history
        why = "it is a gdcli 0.1 file (format 1), which kept only the final weights"
    else:
        why = "it was trained without snapshots"
    return UsageError(
        f"{source} holds no snapshots of the weights, so {what} cannot be drawn: {why}",
        hint=f"train again with this gdcli: `gdcli train` keeps snapshots (see {key('snapshots')})",
    )


def _epochs_hint(wf: WeightsFile) -> str:
    last = final_epoch(wf)
    epochs = sorted(set(wf.snapshots) | ({last} if last is not None else set()))
    return "its weights are kept at epochs " + ", ".join(str(e) for e in epochs)


def check(wf: WeightsFile, opts: Options, source: Path) -> None:
    """Raise UsageError (exit 2) when `opts` asks for what `wf` cannot give or names an
    output path that cannot be one, before anything is written."""
    for option, value in ((key("epoch"), opts.epoch), (key("change"), opts.change),
                          (key("animate"), opts.animate)):  # fmt: skip
        if value not in (None, False) and not wf.snapshots:
            raise _no_snapshots(wf, source, option)
    if opts.epoch is not None and opts.epoch not in wf.snapshots and opts.epoch != final_epoch(wf):
        raise UsageError(f"{source} has no weights of epoch {opts.epoch}", hint=_epochs_hint(wf))
    if opts.change and 0 not in wf.snapshots:
        raise UsageError(
            f"{source} has no snapshot of epoch 0 (the starting weights), which "
            f"{key('change')} subtracts",
            hint=_epochs_hint(wf),
        )
    _check_folder(opts.out_dir, key("out_dir"), opts.out_dir)
    if opts.animate is not None:
        if opts.animate.is_dir():
            raise UsageError(
                f"{key('animate')} {opts.animate} is a folder; name the GIF file to write"
            )
        if opts.animate.suffix.lower() != ".gif":
            raise UsageError(
                f"{key('animate')} writes a GIF; name it *.gif, not {opts.animate.name}"
            )
        _check_folder(opts.animate.parent, key("animate"), opts.animate)
    inputs = [("the weights file", source)]
    for path in planned(wf, opts):
        where = (
            f"{key('animate')} {path}"
            if path == opts.animate
            else f"{key('out_dir')} {opts.out_dir}: {path}"
        )
        check_not_input(path, where, inputs)


def planned(wf: WeightsFile, opts: Options) -> list[Path]:
    """Every file draw() would write for `wf` and `opts`."""
    view = _View(wf, opts)
    paths = [opts.out_dir / f"{view.stem}-{j}.{f}" for j in view.files for f in opts.formats]
    paths.append(opts.out_dir / "grid.png")
    paths += [opts.out_dir / f"layer-{i}.png" for i in range(2, len(wf.network.layers) + 1)]
    return paths + ([opts.animate] if opts.animate is not None else [])


def _check_folder(folder: Path, option: str, named: Path) -> None:
    """`folder` (for the path `named` after `option`) exists as a folder or can be made: no
    file in the way, at it or above it."""
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                where = "" if p == named else f": {p}"
                raise UsageError(f"{option} {named}{where} is a file, not a folder")
            return


def layers_at(wf: WeightsFile, epoch: int | None, change: bool) -> list[np.ndarray]:
    """Each layer's weights (n_in, n_out) float64 at `epoch` (None: the final weights),
    minus the epoch-0 snapshot when `change`."""
    if epoch is None or epoch == final_epoch(wf):
        layers = [layer.weights for layer in wf.network.layers]
    else:
        layers = [np.asarray(w, dtype=np.float64) for w in wf.snapshots[epoch]]
    if change:
        start = wf.snapshots[0]
        layers = [w - np.asarray(w0, dtype=np.float64) for w, w0 in zip(layers, start, strict=True)]
    return layers


def draw(wf: WeightsFile, opts: Options, source: Path) -> Drawn:
    """Check `opts` against `wf`, then write the pictures; return what was written."""
    check(wf, opts, source)
    view = _View(wf, opts)
    drawn = Drawn(epoch=opts.epoch if opts.epoch is not None else final_epoch(wf))
    if not wf.snapshots:
        drawn.notes.append(
            f"{source} holds no snapshots, so {key('epoch')}, {key('change')} and "
            f"{key('animate')} cannot be drawn from it; the final weights are drawn"
        )
    if len(view.files) < len(view.panels):
        drawn.notes.append(
            f"{len(view.panels)} hidden units are more than {MAX_UNIT_FILES}: their pictures "
            f"are all in grid.png, with no file per unit"
        )
    layers = layers_at(wf, opts.epoch, opts.change)
    _draw_first_layer(layers, view, drawn)
    drawn.likeness = likeness(wf, layers[0], list(opts.outputs) if opts.outputs else None)
    for i in range(2, len(layers) + 1):
        _draw_later_layer(layers, i, view, drawn)
    if opts.animate is not None:
        drawn.written.append(_animate(wf, view, drawn.notes))
    return drawn


class _View:
    """The choices shared by every picture of one run: panels, labels, titles."""

    def __init__(self, wf: WeightsFile, opts: Options) -> None:
        self.opts = opts
        self.labels = class_labels(wf)
        self.chosen = list(opts.outputs or range(len(self.labels)))
        self.symbol = "change" if opts.change else "w"
        self.texts = Texts(wf, self.labels, opts.change)
        first = wf.network.layers[0].weights
        self.conv = wf.network.layers[0].conv
        if self.conv is not None:  # the panels: the kernels
            self.panels, self.stem = list(range(first.shape[1])), "kernel"
            self.names = [f"kernel {j}" for j in self.panels]
        elif (
            len(wf.network.layers) == 1
        ):  # the panels of the 28x28 pictures: classes, or hidden units
            self.panels, self.stem = self.chosen, "digit"
            self.names = [self.labels[d] for d in self.chosen]
        else:
            self.panels, self.stem = list(range(first.shape[1])), "unit"
            short = first.shape[1] > 40  # small tiles: numbers only
            self.names = [str(j) if short else f"unit {j}" for j in self.panels]
        # the panels that also get a file of their own: a wide layer's are only in the grid
        self.files = self.panels if len(self.panels) <= MAX_UNIT_FILES else []
        # a kernel's panel is drawn about as large as a 28x28 one: k x k weights, bigger pixels
        self.zoom = 1 if self.conv is None else max(1, IMAGE_SIDE // self.conv.kernel)


def _draw_first_layer(layers: list[np.ndarray], view: _View, drawn: Drawn) -> None:
    """The 28x28 pictures: one file per panel and the labelled grid."""
    opts, first = view.opts, layers[0]
    scale = choose_scale(first, opts.scale_max, symbol=view.symbol)
    drawn.scales.append(scale)
    for j in view.files:
        stem = opts.out_dir / f"{view.stem}-{j}"
        drawn.written += _panel_files(first[:, j], scale, opts, stem, view.zoom)
    grid = _grid(first, scale, view, drawn.epoch)
    drawn.written.append(_write(opts.out_dir / "grid.png", figure.png(grid)))


def _grid(first: np.ndarray, scale: Scale, view: _View, epoch: int | None) -> Image.Image:
    title, subtitle = view.texts.grid(epoch)
    opts = view.opts
    return figure.grid_figure(
        first[:, view.panels], view.names, scale, title, subtitle, opts.colormap,
        opts.upscale * view.zoom,
    )  # fmt: skip


def grid_image(
    wf: WeightsFile, epoch: int | None = None, change: bool = False, source: Path | str = "the run"
) -> Image.Image:
    """The labelled grid visualize-weights writes as grid.png, as a PIL image: the first
    layer's weights at `epoch` (None: the final ones), or what training added (`change`)."""
    opts = Options(Path("."), epoch=epoch, change=change)
    for option, value in ((key("epoch"), epoch), (key("change"), change)):
        if value not in (None, False) and not wf.snapshots:
            raise _no_snapshots(wf, Path(source), option)
    if epoch is not None and epoch not in wf.snapshots and epoch != final_epoch(wf):
        raise UsageError(f"{source} has no weights of epoch {epoch}", hint=_epochs_hint(wf))
    view = _View(wf, opts)
    first = layers_at(wf, epoch, change)[0]
    scale = choose_scale(first, symbol=view.symbol)
    return _grid(first, scale, view, epoch if epoch is not None else final_epoch(wf))


def _draw_later_layer(layers: list[np.ndarray], i: int, view: _View, drawn: Drawn) -> None:
    """Layer i (from 1) as a heatmap, one row per output unit (the chosen classes, last)."""
    img, scale = _later_figure(layers, i, view, drawn.epoch)
    drawn.scales.append(scale)
    drawn.written.append(_write(view.opts.out_dir / f"layer-{i}.png", figure.png(img)))
    if i == 2 and view.conv is not None and (rows := _map_rows(layers, view)[1]):
        drawn.notes.append(
            f"layer 2 has {rows} units: layer-2.png shows the first {MAX_MAP_ROWS} of them"
        )


# A conv network's second layer is a map per kernel and unit of the next layer: a table of at
# most this many rows (the book's 10 classes all; a wide dense layer after the kernels: its first).
MAX_MAP_ROWS = 40


def _map_rows(layers: list[np.ndarray], view: _View) -> tuple[list[int], int]:
    """The rows of a conv network's layer-2 table (the chosen classes, or the first units of
    the next layer) and how many units the layer has when they are not all drawn (else 0)."""
    w = layers[1]
    if len(layers) == 2:
        return view.chosen, 0
    rows = list(range(min(w.shape[1], MAX_MAP_ROWS)))
    return rows, w.shape[1] if len(rows) < w.shape[1] else 0


def _maps_figure(
    layers: list[np.ndarray], view: _View, epoch: int | None, max_width: int = figure.MAX_GRID_WIDTH
) -> tuple[Image.Image, Scale]:
    """A conv network's second layer: for each row (a class, or a unit of the next layer) and
    kernel (a column), the weights from that kernel's feature map, as a map of its positions."""
    assert view.conv is not None
    w, last = layers[1], len(layers) == 2
    kernels, q = layers[0].shape[1], view.conv.pooled_span
    rows = _map_rows(layers, view)[0]
    names = [view.labels[d] for d in rows] if last else [f"unit {j}" for j in rows]
    # position-major: unit p * kernels + k is kernel k at position p (the book's reshape)
    maps = w.reshape(q, q, kernels, -1)[..., rows].transpose(3, 2, 0, 1)
    scale = choose_scale(maps, symbol=view.symbol)
    title, subtitle = view.texts.maps(w, q, kernels, last, epoch)
    columns = [str(k) for k in range(kernels)]
    img = figure.maps_figure(maps, names, columns, scale, title, subtitle, view.opts.colormap,
                             max_width=max_width)  # fmt: skip
    return img, scale


def _later_figure(
    layers: list[np.ndarray],
    i: int,
    view: _View,
    epoch: int | None,
    max_width: int = figure.MAX_GRID_WIDTH,
) -> tuple[Image.Image, Scale]:
    if i == 2 and view.conv is not None:
        return _maps_figure(layers, view, epoch, max_width)
    w, last = layers[i - 1], i == len(layers)
    rows = view.chosen if last else list(range(w.shape[1]))
    names = [view.labels[d] for d in rows] if last else [f"unit {j}" for j in rows]
    scale = choose_scale(w, symbol=view.symbol)
    title, subtitle = view.texts.matrix(i, w, last, epoch)
    img = figure.matrix_figure(
        w[:, rows], names, scale, title, subtitle, view.opts.colormap, f"unit of layer {i - 1}"
    )
    return img, scale


def _panel_files(
    column: np.ndarray, scale: Scale, opts: Options, stem: Path, zoom: int = 1
) -> list[Path]:
    """One unit's 28x28 picture (a kernel's k x k), upscaled (times `zoom`): stem.png in the
    colormap, stem.pgm in grey."""
    written = []
    if "png" in opts.formats:
        pixels = digit_image(column, scale.value, opts.colormap, opts.upscale * zoom)
        written.append(_write(stem.with_suffix(".png"), figure.png(pixels)))
    if "pgm" in opts.formats:
        pixels = digit_image(column, scale.value, "gray", opts.upscale * zoom)
        written.append(_write(stem.with_suffix(".pgm"), figure.pgm(pixels)))
    return written


def _animate(wf: WeightsFile, view: _View, notes: list[str]) -> Path:
    """The 28x28 panels through every snapshot (and the final weights when they are not
    one), one GIF frame each; for the change, from the first epoch after 0 (what training
    added by epoch 0 is nothing: a blank frame)."""
    opts = view.opts
    assert opts.animate is not None
    every = animation_epochs(wf, opts.change)
    epochs = figure.spread(every)
    if note := figure.spread_note(epochs, len(every)):
        notes.append(note)
    frames = animation_frames(wf, epochs, view.panels, opts.change)
    what, subtitle = view.texts.animation()
    data = figure.evolution_gif(
        frames, view.names, opts.scale_max, what=what, subtitle=subtitle, colormap=opts.colormap,
        symbol=view.symbol, upscale=4 * view.zoom,
    )  # fmt: skip
    return _write(opts.animate, data)


def animation_epochs(wf: WeightsFile, change: bool = False) -> list[int]:
    """The epochs an animation can show: every snapshot and the final weights' epoch, rising;
    for the change, not epoch 0 (nothing added yet) unless it is all there is."""
    last = final_epoch(wf)
    every = sorted(set(wf.snapshots) | ({last} if last is not None else set()))
    return every[1:] if change and len(every) > 1 and every[0] == 0 else every


def animation_frames(
    wf: WeightsFile, epochs: list[int], columns: list[int], change: bool = False
) -> list[tuple[int, np.ndarray]]:
    """(epoch, the first layer's weights (784, len(columns))) for each of `epochs` (snapshots
    or the final weights' epoch), minus the epoch-0 snapshot when `change`."""
    last = final_epoch(wf)
    start = np.asarray(wf.snapshots[0][0], dtype=np.float64) if change else 0.0

    def panels(first_layer: np.ndarray) -> np.ndarray:
        return (np.asarray(first_layer, dtype=np.float64) - start)[:, columns]

    kept = [e for e in epochs if e in wf.snapshots]
    frames = [(e, panels(layers[0])) for e, layers in snapshot_frames(wf.snapshots, kept)]
    if last is not None and last in epochs and last not in wf.snapshots:
        frames.append((last, panels(wf.network.layers[0].weights)))
        frames.sort(key=lambda frame: frame[0])  # keep = best: the best epoch may come before
    return frames


def final_figures(wf: WeightsFile, max_width: int) -> tuple[Scale, list[Image.Image]]:
    """The final weights as the report shows them, titled as visualize-weights titles them:
    the first layer's labelled grid (every class, or every hidden unit) and a heatmap of each
    later layer, each at most about `max_width` pixels wide; and the first layer's scale."""
    view = _View(wf, Options(Path(".")))
    layers = layers_at(wf, None, False)
    epoch = final_epoch(wf)
    scale = choose_scale(layers[0])
    title, subtitle = view.texts.grid(epoch)
    grid = figure.grid_figure(layers[0][:, view.panels], view.names, scale, title, subtitle,
                              upscale=6 * view.zoom, max_width=max_width)  # fmt: skip
    later = [_later_figure(layers, i, view, epoch, max_width)[0] for i in range(2, len(layers) + 1)]
    return scale, [grid, *later]


def animation_title(wf: WeightsFile) -> str:
    """What an animation of the first layer's final weights is titled before ", epoch E"."""
    return _View(wf, Options(Path("."))).texts.animation()[0]


def panel_names(wf: WeightsFile) -> list[str]:
    """The first layer's panels' labels: the class names, or the hidden units' numbers."""
    return _View(wf, Options(Path("."))).names


def _write(path: Path, data: bytes) -> Path:
    write_bytes(path, data)
    return path


class Texts:
    """The pictures' titles and subtitles, in words a learner reads."""

    def __init__(self, wf: WeightsFile, labels: list[str], change: bool) -> None:
        self.noun = "digit" if labels == [str(d) for d in range(10)] else "class"
        self.change = change
        self.net = wf.network

    def _title(self, head: str, subject: str, epoch: int | None) -> str:
        """head + subject (or what training added to it) + when."""
        if self.change:
            when = "" if epoch is None else f" by epoch {epoch}"
            text = f"{head}what training added to {subject}{when} (weights - starting weights)"
        else:
            when = "" if epoch is None else f" after epoch {epoch}"
            text = head + subject + (", before training (epoch 0)" if epoch == 0 else when)
        return text[0].upper() + text[1:]

    def _colours(self, raises: str) -> str:
        if self.change:
            return "red: training raised the weight; blue: lowered it"
        return f"red: {raises}; blue: lowers it"

    def _first(self) -> tuple[str, str, str]:
        """The 28x28 pictures' head, subject and what a red weight does."""
        layer = self.net.layers[0]
        if layer.conv is not None:
            k = layer.conv.kernel
            head = f"layer 1 ({layer.weights.shape[1]} kernels of {k}x{k}, {layer.activation}): "
            return (
                head,
                "each kernel's weights",
                ("ink on that pixel of a patch raises the kernel's sum"),
            )
        if len(self.net.layers) == 1:
            return (
                "",
                f"each {self.noun}'s weights",
                f"ink on that pixel raises the {self.noun}'s score",
            )
        layer = self.net.layers[0]
        head = f"layer 1 ({layer.weights.shape[1]} hidden units, {layer.activation}): "
        return head, "each unit's weights", "ink on that pixel raises the unit's input"

    def grid(self, epoch: int | None) -> tuple[str, str]:
        head, subject, raises = self._first()
        return self._title(head, subject, epoch), self._colours(raises)

    def matrix(self, i: int, w: np.ndarray, last: bool, epoch: int | None) -> tuple[str, str]:
        to = f"each {self.noun}" if last else f"the {w.shape[1]} units of layer {i}"
        subject = f"the weights from the {w.shape[0]} units of layer {i - 1} to {to}"
        target = f"{self.noun}'s score" if last else "unit's input"
        raises = f"the unit's output raises the {target}"
        return self._title(f"layer {i}: ", subject, epoch), self._colours(raises)

    def maps(
        self, w: np.ndarray, q: int, kernels: int, last: bool, epoch: int | None
    ) -> tuple[str, str]:
        """A conv network's layer-2 table of maps."""
        to = f"each {self.noun} (rows)" if last else f"each of the {w.shape[1]} units of layer 2"
        subject = f"the weights from each kernel's {q}x{q} feature map (columns) to {to}"
        target = f"{self.noun}'s score" if last else "unit's input"
        raises = f"the kernel's output at that position raises the {target}"
        return self._title("layer 2: ", subject, epoch), self._colours(raises)

    def animation(self) -> tuple[str, str]:
        """The frames' title before ", epoch E", and their subtitle."""
        head, subject, raises = self._first()
        return self._title(head, subject, None), self._colours(raises)
