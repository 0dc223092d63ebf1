"""Training: epochs of gradient descent over the training images, with metrics and snapshots.

For every epoch, for each image (or mini-batch) in order: forward, deltas, step (backprop.py),
computed by the engine engines.choose() picks for the configuration (or the one named).

The test images are evaluated after epochs 1, 1 + E, 1 + 2E, ... (E = eval_every; the book
tests after its iterations 0, 10, 20, ...) and after the last epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gdcli.config import TrainConfig, parse_spec, snapshot_epochs
from gdcli.data.load import load_split, one_hot
from gdcli.data.registry import N_CLASSES, get_dataset
from gdcli.data.transforms import as_trained
from gdcli.nn import engines
from gdcli.nn.backprop import StepRule
from gdcli.nn.metrics import accuracy, evaluate, squared_error
from gdcli.nn.model import Network, new_network
from gdcli.nn.threads import large_products, training_threads

# Divergence: an epoch whose train error is more than this many times the error of the untrained
# network on the same images (or an error or weight no longer finite). The book's 784x10 network
# starts at 3.0; its first epoch ends at 6.1e5 at alpha 0.025 and 7.6e21 at 0.03 (then it grows
# 1e5-fold an epoch), while at alpha 0.02 it ends at 7.0 and then settles.
DIVERGENCE_FACTOR = 1e4


@dataclass
class TrainData:
    """Images (n, 784) float64 in [0, 1] and labels (n,) int64, for training and testing."""

    x_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray


def load_data(cfg: TrainConfig, data_dir: Path) -> TrainData:
    """The first cfg.n_train training images and all test images of cfg.dataset, deskewed
    when cfg.deskew (train and test alike)."""
    ds = get_dataset(cfg.dataset)
    x_train, labels_train = load_split(ds, data_dir, "train", cfg.n_train)
    x_test, labels_test = load_split(ds, data_dir, "test")
    config = cfg.to_dict()
    return TrainData(
        as_trained(x_train, config), labels_train, as_trained(x_test, config), labels_test
    )


@dataclass
class EpochMetrics:
    """Train error/accuracy from each image's prediction just before its step (as the book
    reports it); test error/accuracy with the weights at the end of the epoch, when tested.
    Values may be nan or inf after a divergence; to_json() makes them null."""

    epoch: int
    alpha: float
    train_error: float
    train_accuracy: float
    test_error: float | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The epoch as a JSON object (a line of --metrics): non-finite numbers as None, the
        test figures only when the epoch was tested."""
        out: dict[str, Any] = {}
        for key, value in vars(self).items():
            if value is None:
                continue
            out[key] = value if isinstance(value, int) or math.isfinite(value) else None
        return out


@dataclass
class TrainResult:
    """network: the trained weights; history: one EpochMetrics per epoch run; snapshots:
    epoch -> a copy of each layer's weights (epoch 0: before training), see
    config.snapshot_epochs; diverged_at: the epoch where training diverged, or None."""

    network: Network
    history: list[EpochMetrics] = field(default_factory=list)
    seconds: float = 0.0
    diverged_at: int | None = None
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def summary(self, cfg: TrainConfig) -> dict[str, Any]:
        """The run's results: the last epoch's train figures, the last test figures, the
        epochs run, alpha and the seconds (the keys of `gdcli train --json`)."""
        last = self.history[-1]
        tested = next((m for m in reversed(self.history) if m.test_accuracy is not None), None)
        return {
            "train_error": last.train_error,
            "train_accuracy": last.train_accuracy,
            "test_error": tested.test_error if tested else None,
            "test_accuracy": tested.test_accuracy if tested else None,
            "epochs": last.epoch,
            "alpha": cfg.alpha,
            "seconds": round(self.seconds, 4),
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
) -> TrainResult:
    """Train a network as `cfg` says on `data`; call `on_epoch` after every epoch.

    One np.random.RandomState(cfg.seed) draws the initial weights, layer after layer, then the
    dropout masks, step after step (as the book's np.random.seed(1) does). Stops early, with
    result.diverged_at set, when training diverges (_diverged). engine: "reference", "blocked"
    or "gram" (engines.py); None, the fastest that computes cfg's steps.
    """
    with training_threads():  # one BLAS thread; more for large products (_train)
        return _train(cfg, data, on_epoch, engines.choose(cfg, engine))


def _train(
    cfg: TrainConfig,
    data: TrainData,
    on_epoch: Callable[[EpochMetrics], None] | None,
    engine: type[engines.Engine],
) -> TrainResult:
    rng = np.random.RandomState(cfg.seed)
    net = build_network(cfg, data.x_train.shape[1], rng)
    y = one_hot(data.labels_train)
    rule = step_rule(cfg, layer_sizes(cfg, net.n_inputs))
    run = engine(net, data.x_train, rule, rng, cfg.batch_size, cfg.augment)
    # the multiply-adds of a step's first product and of the test's (threads.large_products);
    # the per-image engines' blocks are small products
    n_inputs, units = net.layers[0].weights.shape
    step_work = (cfg.batch_size if engine.name == "reference" else 1) * n_inputs * units
    test_work = len(data.x_test) * n_inputs * units
    keep = set(snapshot_epochs(cfg))
    result = TrainResult(net)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        untrained_error = squared_error(net.predict(data.x_train), data.labels_train)
    if 0 in keep:
        result.snapshots[0] = [layer.weights.copy() for layer in net.layers]
    started = time.perf_counter()

    for epoch in range(1, cfg.epochs + 1):
        alpha = cfg.alpha_at(epoch)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            with large_products(step_work):
                pred = run.epoch(y, alpha)
            metrics = EpochMetrics(epoch, alpha, *_train_figures(pred, data.labels_train))
            diverged = _diverged(net, metrics, untrained_error)
            if not diverged and tested(cfg, epoch):
                with large_products(test_work):
                    test = evaluate(net, data.x_test, data.labels_test)
                metrics.test_error, metrics.test_accuracy = test.error, test.accuracy
        metrics.seconds = time.perf_counter() - started
        result.history.append(metrics)
        if diverged:
            result.diverged_at = epoch
            break
        if epoch in keep:
            result.snapshots[epoch] = [layer.weights.copy() for layer in net.layers]
        if on_epoch:
            on_epoch(metrics)
    result.seconds = time.perf_counter() - started
    return result
