"""The trainer: exactly the book's loop, faster; its options; its errors."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

from gdcli.config import TrainConfig, make_config
from gdcli.data.load import load_split, one_hot
from gdcli.data.registry import DATASETS
from gdcli.nn.train import TrainData, train


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
    got = train(TrainConfig(epochs=epochs), data).network.layers[0].weights
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


def test_blocked_gram_and_reference_engines_agree_with_bias_and_freezing(data):
    """The same options through every engine, on the real images."""
    cfg = TrainConfig(epochs=3, bias=True, freeze_inputs="100-300", freeze_outputs="3,8")
    nets = [train(cfg, data, engine=name).network for name in ("blocked", "gram", "reference")]
    for other in nets[1:]:
        assert np.max(np.abs(nets[0].layers[0].weights - other.layers[0].weights)) <= 1e-9
        assert np.max(np.abs(nets[0].layers[0].bias - other.layers[0].bias)) <= 1e-9


@pytest.mark.parametrize("extra", [{}, {"batch_size": 10}, {"loss": "softmax", "l2": 0.001}])
def test_frozen_weights_never_change(data, extra):
    cfg = TrainConfig(epochs=2, freeze_inputs="0-27,400-410", freeze_outputs="3,8", bias=True,
                      **extra)  # fmt: skip
    start = np.random.RandomState(1).random_sample((784, 10)) * 0.2 - 0.1
    w = train(cfg, data).network.layers[0].weights
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
    assert np.max(np.abs(got.layers[0].weights - w)) <= 1e-12


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
    # tested after epochs 1, 11 (the book's iterations 0 and 10) and the last
    assert [m["epoch"] for m in lines if "test_accuracy" in m] == [1, 11, 20]

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
        ("epochs = 'many'\n", "line 1: key 'epochs' must be a whole number, got 'many'"),
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


@pytest.mark.parametrize("alpha", ["0.03", "0.025", "1e308"])
def test_cli_divergence_is_caught_before_it_overflows(tmp_path, data_dir, alpha):
    """alpha 0.03 used to end "ok" with an error of 7.9e105 after 5 epochs, 1e308 in a
    LinAlgError traceback: both diverge in their first epoch (train error more than
    DIVERGENCE_FACTOR times the untrained network's), one line, exit 1, nothing written."""
    result = train_cli(tmp_path, data_dir, "--alpha", alpha, "--epochs", "5", "--json",
                       "--metrics", "m.jsonl")  # fmt: skip
    assert_one_line_error(result, 1, "diverged at epoch 1")
    assert json.loads(result.stdout)["status"] == "diverged"
    assert not (tmp_path / "weights.npz").exists()


def test_a_slow_but_sound_alpha_is_not_divergence(data):
    """alpha 0.02 starts noisy (train error 7) and settles: not divergence."""
    result = train(TrainConfig(alpha=0.02, epochs=8, eval_every=100), data)
    assert result.diverged_at is None
    assert result.history[-1].train_error < result.history[1].train_error


# ---------------------------------------------------------------- hidden layers (synthetic data)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--hidden", "0"], "hidden must be layer sizes, whole numbers >= 1, got 0"),
        (["--hidden", "40,-3"], "hidden must be layer sizes, whole numbers >= 1, got -3"),
        (["--hidden", "forty"], "hidden must be whole numbers separated by commas"),
        (["--hidden", "40", "--dropout", "1"], "dropout must be a probability in [0, 1)"),
        (["--hidden", "40", "--dropout", "-0.1"], "dropout must be a probability in [0, 1)"),
        (["--hidden", "40", "--dropout", "nan"], "dropout must be a probability in [0, 1)"),
        (["--dropout", "0.5"], "dropout drops hidden units"),
        (["--hidden", "40", "--hidden-activation", "swish"],
         "hidden_activation must be one of relu, sigmoid, tanh, got 'swish'"),
        (["--activation", "softplus"], "activation must be linear or sigmoid"),
        (["--hidden", "40", "--freeze-layers", "2"], "freeze_layers: '2' is outside 0-1"),
        (["--freeze-layers", "1"], "freeze_layers: '1' is outside 0-0"),
        (["--hidden", "40", "--init", "zeros"], "init zeros gives every hidden unit"),
        (["--hidden", "40", "--init-scale", "0.1,0.1,0.1"], "init_scale must be one number"),
        (["--init-scale", "0"], "init_scale must be positive numbers"),
        (["--errata", "relu3deriv"], "errata must be some of relu2deriv"),
        (["--epochs", "5", "--snapshots", "0,9"], "snapshots: '9' is outside 0-5"),
    ],
)  # fmt: skip
def test_cli_bad_network_options(tmp_path, synthetic_data_dir, args, needle):
    result = train_cli(tmp_path, synthetic_data_dir, *args, "--metrics", "m.jsonl")
    assert_one_line_error(result, 2, needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("hidden = [40, 'x']\n", "line 1: key 'hidden' must be a whole number or an array of them"),
        ("hidden = 1.5\n", "key 'hidden' must be a whole number or an array of them"),
        ("errata = [1]\n", "key 'errata' must be a string or an array of them"),
    ],
)
def test_cli_bad_network_config(tmp_path, synthetic_data_dir, toml, needle):
    (tmp_path / "bad.toml").write_text(toml)
    result = train_cli(tmp_path, synthetic_data_dir, "--config", "bad.toml")
    assert_one_line_error(result, 2, "bad.toml", needle)


def test_config_keys_for_hidden_layers(tmp_path):
    (tmp_path / "c.toml").write_text(
        'hidden = [128, 64]\nhidden_activation = "tanh"\ndropout = 0.25\n'
        'init_scale = [0.01, 0.1, 0.1]\nerrata = ["dropout-deriv"]\nsnapshots = "0,5"\n'
    )
    cfg = make_config(tmp_path / "c.toml", {})
    assert (cfg.hidden, cfg.hidden_activation, cfg.dropout) == ((128, 64), "tanh", 0.25)
    assert cfg.init_scale == (0.01, 0.1, 0.1) and cfg.errata == ("dropout-deriv",)
    (tmp_path / "d.toml").write_text("hidden = 40\ninit_scale = 0.05\n")
    one = make_config(tmp_path / "d.toml", {"hidden": (30,)})
    assert one.hidden == (30,) and one.init_scale == (0.05,)


def test_cli_hidden_layers_every_epoch_metrics_and_the_weights_file(tmp_path, synthetic_data_dir):
    dd = ["--data-dir", str(synthetic_data_dir)]
    result = run_cli("train", *dd, "--n-train", "600", "--hidden", "32,16", "--dropout", "0.2",
                     "--bias", "--alpha", "0.05", "--epochs", "6", "--eval-every", "1",
                     "--metrics", "m.jsonl", "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in lines] == list(range(1, 7))
    assert all("test_accuracy" in m and "test_error" in m for m in lines)
    assert lines[-1]["test_accuracy"] > 0.8
    with np.load(tmp_path / "weights.npz") as npz:
        shapes = {k: npz[k].shape for k in npz.files if k != "meta"}
        meta = json.loads(str(npz["meta"]))
    assert shapes == {"weights_0": (784, 32), "bias_0": (32,), "weights_1": (32, 16),
                      "bias_1": (16,), "weights_2": (16, 10), "bias_2": (10,),
                      # the default snapshots: epochs 0, 1, 2, 5 and the last (6)
                      "snapshot_0": (5, 784, 32), "snapshot_1": (5, 32, 16),
                      "snapshot_2": (5, 16, 10)}  # fmt: skip
    assert meta["snapshot_epochs"] == [0, 1, 2, 5, 6]
    assert meta["config"]["hidden"] == [32, 16] and meta["config"]["dropout"] == 0.2
    ev = run_cli("evaluate", *dd, "--json", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["accuracy"] == lines[-1]["test_accuracy"]
    pred = run_cli("predict", *dd, "--index", "0", "--json", cwd=tmp_path)
    assert pred.returncode == 0 and len(json.loads(pred.stdout)["scores"]) == 10


def synthetic(folder):
    from gdcli.data.load import load_split
    from gdcli.data.registry import DATASETS

    x, labels = load_split(DATASETS["mnist"], folder, "train", 600)
    xt, lt = load_split(DATASETS["mnist"], folder, "test")
    return TrainData(x, labels, xt, lt)


def test_test_schedule_and_snapshots(synthetic_data_dir):
    data = synthetic(synthetic_data_dir)
    result = train(TrainConfig(n_train=600, epochs=25, hidden=(20,), alpha=0.02), data)
    tested = [m.epoch for m in result.history if m.test_accuracy is not None]
    assert tested == [1, 11, 21, 25]
    assert sorted(result.snapshots) == [0, 1, 2, 5, 10, 20, 25]
    assert [w.shape for w in result.snapshots[0]] == [(784, 20), (20, 10)]
    assert np.array_equal(result.snapshots[25][1], result.network.layers[1].weights)
    first = np.random.RandomState(1).random_sample((784, 20))
    assert np.array_equal(result.snapshots[0][0], 2 * 0.1 * first - 0.1)
    assert not np.array_equal(result.snapshots[0][0], result.snapshots[1][0])
    chosen = train(TrainConfig(n_train=600, epochs=3, snapshots="0,3", eval_every=2), data)
    assert sorted(chosen.snapshots) == [0, 3]
    assert [m.epoch for m in chosen.history if m.test_accuracy is not None] == [1, 3]
    assert train(TrainConfig(n_train=600, epochs=2, snapshots="none"), data).snapshots == {}


def test_metrics_json_is_finite_or_null():
    from gdcli.nn.train import EpochMetrics

    m = EpochMetrics(3, 0.1, float("inf"), 0.5, float("nan"), 0.25, 1.5)
    assert m.to_json() == {"epoch": 3, "alpha": 0.1, "train_error": None, "train_accuracy": 0.5,
                           "test_error": None, "test_accuracy": 0.25, "seconds": 1.5}  # fmt: skip
    assert "test_error" not in EpochMetrics(1, 0.1, 1.0, 0.5).to_json()
    json.dumps(m.to_json(), allow_nan=False)  # RFC 8259: raises on NaN or Infinity


def test_synthetic_divergence_stops_in_the_first_epochs(synthetic_data_dir):
    data = synthetic(synthetic_data_dir)
    result = train(TrainConfig(n_train=600, epochs=20, alpha=1.0), data)
    assert result.diverged_at is not None and result.diverged_at <= 3
    assert len(result.history) == result.diverged_at
