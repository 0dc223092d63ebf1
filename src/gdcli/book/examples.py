"""The chapter's worked examples on its toy data, run by the same backprop.step as MNIST.

The toy networks are the same model as the MNIST ones: one linear layer with 3 inputs and 1
output, 1 input and 3 outputs, or 3 inputs and 3 outputs. Their sums are taken left to right
from 0 (model.sequential_dot), as the chapter's w_sum does, and the rest are elementwise
operations, so every number is the chapter's to the last digit on every CPU, and prints as its
Python floats do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gdcli.nn.backprop import StepRule
from gdcli.nn.backprop import step as gradient_step
from gdcli.nn.model import Layer, Network, sequential_dot

# The chapter's data: four games of a season.
toes = [8.5, 9.5, 9.9, 9.0]  # average number of toes per player
wlrec = [0.65, 0.8, 0.8, 0.9]  # win/loss record
nfans = [1.2, 1.3, 0.5, 1.0]  # fans, in millions
win_or_lose_binary = [1, 1, 0, 1]
hurt = [0.1, 0.0, 0.0, 0.1]
win = [1, 1, 0, 1]
sad = [0.1, 0.0, 0.1, 0.2]
wlrec_multi_output = [0.65, 1.0, 1.0, 0.9]  # the multi-output example's own wlrec


@dataclass(frozen=True)
class Example:
    """weights: in the chapter's layout, one row per output (a flat list for one output)."""

    name: str
    title: str
    x: list[float]
    true: list[float]
    weights: list[Any]
    alpha: float
    iterations: int
    frozen_inputs: tuple[int, ...] = ()


EXAMPLES = {
    e.name: e
    for e in (
        Example(
            "multi-input", "Gradient descent with multiple inputs",
            [toes[0], wlrec[0], nfans[0]], [win_or_lose_binary[0]],
            [0.1, 0.2, -0.1], alpha=0.01, iterations=3,
        ),
        Example(
            "freeze", "Freezing one weight (a, for toes)",
            [toes[0], wlrec[0], nfans[0]], [win_or_lose_binary[0]],
            [0.1, 0.2, -0.1], alpha=0.3, iterations=3, frozen_inputs=(0,),
        ),
        Example(
            "multi-output", "Gradient descent with multiple outputs",
            [wlrec_multi_output[0]], [hurt[0], win[0], sad[0]],
            [0.3, 0.2, 0.9], alpha=0.1, iterations=1,
        ),
        Example(
            "multi-in-out", "Gradient descent with multiple inputs and outputs",
            [toes[0], wlrec[0], nfans[0]], [hurt[0], win[0], sad[0]],
            # rows: hurt?, win?, sad?; columns: toes, %win, #fans
            [[0.1, 0.1, -0.3], [0.1, 0.2, 0.0], [0.0, 1.3, 0.1]], alpha=0.01, iterations=1,
        ),
    )
}  # fmt: skip
# How long the freezing example goes on to show that the error still reaches ~0.
FREEZE_FOLLOW_UP = 20


def _network(e: Example) -> Network:
    """The example's network in gdcli's layout: weights (n_inputs, n_outputs)."""
    w = np.array(e.weights, dtype=np.float64)
    if w.ndim == 2:
        return Network([Layer(w.T)], dot=sequential_dot)  # the chapter's rows are outputs
    # one output: a column of weights; one input: a row
    w = w[:, None] if len(e.true) == 1 else w[None, :]
    return Network([Layer(w)], dot=sequential_dot)


def _book_layout(a: np.ndarray) -> Any:
    """gdcli's (n_inputs, n_outputs) -> the chapter's: flat for one output or one input."""
    if a.shape[0] == 1 or a.shape[1] == 1:
        return a.ravel().tolist()
    return a.T.tolist()


def _scalar_or_list(v: np.ndarray | list[float]) -> Any:
    values = [float(f) for f in v]
    return values[0] if len(values) == 1 else values


def run(e: Example, iterations: int | None = None) -> list[dict[str, Any]]:
    """The example's steps: for each iteration its pred, error, delta, the weights before the
    step and the weight deltas; the final record holds the weights after the last step."""
    net = _network(e)
    layer = net.layers[0]
    # one example: a batch of one
    x, true = np.array([e.x], dtype=np.float64), np.array([e.true], dtype=np.float64)
    rule = StepRule()
    if e.frozen_inputs:
        trainable = np.ones_like(layer.weights, dtype=bool)
        trainable[list(e.frozen_inputs), :] = False
        rule = StepRule(trainable=(trainable,))
    steps = []
    for i in range(iterations or e.iterations):
        before = _book_layout(layer.weights)
        step = gradient_step(net, x, true, e.alpha, rule)
        delta = step.deltas[-1][0]
        weight_deltas = _book_layout(step.weight_deltas[0])
        for j in e.frozen_inputs:
            weight_deltas[j] = 0  # the chapter sets a frozen weight's delta to the integer 0
        steps.append(
            {
                "iteration": i + 1,
                "pred": _scalar_or_list(step.pred[0]),
                # the chapter's (pred - true) ** 2, on Python floats
                "error": _scalar_or_list([float(d) ** 2 for d in delta]),
                "delta": _scalar_or_list(delta),
                "weights": before,
                "weight_deltas": weight_deltas,
            }
        )
    steps.append({"weights_after": _book_layout(layer.weights)})
    return steps
