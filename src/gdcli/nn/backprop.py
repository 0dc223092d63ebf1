"""Backpropagation: one step of gradient descent for a network of any depth, as the seed says it.

    forward    out_0 = x,  out_l = f_l(out_{l-1} @ W_l + b_l)      (dropout: times mask / (1 - p))
    output     delta_L = (pred - true) * f_L'(h_L)       the error term (softmax and cross-entropy:
                                                         pred - true)
    backward   delta_{l-1} = (delta_l @ W_l.T) * f_{l-1}'(h_{l-1})
               "the output errors, scaled by the weights between the layers, and the gradient"
    step       W_l -= alpha * outer(out_{l-1}, delta_l),  b_l -= alpha * delta_l
               "the learning rate times the error term of the layer times its inputs"

Every delta is computed from the weights as they were before the step. A mini-batch is the
mean over its examples: the output delta is divided by the batch size, and the weight step is
x.T @ delta, the sum of the examples' outer products. The chapter's toy examples, the MNIST
networks and the fast trainers (blocked.py, gram.py) all compute these same steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdcli.book.errata import BATCH_REPEAT, BATCH_SQUARED, DROPOUT_DERIV, RELU2DERIV
from gdcli.nn.model import Network, activate, derivative, softmax


@dataclass
class Step:
    """What one step saw and did: the network's output before the step, each layer's error
    term and each layer's weight deltas (0 where frozen), first layer first."""

    pred: np.ndarray
    deltas: list[np.ndarray]
    weight_deltas: list[np.ndarray]


@dataclass
class Forward:
    """A training forward pass. outs[l]: what layer l + 1 receives (outs[0] = x; a hidden layer's
    output after dropout); acts[l]: layer l + 1's activation f(h) before dropout."""

    outs: list[np.ndarray]
    acts: list[np.ndarray]


def forward(
    net: Network, x: np.ndarray, masks: list[np.ndarray] | None = None, dropout: float = 0.0
) -> Forward:
    """The forward pass of training. masks: one 0/1 array per hidden layer, shaped like its
    output; a kept unit's output is scaled by 1 / (1 - dropout) (the book's `* 2`)."""
    outs, acts = [x], []
    for i, layer in enumerate(net.layers):
        out = activate(layer.activation, layer.sums(outs[-1], net.dot), net.exp)
        acts.append(out)
        if masks is not None and i < len(net.layers) - 1:
            out = out * (masks[i] * (1.0 / (1.0 - dropout)))
        outs.append(out)
    if net.loss == "softmax":
        outs[-1] = acts[-1] = softmax(acts[-1])
    return Forward(outs, acts)


def output_delta(
    net: Network, pred: np.ndarray, true: np.ndarray, errata: frozenset[str] = frozenset()
) -> np.ndarray:
    """The output layer's error term: (pred - true) * f'(h), or pred - true for a linear output
    and for softmax with cross-entropy; divided by the batch size for a batch (pred 2-D)."""
    delta = pred - true
    last = net.layers[-1].activation
    if net.loss == "mse" and last != "linear":
        delta = delta * derivative(last, pred, RELU2DERIV in errata)
    if pred.ndim == 2:
        n = len(pred)
        delta = delta / (n * n if BATCH_SQUARED in errata else n)
    return delta


def gate(
    net: Network,
    i: int,
    fw: Forward,
    masks: list[np.ndarray] | None = None,
    dropout: float = 0.0,
    errata: frozenset[str] = frozenset(),
) -> np.ndarray | float:
    """What layer i's delta is multiplied by once it reaches layer i - 1 through the weights:
    layer i - 1's f'(h), times the dropout mask scaled as the forward pass scaled it."""
    below = net.layers[i - 1].activation
    if masks is None:
        return derivative(below, fw.acts[i - 1], RELU2DERIV in errata)
    if DROPOUT_DERIV in errata:  # the book: f' of the doubled output, times the 0/1 mask
        return derivative(below, fw.outs[i], RELU2DERIV in errata) * masks[i - 1]
    # the chain rule through out = f(h) * mask / (1 - p)
    return derivative(below, fw.acts[i - 1]) * (masks[i - 1] * (1.0 / (1.0 - dropout)))


def hidden_deltas(
    net: Network,
    fw: Forward,
    delta: np.ndarray,
    masks: list[np.ndarray] | None = None,
    dropout: float = 0.0,
    errata: frozenset[str] = frozenset(),
) -> list[np.ndarray]:
    """Every layer's error term, first layer first, from the output's `delta`: each layer's
    from the one above, through the weights above as they are now."""
    deltas = [delta]
    for i in range(len(net.layers) - 1, 0, -1):
        back = net.dot(deltas[0], net.layers[i].weights.T)
        deltas.insert(0, back * gate(net, i, fw, masks, dropout, errata))
    return deltas


def layer_deltas(
    net: Network,
    i: int,
    x_in: np.ndarray,
    delta: np.ndarray,
    trainable: np.ndarray | None = None,
    l2: float = 0.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Layer i's weight deltas outer(x_in, delta) (summed over a batch, by net.dot: in order for
    sequential_dot) and bias deltas (None without a bias), 0 where `trainable` is False:
    (n_in, n_out) booleans, a frozen output unit's bias frozen with it."""
    layer = net.layers[i]
    weight_deltas = np.outer(x_in, delta) if x_in.ndim == 1 else net.dot(x_in.T, delta)
    if l2:
        weight_deltas += l2 * layer.weights
    if trainable is not None:
        weight_deltas = np.where(trainable, weight_deltas, 0.0)
    if layer.bias is None:
        return weight_deltas, None
    bias_deltas = delta if delta.ndim == 1 else delta.sum(axis=0)
    if trainable is not None:
        bias_deltas = np.where(trainable.any(axis=0), bias_deltas, 0.0)
    return weight_deltas, bias_deltas


def weight_step(
    net: Network,
    i: int,
    x_in: np.ndarray,
    delta: np.ndarray,
    alpha: float,
    trainable: np.ndarray | None = None,
    l2: float = 0.0,
) -> np.ndarray:
    """Layer i's step from its input x_in and its delta, in place; returns its weight deltas."""
    weight_deltas, bias_deltas = layer_deltas(net, i, x_in, delta, trainable, l2)
    net.layers[i].weights -= alpha * weight_deltas
    if bias_deltas is not None:
        net.layers[i].bias -= alpha * bias_deltas
    return weight_deltas


def step(
    net: Network,
    x: np.ndarray,
    true: np.ndarray,
    alpha: float,
    *,
    masks: list[np.ndarray] | None = None,
    dropout: float = 0.0,
    trainable: list[np.ndarray | None] | None = None,
    l2: float = 0.0,
    errata: frozenset[str] = frozenset(),
) -> Step:
    """One step of gradient descent on `net`, in place.

    x: one example (n_inputs,) or a mini-batch (batch, n_inputs); true: (n_outputs,) or
    (batch, n_outputs). masks, dropout: see forward(). trainable: one mask (or None) per layer,
    see weight_step. errata: names from book.ERRATA to reproduce.
    """
    fw = forward(net, x, masks, dropout)
    pred = fw.outs[-1]
    delta = output_delta(net, pred, true, errata)
    frozen = trainable or [None] * len(net.layers)
    if BATCH_REPEAT in errata and x.ndim == 2:
        return _repeated_step(net, fw, delta, alpha, masks, dropout, frozen, errata)
    deltas = hidden_deltas(net, fw, delta, masks, dropout, errata)
    weight_deltas = [
        weight_step(net, i, fw.outs[i], d, alpha, frozen[i], l2) for i, d in enumerate(deltas)
    ]
    return Step(pred, deltas, weight_deltas)


def _repeated_step(
    net: Network,
    fw: Forward,
    delta: np.ndarray,
    alpha: float,
    masks: list[np.ndarray] | None,
    dropout: float,
    frozen: list[np.ndarray | None],
    errata: frozenset[str],
) -> Step:
    """The chapter-8 batch listing's erratum (book.BATCH_REPEAT; one hidden layer): the batch's
    backward pass and step, batch_size times from one forward pass.

    The output delta and the hidden outputs stay the same, so every repeat moves the output
    weights by the same step. The hidden delta of a repeat is linear in the output weights it
    goes through, and nothing reads the first layer's weights in between: its steps add up to
    one step with the delta through the sum of the output weights the repeats saw (the book
    makes them one by one: the same sum, rounded differently).
    """
    top = net.layers[1]
    weight_deltas, bias_deltas = layer_deltas(net, 1, fw.outs[1], delta, frozen[1])
    moves = alpha * weight_deltas
    seen = np.zeros_like(top.weights)  # the sum of the output weights the repeats go through
    for _ in range(len(delta)):
        seen += top.weights
        top.weights -= moves
        if bias_deltas is not None:
            top.bias -= alpha * bias_deltas
    first_delta = net.dot(delta, seen.T) * gate(net, 1, fw, masks, dropout, errata)
    first_weight_deltas = weight_step(net, 0, fw.outs[0], first_delta, alpha, frozen[0])
    return Step(fw.outs[-1], [first_delta, delta], [first_weight_deltas, weight_deltas])
