"""The best epoch: --keep best writes the weights of the best validation accuracy, --early-stop
ends a run that no longer gets better on validation."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

import gdcli
from gdcli.config import make_config
from gdcli.errors import UsageError
from gdcli.nn.model import Layer, Network
from gdcli.nn.train import EpochMetrics, Progress, _advanced, load_data, train

# A network that overfits 200 images within a few dozen epochs, validated on 200 others.
BASE = {"n_train": 200, "val": 200, "hidden": (20,), "alpha": 0.005, "epochs": 60,
        "eval_every": 2, "snapshots": "none"}  # fmt: skip


@pytest.fixture(scope="module")
def data(synthetic_data_dir):
    return load_data(make_config(None, BASE), synthetic_data_dir)


def weights(result):
    return [layer.weights for layer in result.network.layers]


def test_keep_best_holds_the_best_epochs_weights_and_every_epochs_history(data):
    best = train(make_config(None, {**BASE, "keep": "best"}), data)
    assert len(best.history) == 60
    validated = [m for m in best.history if m.val_accuracy is not None]
    top = max(m.val_accuracy for m in validated)
    epoch = next(m.epoch for m in validated if m.val_accuracy == top)  # the earlier on a tie
    assert 1 < epoch < 60 and best.best_epoch == epoch
    # the same run stopped at that epoch has those weights, to the bit
    upto = train(make_config(None, {**BASE, "epochs": epoch}), data)
    assert all(np.array_equal(a, b) for a, b in zip(weights(best), weights(upto), strict=True))
    summary = best.summary(make_config(None, {**BASE, "keep": "best"}))
    assert summary["weights_epoch"] == summary["best_epoch"] == epoch
    assert summary["val_accuracy"] == summary["best_val_accuracy"] == top
    assert summary["test_accuracy"] == best.history[epoch - 1].test_accuracy
    assert summary["epochs"] == 60 and summary["stopped_early"] is False
    # keep last: the last epoch's weights, the best epoch still named
    last = train(make_config(None, BASE), data)
    assert last.best_epoch == epoch and last.summary(make_config(None, BASE))["weights_epoch"] == 60
    assert not np.array_equal(weights(last)[0], weights(best)[0])


def test_a_tie_keeps_the_earlier_epoch():
    layers = [(np.zeros((2, 2)), None)]
    p = Progress(1, layers, ("MT19937", np.zeros(624, np.uint32), 0, 0, 0.0), "gram", 1.0,
                 0.0, 1, 0.5, layers, 0)  # fmt: skip
    net = Network([Layer(np.zeros((2, 2)), None, "linear")])
    rng = np.random.RandomState(0)
    cfg = make_config(None, {**BASE, "keep": "best"})
    same = _advanced(cfg, p, 3, net, rng, EpochMetrics(3, 0.1, 1.0, 0.5, 1.0, 0.5, 0.0, 1.0, 0.5))
    assert (same.best_epoch, same.stale) == (1, 1) and same.best_layers is layers
    better = _advanced(cfg, same, 5, net, rng, EpochMetrics(5, 0.1, 1.0, 0.5, 1.0, 0.5, 0.0, 1.0,
                                                               0.75))  # fmt: skip
    assert (better.best_epoch, better.best_val_accuracy, better.stale) == (5, 0.75, 0)
    untested = _advanced(cfg, better, 6, net, rng, EpochMetrics(6, 0.1, 1.0, 0.5))
    assert (untested.best_epoch, untested.stale) == (5, 0)


def test_early_stop_ends_the_run_after_p_tested_epochs_without_a_better_validation(data):
    cfg = make_config(None, {**BASE, "early_stop": 3, "epochs": 400})
    result = train(cfg, data)
    validated = [m for m in result.history if m.val_accuracy is not None]
    best = result.best_epoch
    after = [m for m in validated if m.epoch > best]
    assert result.stopped_early and len(after) == 3, [m.epoch for m in validated]
    assert result.history[-1].epoch == after[-1].epoch < 400
    assert all(m.val_accuracy <= result.history[best - 1].val_accuracy for m in after)
    summary = result.summary(cfg)
    assert summary["stopped_early"] is True and summary["best_epoch"] == best


def test_the_cli_says_where_the_best_was_and_that_it_stopped_early(tmp_path, synthetic_data_dir):
    args = ["train", "--data-dir", str(synthetic_data_dir), "--n-train", "200", "--val", "200",
            "--hidden", "20", "--alpha", "0.005", "--epochs", "400", "--eval-every", "2",
            "--keep", "best", "--early-stop", "3"]  # fmt: skip
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = gdcli.load(tmp_path / "weights.npz")
    best, last = run.summary["best_epoch"], run.summary["epochs"]
    assert f"stopped early after epoch {last}: no better validation accuracy in 3" in result.stdout
    assert f"at epoch {best}" in result.stdout
    assert f"wrote weights.npz (epoch {best}, the best validation accuracy)" in result.stderr
    assert len(run.history) == last and run.summary["weights_epoch"] == best
    summary = json.loads(run_cli(*args, "--json", "-q", cwd=tmp_path).stdout)
    assert summary["stopped_early"] is True and summary["best_epoch"] == best
    assert summary["interrupted_at"] is None


@pytest.mark.parametrize(
    ("keys", "needle"),
    [
        ({"keep": "best"}, "keep best chooses by the validation accuracy, and this run has no"),
        ({"early_stop": 5}, "early_stop 5 chooses by the validation accuracy"),
        ({"keep": "first", "val": 10}, "keep must be last or best, got 'first'"),
        ({"early_stop": -1, "val": 10}, "early_stop must be a whole number >= 1"),
    ],
)
def test_bad_best_epoch_settings_are_refused(keys, needle):
    with pytest.raises(UsageError, match=needle):
        make_config(None, keys)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--keep", "best"], "--keep best chooses by the validation accuracy"),
        (["--early-stop", "4"], "--early-stop 4 chooses by the validation accuracy"),
        (["--early-stop", "0", "--val", "10"], "early_stop must be a whole number >= 1, got 0"),
    ],
)
def test_bad_best_epoch_options_are_one_line(tmp_path, synthetic_data_dir, args, needle):
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), *args, cwd=tmp_path)
    assert_one_line_error(result, 2, needle)
    assert list(tmp_path.iterdir()) == []
