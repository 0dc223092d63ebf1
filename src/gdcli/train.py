"""Training loops: epochs of gradient descent over the training images, with metrics.

For every epoch, for each image (or mini-batch) in order: predict, take delta, step the weights.
The book's default (linear, squared error, one image at a time) runs through BlockedSGD, which
computes exactly the same steps with matrix products; every other configuration runs the same
gradient_step the chapter's examples use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gdcli.blocked import BlockedSGD
from gdcli.config import TrainConfig, parse_spec
from gdcli.data import load_split, one_hot
from gdcli.datasets import N_CLASSES, get_dataset
from gdcli.metrics import accuracy, evaluate, squared_error
from gdcli.model import Network, gradient_step, init_weights
from gdcli.transforms import deskew, shifts


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
    if cfg.deskew:
        x_train, x_test = deskew(x_train), deskew(x_test)
    return TrainData(x_train, labels_train, x_test, labels_test)


@dataclass
class EpochMetrics:
    """Train error/accuracy from each image's prediction just before its step (as the book
    reports it); test error/accuracy with the weights at the end of the epoch, when evaluated."""

    epoch: int
    alpha: float
    train_error: float
    train_accuracy: float
    test_error: float | None = None
    test_accuracy: float | None = None
    seconds: float = 0.0


@dataclass
class TrainResult:
    network: Network
    history: list[EpochMetrics] = field(default_factory=list)
    seconds: float = 0.0
    diverged_at: int | None = None  # the epoch where a weight or the error stopped being finite
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)  # STAND-IN (C1)


def snapshot_epochs(epochs: int) -> set[int]:
    """STAND-IN for C1's default snapshots: 0 and about ten epochs spaced geometrically."""
    return {0} | {round(epochs ** (i / 9)) for i in range(10)}


def new_network(cfg: TrainConfig, n_inputs: int) -> Network:
    weights = init_weights(n_inputs, N_CLASSES, cfg.init, cfg.seed)
    bias = np.zeros(N_CLASSES) if cfg.bias else None
    return Network(weights, bias, cfg.activation, cfg.loss)


def trainable_mask(cfg: TrainConfig, n_inputs: int) -> np.ndarray | None:
    """(n_inputs, 10) booleans, False where --freeze-inputs/--freeze-outputs freeze a weight."""
    if not cfg.freeze_inputs and not cfg.freeze_outputs:
        return None
    mask = np.ones((n_inputs, N_CLASSES), dtype=bool)
    mask[parse_spec(cfg.freeze_inputs, n_inputs, "freeze_inputs"), :] = False
    mask[:, parse_spec(cfg.freeze_outputs, N_CLASSES, "freeze_outputs")] = False
    return mask


def uses_blocked(cfg: TrainConfig) -> bool:
    """BlockedSGD covers the linear recurrences: per-example, linear, squared error, no L2."""
    return (cfg.batch_size, cfg.activation, cfg.loss, cfg.l2, cfg.augment) == (
        1, "linear", "mse", 0.0, "none",
    )  # fmt: skip


def _batches(cfg: TrainConfig, x: np.ndarray, y: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
    """The epoch's steps in order: single images (1-D) or mini-batches, each followed by its
    four one-pixel shifts with --augment shifts."""
    for start in range(0, len(x), cfg.batch_size):
        stop = start + cfg.batch_size
        xb, yb = x[start:stop], y[start:stop]
        variants = [xb, *shifts(xb)] if cfg.augment == "shifts" else [xb]
        for v in variants:
            yield (v[0], yb[0]) if cfg.batch_size == 1 else (v, yb)


def _loop_epoch(
    cfg: TrainConfig,
    net: Network,
    x: np.ndarray,
    y: np.ndarray,
    alpha: float,
    mask: np.ndarray | None,
) -> np.ndarray:
    """One epoch of gradient_step; returns the predictions made before each step, (steps, 10),
    for the unshifted images only."""
    preds = []
    step_of_original = 5 if cfg.augment == "shifts" else 1
    for i, (xb, yb) in enumerate(_batches(cfg, x, y)):
        step = gradient_step(net, xb, yb, alpha, cfg.l2, mask)
        if i % step_of_original == 0:
            preds.append(step.pred.reshape(-1, N_CLASSES))
    return np.concatenate(preds)


def train(
    cfg: TrainConfig,
    data: TrainData,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
) -> TrainResult:
    """Train a network as `cfg` says on `data`; call `on_epoch` after every epoch.

    Stops early, with result.diverged_at set, when a weight or the error is no longer finite.
    """
    n_inputs = data.x_train.shape[1]
    net = new_network(cfg, n_inputs)
    y = one_hot(data.labels_train)
    mask = trainable_mask(cfg, n_inputs)
    result = TrainResult(net)
    started = time.perf_counter()

    blocked = None
    if uses_blocked(cfg):
        # The bias is the weight of an input that is always 1.
        x = data.x_train if net.bias is None else np.hstack([data.x_train, np.ones((len(y), 1))])
        input_mask = None if mask is None else mask.any(axis=1)
        output_mask = None if mask is None else mask.any(axis=0)
        if input_mask is not None and net.bias is not None:
            input_mask = np.append(input_mask, True)
        blocked = BlockedSGD(x, input_mask)

    keep = snapshot_epochs(cfg.epochs)
    result.snapshots[0] = [net.weights.astype(np.float32)]
    for epoch in range(1, cfg.epochs + 1):
        alpha = cfg.alpha_at(epoch)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if blocked is not None:
                w = net.weights if net.bias is None else np.vstack([net.weights, net.bias])
                pred = blocked.epoch(w, y, alpha, output_mask) + y
                if net.bias is not None:
                    net.weights, net.bias = w[:-1], w[-1]
            else:
                pred = _loop_epoch(cfg, net, data.x_train, y, alpha, mask)
            metrics = EpochMetrics(
                epoch,
                alpha,
                squared_error(pred, data.labels_train),
                accuracy(pred, data.labels_train),
            )
            finite = np.isfinite(net.weights).all() and np.isfinite(metrics.train_error)
            if finite and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
                test = evaluate(net, data.x_test, data.labels_test)
                metrics.test_error, metrics.test_accuracy = test.error, test.accuracy
        metrics.seconds = time.perf_counter() - started
        result.history.append(metrics)
        if not finite:
            result.diverged_at = epoch
            break
        if epoch in keep:
            with np.errstate(over="ignore"):
                result.snapshots[epoch] = [net.weights.astype(np.float32)]
        if on_epoch:
            on_epoch(metrics)
    result.seconds = time.perf_counter() - started
    return result
