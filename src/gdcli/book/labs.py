"""The second seed's labs ("Implement gradient descent"), on the same model as MNIST.

Six labs, each printing what the lesson's notebook prints:
- gradient-basic: one gradient step of a 4-input sigmoid unit;
- worked-backprop: the seed's worked example (2 inputs, 1 hidden unit, 1 output), every quantity;
- multilayer: a forward pass through a 4-3-2 sigmoid network;
- backprop-basic: one backpropagation step of a 3-2-1 sigmoid network;
- admissions-gd: gradient descent on the graduate-admissions table (6 features, 1 output);
- admissions-backprop: backpropagation on it (6-2-1).

Every network is a model.Network of model.Layer, run by its forward pass; the one-record labs
take backprop.step as it is. The lab writes its step with the opposite sign (error = y - out,
W += learnrate * error_term * x); gdcli's delta is (out - y) * f', W -= alpha * outer(x, delta):
negating a float is exact, so the lab's numbers are -alpha * gdcli's weight deltas, bit for bit
when alpha is a power of 2 (0.5 here).

The two admissions labs print losses to 16 digits after a thousand epochs, and those digits
follow the lab's arithmetic to the last bit, so they are computed as the lab computes them,
on every CPU:
- e^x is the C library's exp (math.exp), not numpy's, whose AVX-512 code differs from it in
  the last bit for about 1 number in 20: the lab's printed figures are those of a CPU without
  AVX-512, where numpy calls the C library;
- np.dot sums in the order OpenBLAS's x86-64 kernels do (record_dot, frame_dot below), which
  is not left to right;
- the error term is multiplied as the lab writes it, error * out * (1 - out) (gdcli's
  output_delta multiplies error by out * (1 - out): another rounding);
- one epoch is the per-record steps summed record after record from zero and applied once,
  W += learnrate * del_w / n_records (gdcli's batch step divides the delta by n first).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gdcli.book.errata import LAST_RECORD_LOSS
from gdcli.data.admissions import FEATURES, Prepared
from gdcli.nn import backprop
from gdcli.nn.model import Layer, Network, sequential_dot

_EXP = np.frompyfunc(math.exp, 1, 1)
_EXP_MAX = 709.0  # math.exp overflows past ~709.78; e^709 is already 8e307


def libm_exp(x: np.ndarray) -> np.ndarray:
    """e^x elementwise by the C library's exp (Python's math.exp), as numpy computes it on a
    CPU without AVX-512: the same bits on every CPU. Past 709, inf (as np.exp gives)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.asarray(_EXP(np.minimum(x, _EXP_MAX)), dtype=np.float64).reshape(x.shape)
    return np.where(x > _EXP_MAX, np.inf, out)


def record_dot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w summed as the lab's np.dot(x, weights) sums one record of its frame.

    x: (..., n) records; w: (n, k). A record is a row of the pandas frame's values, a strided
    vector, and for one column of weights (k = 1) OpenBLAS's strided ddot adds the products in
    two running sums, t1 += x0w0 + x2w2 and t2 += x1w1 + x3w3 per 4 terms, the rest onto t1,
    then t1 + t2. Against a weight matrix (k > 1) its gemv adds them left to right.
    """
    if w.shape[1] > 1:
        return sequential_dot(x, w)
    m = x[..., :, None] * w  # (..., n, 1)
    n = w.shape[0]
    t1 = np.zeros((*m.shape[:-2], 1))
    t2 = np.zeros_like(t1)
    for i in range(0, n - n % 4, 4):
        t1 = t1 + (m[..., i, :] + m[..., i + 2, :])
        t2 = t2 + (m[..., i + 1, :] + m[..., i + 3, :])
    for i in range(n - n % 4, n):
        t1 = t1 + m[..., i, :]
    return t1 + t2


def frame_dot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w summed as the lab's np.dot(features, weights) sums the whole frame.

    x: (n_records, n); w: (n, k). For one column of weights, OpenBLAS's gemv adds the columns
    4 at a time, (x0w0 + x2w2) + (x1w1 + x3w3), onto a running sum, then the rest one by one.
    Otherwise left to right (the lab only classifies with those: its accuracy does not depend
    on the last bit, tests/test_labs.py checks the margin).
    """
    if w.shape[1] > 1:
        return sequential_dot(x, w)
    m = x[..., :, None] * w
    n = w.shape[0]
    y = np.zeros((*m.shape[:-2], 1))
    for i in range(0, n - n % 4, 4):
        y = y + ((m[..., i, :] + m[..., i + 2, :]) + (m[..., i + 1, :] + m[..., i + 3, :]))
    for i in range(n - n % 4, n):
        y = y + m[..., i, :]
    return y


def numpy_str(a: np.ndarray) -> str:
    """`print(a)` with numpy's default print options, whatever the current ones are."""
    return np.array2string(
        np.asarray(a), max_line_width=75, precision=8, suppress_small=False, separator=" ",
        threshold=1000, edgeitems=3, sign="-", floatmode="maxprec", legacy=False,
    )  # fmt: skip


def _net(layers: list[Layer], dot: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Network:
    return Network(layers, dot=dot, exp=libm_exp)


def _sigmoid_layer(weights: Any) -> Layer:
    w = np.array(weights, dtype=np.float64)
    return Layer(w[:, None] if w.ndim == 1 else w, activation="sigmoid")


def _floats(a: np.ndarray) -> Any:
    return np.asarray(a, dtype=np.float64).tolist()


# --------------------------------------------------------------------- one-record labs


def gradient_basic() -> dict[str, Any]:
    """gradient_basic: one step of a sigmoid unit, x = [1, 2, 3, 4], y = 0.5,
    w = [0.5, -0.5, 0.3, 0.1], learning rate 0.5."""
    alpha, y = 0.5, 0.5
    net = _net([_sigmoid_layer([0.5, -0.5, 0.3, 0.1])], sequential_dot)
    step = backprop.step(net, np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([[y]]), alpha)
    out = float(step.pred[0, 0])
    return {
        "nn_output": out,
        "error": y - out,  # the lab's error: target minus output
        "del_w": _floats(-alpha * step.weight_deltas[0][:, 0]),
    }


# The seed's worked example: the lesson's figures as it prints them (rounded by hand).
WORKED_LESSON = {
    "h": -0.02,
    "hidden_output": 0.495,
    "output": 0.512,
    "output_error_term": 0.122,
    "hidden_error_term": 0.003,
    "delta_w_hidden_output": 0.0302,
    "delta_w_input_hidden": [0.00015, 0.00045],
}
WORKED_NOTE = (
    "The lesson's last step multiplies the hidden error term rounded to 0.003: "
    "0.5 * 0.003 * (0.1, 0.3) = (0.00015, 0.00045); unrounded it is {hidden!r}, which gives "
    "({w0:.3g}, {w1:.3g})."
)


def worked_backprop() -> dict[str, Any]:
    """The seed's worked example: x = (0.1, 0.3), input-to-hidden weights (0.4, -0.2),
    hidden-to-output weight 0.1, target 1, learning rate 0.5, sigmoid everywhere."""
    alpha, x, y = 0.5, np.array([[0.1, 0.3]]), np.array([[1.0]])  # one record: a batch of one
    net = _net([_sigmoid_layer([0.4, -0.2]), _sigmoid_layer([0.1])], sequential_dot)
    h = float(net.layers[0].sums(x, net.dot)[0, 0])
    hidden = float(net.forward(x)[1][0, 0])
    step = backprop.step(net, x, y, alpha)
    values = {
        "h": h,
        "hidden_output": hidden,
        "output": float(step.pred[0, 0]),
        # the lesson's error terms are (y - out) * f': gdcli's deltas negated (exactly)
        "output_error_term": float(-step.deltas[1][0, 0]),
        "hidden_error_term": float(-step.deltas[0][0, 0]),
        "delta_w_hidden_output": float(-alpha * step.weight_deltas[1][0, 0]),
        "delta_w_input_hidden": _floats(-alpha * step.weight_deltas[0][:, 0]),
    }
    w0, w1 = values["delta_w_input_hidden"]
    note = WORKED_NOTE.format(hidden=values["hidden_error_term"], w0=w0, w1=w1)
    return {"values": values, "lesson": WORKED_LESSON, "note": note}


def multilayer() -> dict[str, Any]:
    """multilayer: a forward pass through 4-3-2 sigmoid layers; np.random.seed(42), X =
    randn(4), weights normal(0, 0.1) input-to-hidden then hidden-to-output."""
    rng = np.random.RandomState(42)  # the lab's np.random.seed(42): the same stream
    x = rng.randn(4)
    w1 = rng.normal(0, scale=0.1, size=(4, 3))
    w2 = rng.normal(0, scale=0.1, size=(3, 2))
    outs = _net([_sigmoid_layer(w1), _sigmoid_layer(w2)], sequential_dot).forward(x)
    return {"hidden_layer_output": _floats(outs[1]), "output_layer_output": _floats(outs[2])}


def backprop_basic() -> dict[str, Any]:
    """backprop_basic: one step of a 3-2-1 sigmoid network, x = [0.5, 0.1, -0.2], target 0.6,
    learning rate 0.5."""
    alpha = 0.5
    net = _net(
        [_sigmoid_layer([[0.5, -0.6], [0.1, -0.2], [0.1, 0.7]]), _sigmoid_layer([0.1, -0.3])],
        sequential_dot,
    )
    step = backprop.step(net, np.array([[0.5, 0.1, -0.2]]), np.array([[0.6]]), alpha)
    return {
        "delta_w_h_o": _floats(-alpha * step.weight_deltas[1][:, 0]),
        "delta_w_i_h": _floats(-alpha * step.weight_deltas[0]),
    }


# ------------------------------------------------------------------------ admissions


@dataclass(frozen=True)
class AdmissionsLab:
    """One of the admissions labs: its seed (data split and weights), hidden units (0: none),
    epochs and learning rate; the loss is printed every epochs / 10 epochs."""

    name: str
    seed: int
    hidden: int
    epochs: int
    alpha: float


ADMISSIONS_GD = AdmissionsLab("admissions-gd", seed=42, hidden=0, epochs=1000, alpha=0.5)
ADMISSIONS_BACKPROP = AdmissionsLab(
    "admissions-backprop", seed=21, hidden=2, epochs=900, alpha=0.005
)


def error_term(error: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A sigmoid unit's error term as the lab writes it, error * out * (1 - out), multiplied
    left to right (error: out - y in gdcli's sign, so this is the lab's term negated)."""
    return error * out * (1 - out)


def lab_epoch(net: Network, x: np.ndarray, y: np.ndarray, alpha: float) -> None:
    """One epoch of the labs' batch update on `net` (sigmoid layers), in place.

    The lab loops over the records with the epoch's weights: forward, error term, hidden error
    terms through the weights above, then del_w += term * input, record after record from zero;
    after the loop W += learnrate * del_w / n_records. Every record sees the same weights, so
    the forward pass is the network's on all of them at once (the same bits, elementwise);
    the sums over records go in the lab's order.
    """
    outs = net.forward(x)
    deltas = [error_term(outs[-1] - y[:, None], outs[-1])]
    for i in range(len(net.layers) - 1, 0, -1):
        back = net.dot(deltas[0], net.layers[i].weights.T)  # output_error_term * w, exactly
        deltas.insert(0, error_term(back, outs[i]))
    steps = [_in_order_sum(outs[i], d) for i, d in enumerate(deltas)]
    for layer, summed in zip(net.layers, steps, strict=True):
        layer.weights -= alpha * summed / len(x)  # the lab's learnrate * del_w / n_records


def _in_order_sum(x_in: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The sum of the records' outer(x_in, delta), added one record after another from the
    first (np.add.accumulate adds in order; its last row is the lab's del_w)."""
    return np.add.accumulate(x_in[:, :, None] * delta[:, None, :], axis=0)[-1]


def admissions_network(lab: AdmissionsLab, n_features: int) -> list[Layer]:
    """The lab's weights: np.random.seed(seed), then normal(scale=1 / n_features**.5) for the
    input-to-output (or input-to-hidden, then hidden-to-output) weights."""
    rng = np.random.RandomState(lab.seed)
    scale = 1 / n_features**0.5
    if not lab.hidden:
        return [_sigmoid_layer(rng.normal(scale=scale, size=n_features))]
    w1 = rng.normal(scale=scale, size=(n_features, lab.hidden))
    w2 = rng.normal(scale=scale, size=lab.hidden)
    return [_sigmoid_layer(w1), _sigmoid_layer(w2)]


def run_admissions(
    lab: AdmissionsLab, data: Prepared, errata: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The lab's training: every epochs / 10 epochs the training loss (with the lab's
    "increasing" warning), then the accuracy on the held-out rows at 0.5.

    The loss is the mean squared error over the training records; with the erratum
    LAST_RECORD_LOSS (admissions-backprop) it is the lab's printed figure instead: the mean of
    (out - y)^2 over the training targets where out is the network's output for one record,
    the last of the epoch's loop (the lab's forward pass runs on `x`, left over from it).
    """
    x, y = data.features, data.targets
    layers = admissions_network(lab, x.shape[1])
    train, frame = _net(layers, record_dot), _net(layers, frame_dot)
    losses, last = [], None
    for e in range(lab.epochs):
        lab_epoch(train, x, y, lab.alpha)
        if e % (lab.epochs / 10) == 0:
            if LAST_RECORD_LOSS in errata:
                out = train.predict(x[-1])  # one record's output, against every target
                loss = float(np.mean((out[0] - y) ** 2))
            else:
                loss = float(np.mean((frame.predict(x)[:, 0] - y) ** 2))
            losses.append({"epoch": e, "loss": loss, "increasing": bool(last and last < loss)})
            last = loss
    out = frame.predict(data.features_test)[:, 0]
    accuracy = float(np.mean((out > 0.5) == (data.targets_test == 1)))
    return {
        "seed": lab.seed,
        "epochs": lab.epochs,
        "alpha": lab.alpha,
        "features": list(FEATURES),
        "n_train": len(x),
        "n_test": len(data.features_test),
        "errata": sorted(errata),
        "losses": losses,
        "accuracy": accuracy,
        "min_margin": float(np.min(np.abs(out - 0.5))),
    }
