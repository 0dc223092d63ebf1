"""How well a network does: squared error, accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdcli.data.load import one_hot
from gdcli.nn.model import Network


def squared_error(pred: np.ndarray, labels: np.ndarray) -> float:
    """The book's error: sum over the outputs of (pred - true)^2, averaged over images.

    pred: (n, k) outputs; labels: (n,) class indices.
    """
    return float(np.mean(np.sum((pred - one_hot(labels, pred.shape[1])) ** 2, axis=1)))


def accuracy(pred: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images (0..1) whose largest output is their label."""
    return float(np.mean(np.argmax(pred, axis=1) == labels))


@dataclass
class Evaluation:
    """error and accuracy as above; per_class: (k,) accuracy of each true class (NaN if absent);
    confusion: (k, k) counts, rows the true class, columns the predicted one."""

    error: float
    accuracy: float
    per_class: np.ndarray
    confusion: np.ndarray


def evaluate(net: Network, x: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Evaluate `net` on images x (n, n_inputs) with labels (n,)."""
    pred = net.predict(x)
    k = pred.shape[1]
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, np.argmax(pred, axis=1)), 1)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / totals
    return Evaluation(squared_error(pred, labels), accuracy(pred, labels), per_class, confusion)
