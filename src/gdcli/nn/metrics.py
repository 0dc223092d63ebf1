"""How well a network does: squared error, accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdcli.data.load import one_hot
from gdcli.nn.certified import CertifiedTest, fits
from gdcli.nn.model import Network, softmax


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
    return _evaluation(pred, np.argmax(pred, axis=1), labels)


class Evaluator:
    """Evaluations of a network on fixed images x (n, n_inputs) with labels (n,), epoch after
    epoch: evaluator(net) is evaluate(net, x, labels). For a network of chapter 10's form
    (certified.fits) the images are prepared once and every evaluation runs in float32 with
    its classes certified (certified.py): the same accuracy, per-class accuracy and confusion
    matrix; the error from float32's scores. certified=False: always evaluate()."""

    def __init__(self, net: Network, x: np.ndarray, labels: np.ndarray, certified: bool = True):
        self.x, self.labels = x, labels
        conv = net.layers[0].conv
        use = certified and conv is not None and fits(net)
        self.certified = CertifiedTest(conv, x) if use else None  # type: ignore[arg-type]

    def __call__(self, net: Network) -> Evaluation:
        if self.certified is None:
            return evaluate(net, self.x, self.labels)
        classes, scores, _ = self.certified.classes(net)
        pred = softmax(scores) if net.loss == "softmax" else scores
        return _evaluation(pred, classes, self.labels)


def _evaluation(pred: np.ndarray, classes: np.ndarray, labels: np.ndarray) -> Evaluation:
    """The Evaluation of predictions pred (n, k) whose classes are `classes` (n,)."""
    k = pred.shape[1]
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, classes), 1)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.diag(confusion) / totals
    correct = float(np.mean(classes == labels))
    return Evaluation(squared_error(pred, labels), correct, per_class, confusion)


def mean_image_correlations(
    weights: np.ndarray, images: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """How much each class's weights look like the class: their correlation with its mean image.

    Parameters
    ----------
    weights : (n_pixels, k) array
        A column per class: the weights from every pixel to that class's output (or what
        training added to them).
    images : (n, n_pixels) array
        Images as the network saw them (deskewed if it was trained so).
    labels : (n,) array of class indices

    Returns
    -------
    (k,) array
        Pearson's correlation of column c with the mean of the images of class c; NaN for a
        class without images, or when either is constant. The book's memorised chapter-5 run
        scores 0.00-0.06, configs/best.toml 0.30-0.48 (docs/experiments.md).
    """
    k = weights.shape[1]
    out = np.full(k, np.nan)
    for c in range(k):
        mine = labels == c
        if not mine.any():
            continue
        w = weights[:, c] - weights[:, c].mean()
        m = images[mine].mean(axis=0)
        m = m - m.mean()
        norm = float(np.linalg.norm(w) * np.linalg.norm(m))
        if norm > 0:
            out[c] = float(w @ m) / norm
    return out
