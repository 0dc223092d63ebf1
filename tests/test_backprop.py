"""Backpropagation: the step is the gradient, the fast trainers are the step, the errata are the
book's code. Small random data made here; no dataset needed."""

import numpy as np
import pytest

from gdcli.book.errata import BATCH_REPEAT, BATCH_SQUARED, DROPOUT_DERIV, RELU2DERIV
from gdcli.config import TrainConfig
from gdcli.nn import backprop
from gdcli.nn.backprop import StepRule
from gdcli.nn.blocked import Blocked
from gdcli.nn.engines import dropout_masks
from gdcli.nn.gram import Gram
from gdcli.nn.model import Layer, Network, activate, new_network, sequential_dot
from gdcli.nn.train import TrainData, train


def images(n, d, seed=0, density=0.3):
    """n sparse 'images' of d pixels in [0, 1] (some pixels 0 in every image), labels 0..9."""
    rng = np.random.RandomState(seed)
    x = rng.random_sample((n, d)) * (rng.random_sample((n, d)) < density)
    x[:, : d // 5] = 0
    return x, rng.randint(10, size=n)


def one_hot(labels):
    return np.eye(10)[labels]


def network(sizes, hidden="relu", loss="mse", bias=False, out="linear", seed=1):
    acts = [hidden] * (len(sizes) - 2) + [out]
    return new_network(
        sizes, acts, loss, bias, [0.3] * (len(sizes) - 1), np.random.RandomState(seed)
    )


def forward(net, x, masks=None, dropout=0.0):
    """The training forward pass written out here (dropout: kept units times 1 / (1 - p))."""
    out = x
    for i, layer in enumerate(net.layers):
        out = activate(
            layer.activation, out @ layer.weights + (0 if layer.bias is None else layer.bias)
        )
        if masks is not None and i < len(net.layers) - 1:
            out = out * masks[i] / (1 - dropout)
    if net.loss == "softmax":
        out = np.exp(out) / np.exp(out).sum(-1, keepdims=True)
    return out


def loss_of(net, x, y, masks=None, dropout=0.0):
    """0.5 * squared error, or cross-entropy; the mean over a batch."""
    pred = forward(net, x, masks, dropout)
    per = (
        -np.sum(y * np.log(pred), -1)
        if net.loss == "softmax"
        else 0.5 * np.sum((pred - y) ** 2, -1)
    )
    return float(np.mean(per))


def numeric_gradients(net, x, y, masks=None, dropout=0.0, eps=1e-6):
    grads = []
    for layer in net.layers:
        for arr in (layer.weights, layer.bias):
            if arr is None:
                continue
            g = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                up = loss_of(net, x, y, masks, dropout)
                arr[idx] = old - eps
                down = loss_of(net, x, y, masks, dropout)
                arr[idx] = old
                g[idx] = (up - down) / (2 * eps)
            grads.append(g)
    return grads


@pytest.mark.parametrize(
    ("sizes", "hidden", "loss", "out", "batch", "dropout"),
    [
        ([6, 4, 3], "relu", "mse", "linear", 1, 0.0),
        ([6, 5, 4, 3], "tanh", "mse", "sigmoid", 1, 0.0),
        ([6, 4, 3], "sigmoid", "softmax", "linear", 5, 0.0),
        ([6, 5, 4, 3], "tanh", "softmax", "linear", 5, 0.5),
        ([6, 4, 3], "relu", "mse", "linear", 1, 0.3),
        ([6, 3], "linear", "mse", "sigmoid", 4, 0.0),
    ],
)
def test_the_step_is_alpha_times_the_gradient(sizes, hidden, loss, out, batch, dropout):
    """The seed's rule (each delta from the one above through the weights and f'; step =
    alpha * input * delta) is the gradient of the loss, for every depth, activation and loss."""
    rng = np.random.RandomState(3)
    net = network(sizes, hidden, loss, bias=True, out=out)
    x = rng.random_sample((batch, sizes[0]))
    y = np.eye(sizes[-1])[rng.randint(sizes[-1], size=batch)]
    masks = None
    if dropout:
        masks = [rng.randint(2, size=(batch, n)) for n in sizes[1:-1]]
    expected = numeric_gradients(net, x, y, masks, dropout)
    before = [a.copy() for layer in net.layers for a in (layer.weights, layer.bias)]
    backprop.step(net, x, y, 0.1, StepRule(dropout), masks)
    after = [a for layer in net.layers for a in (layer.weights, layer.bias)]
    for b, a, g in zip(before, after, expected, strict=True):
        assert np.allclose((b - a) / 0.1, g, atol=1e-7), (b - a) / 0.1 - g


def test_sequential_dot_is_the_books_w_sum():
    def w_sum(a, b):
        output = 0
        for i in range(len(a)):
            output += a[i] * b[i]
        return output

    rng = np.random.RandomState(0)
    x, w = rng.standard_normal(50), rng.standard_normal((50, 4))
    got = sequential_dot(x, w)
    assert [float(v) for v in got] == [w_sum(list(x), list(w[:, j])) for j in range(4)]


def test_the_books_chapter8_step_is_backprop_with_the_relu_erratum():
    """One image of the book's chapter-8 loop, written its way, is backprop.step with
    errata relu2deriv: bitwise for the weight steps, whose products are elementwise."""
    x, labels = images(5, 30)
    y = one_hot(labels)
    net = network([30, 8, 10])
    w01, w12 = net.layers[0].weights.copy(), net.layers[1].weights.copy()
    relu = lambda v: (v >= 0) * v  # noqa: E731
    for i in range(5):
        layer_0 = x[i : i + 1]
        layer_1 = relu(np.dot(layer_0, w01))
        layer_2 = np.dot(layer_1, w12)
        layer_2_delta = y[i : i + 1] - layer_2
        layer_1_delta = layer_2_delta.dot(w12.T) * (layer_1 >= 0)
        w12 += 0.05 * layer_1.T.dot(layer_2_delta)
        w01 += 0.05 * layer_0.T.dot(layer_1_delta)
        backprop.step(
            net, x[i : i + 1], y[i : i + 1], 0.05, StepRule(errata=frozenset({RELU2DERIV}))
        )
    assert np.max(np.abs(net.layers[0].weights - w01)) <= 1e-15
    assert np.max(np.abs(net.layers[1].weights - w12)) <= 1e-15


def test_without_the_erratum_an_inactive_relu_unit_learns_nothing():
    x, labels = images(1, 30)
    net = network([30, 8, 10])
    h = x[0] @ net.layers[0].weights
    before = net.layers[0].weights.copy()
    backprop.step(net, x, one_hot(labels), 0.05)
    moved = np.abs(net.layers[0].weights - before).sum(axis=0) > 0
    assert moved.tolist() == (h > 0).tolist() and not moved.all()


def book_batch_listing(x, y, w01, w12, alpha, masks, repeat: bool, squared: bool, tanh: bool):
    """The chapter 8 batch listing (repeat) and chapter 9's (squared, tanh), one batch."""
    f = np.tanh if tanh else (lambda v: (v >= 0) * v)
    deriv = (lambda o: 1 - o**2) if tanh else (lambda o: o >= 0)
    layer_0 = x
    layer_1 = f(np.dot(layer_0, w01))
    layer_1 *= masks * 2
    layer_2 = np.dot(layer_1, w12)
    if tanh:  # chapter 9: a softmax output
        layer_2 = np.exp(layer_2) / np.sum(np.exp(layer_2), axis=1, keepdims=True)
    for _ in range(len(x) if repeat else 1):
        div = len(x) * layer_2.shape[0] if squared else len(x)
        layer_2_delta = (y - layer_2) / div
        layer_1_delta = layer_2_delta.dot(w12.T) * deriv(layer_1)
        layer_1_delta *= masks
        w12 += alpha * layer_1.T.dot(layer_2_delta)
        w01 += alpha * layer_0.T.dot(layer_1_delta)
    return layer_2


@pytest.mark.parametrize(
    ("errata", "tanh", "loss"),
    [
        ({RELU2DERIV, DROPOUT_DERIV, BATCH_REPEAT}, False, "mse"),
        ({DROPOUT_DERIV, BATCH_SQUARED}, True, "softmax"),
    ],
)
def test_batch_errata_are_the_books_listings(errata, tanh, loss):
    x, labels = images(20, 30)
    y = one_hot(labels)
    net = network([30, 12, 10], "tanh" if tanh else "relu", loss)
    w01, w12 = net.layers[0].weights.copy(), net.layers[1].weights.copy()
    rng = np.random.RandomState(7)
    for b in range(0, 20, 10):
        masks = rng.randint(2, size=(10, 12))
        book_batch_listing(x[b : b + 10], y[b : b + 10], w01, w12, 0.5, masks,
                           BATCH_REPEAT in errata, BATCH_SQUARED in errata, tanh)  # fmt: skip
        backprop.step(net, x[b : b + 10], y[b : b + 10], 0.5,
                      StepRule(0.5, errata=frozenset(errata)), [masks])  # fmt: skip
    assert np.max(np.abs(net.layers[0].weights - w01)) <= 1e-12
    assert np.max(np.abs(net.layers[1].weights - w12)) <= 1e-12
    assert not np.allclose(w01, network([30, 12, 10]).layers[0].weights)


def step_loop(net, x, y, alpha, epochs, rule=StepRule(), rng=None):
    """Per-example backprop.step, the reference for the fast engines; dropout masks drawn from
    rng an epoch at a time, as the engines draw them."""
    preds = []
    for _ in range(epochs):
        masks = None
        if rule.dropout:
            sizes = [layer.weights.shape[1] for layer in net.layers[:-1]]
            masks = dropout_masks(rng, rule.dropout, len(x), sizes)
        for t in range(len(x)):
            m = None if masks is None else [mk[t : t + 1] for mk in masks]
            s = backprop.step(net, x[t : t + 1], y[t : t + 1], alpha, rule, m)
            preds.append(s.pred[0])
    return np.array(preds)


@pytest.mark.parametrize(
    ("sizes", "hidden", "loss", "out", "bias", "dropout", "errata"),
    [
        ([40, 9, 10], "relu", "mse", "linear", False, 0.0, (RELU2DERIV,)),
        ([40, 9, 10], "relu", "mse", "linear", True, 0.0, ()),
        ([40, 9, 10], "relu", "mse", "linear", False, 0.5, (RELU2DERIV, DROPOUT_DERIV)),
        ([40, 9, 7, 10], "tanh", "softmax", "linear", True, 0.3, ()),
        ([40, 9, 10], "tanh", "softmax", "linear", False, 0.5, (DROPOUT_DERIV,)),
        ([40, 9, 10], "sigmoid", "mse", "sigmoid", True, 0.0, ()),
        ([40, 10], "linear", "softmax", "linear", True, 0.0, ()),
        ([40, 10], "linear", "mse", "sigmoid", False, 0.0, ()),
    ],
)
def test_gram_trainer_equals_the_step_loop(sizes, hidden, loss, out, bias, dropout, errata):
    x, labels = images(130, sizes[0])  # more than one block of GramSGD.BLOCK
    y = one_hot(labels)
    slow, fast = (network(sizes, hidden, loss, bias, out) for _ in range(2))
    rule = StepRule(dropout, errata=frozenset(errata))
    expected = step_loop(slow, x, y, 0.05, 2, rule, np.random.RandomState(5))
    gram = Gram(fast, x, rule, np.random.RandomState(5))
    got = [gram.epoch(y, 0.05) for _ in range(2)]
    assert np.max(np.abs(np.concatenate(got) - expected)) <= 1e-12
    for a, b in zip(slow.layers, fast.layers, strict=True):
        assert np.max(np.abs(a.weights - b.weights)) <= 1e-12
        if bias:
            assert np.max(np.abs(a.bias - b.bias)) <= 1e-12


@pytest.mark.parametrize(
    ("first_bias", "dropout", "errata"),
    [
        (False, 0.0, ()),
        (True, 0.0, (RELU2DERIV,)),
        (False, 0.5, ()),
        (True, 0.3, (RELU2DERIV,)),
        (False, 0.5, (DROPOUT_DERIV,)),
    ],
)
def test_the_one_hidden_layer_step_equals_the_step_loop(first_bias, dropout, errata):
    """The Gram engine on chapter 8's network (one relu layer, linear output without bias,
    squared error), with and without the book's errata and dropout, against backprop.step."""
    x, labels = images(130, 40)  # 8 blocks of gram.BLOCK images and a part
    y = one_hot(labels)
    slow, fast = (network([40, 12, 10], bias=first_bias) for _ in range(2))
    for net in (slow, fast):
        net.layers[1].bias = None
    rule = StepRule(dropout, errata=frozenset(errata))
    expected = step_loop(slow, x, y, 0.05, 3, rule, np.random.RandomState(5))
    gram = Gram(fast, x, rule, np.random.RandomState(5))
    got = [gram.epoch(y, 0.05) for _ in range(3)]
    assert np.max(np.abs(np.concatenate(got) - expected)) <= 1e-12
    for a, b in zip(slow.layers, fast.layers, strict=True):
        assert np.max(np.abs(a.weights - b.weights)) <= 1e-12
    if first_bias:
        assert np.max(np.abs(slow.layers[0].bias - fast.layers[0].bias)) <= 1e-12


def test_gram_and_blocked_trainers_freeze_as_the_step_loop():
    x, labels = images(120, 40)
    y = one_hot(labels)
    rows = np.ones(40, dtype=bool)
    rows[10:20] = False
    cols = np.ones(10, dtype=bool)
    cols[[3, 8]] = False
    trainable = [np.outer(rows, cols)]
    for activation, trainer in (("sigmoid", "gram"), ("linear", "blocked")):
        slow, fast = (Network([Layer(np.full((40, 10), 0.01), np.zeros(10), activation)])
                      for _ in range(2))  # fmt: skip
        start = slow.layers[0].weights.copy()
        rule = StepRule(trainable=tuple(trainable))
        step_loop(slow, x, y, 0.05, 1, rule)
        engine = Gram if trainer == "gram" else Blocked
        engine(fast, x, rule, None).epoch(y, 0.05)
        for net in (slow, fast):
            w = net.layers[0].weights
            assert np.array_equal(w[10:20], start[10:20]) and np.array_equal(w[:, 3], start[:, 3])
            assert not np.array_equal(w[30:], start[30:])
            assert net.layers[0].bias[3] == 0 and net.layers[0].bias[0] != 0
        assert np.max(np.abs(slow.layers[0].weights - fast.layers[0].weights)) <= 1e-12


def test_dropout_masks_are_the_books_randint_for_one_half():
    rng, book = np.random.RandomState(1), np.random.RandomState(1)
    book.random_sample((784, 100))
    rng.random_sample((784, 100))
    drawn = [dropout_masks(rng, 0.5, 1, [100])[0] for _ in range(3)]
    assert all(np.array_equal(d, book.randint(2, size=(1, 100))) for d in drawn)
    two = dropout_masks(np.random.RandomState(2), 0.5, 3, [4, 6])
    assert [m.shape for m in two] == [(3, 4), (3, 6)]
    assert np.array_equal(np.hstack(two), np.random.RandomState(2).randint(2, size=(3, 10)))
    kept = dropout_masks(np.random.RandomState(3), 0.2, 1000, [50])[0]
    assert set(np.unique(kept)) == {0, 1} and abs(kept.mean() - 0.8) < 0.01


def test_relu_is_the_books_relu():
    h = np.array([-2.0, -0.0, 0.0, 3.0])
    assert activate("relu", h).tolist() == ((h >= 0) * h).tolist()


# ---------------------------------------------------------------- train(): every path, one model


def small_data(n=150, d=60):
    x, labels = images(n, d)
    xt, lt = images(50, d, seed=9)
    return TrainData(x, labels, xt, lt)


@pytest.mark.parametrize(
    "cfg",
    [
        TrainConfig(n_train=150, epochs=3, alpha=0.05),
        TrainConfig(n_train=150, epochs=3, alpha=0.05, hidden=(12,), bias=True),
        TrainConfig(n_train=150, epochs=3, alpha=0.05, hidden=(12, 8), hidden_activation="tanh",
                    dropout=0.25, loss="softmax", freeze_inputs="0-20", freeze_layers="1"),
        TrainConfig(n_train=150, epochs=3, alpha=0.05, activation="sigmoid", freeze_outputs="3"),
    ],
)  # fmt: skip
def test_fast_engines_equal_the_reference_engine(cfg):
    data = small_data()
    fast = train(cfg, data)
    slow = train(cfg, data, engine="reference")
    for a, b in zip(fast.network.layers, slow.network.layers, strict=True):
        assert np.max(np.abs(a.weights - b.weights)) <= 1e-12
    assert [m.train_accuracy for m in fast.history] == [m.train_accuracy for m in slow.history]


def test_freezing_per_layer():
    data = small_data()
    cfg = TrainConfig(n_train=150, epochs=2, alpha=0.05, hidden=(12, 8), freeze_layers="0,2",
                      bias=True, snapshots="0,2")  # fmt: skip
    result = train(cfg, data)
    start, end = result.snapshots[0], result.snapshots[2]
    assert np.array_equal(start[0], end[0]) and np.array_equal(start[2], end[2])
    assert not np.array_equal(start[1], end[1])
    layers = result.network.layers
    assert not layers[0].bias.any() and layers[1].bias.any() and not layers[2].bias.any()
