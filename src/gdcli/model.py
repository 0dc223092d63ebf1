"""STAND-IN for helper C1's layered model (API.md); the lead replaces this file.

The API.md interface (Layer, Network(layers, loss), forward/predict/scores), plus the old
one-layer attributes (weights, bias, activation, error_term) so that the unchanged chapter-5
code keeps running until C1's model lands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


def _activate(h: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    if name == "tanh":
        return np.tanh(h)
    return h


@dataclass
class Layer:
    """weights (n_in, n_out) float64, one column per output unit; bias (n_out,) or None."""

    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "linear"

    def scores(self, x: np.ndarray) -> np.ndarray:
        h = x @ self.weights
        return h if self.bias is None else h + self.bias


@dataclass(init=False)
class Network:
    """A list of layers, input -> output; the 784x10 book network is one linear layer."""

    layers: list[Layer] = field(default_factory=list)
    loss: str = "mse"

    def __init__(self, layers, bias=None, activation="linear", loss="mse") -> None:
        if isinstance(layers, np.ndarray):  # the old Network(weights, bias, activation, loss)
            layers = [Layer(layers, bias, activation)]
        elif isinstance(bias, str):  # Network(layers, "softmax")
            loss = bias
        self.layers = list(layers)
        self.loss = loss

    @property
    def n_inputs(self) -> int:
        return self.layers[0].weights.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].weights.shape[1]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        outs = [x]
        for i, layer in enumerate(self.layers):
            h = layer.scores(outs[-1])
            last = i == len(self.layers) - 1
            outs.append(_softmax(h) if last and self.loss == "softmax" else
                        _activate(h, layer.activation))  # fmt: skip
        return outs

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)[-1]

    def scores(self, x: np.ndarray) -> np.ndarray:
        return self.layers[-1].scores(self.forward(x)[-2])

    # --- the old one-layer interface, for the code C1 is replacing ---
    @property
    def weights(self) -> np.ndarray:
        return self.layers[0].weights

    @weights.setter
    def weights(self, value: np.ndarray) -> None:
        self.layers[0].weights = value

    @property
    def bias(self) -> np.ndarray | None:
        return self.layers[0].bias

    @bias.setter
    def bias(self, value: np.ndarray | None) -> None:
        self.layers[0].bias = value

    @property
    def activation(self) -> str:
        return self.layers[-1].activation

    def error_term(self, pred: np.ndarray, true: np.ndarray) -> np.ndarray:
        delta = pred - true
        if self.activation == "sigmoid" and self.loss == "mse":
            delta = delta * pred * (1 - pred)
        return delta


def _softmax(h: np.ndarray) -> np.ndarray:
    e = np.exp(h - h.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


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
