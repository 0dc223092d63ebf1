"""The trainer: exactly the book's loop, faster; its options; its errors."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from gdcli.config import TrainConfig, make_config
from gdcli.data import load_split, one_hot
from gdcli.datasets import DATASETS
from gdcli.train import TrainData, train


@pytest.fixture(scope="module")
def data(data_dir):
    x, labels = load_split(DATASETS["mnist"], data_dir, "train", 1000)
    xt, lt = load_split(DATASETS["mnist"], data_dir, "test")
    return TrainData(x, labels, xt, lt)


def book_loop(images, labels, alpha, epochs, weights):
    """The book's loop, written the book's way."""
    for _ in range(epochs):
        for i in range(len(images)):
            layer_0 = images[i : i + 1]
            pred = layer_0.dot(weights)
            delta = pred - labels[i : i + 1]
            weight_deltas = layer_0.T.dot(delta)
            weights -= alpha * weight_deltas
    return weights


@pytest.mark.parametrize("epochs", [1, 10])
def test_equals_the_books_loop(data, epochs):
    np.random.seed(1)
    weights = 0.2 * np.random.random((784, 10)) - 0.1
    expected = book_loop(data.x_train, one_hot(data.labels_train), 0.01, epochs, weights)
    got = train(TrainConfig(epochs=epochs), data).network.weights
    assert np.max(np.abs(got - expected)) <= 1e-9


def test_running_train_error_is_the_books(data):
    np.random.seed(1)
    w = 0.2 * np.random.random((784, 10)) - 0.1
    y = one_hot(data.labels_train)
    error = correct = 0.0
    for i in range(1000):
        pred = data.x_train[i] @ w
        error += np.sum((pred - y[i]) ** 2)
        correct += int(np.argmax(pred) == data.labels_train[i])
        w -= 0.01 * np.outer(data.x_train[i], pred - y[i])
    m = train(TrainConfig(epochs=1), data).history[0]
    assert m.train_error == pytest.approx(error / 1000, rel=1e-12)
    assert m.train_accuracy == correct / 1000


def test_blocked_path_equals_the_step_loop_with_bias_and_freezing(data):
    """The same options through BlockedSGD and through gradient_step."""
    from gdcli import train as train_module

    cfg = TrainConfig(epochs=3, bias=True, freeze_inputs="100-300", freeze_outputs="3,8")
    fast = train(cfg, data).network
    original = train_module.uses_blocked
    train_module.uses_blocked = lambda cfg: False
    try:
        slow = train(cfg, data).network
    finally:
        train_module.uses_blocked = original
    assert np.max(np.abs(fast.weights - slow.weights)) <= 1e-9
    assert np.max(np.abs(fast.bias - slow.bias)) <= 1e-9


@pytest.mark.parametrize("extra", [{}, {"batch_size": 10}, {"loss": "softmax", "l2": 0.001}])
def test_frozen_weights_never_change(data, extra):
    cfg = TrainConfig(epochs=2, freeze_inputs="0-27,400-410", freeze_outputs="3,8", bias=True,
                      **extra)  # fmt: skip
    start = np.random.RandomState(1).random_sample((784, 10)) * 0.2 - 0.1
    w = train(cfg, data).network.weights
    assert np.array_equal(w[list(range(28)) + list(range(400, 411))],
                          start[list(range(28)) + list(range(400, 411))])  # fmt: skip
    assert np.array_equal(w[:, [3, 8]], start[:, [3, 8]])
    assert not np.array_equal(w[200:300], start[200:300])


def test_mini_batch_averages_the_batch(data):
    x, y = data.x_train[:20], one_hot(data.labels_train[:20])
    w = np.random.RandomState(1).random_sample((784, 10)) * 0.2 - 0.1
    for b in range(0, 20, 10):
        w -= 0.05 * x[b : b + 10].T @ (x[b : b + 10] @ w - y[b : b + 10]) / 10
    small = TrainData(x, data.labels_train[:20], data.x_test[:10], data.labels_test[:10])
    got = train(TrainConfig(n_train=20, epochs=1, alpha=0.05, batch_size=10), small).network
    assert np.max(np.abs(got.weights - w)) <= 1e-12


def test_sigmoid_and_softmax_learn(data):
    for cfg in (TrainConfig(epochs=3, activation="sigmoid", alpha=0.1),
                TrainConfig(epochs=3, loss="softmax", bias=True, alpha=0.05)):  # fmt: skip
        result = train(cfg, data)
        assert result.history[-1].test_accuracy > 0.75


def test_alpha_decay_schedule():
    cfg = TrainConfig(alpha=0.1, alpha_decay=1.0)
    assert [cfg.alpha_at(e) for e in (1, 2, 3)] == [0.1, 0.05, 0.1 / 3]


# ---------------------------------------------------------------- the CLI end to end


def train_cli(tmp_path, data_dir, *args):
    return run_cli("train", "--data-dir", str(data_dir), *args, cwd=tmp_path)


def test_cli_train_json_metrics_and_weights_file(tmp_path, data_dir):
    result = train_cli(tmp_path, data_dir, "--epochs", "20", "--json", "--metrics", "m.jsonl")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("train_error", "train_accuracy", "test_error", "test_accuracy", "epochs",
                "alpha", "seconds", "weights"):  # fmt: skip
        assert key in summary
    assert summary["status"] == "ok" and summary["epochs"] == 20 and summary["alpha"] == 0.01
    assert 0.6 < summary["test_accuracy"] < 0.8
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == list(range(1, 21))
    assert "test_accuracy" in lines[9] and "test_accuracy" not in lines[8]

    with np.load(tmp_path / "weights.npz", allow_pickle=False) as npz:  # format 2
        assert npz["weights_0"].shape == (784, 10) and npz["weights_0"].dtype == np.float64
        assert "bias_0" not in npz.files
        meta = json.loads(str(npz["meta"]))
    assert meta["config"]["alpha"] == 0.01 and meta["config"]["epochs"] == 20
    assert meta["dataset"]["sha256"]["train-images-idx3-ubyte"].startswith("ba891046")
    assert meta["metrics"]["test_accuracy"] == summary["test_accuracy"]
    assert "gdcli_version" in meta


def test_cli_config_file_and_options_win(tmp_path, data_dir):
    (tmp_path / "c.toml").write_text("alpha = 0.005\nepochs = 3\nbias = true\n")
    result = train_cli(tmp_path, data_dir, "--config", "c.toml", "--epochs", "2", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == 2
    with np.load(tmp_path / "weights.npz") as npz:
        assert "bias_0" in npz.files and json.loads(str(npz["meta"]))["config"]["alpha"] == 0.005


def test_book_config_is_the_default():
    from pathlib import Path

    book = Path(__file__).parents[1] / "configs" / "book.toml"
    assert make_config(book, {}) == TrainConfig()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--alpha", "-1"], "alpha must be a positive number, got -1.0"),
        (["--alpha", "0"], "alpha must be a positive number, got 0.0"),
        (["--alpha", "nan"], "alpha must be a positive number, got nan"),
        (["--alpha", "inf"], "alpha must be a positive number, got inf"),
        (["--alpha", "fast"], "alpha must be a positive number, got 'fast'"),
        (["--epochs", "0"], "epochs must be a whole number >= 1"),
        (["--epochs", "-3"], "epochs must be a whole number >= 1"),
        (["--n-train", "70000"], "--n-train 70000 is more than the 60000 train images"),
        (["--freeze-inputs", "0-900"], "freeze_inputs: '0-900' is outside 0-783"),
        (["--loss", "hinge"], "loss must be mse or softmax"),
    ],
)
def test_cli_bad_values(tmp_path, data_dir, args, needle):
    assert_one_line_error(train_cli(tmp_path, data_dir, *args), 2, needle)
    assert not (tmp_path / "weights.npz").exists()


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("alpha = 0.01\nalpah = 0.1\n", "line 2: unknown key 'alpah'"),
        ("epochs = 'many'\n", "line 1: key 'epochs' must be a int, got 'many'"),
        ("alpha = 0.01\nepochs = = 3\n", "invalid TOML"),
    ],
)
def test_cli_bad_config(tmp_path, data_dir, toml, needle):
    (tmp_path / "bad.toml").write_text(toml)
    result = train_cli(tmp_path, data_dir, "--config", "bad.toml")
    assert_one_line_error(result, 2, "bad.toml", needle)


def test_cli_no_data_fetched(tmp_path):
    result = run_cli("train", "--data-dir", str(tmp_path / "empty"), cwd=tmp_path)
    assert_one_line_error(result, 1, "mnist is not fetched yet")
    assert "gdcli fetch" in result.stderr


def test_cli_divergence(tmp_path, data_dir):
    result = train_cli(tmp_path, data_dir, "--alpha", "0.1", "--epochs", "50", "--json")
    assert_one_line_error(result, 1, "diverged at epoch", "alpha 0.1")
    assert "smaller alpha" in result.stderr
    assert json.loads(result.stdout)["status"] == "diverged"
    assert not (tmp_path / "weights.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_cli_interrupt_leaves_no_file(tmp_path, data_dir):
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "gdcli", "train", "--data-dir", str(data_dir), "--epochs",
         "100000", "--quiet"], cwd=tmp_path, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
