"""Training: epochs of gradient descent over the training images, with metrics and snapshots.

For every epoch, for each image (or mini-batch) in order: forward, deltas, step (backprop.py),
computed by the engine engines.choose() picks for the configuration (or the one named).

The test images are evaluated after epochs 1, 1 + E, 1 + 2E, ... (E = eval_every; the book
tests after its iterations 0, 10, 20, ...) and after the last epoch; the validation images
(config key val: the last N of the training set), when there are any, after the same epochs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from gdcli.config import TrainConfig, check_val, parse_spec, snapshot_epochs
from gdcli.data.load import load_split, one_hot, split_size
from gdcli.data.registry import N_CLASSES, get_dataset
from gdcli.data.transforms import as_trained
from gdcli.errors import Interrupted
from gdcli.nn import engines
from gdcli.nn.backprop import StepRule
from gdcli.nn.metrics import Evaluator, accuracy, squared_error
from gdcli.nn.model import Network, new_network
from gdcli.nn.threads import large_products, training_threads

# Divergence: an epoch whose train error is more than this many times the error of the untrained
# network on the same images (or an error or weight no longer finite). The book's 784x10 network
# starts at 3.0; its first epoch ends at 6.1e5 at alpha 0.025 and 7.6e21 at 0.03 (then it grows
# 1e5-fold an epoch), while at alpha 0.02 it ends at 7.0 and then settles.
DIVERGENCE_FACTOR = 1e4


@dataclass
class TrainData:
    """Images (n, 784) float64 in [0, 1] and labels (n,) int64, for training and testing, and
    for validation (None: no validation images)."""

    x_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    x_val: np.ndarray | None = None
    labels_val: np.ndarray | None = None


def load_data(cfg: TrainConfig, data_dir: Path) -> TrainData:
    """The first cfg.n_train training images, the last cfg.val ones (validation; config.validate
    has checked that they do not overlap) and all test images of cfg.dataset, deskewed when
    cfg.deskew (all alike)."""
    ds = get_dataset(cfg.dataset)
    config = cfg.to_dict()
    if cfg.val:  # the files, not the registry, say how many images there are
        check_val(cfg, split_size(ds, data_dir, "train"))
    x_train, labels_train = load_split(ds, data_dir, "train", cfg.n_train)
    x_test, labels_test = load_split(ds, data_dir, "test")
    data = TrainData(
        as_trained(x_train, config), labels_train, as_trained(x_test, config), labels_test
    )
    if cfg.val:
        x_val, data.labels_val = load_split(ds, data_dir, "train", cfg.val, start=-cfg.val)
        data.x_val = as_trained(x_val, config)
    return data


@dataclass
class EpochMetrics:
    """Train error/accuracy from each image's prediction just before its step (as the book
    reports it); test and validation error/accuracy with the weights at the end of the epoch,
    when tested (validation: when the run has validation images). Values may be nan or inf
    after a divergence; to_json() makes them null."""

    epoch: int
    alpha: float
    train_error: float
    train_accuracy: float
    test_error: float | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0
    val_error: float | None = None  # after seconds: the older fields keep their positions
    val_accuracy: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The epoch as a JSON object (a line of --metrics): non-finite numbers as None, the
        test and validation figures only when the epoch was tested."""
        out: dict[str, Any] = {}
        for key, value in vars(self).items():
            if value is None:
                continue
            out[key] = value if isinstance(value, int) or math.isfinite(value) else None
        return out


Layers = list[tuple[np.ndarray, np.ndarray | None]]  # each layer's weights and bias


def copy_layers(net: Network) -> Layers:
    return [(layer.weights.copy(), None if layer.bias is None else layer.bias.copy())
            for layer in net.layers]  # fmt: skip


def with_layers(net: Network, layers: Layers) -> Network:
    """A network like `net` holding `layers` (not copied)."""
    return Network(
        [
            replace(layer, weights=w, bias=b)
            for (w, b), layer in zip(layers, net.layers, strict=True)
        ],
        loss=net.loss,
        dot=net.dot,
        exp=net.exp,
    )


@dataclass
class Progress:
    """Where a run stands at the end of an epoch: all a resume needs to continue it as if it
    had never stopped (the weights file keeps it, io/weights_file.py).

    epoch: epochs finished; layers: the weights and biases then (copies); rng_state: the
    RandomState's get_state() then (the dropout masks to come); engine: the engine's name
    (each engine rounds its own way; none keeps state between epochs); untrained_error: the
    divergence test's reference; seconds: the training time so far; best_epoch and
    best_val_accuracy: the tested epoch with the best validation accuracy so far (the earlier
    on a tie; None without validation); best_layers: its weights when keep = best; stale: the
    tested epochs since it, each without a better validation accuracy (early_stop).
    """

    epoch: int
    layers: Layers
    rng_state: tuple[Any, ...]
    engine: str
    untrained_error: float
    seconds: float = 0.0
    best_epoch: int | None = None
    best_val_accuracy: float | None = None
    best_layers: Layers | None = None
    stale: int = 0


@dataclass
class TrainResult:
    """network: the weights kept (the last epoch's; with keep = best, the best epoch's);
    history: one EpochMetrics per epoch run; snapshots: epoch -> a copy of each layer's weights
    (epoch 0: before training), see config.snapshot_epochs; diverged_at: the epoch where
    training diverged, or None; stopped_early: early_stop ended the run; interrupted_at: the
    last finished epoch of an interrupted run, or None; progress: where the run stands, to
    resume it (None after a divergence)."""

    network: Network
    history: list[EpochMetrics] = field(default_factory=list)
    seconds: float = 0.0
    diverged_at: int | None = None
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)
    stopped_early: bool = False
    interrupted_at: int | None = None
    progress: Progress | None = None

    @property
    def best_epoch(self) -> int | None:
        return None if self.progress is None else self.progress.best_epoch

    def weights_epoch(self, cfg: TrainConfig) -> int:
        """The epoch whose weights `network` holds."""
        last = self.history[-1].epoch if self.history else 0
        if cfg.keep == "best" and self.best_epoch is not None:
            return self.best_epoch
        return last

    def summary(self, cfg: TrainConfig) -> dict[str, Any]:
        """The run's results (the keys of `gdcli train --json`), of the epoch whose weights are
        kept (weights_epoch: the last, or with keep = best the best): its train figures (the
        book's running figure), the test and validation figures of it or of the last tested
        epoch before it (validation: None without validation images); the epochs run, alpha,
        the seconds; best_epoch and best_val_accuracy (None without validation), stopped_early,
        interrupted_at (the last finished epoch, or None), diverged_at (or None)."""
        kept = self.weights_epoch(cfg)
        upto = [m for m in self.history if m.epoch <= kept] or self.history
        at = upto[-1]
        tested = next((m for m in reversed(upto) if m.test_accuracy is not None), None)
        progress = self.progress
        return {
            "train_error": at.train_error,
            "train_accuracy": at.train_accuracy,
            "test_error": tested.test_error if tested else None,
            "test_accuracy": tested.test_accuracy if tested else None,
            "val_error": tested.val_error if tested else None,
            "val_accuracy": tested.val_accuracy if tested else None,
            "epochs": self.history[-1].epoch,
            "alpha": cfg.alpha,
            "seconds": round(self.seconds, 4),
            "weights_epoch": kept,
            "best_epoch": self.best_epoch,
            "best_val_accuracy": None if progress is None else progress.best_val_accuracy,
            "stopped_early": self.stopped_early,
            "interrupted_at": self.interrupted_at,
            "diverged_at": self.diverged_at,
        }


def layer_sizes(cfg: TrainConfig, n_inputs: int) -> list[int]:
    """The units of each layer, inputs first; a conv layer counts its outputs (pooled
    positions x kernels)."""
    conv = cfg.conv_layer()
    first = [] if conv is None else [conv.units(cfg.kernels)]
    return [n_inputs, *first, *cfg.hidden, N_CLASSES]


def build_network(cfg: TrainConfig, n_inputs: int, rng: np.random.RandomState) -> Network:
    """cfg's network, its weights drawn from rng layer after layer (--init book): a conv
    layer's kernels first (the book's kernels, then weights_1_2)."""
    conv = cfg.conv_layer()
    sizes = layer_sizes(cfg, n_inputs)
    if conv is not None:
        sizes[1] = cfg.kernels
    n = len(sizes) - 1
    activations = [cfg.hidden_activation] * (n - 1) + [cfg.activation]
    scales = None if cfg.init == "zeros" else list(cfg.init_scale) * (n // len(cfg.init_scale))
    return new_network(sizes, activations, cfg.loss, cfg.bias, scales, rng, conv)


def step_rule(cfg: TrainConfig, sizes: list[int]) -> StepRule:
    """cfg's dropout, l2, errata and frozen weights as one StepRule. The frozen weights: one
    (n_in, n_out) boolean mask per layer, False where a weight never changes (None for a layer
    that is wholly trainable): freeze_inputs freezes rows (pixels) of the first layer,
    freeze_outputs columns (classes) of the last, freeze_layers whole layers."""
    masks: list[np.ndarray | None] = [None] * (len(sizes) - 1)

    def mask(i: int) -> np.ndarray:
        if masks[i] is None:
            masks[i] = np.ones((sizes[i], sizes[i + 1]), dtype=bool)
        return masks[i]  # type: ignore[return-value]

    if cfg.freeze_inputs:
        mask(0)[parse_spec(cfg.freeze_inputs, sizes[0], "freeze_inputs"), :] = False
    if cfg.freeze_outputs:
        mask(len(masks) - 1)[:, parse_spec(cfg.freeze_outputs, sizes[-1], "freeze_outputs")] = False
    for i in parse_spec(cfg.freeze_layers, len(sizes) - 1, "freeze_layers"):
        mask(i)[...] = False
    trainable = tuple(masks) if any(m is not None for m in masks) else ()
    return StepRule(cfg.dropout, cfg.l2, trainable, frozenset(cfg.errata))


def _train_figures(pred: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The epoch's train error and accuracy from the predictions of the images it trained:
    all of them, or the first len(pred) (the dropped-tail erratum), whose accuracy the
    book still divides by every image."""
    if len(pred) == len(labels):
        return squared_error(pred, labels), accuracy(pred, labels)
    seen = labels[: len(pred)]
    correct = int(np.count_nonzero(np.argmax(pred, axis=1) == seen))
    return squared_error(pred, seen), correct / len(labels)


def tested(cfg: TrainConfig, epoch: int) -> bool:
    """Whether the test images are evaluated after `epoch` (from 1): 1, 1 + E, ... and the last."""
    return (epoch - 1) % cfg.eval_every == 0 or epoch == cfg.epochs


def _diverged(net: Network, m: EpochMetrics, untrained_error: float) -> bool:
    """A weight or the train error no longer finite, or the error DIVERGENCE_FACTOR times the
    untrained network's: the weights are running away."""
    if not math.isfinite(m.train_error):
        return True
    if not all(np.isfinite(layer.weights).all() for layer in net.layers):
        return True
    return m.train_error > DIVERGENCE_FACTOR * untrained_error


def train(
    cfg: TrainConfig,
    data: TrainData,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    engine: str | None = None,
    resume: Resume | None = None,
) -> TrainResult:
    """Train a network as `cfg` says on `data`; call `on_epoch` after every epoch.

    One np.random.RandomState(cfg.seed) draws the initial weights, layer after layer, then the
    dropout masks, step after step (as the book's np.random.seed(1) does). Stops early, with
    result.diverged_at set, when training diverges (_diverged), or with result.stopped_early
    when cfg.early_stop tested epochs in a row bring no better validation accuracy. engine:
    "reference", "blocked" or "gram" (engines.py); None, the fastest that computes cfg's steps
    (on a resume: the one the run used).

    resume: a run's progress, history and snapshots (the weights file's) to continue from:
    the weights, the random state, the schedule and the early-stopping count go on from its
    epoch, so the result is bit for bit that of the run never stopped.

    Interrupted (a signal, through gdcli.entry) or KeyboardInterrupt during training is raised
    again with `.result`: the run as it stood at the end of the last finished epoch
    (interrupted_at), weights, history and progress, ready to be saved and resumed.
    """
    name = engine or (resume.progress.engine if resume is not None else None)
    with training_threads():  # one BLAS thread; more for large products (_train)
        return _train(cfg, data, on_epoch, engines.choose(cfg, name), resume)


@dataclass
class Resume:
    """What a resumed run starts from: its progress, and the history and snapshots up to it."""

    progress: Progress
    history: list[EpochMetrics]
    snapshots: dict[int, list[np.ndarray]]


def _train(
    cfg: TrainConfig,
    data: TrainData,
    on_epoch: Callable[[EpochMetrics], None] | None,
    engine: type[engines.Engine],
    resume: Resume | None,
) -> TrainResult:
    rng = np.random.RandomState(cfg.seed)
    net = build_network(cfg, data.x_train.shape[1], rng)
    if resume is not None:  # the file's weights and random state replace the fresh ones
        for layer, (w, b) in zip(net.layers, resume.progress.layers, strict=True):
            layer.weights[...] = w
            if b is not None:
                layer.bias[...] = b  # type: ignore[index]
        rng.set_state(resume.progress.rng_state)
    y = one_hot(data.labels_train)
    rule = step_rule(cfg, layer_sizes(cfg, net.n_inputs))
    run = engine(net, data.x_train, rule, rng, cfg.batch_size, cfg.augment)
    # the multiply-adds of a step's first product and of the test's (threads.large_products);
    # the per-image engines' blocks are small products
    n_inputs, units = net.layers[0].weights.shape
    step_work = (cfg.batch_size if engine.name == "reference" else 1) * n_inputs * units
    test_work = len(data.x_test) * n_inputs * units
    val_work = 0 if data.x_val is None else len(data.x_val) * n_inputs * units
    keep = set(snapshot_epochs(cfg))
    test = Evaluator(net, data.x_test, data.labels_test)  # prepared once for every epoch's test
    val = None if data.x_val is None else Evaluator(net, data.x_val, data.labels_val)  # type: ignore[arg-type]
    result = TrainResult(net)
    if resume is None:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            untrained_error = squared_error(net.predict(data.x_train), data.labels_train)
        progress = Progress(0, copy_layers(net), rng.get_state(), engine.name, untrained_error)
        if 0 in keep:
            result.snapshots[0] = [layer.weights.copy() for layer in net.layers]
    else:
        progress = resume.progress
        untrained_error = progress.untrained_error
        result.history = list(resume.history)
        result.snapshots = dict(resume.snapshots)
    first, earlier = progress.epoch + 1, progress.seconds
    started = time.perf_counter()
    try:
        for epoch in range(first, cfg.epochs + 1):
            alpha = cfg.alpha_at(epoch)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                with large_products(step_work):
                    pred = run.epoch(y, alpha)
                metrics = EpochMetrics(epoch, alpha, *_train_figures(pred, data.labels_train))
                diverged = _diverged(net, metrics, untrained_error)
                if not diverged and tested(cfg, epoch):
                    with large_products(test_work):
                        ev = test(net)
                    metrics.test_error, metrics.test_accuracy = ev.error, ev.accuracy
                    if val is not None:
                        with large_products(val_work):
                            ev = val(net)
                        metrics.val_error, metrics.val_accuracy = ev.error, ev.accuracy
            metrics.seconds = earlier + time.perf_counter() - started
            result.history.append(metrics)
            if diverged:
                result.diverged_at = epoch
                break
            if epoch in keep:
                result.snapshots[epoch] = [layer.weights.copy() for layer in net.layers]
            # The epoch is finished: what a resume needs from it, made whole before it replaces
            # the last one (an interrupt in between leaves the previous epoch's, still whole).
            progress = _advanced(cfg, progress, epoch, net, rng, metrics)
            if on_epoch:
                on_epoch(metrics)
            if cfg.early_stop and progress.stale >= cfg.early_stop:
                result.stopped_early = True
                break
    except (Interrupted, KeyboardInterrupt) as exc:
        exc.result = _finished(cfg, result, progress, interrupted=True)  # type: ignore[union-attr]
        raise
    result.seconds = earlier + time.perf_counter() - started
    if result.diverged_at is not None:
        result.progress = None  # a diverged run is not resumed
        return result
    progress.seconds = result.seconds
    return _finished(cfg, result, progress, interrupted=False)


def _advanced(
    cfg: TrainConfig,
    last: Progress,
    epoch: int,
    net: Network,
    rng: np.random.RandomState,
    m: EpochMetrics,
) -> Progress:
    """The progress at the end of `epoch` (its metrics m), from the progress before it."""
    layers = copy_layers(net)
    best = (last.best_epoch, last.best_val_accuracy, last.best_layers, last.stale)
    if m.val_accuracy is not None:
        if last.best_val_accuracy is None or m.val_accuracy > last.best_val_accuracy:
            best = (epoch, m.val_accuracy, layers if cfg.keep == "best" else None, 0)
        else:
            best = (*best[:3], last.stale + 1)
    return Progress(epoch, layers, rng.get_state(), last.engine, last.untrained_error,
                    m.seconds, *best)  # fmt: skip


def _finished(
    cfg: TrainConfig, result: TrainResult, progress: Progress, interrupted: bool
) -> TrainResult:
    """The result as of `progress`: its history and snapshots up to its epoch, the weights it
    keeps (keep = best: the best epoch's)."""
    epoch = progress.epoch
    history = [m for m in result.history if m.epoch <= epoch]
    kept = progress.best_layers if cfg.keep == "best" and progress.best_layers else progress.layers
    out = TrainResult(
        with_layers(result.network, kept),
        history,
        history[-1].seconds if interrupted and history else result.seconds,
        None,
        {e: w for e, w in result.snapshots.items() if e <= epoch},
        result.stopped_early,
        epoch if interrupted else None,
        progress,
    )
    if interrupted:
        progress.seconds = out.seconds
    return out
