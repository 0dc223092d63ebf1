"""STAND-IN for C1's layered model (API.md): Layer/Network with forward/predict/scores.

Written by C3 (h-wfile) only so the weights file, evaluate, predict and explain can be built
and tested against the API.md interface before C1's model.py lands; the lead replaces this
file by C1's version. The old one-layer constructor Network(weights, bias, activation, loss)
and the .weights/.bias/.activation properties are kept here only so the 0.1 trainer and
examples still run in this worktree; gdcli code written for 0.2 uses net.layers.

The network of chapter 5: one layer of weights from inputs to outputs, and its gradient step.

    pred          = x @ weights (+ bias), through the output function
    delta         = pred - true (times pred * (1 - pred) for a sigmoid output)
    weight_deltas = outer(x, delta)
    weights      -= alpha * weight_deltas
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
LOSSES = ("mse", "softmax")


def activate(h: np.ndarray, activation: str) -> np.ndarray:
    if activation == "relu":
        return np.maximum(h, 0.0)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    if activation == "tanh":
        return np.tanh(h)
    return h


@dataclass
class Layer:
    """weights (n_in, n_out) float64, one column per output unit; bias (n_out,) or None."""

    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "linear"

    def weighted_sums(self, x: np.ndarray) -> np.ndarray:
        h = x @ self.weights
        return h if self.bias is None else h + self.bias


class Network:
    """Layers from input to output; loss "mse" or "softmax" (softmax output, cross-entropy)."""

    def __init__(
        self,
        layers: list[Layer] | np.ndarray,
        bias: np.ndarray | None = None,
        activation: str = "linear",
        loss: str = "mse",
    ) -> None:
        if isinstance(layers, np.ndarray):  # stand-in only: the 0.1 one-layer constructor
            layers = [Layer(layers, bias, activation)]
        self.layers: list[Layer] = list(layers)
        self.loss = loss

    @property
    def n_inputs(self) -> int:
        return self.layers[0].weights.shape[0]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].weights.shape[1]

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """[x, layer 1 output, ..., network output]; x (..., n_in)."""
        outs = [x]
        for layer in self.layers:
            outs.append(activate(layer.weighted_sums(outs[-1]), layer.activation))
        return outs

    def scores(self, x: np.ndarray) -> np.ndarray:
        """(..., n_outputs): the last layer's weighted sums (+ bias), before its activation."""
        hidden = self.forward_hidden(x)
        return self.layers[-1].weighted_sums(hidden)

    def forward_hidden(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers[:-1]:
            x = activate(layer.weighted_sums(x), layer.activation)
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(..., n_outputs): the network's output (softmax'd if loss softmax)."""
        h = self.scores(x)
        if self.loss == "softmax":
            e = np.exp(h - h.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        return activate(h, self.layers[-1].activation)

    # --- stand-in only: the 0.1 one-layer interface used by the 0.1 trainer and examples ---
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
        return self.layers[0].activation

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
