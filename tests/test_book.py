"""The book's chapter 8 and 9 MNIST runs, to the printed digit: configs/book-*.toml against the
book's own listings (run here on the real images) and against every line its notebooks printed.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from gdcli.book import listings as book_listings
from gdcli.book.errata import log_line
from gdcli.config import make_config
from gdcli.data.load import load_split, one_hot
from gdcli.data.registry import DATASETS
from gdcli.nn.train import TrainData, train

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def data(data_dir):
    x, labels = load_split(DATASETS["mnist"], data_dir, "train", 1000)
    xt, lt = load_split(DATASETS["mnist"], data_dir, "test")
    return TrainData(x, labels, xt, lt)


def run_config(name, data, **override):
    cfg = make_config(CONFIGS / f"{name}.toml", {"snapshots": "none", **override})
    return train(cfg, data)


def figures(line):
    """'I:10 Test-Err:0.458 Test-Acc:0.787 ...' -> {'I': '10', 'Test-Err': '0.458', ...}"""
    return dict(re.findall(r"([\w-]+):(\S+)", line))


def assert_every_printed_line(name, history, upto=None):
    """Each line of the book's log (those of its first `upto` iterations), figure by figure (in
    whichever order it printed them), against gdcli's log line for that epoch."""
    ours = {
        m.epoch - 1: figures(log_line(m.to_json())) for m in history if m.test_accuracy is not None
    }
    book = [figures(line) for line in book_listings.PRINTED[name].splitlines()]
    book = [printed for printed in book if upto is None or int(printed["I"]) < upto]
    assert len(book) >= 30
    for printed in book:
        got = ours[int(printed["I"])]
        assert {k: got[k] for k in printed} == printed


@pytest.mark.parametrize(
    ("name", "epochs", "listing"),
    [
        ("book-ch8", 3, book_listings.ch8),
        ("book-ch8-fixed", 2, lambda x, y, n: book_listings.ch8(x, y, n, fixed=True)),
        ("book-ch8-dropout", 2, book_listings.ch8_dropout),
        ("book-ch8-dropout-fixed", 2,
         lambda x, y, n: book_listings.ch8_dropout(x, y, n, fixed=True)),
        ("book-ch8-batch", 2, book_listings.ch8_batch),
        ("book-ch9", 3, book_listings.ch9),
        ("book-ch10", 3, book_listings.ch10),
        ("book-ch10-fixed", 2, lambda x, y, n: book_listings.ch10(x, y, n, fixed=True)),
    ],
)  # fmt: skip
def test_weights_equal_the_books_listing(data, name, epochs, listing):
    expected = listing(data.x_train, one_hot(data.labels_train), epochs)
    got = run_config(name, data, epochs=epochs, eval_every=epochs).network
    for w, layer in zip(expected, got.layers, strict=True):
        assert np.max(np.abs(layer.weights - w)) <= 1e-9


def test_the_book_ch10_test_is_the_listings_test(data):
    """The test accuracy gdcli prints for a conv network (float32, certified: nn/certified.py)
    is the listing's per-image test in float64, and so is evaluate's."""
    from gdcli.nn.metrics import Evaluator, evaluate

    net = run_config("book-ch10", data, epochs=2, eval_every=2).network
    kernels, weights_1_2 = (layer.weights for layer in net.layers)
    x, labels = data.x_test[:1000], data.labels_test[:1000]
    expected = book_listings.ch10_test(x, one_hot(labels), kernels, weights_1_2)
    assert Evaluator(net, x, labels)(net).accuracy == expected
    assert evaluate(net, x, labels).accuracy == expected


def test_the_erratum_changes_the_numbers(data):
    book = run_config("book-ch8", data, epochs=1).network.layers[0].weights
    fixed = run_config("book-ch8-fixed", data, epochs=1).network.layers[0].weights
    assert np.max(np.abs(book - fixed)) > 1e-3


def test_book_ch8_end_to_end_prints_every_line_of_the_book(tmp_path, data_dir):
    """The full chapter-8 run through the CLI, with the metrics of every epoch."""
    result = run_cli("train", "--config", str(CONFIGS / "book-ch8.toml"), "--data-dir",
                     str(data_dir), "--metrics", "m.jsonl", "--json", cwd=tmp_path,
                     timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test_accuracy"] == 0.7073
    from gdcli.nn.train import EpochMetrics

    lines = (tmp_path / "m.jsonl").read_text().splitlines()
    history = [EpochMetrics(**json.loads(line)) for line in lines]
    assert len(history) == 350
    assert_every_printed_line("book-ch8", history)


@pytest.mark.parametrize("name", ["book-ch8-dropout", "book-ch8-batch", "book-ch9"])
def test_every_line_the_book_printed(data, name):
    assert_every_printed_line(name, run_config(name, data).history)


def test_every_line_the_book_printed_in_chapter_10(data):
    """All 300 lines, both collapses of the test accuracy (I:13-19, I:38-45) included: about
    2 minutes (docs/performance.md)."""
    assert_every_printed_line("book-ch10", run_config("book-ch10", data).history)
