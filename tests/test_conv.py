"""The convolutional layer: its step is the gradient, its errata are the listing's, its weights
file reads back, its bad configurations are one line. Small random data made here."""

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from gdcli.book.errata import CONV_POSITIONS, DROPPED_TAIL, KERNEL_SIGN
from gdcli.config import TrainConfig, make_config, validate
from gdcli.errors import UsageError
from gdcli.io import weights_file
from gdcli.nn import backprop
from gdcli.nn.backprop import StepRule
from gdcli.nn.conv import geometry
from gdcli.nn.model import new_network
from gdcli.nn.train import TrainData, build_network, train


def images(n, seed=0):
    """n 28x28 'images' in [0, 1], mostly 0 as MNIST's are, labels 0..9."""
    rng = np.random.RandomState(seed)
    x = rng.random_sample((n, 784)) * (rng.random_sample((n, 784)) < 0.3)
    return x, rng.randint(10, size=n)


def conv_net(kernels=2, size=3, pool=1, hidden=(), bias=True, seed=1, book=False):
    conv = geometry(28, size, pool, book)
    sizes = [784, kernels, *hidden, 10]
    acts = ["tanh"] * (len(sizes) - 2) + ["linear"]
    rng = np.random.RandomState(seed)
    return new_network(sizes, acts, "softmax", bias, [0.3] * (len(sizes) - 1), rng, conv)


def forward(net, x):
    """The network written out here: each kernel slid over the image by its offsets, max
    pooled by reshaping, then dense layers and the softmax."""
    first = net.layers[0]
    conv, w = first.conv, first.weights
    k, s, p = conv.kernel, conv.span, conv.pool
    img = x.reshape(-1, 28, 28)
    h = np.zeros((len(x), s, s, w.shape[1]))
    for i in range(k):
        for j in range(k):
            h += img[:, i : i + s, j : j + s, None] * w[i * k + j]
    if first.bias is not None:
        h += first.bias
    q = s // p
    h = h.reshape(len(x), q, p, q, p, -1).max(axis=(2, 4))
    out = np.tanh(h.reshape(len(x), -1))
    for layer in net.layers[1:]:
        out = out @ layer.weights + (0 if layer.bias is None else layer.bias)
        if layer is not net.layers[-1]:
            out = np.tanh(out)
    e = np.exp(out - out.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def loss_of(net, x, y):
    return float(np.mean(-np.sum(y * np.log(forward(net, x)), -1)))


def numeric(net, x, y, arr, eps=1e-6):
    g = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = loss_of(net, x, y)
        arr[idx] = old - eps
        down = loss_of(net, x, y)
        arr[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize(
    ("size", "pool", "hidden", "book", "bias"),
    [(3, 1, (), False, True), (3, 2, (), False, True), (5, 2, (6,), False, True),
     (3, 1, (), True, True),
     (3, 1, (), False, False), (3, 1, (6,), True, False)],  # lit-only steps (no bias, no pool)
)  # fmt: skip
def test_the_kernels_step_is_alpha_times_the_gradient(size, pool, hidden, book, bias):
    x, labels = images(2)
    y = np.eye(10)[labels]
    net = conv_net(size=size, pool=pool, hidden=hidden, book=book, bias=bias)
    assert backprop.Backprop(net, rows=2).lit_only == (not bias)
    # the kernels, the conv layer's bias if it has one, and a few of the output weights
    arrays = [net.layers[0].weights, net.layers[0].bias, net.layers[-1].weights[:8]]
    arrays = [a for a in arrays if a is not None]
    expected = [numeric(net, x, y, a) for a in arrays]
    before = [a.copy() for a in arrays]
    backprop.step(net, x, y, 0.1)
    for b, a, g in zip(before, arrays, expected, strict=True):
        assert np.allclose((b - a) / 0.1, g, atol=1e-7), np.abs((b - a) / 0.1 - g).max()


def test_the_forward_pass_is_the_convolution():
    x, _ = images(4)
    for pool in (1, 2):
        net = conv_net(kernels=3, pool=pool, hidden=(5,))
        assert np.allclose(net.predict(x), forward(net, x), atol=1e-12)


def test_kernel_sign_is_gradient_ascent_on_the_kernels_only():
    x, labels = images(4)
    y = np.eye(10)[labels]
    steps = {}
    for errata in (frozenset(), frozenset({KERNEL_SIGN})):
        net = conv_net(bias=False)
        before = [layer.weights.copy() for layer in net.layers]
        backprop.step(net, x, y, 0.5, StepRule(errata=errata))
        steps[errata] = [layer.weights - b for layer, b in zip(net.layers, before, strict=True)]
    (down_k, down_w), (up_k, up_w) = steps.values()
    assert np.abs(down_k).max() > 0
    assert np.allclose(up_k, -down_k, rtol=1e-12, atol=1e-15)
    assert np.array_equal(up_w, down_w)


def test_conv_positions_leave_out_the_last_row_and_column():
    cfg = validate(TrainConfig(conv="16x3", errata=(CONV_POSITIONS,)))
    net = build_network(cfg, 784, np.random.RandomState(1))
    assert [layer.weights.shape for layer in net.layers] == [(9, 16), (10000, 10)]
    x, _ = images(2)
    changed = x.copy().reshape(2, 28, 28)
    changed[:, 27, :] = changed[:, :, 27] = 5.0
    assert np.array_equal(net.scores(x), net.scores(changed.reshape(2, 784)))
    fixed = build_network(validate(TrainConfig(conv="16x3")), 784, np.random.RandomState(1))
    assert fixed.layers[1].weights.shape == (26 * 26 * 16, 10)


def test_the_listings_draws_kernels_then_output_weights():
    cfg = validate(TrainConfig(conv="16x3", init_scale=(0.01, 0.1), errata=(CONV_POSITIONS,)))
    net = build_network(cfg, 784, np.random.RandomState(1))
    np.random.seed(1)
    kernels = 0.02 * np.random.random((9, 16)) - 0.01
    weights_1_2 = 0.2 * np.random.random((10000, 10)) - 0.1
    assert np.array_equal(net.layers[0].weights, kernels)
    assert np.array_equal(net.layers[1].weights, weights_1_2)


def test_dropped_tail_trains_whole_batches_and_divides_by_every_image():
    x, labels = images(50)
    data = TrainData(x, labels, x[:10], labels[:10])
    base = dict(conv="2x3", batch_size=16, epochs=1, alpha=0.1, loss="softmax",
                hidden_activation="tanh", snapshots="none")  # fmt: skip
    dropped = train(validate(TrainConfig(**base, errata=(DROPPED_TAIL,))), data)
    whole = train(validate(TrainConfig(**base)), data)
    # the first 48 images trained alike; the last 2 only without the erratum
    w_dropped, w_whole = dropped.network.layers[0].weights, whole.network.layers[0].weights
    assert not np.array_equal(w_dropped, w_whole)
    first3 = train(validate(TrainConfig(**{**base, "n_train": 48})), TrainData(
        x[:48], labels[:48], x[:10], labels[:10]))  # fmt: skip
    assert np.array_equal(first3.network.layers[0].weights, w_dropped)
    acc = dropped.history[0].train_accuracy
    assert acc * 50 == round(acc * 50) and acc <= 48 / 50
    assert acc == first3.history[0].train_accuracy * 48 / 50


def test_a_conv_network_reads_back_from_its_weights_file(tmp_path):
    x, labels = images(40)
    cfg = validate(TrainConfig(conv="4x5", pool=3, hidden=(7,), bias=True, batch_size=8,
                               epochs=2, hidden_activation="relu", loss="softmax",
                               snapshots="0,2"))  # fmt: skip
    result = train(cfg, TrainData(x, labels, x[:10], labels[:10]))
    path = tmp_path / "w.npz"
    weights_file.save(path, weights_file.from_training(cfg, result))
    back = weights_file.load(path)
    assert back.network.layers[0].conv == result.network.layers[0].conv
    assert [layer.weights.shape for layer in back.network.layers] == [(25, 4), (256, 7), (7, 10)]
    assert np.array_equal(back.network.predict(x), result.network.predict(x))
    assert sorted(back.snapshots) == [0, 2]


@pytest.mark.parametrize(
    ("keys", "needle"),
    [
        ({"conv": "16x29"}, "a kernel of 29x29 pixels does not fit the 28x28 images"),
        ({"conv": "0x3"}, "0 kernels"),
        ({"conv": "16by3"}, "must be KxS"),
        ({"conv": "16x"}, "must be KxS"),
        ({"conv": "16x3", "pool": 4}, "4 does not divide the 26x26 feature maps"),
        ({"conv": "16x3", "pool": 2, "errata": [CONV_POSITIONS]}, "25x25"),
        ({"errata": [KERNEL_SIGN]}, "kernel-sign erratum"),
        ({"errata": [CONV_POSITIONS]}, "conv-positions erratum"),
        ({"pool": 2}, "pools a conv layer's feature maps"),
    ],
)
def test_bad_conv_configurations(tmp_path, keys, needle):
    with pytest.raises(UsageError, match=needle.replace("(", r"\(")):
        make_config(None, keys)
    args = []
    for k, v in keys.items():
        args += [f"--{k}", ",".join(v) if isinstance(v, list) else str(v)]
    result = run_cli("train", *args, "--out", "w.npz", cwd=tmp_path)
    assert_one_line_error(result, 2, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("errata", [frozenset(), frozenset({"dropout-deriv"})])
@pytest.mark.parametrize("hidden", [(), (5,)])
def test_the_lit_only_step_is_the_dense_one(activation, errata, hidden):
    """Without a bias the conv layer steps on its patches with ink alone (Backprop._step_lit);
    with a bias of zeros it steps on every patch: the same step, dropout and all."""
    x, labels = images(6)
    x[:, :300] = 0.0  # whole rows of patches without ink
    y = np.eye(10)[labels]
    sizes, acts = [784, 3, *hidden, 10], [activation] * (1 + len(hidden)) + ["linear"]
    rng = np.random.RandomState(2)
    masks = [rng.randint(2, size=(6, n)) for n in (26 * 26 * 3, *hidden)]
    steps = []
    for bias in (False, True):
        net = new_network(sizes, acts, "softmax", bias, [0.3] * (len(sizes) - 1),
                          np.random.RandomState(1), geometry(28, 3))  # fmt: skip
        assert backprop.Backprop(net, rows=6).lit_only != bias
        backprop.step(net, x, y, 0.5, StepRule(dropout=0.5, errata=errata), masks)
        steps.append([layer.weights for layer in net.layers])
    for lit, dense in zip(*steps, strict=True):
        assert np.allclose(lit, dense, rtol=0, atol=1e-15)


def test_the_shipped_best_cnn_trains_as_its_config_says(synthetic_data_dir):
    """configs/best-cnn.toml (chosen on the real images, docs/experiments.md) on a few synthetic
    ones: its network, and the weights of its best validation epoch kept."""
    import gdcli

    run = gdcli.train("best-cnn", n_train=40, val=40, epochs=3, eval_every=1,
                      data_dir=synthetic_data_dir, quiet=True)  # fmt: skip
    cfg = run.config
    assert (cfg.conv, cfg.pool, cfg.keep, cfg.deskew, cfg.augment) == (
        "32x5", 2, "best", True, "shifts")  # fmt: skip
    shapes = [layer.weights.shape for layer in run.network.layers]
    assert shapes == [(25, 32), (12 * 12 * 32, *cfg.hidden), (*cfg.hidden, 10)]
    best = max(run.history, key=lambda h: h["val_accuracy"])  # the first of a tie, as keep's
    assert run.summary["weights_epoch"] == run.summary["best_epoch"] == best["epoch"]
