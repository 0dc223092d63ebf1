"""Chapter 10's test in float32 (nn/certified.py): its bound holds, its classes are float64's,
the close calls are computed again, and networks of another form are tested as before; the
lit-only conv step is the listing's. MNIST-like images made on the fly (tests/synthetic.py)."""

from pathlib import Path

import numpy as np
import pytest
from synthetic import make_split

from gdcli.book import listings as book_listings
from gdcli.config import make_config
from gdcli.data.load import one_hot
from gdcli.nn import certified
from gdcli.nn.certified import CertifiedTest
from gdcli.nn.conv import geometry
from gdcli.nn.metrics import Evaluator, evaluate
from gdcli.nn.model import new_network
from gdcli.nn.train import TrainData, train

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def digits():
    x, labels = make_split(600, 7)
    return x.reshape(len(x), -1) / 255.0, labels


def book_net(kernels=16, scale=(0.5, 0.1), seed=3, book_positions=True):
    """The book's form: a conv layer of tanh units, no bias, then a linear output, weights
    larger than the book's start so the scores spread."""
    conv = geometry(28, 3, 1, book_positions)
    return new_network([784, kernels, 10], ["tanh", "linear"], "softmax", False, list(scale),
                       np.random.RandomState(seed), conv)  # fmt: skip


@pytest.mark.parametrize("kernel_scale", [0.01, 0.5, 30.0])  # the book's kernels grow to ~27
@pytest.mark.parametrize("whole", [True, False])  # pixel values / 255 (kept as uint8), or not
def test_every_score_is_within_its_bound_of_float64(digits, kernel_scale, whole):
    x, _ = digits
    x = x if whole else x * 0.987654321  # as deskewed images are: not whole pixel values
    net = book_net(scale=(kernel_scale, 0.1))
    test = CertifiedTest(net.layers[0].conv, x)
    assert (test.patches.dtype == np.uint8) == whole
    got = test.scores(*(layer.weights for layer in net.layers))
    exact = net.scores(x)
    error = np.abs(got.scores - exact)
    assert np.all(error <= got.bound)
    assert error.max() > 0  # float32 it is
    # and the bound decides most images: scores near the untrained kernels' are close (the
    # book's first test computes 8% again, its last 0.02%)
    assert len(got.uncertain()) < (0.2 if kernel_scale < 0.1 else 0.05) * len(x)


@pytest.mark.parametrize("book_positions", [True, False])
def test_the_classes_and_figures_are_float64s(digits, book_positions):
    x, labels = digits
    net = book_net(book_positions=book_positions)
    evaluator = Evaluator(net, x, labels)
    assert evaluator.certified is not None
    got, expected = evaluator(net), evaluate(net, x, labels)
    assert got.accuracy == expected.accuracy
    assert np.array_equal(got.confusion, expected.confusion)
    assert abs(got.error - expected.error) < 1e-6


def test_close_calls_are_computed_again_in_float64(digits):
    """Classes with the same weights tie in every image: no image is certain, every one is
    computed again, and the class is float64's (the first of the tied, as np.argmax)."""
    x, labels = digits
    net = book_net()
    w = net.layers[1].weights
    w[:, 1:] = w[:, :1]
    evaluator = Evaluator(net, x, labels)
    classes, _, again = evaluator.certified.classes(net)
    assert again == len(x)
    assert set(classes) == {0}


def test_an_image_of_zeros_scores_zero(digits):
    x, _ = digits
    x = x.copy()
    x[:5] = 0.0
    net = book_net()
    got = CertifiedTest(net.layers[0].conv, x).scores(*(layer.weights for layer in net.layers))
    assert np.array_equal(got.scores[:5], np.zeros((5, 10)))


@pytest.mark.parametrize(
    "change",
    ["bias", "pool", "relu", "hidden"],
)
def test_other_networks_are_tested_in_float64(digits, change):
    x, labels = digits
    conv = geometry(28, 3, 2 if change == "pool" else 1)
    sizes = [784, 4, 6, 10] if change == "hidden" else [784, 4, 10]
    acts = ["relu" if change == "relu" else "tanh"] * (len(sizes) - 2) + ["linear"]
    net = new_network(sizes, acts, "softmax", change == "bias", [0.3] * (len(sizes) - 1),
                      np.random.RandomState(1), conv)  # fmt: skip
    assert not certified.fits(net)
    evaluator = Evaluator(net, x[:50], labels[:50])
    assert evaluator.certified is None
    got, expected = evaluator(net), evaluate(net, x[:50], labels[:50])
    assert (got.error, got.accuracy) == (expected.error, expected.accuracy)


def test_float32_tanh_is_as_accurate_as_the_bound_assumes():
    """The bound takes numpy's float32 tanh to be within certified.TANH_ERROR of tanh: checked
    on this CPU over 4 million float32 values across tanh's range, and at the small ones."""
    rng = np.random.RandomState(0)
    values = np.concatenate([
        np.linspace(-12, 12, 2_000_001, dtype=np.float32),
        (rng.standard_normal(2_000_000) * 3).astype(np.float32),
        np.float32(2.0) ** -np.arange(1, 126, dtype=np.float32),
    ])  # fmt: skip
    got = np.tanh(values).astype(np.float64)
    exact = np.tanh(values.astype(np.float64))
    assert np.abs(got - exact).max() <= certified.TANH_ERROR
    assert np.abs(got).max() <= 1.0
    assert np.tanh(np.float32(0.0)) == 0.0


def test_the_lit_only_conv_step_is_the_listings(digits):
    """The listing of chapter 10 (book/listings.py), run on 256 images: gdcli's steps, which
    compute only the patches with a nonzero pixel, give its weights, errata and all."""
    x, labels = digits
    x, labels = x[:256], labels[:256]
    for name, fixed in (("book-ch10", False), ("book-ch10-fixed", True)):
        cfg = make_config(CONFIGS / f"{name}.toml", {"snapshots": "none", "epochs": 2,
                                                      "n_train": 256, "eval_every": 2})  # fmt: skip
        got = train(cfg, TrainData(x, labels, x[:20], labels[:20])).network
        expected = book_listings.ch10(x, one_hot(labels), 2, fixed=fixed)
        for w, layer in zip(expected, got.layers, strict=True):
            assert np.abs(layer.weights - w).max() <= 1e-12
