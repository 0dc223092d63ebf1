"""The network of chapter 5: one layer of weights from inputs to outputs, and its gradient step.

    pred          = x @ weights (+ bias), through the output function
    delta         = pred - true (times pred * (1 - pred) for a sigmoid output)
    weight_deltas = outer(x, delta)
    weights      -= alpha * weight_deltas

The MNIST trainer and the chapter's toy examples (3 inputs, 1 input, 3x3) share this code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Layer:
    """STAND-IN for C1's API.md Layer (lead replaces): one layer of weights."""

    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "linear"


@dataclass
class Network:
    """A linear layer.

    weights: (n_inputs, n_outputs) float64, one column per output (the book's layout).
    bias: (n_outputs,) float64 or None.
    activation: "linear" or "sigmoid" output. loss: "mse" or "softmax" (softmax output,
    cross-entropy loss).
    """

    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "linear"
    loss: str = "mse"

    # STAND-IN for C1's layered API (lead replaces): the one layer seen as a list of layers.
    @property
    def layers(self) -> list[Layer]:
        return [Layer(self.weights, self.bias, self.activation)]

    @property
    def n_inputs(self) -> int:
        return self.weights.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.weights.shape[1]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        return [x, self.predict(x)]

    def scores(self, x: np.ndarray) -> np.ndarray:
        """The weighted sums: x (..., n_inputs) -> (..., n_outputs)."""
        h = x @ self.weights
        return h if self.bias is None else h + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The outputs: x (..., n_inputs) -> (..., n_outputs)."""
        h = self.scores(x)
        if self.loss == "softmax":
            e = np.exp(h - h.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        if self.activation == "sigmoid":
            return 1.0 / (1.0 + np.exp(-h))
        return h

    def error_term(self, pred: np.ndarray, true: np.ndarray) -> np.ndarray:
        """delta: the gradient of the loss with respect to the weighted sums."""
        delta = pred - true
        if self.activation == "sigmoid" and self.loss == "mse":
            delta = delta * pred * (1 - pred)
        return delta


def init_weights(n_inputs: int, n_outputs: int, init: str, seed: int) -> np.ndarray:
    """The book's np.random.seed(seed); 0.2 * np.random.random((n_in, n_out)) - 0.1, or zeros."""
    if init == "zeros":
        return np.zeros((n_inputs, n_outputs))
    return np.random.RandomState(seed).random_sample((n_inputs, n_outputs)) * 0.2 - 0.1


@dataclass
class Step:
    """What one gradient step saw and did (the chapter prints these)."""

    pred: np.ndarray
    delta: np.ndarray
    weight_deltas: np.ndarray


def gradient_step(
    net: Network,
    x: np.ndarray,
    true: np.ndarray,
    alpha: float,
    l2: float = 0.0,
    trainable: np.ndarray | None = None,
) -> Step:
    """One step of gradient descent, in place on `net`.

    x: one example (n_inputs,) or a mini-batch (batch, n_inputs); true: (n_outputs,) or
    (batch, n_outputs). A batch's weight deltas are averaged. trainable: a boolean
    (n_inputs, n_outputs) mask; weights where it is False never change.
    """
    pred = net.predict(x)
    delta = net.error_term(pred, true)
    # outer(x, delta) for one example, the average of the batch's outer products for a batch
    weight_deltas = np.outer(x, delta) if x.ndim == 1 else x.T @ delta / len(x)
    if l2:
        weight_deltas += l2 * net.weights
    if trainable is not None:
        weight_deltas = np.where(trainable, weight_deltas, 0.0)
    net.weights -= alpha * weight_deltas
    if net.bias is not None:
        bias_deltas = delta if delta.ndim == 1 else delta.mean(axis=0)
        if trainable is not None:
            bias_deltas = np.where(trainable.any(axis=0), bias_deltas, 0.0)
        net.bias -= alpha * bias_deltas
    return Step(pred, delta, weight_deltas)
