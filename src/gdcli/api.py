"""The library: what `import gdcli` gives, for scripts and notebooks. The CLI is its thin face.

    import gdcli
    run = gdcli.train("book-ch8", epochs=20)       # a shipped config's name or a path, and keys
    run.network.predict(images)                    # (n, 784) floats in [0, 1] -> (n, 10)
    gdcli.plot([run])                              # a matplotlib Figure, inline in Jupyter
    run.save("w.npz")                              # the file `gdcli train --out` writes

Every failure raises gdcli.GdcliError (bad values: its subclass gdcli.UsageError) carrying the
one-line message the CLI prints; messages name config keys (`alpha`), not the CLI's flags.
matplotlib and Pillow are imported only by the functions that draw.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gdcli.config import KEYS, TrainConfig, check_keys, make_config
from gdcli.data.load import load_split
from gdcli.data.registry import get_dataset, resolve_data_dir
from gdcli.data.transforms import as_trained
from gdcli.errors import GdcliError, Interrupted, UsageError, key, spelled
from gdcli.io import weights_file
from gdcli.io.weights_file import WeightsFile
from gdcli.nn.metrics import evaluate as evaluate_network
from gdcli.nn.model import Network

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL import Image

PathLike = str | Path


class Run:
    """A trained network with how it was trained: what `train` returns and `load` reads.

    Attributes
    ----------
    network : Network
        The layers; ``run.network.predict(x)`` maps (n, 784) images in [0, 1] to (n, 10).
    config : TrainConfig
        Every setting of the run; ``run.config.to_dict()`` for a dict.
    history : list of dict
        One dict per epoch, the keys of a ``--metrics`` line: epoch, alpha, train_error,
        train_accuracy, test_error and test_accuracy (tested epochs only), seconds, val_error
        and val_accuracy (tested epochs of a run with validation images).
    snapshots : dict of int to list of ndarray
        Epoch -> each layer's weights (float32) at the end of that epoch (0: before training).
    summary : dict
        The results `gdcli train --json` prints (train_error, ..., epochs, alpha, seconds,
        weights_epoch, best_epoch, stopped_early, interrupted_at, ...).
    path : Path or None
        The file it was loaded from or last saved to.
    """

    def __init__(self, file: WeightsFile, path: Path | None = None) -> None:
        self.file, self.path = file, path

    @property
    def network(self) -> Network:
        return self.file.network

    @property
    def config(self) -> TrainConfig:
        known = {k: v for k, v in self.file.meta.get("config", {}).items() if k in KEYS}
        return TrainConfig(**known)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.file.history

    @property
    def snapshots(self) -> dict[int, list[np.ndarray]]:
        return self.file.snapshots

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.file.meta.get("metrics", {}))

    def predict(self, images: np.ndarray) -> np.ndarray:
        """The network's outputs for images (n, 784) in [0, 1] as stored, preprocessed as the
        run was trained (deskewed if it was): (n, 10). `run.network.predict` takes them as
        they are."""
        x = np.atleast_2d(np.asarray(images, dtype=np.float64))
        return self.network.predict(as_trained(x, self.file.meta.get("config", {})))

    def save(self, path: PathLike) -> Path:
        """Write the weights file `gdcli train --out` writes (atomically) and return its path."""
        path = Path(path)
        weights_file.save(path, self.file)
        self.path = path
        return path

    def __repr__(self) -> str:
        layers = "-".join(str(n) for n in [self.network.n_inputs, *_units(self.network)])
        accuracy = self.summary.get("test_accuracy")
        tested = "" if accuracy is None else f", test accuracy {100 * accuracy:.2f}%"
        where = "" if self.path is None else f", {self.path}"
        stopped = self.summary.get("interrupted_at")
        of = "" if stopped is None else f" (interrupted at epoch {stopped} of {self.config.epochs})"
        return f"<gdcli.Run {layers}, {len(self.history)} epochs{of}{tested}{where}>"


class Diverged(GdcliError):
    """Training diverged: `run` holds the history up to the epoch it diverged at (its weights
    are the runaway ones; nothing was saved)."""

    def __init__(self, message: str, hint: str, run: Run, epoch: int) -> None:
        super().__init__(message, hint)
        self.run, self.epoch = run, epoch


def configure(config: PathLike | TrainConfig | None = None, **keys: Any) -> TrainConfig:
    """A validated TrainConfig: the defaults, then `config` (a shipped config's name such as
    "book-ch8", a TOML file, or a TrainConfig), then `keys`, each a config key."""
    keys = check_keys(keys)
    if isinstance(config, TrainConfig):
        return make_config(None, {**config.to_dict(), **keys})
    return make_config(config, keys)


def train(
    config: PathLike | TrainConfig | None = None,
    *,
    data_dir: PathLike | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    quiet: bool = False,
    engine: str | None = None,
    resume: PathLike | None = None,
    **keys: Any,
) -> Run:
    """Train a network as `gdcli train` does and return the run.

    Parameters
    ----------
    config : str, Path or TrainConfig, optional
        A shipped config's name ("book", "book-ch8", ...; `gdcli configs` lists them), a TOML
        file, or a TrainConfig. Keywords override it.
    data_dir : str or Path, optional
        The data folder (default: $GDCLI_DATA_DIR, else $XDG_CACHE_HOME/gdcli, else
        ~/.cache/gdcli). The dataset must be fetched (`gdcli fetch`).
    on_epoch : callable, optional
        Called after every epoch with that epoch's dict (as in `Run.history`).
    quiet : bool
        No progress on stderr (it shows in a terminal and in a notebook otherwise).
    engine : {"reference", "blocked", "gram"}, optional
        How an epoch is computed (default: the fastest that computes the config's steps; on a
        resume, the one the run used).
    resume : str or Path, optional
        A weights file of gdcli 0.3 to continue (an interrupted run, or a finished one with a
        larger `epochs`) with the file's configuration: the weights and history at the end
        are bit for bit those of the run never stopped. Only `epochs` may be given with it.
    **keys
        Any config key: alpha=0.01, epochs=10, hidden=(40,), ...

    Returns
    -------
    Run

    Raises
    ------
    UsageError
        An unknown key or config name, or a bad value (nothing is trained); a `resume` file
        that cannot be resumed (and why).
    Diverged
        Training diverged (a GdcliError; `exc.run` holds the history).
    GdcliError
        The data cannot be read.
    KeyboardInterrupt
        Ctrl-C in a notebook or a script: once an epoch has finished, `exc.run` is the run as
        it stood at the end of the last one (``exc.run.save("w.npz")``, then
        ``gdcli.train(resume="w.npz")``).
    """
    from gdcli.cli.terminal import TrainDisplay, spinner, stderr_console
    from gdcli.nn.train import load_data
    from gdcli.nn.train import train as train_network

    if resume is not None:
        cfg, start = _resume_point(Path(resume), config, keys)
    else:
        cfg, start = configure(config, **keys), None
    err = stderr_console(quiet)
    with spinner(err, f"loading {cfg.dataset}" + (", deskewing" if cfg.deskew else "")):
        data = load_data(cfg, resolve_data_dir(_path(data_dir)))
    with TrainDisplay(err, cfg.epochs) as display:

        def each_epoch(m: Any) -> None:
            record = m.to_json()
            display.epoch(record)
            if on_epoch is not None:
                on_epoch(record)

        try:
            result = train_network(cfg, data, each_epoch, engine, start)
        except (Interrupted, KeyboardInterrupt) as exc:
            partial = getattr(exc, "result", None)
            if partial is not None and partial.history:  # an epoch finished: keep it
                exc.run = Run(weights_file.from_training(cfg, partial))  # type: ignore[union-attr]
            raise
    run = Run(weights_file.from_training(cfg, result))
    if result.diverged_at is not None:
        raise Diverged(
            f"training diverged at epoch {result.diverged_at} (alpha {cfg.alpha:g}): "
            "the error exploded or stopped being finite; no weights written",
            f"try a smaller alpha, e.g. {key('alpha')} {cfg.alpha / 10:g}",
            run,
            result.diverged_at,
        )
    return run


def _resume_point(path: Path, config: Any, keys: dict[str, Any]) -> tuple[TrainConfig, Any]:
    """The configuration (the file's, with `epochs` if given) and the train.Resume that
    continue the run in `path`; UsageError saying why when it cannot be resumed."""
    from gdcli.io.weights_file import read_progress, snapshot_frames
    from gdcli.nn.train import EpochMetrics, Resume

    if config is not None:
        raise UsageError(f"resume continues {path}'s run with its own configuration; give no "
                         "config with it")  # fmt: skip
    changed = sorted(set(keys) - {"epochs"})
    if changed:
        raise UsageError(
            f"resume continues {path}'s run as it was configured: {key(changed[0])} would "
            "change it",
            hint=f"only {key('epochs')} (and where the output goes) may be given with a resume",
        )
    epochs = check_keys(keys).get("epochs")
    wf = weights_file.load(path)
    meta, summary = wf.meta, wf.meta.get("metrics", {})
    if "resume" not in meta:
        version = meta.get("gdcli_version") or "0.1"
        raise UsageError(
            f"{path} was written by gdcli {version}, which does not keep what a resume needs "
            "(the random state, the epoch reached)",
            hint="train the run again with this gdcli: its weights files can be resumed",
        )
    if meta["resume"] is None:
        raise UsageError(
            f"{path} holds a run that diverged at epoch {summary.get('diverged_at')}: there is "
            "nothing to resume",
            hint=f"train again with a smaller {key('alpha')}",
        )
    stored = dict(meta.get("config", {}))
    unknown = [k for k in stored if k not in KEYS]
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise UsageError(f"{path} was trained with keys this gdcli does not know ({names}); "
                         "resume it with the gdcli that wrote it")  # fmt: skip
    progress = read_progress(wf, path)
    reached = progress.epoch
    if summary.get("stopped_early"):
        raise UsageError(
            f"{path} stopped early at epoch {reached} (no better validation accuracy in "
            f"{stored.get('early_stop')} tested epochs): there is nothing to resume",
            hint=f"to train on, train again with a larger {key('early_stop')}",
        )
    target = stored.get("epochs", 0) if epochs is None else epochs
    if target <= reached:
        asked = "" if epochs is None else f"; {key('epochs')} {epochs} would not train on"
        raise UsageError(
            f"{path} is already at epoch {reached}{asked}",
            hint=f"give a larger {key('epochs')} to train on (e.g. {key('epochs')} {2 * reached})",
        )
    cfg = make_config(None, {**stored, "epochs": target})
    known = {f.name for f in dataclasses.fields(EpochMetrics)}
    history = [EpochMetrics(**{k: v for k, v in h.items() if k in known})
               for h in wf.history[:reached]]  # fmt: skip
    snapshots = {
        e: list(layers)
        for e, layers in snapshot_frames(wf.snapshots, [e for e in wf.snapshots if e <= reached])
    }
    return cfg, Resume(progress, history, snapshots)


def load(path: PathLike) -> Run:
    """The run in a weights file written by `gdcli train` or `Run.save` (any gdcli version)."""
    path = Path(path)
    return Run(weights_file.load(path), path)


def _run(run: Run | PathLike) -> Run:
    return run if isinstance(run, Run) else load(run)


def _path(p: PathLike | None) -> Path | None:
    return None if p is None else Path(p)


def _units(net: Network) -> list[int]:
    return [layer.weights.shape[1] for layer in net.layers]


def load_dataset(
    name: str = "mnist",
    split: str = "train",
    n: int | None = None,
    data_dir: PathLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The first `n` images of a dataset's split, prepared as the book prepares them.

    Returns
    -------
    images : ndarray of shape (n, 784), float64 in [0, 1] (pixel / 255)
    labels : ndarray of shape (n,), int64 class indices
    """
    if split not in ("train", "test"):
        raise UsageError(f"split must be train or test, got {split!r}")
    return load_split(get_dataset(name), resolve_data_dir(_path(data_dir)), split, n)


def read_digit(path: PathLike, as_is: bool = False) -> np.ndarray:
    """A picture of a digit (any size, any format Pillow reads; dark ink on paper or light on
    black) brought to MNIST's form as `gdcli predict --image` does: (784,) floats in [0, 1].
    as_is: take a 28x28 picture as it is."""
    from gdcli.data.digit import read_digit as read

    return read(Path(path), as_is)[0]


def evaluate(
    run: Run | PathLike, split: str = "test", data_dir: PathLike | None = None
) -> dict[str, Any]:
    """Error, accuracy, per-class accuracy and confusion matrix of a run on a split: the keys
    of `gdcli evaluate --json` (split, images, error, accuracy, per_class_accuracy, confusion,
    classes, layers). The train split is the first n_train images the run learned from."""
    run = _run(run)
    config = run.file.meta.get("config", {})
    n = config.get("n_train") if split == "train" else None
    ds = get_dataset(config.get("dataset", "mnist"))
    x, labels = load_dataset(ds.name, split, n, data_dir)
    ev = evaluate_network(run.network, as_trained(x, config), labels)
    return {
        "split": split,
        "images": len(labels),
        "error": ev.error,
        "accuracy": ev.accuracy,
        "per_class_accuracy": [None if np.isnan(a) else float(a) for a in ev.per_class],
        "confusion": ev.confusion.tolist(),
        "classes": list(ds.classes),
        "layers": [run.network.n_inputs, *_units(run.network)],
    }


def plot(runs: Run | PathLike | list[Run | PathLike]) -> Figure:
    """The learning curves of one or more runs (or weights or metrics files), overlaid: a
    matplotlib Figure (shown inline in Jupyter; `fig.savefig(path)` to write it)."""
    from gdcli.viz.plot import curves_figure, drawable

    return curves_figure(drawable([_drawn(r) for r in _listed(runs)]))


def weights_image(
    run: Run | PathLike, epoch: int | None = None, change: bool = False
) -> Image.Image:
    """The labelled grid of the first layer's weights as a PIL image (inline in Jupyter): one
    28x28 panel per class (or hidden unit), at the end of training or at a snapshot's epoch;
    with `change`, what training added to them (the weights minus the starting weights)."""
    from gdcli.viz.weights_views import grid_image

    run = _run(run)
    return grid_image(run.file, epoch, change, source=run.path or "the run")


class Report:
    """The report page: `_repr_html_()` shows it inline in Jupyter, `save(path)` writes it.

    html: the self-contained page; notes: one line for each thing it could not show."""

    def __init__(self, html_text: str, notes: list[str]) -> None:
        self.html, self._notes = html_text, notes

    @property
    def notes(self) -> list[str]:
        return [spelled(n, False) or "" for n in self._notes]

    def cli_notes(self) -> list[str]:
        """The notes as the CLI prints them (options by their flags)."""
        return list(self._notes)

    def save(self, path: PathLike) -> Path:
        from gdcli.io.atomic import write_text

        path = Path(path)
        write_text(path, self.html)
        return path

    def _repr_html_(self) -> str:
        # a frame of its own, so the page's style does not restyle the notebook around it
        return (
            f'<iframe srcdoc="{html.escape(self.html, quote=True)}" '
            'style="width: 100%; height: 900px; border: 1px solid #ddd"></iframe>'
        )


def report(
    runs: Run | PathLike | list[Run | PathLike],
    data_dir: PathLike | None = None,
    mistakes: int = 24,
    explain_index: int = 0,
) -> Report:
    """The one-page HTML report `gdcli report` writes, for one or more runs."""
    from gdcli.viz.report import build_report, load_test_images

    drawn = [_drawn(r) for r in _listed(runs)]
    for d in drawn:
        if d.weights is None:
            raise UsageError(
                f"{d.path} is a metrics file; the report needs weights files",
                hint="pass the weights file that run wrote (`gdcli train` writes it); "
                "`gdcli plot` draws metrics files",
            )
    tests = load_test_images(drawn, resolve_data_dir(_path(data_dir)))
    page = build_report(drawn, tests, mistakes=mistakes, explain_index=explain_index)
    return Report(page.html, page.notes)


def _listed(runs: Run | PathLike | list[Run | PathLike]) -> list[Run | PathLike]:
    return list(runs) if isinstance(runs, (list, tuple)) else [runs]


def _drawn(run: Run | PathLike) -> Any:
    """A run as the drawing code takes it (viz.plot.Run): a Run, or a weights or metrics file."""
    from gdcli.viz import plot as curves

    if isinstance(run, Run):
        name = run.path or Path(f"run-{id(run):x}")
        return curves.Run(name, dict(run.file.meta.get("config", {})), run.history, run.file)
    return curves.load_run(Path(run))


def configs() -> dict[str, str]:
    """The configs that ship with gdcli, by name, with their one-line descriptions (any of them
    is a `config` for train())."""
    from gdcli.config import shipped_configs

    return {name: about for name, (_, about) in shipped_configs().items()}
