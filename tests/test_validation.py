"""The validation split: the last `val` training images, held out, evaluated beside the test."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli

import gdcli
from gdcli.book.errata import log_line
from gdcli.config import make_config
from gdcli.data.load import load_split
from gdcli.data.registry import DATASETS
from gdcli.errors import UsageError
from gdcli.nn.metrics import evaluate
from gdcli.nn.train import load_data, train

SMALL = {"n_train": 200, "epochs": 3, "eval_every": 2, "snapshots": "none"}


def test_the_validation_images_are_the_last_of_the_training_set(synthetic_data_dir):
    cfg = make_config(None, {**SMALL, "val": 150})
    data = load_data(cfg, synthetic_data_dir)
    x_all, labels_all = load_split(DATASETS["mnist"], synthetic_data_dir, "train")
    assert len(x_all) == 1000
    assert np.array_equal(data.x_val, x_all[850:]) and np.array_equal(
        data.labels_val, labels_all[850:]
    )
    assert np.array_equal(data.x_train, x_all[:200])


def test_validation_is_measured_whenever_the_test_is(synthetic_data_dir):
    cfg = make_config(None, {**SMALL, "val": 150})
    data = load_data(cfg, synthetic_data_dir)
    result = train(cfg, data)
    tested = [m.epoch for m in result.history if m.test_accuracy is not None]
    validated = [m.epoch for m in result.history if m.val_accuracy is not None]
    assert tested == validated == [1, 3]
    # the figures are those of the weights at the end of the run on the held-out images
    final = evaluate(result.network, data.x_val, data.labels_val)
    assert result.history[-1].val_accuracy == final.accuracy
    assert result.history[-1].val_error == final.error
    assert result.summary(cfg)["val_accuracy"] == final.accuracy
    # and training is the same with or without them
    plain_cfg = make_config(None, SMALL)
    plain = train(plain_cfg, load_data(plain_cfg, synthetic_data_dir))
    assert np.array_equal(plain.network.layers[0].weights, result.network.layers[0].weights)
    assert plain.history[1].val_accuracy is None
    assert "val_accuracy" not in plain.history[0].to_json()


def test_the_log_line_adds_validation_after_the_books_figures_only_when_on():
    book = {"epoch": 1, "train_error": 0.72, "train_accuracy": 0.5, "test_error": 0.6,
            "test_accuracy": 0.64}  # fmt: skip
    assert log_line(book) == " I:0 Train-Err:0.72 Train-Acc:0.5 Test-Err:0.6 Test-Acc:0.64"
    with_val = log_line({**book, "val_error": 0.6123456, "val_accuracy": 0.66})
    assert with_val == log_line(book) + " Val-Err:0.612 Val-Acc:0.66"


def test_the_cli_shows_validation_in_the_log_the_table_json_and_metrics(
    tmp_path, synthetic_data_dir
):
    args = ["train", "--data-dir", str(synthetic_data_dir), "--n-train", "200", "--val", "100",
            "--epochs", "2", "--metrics", "m.jsonl"]  # fmt: skip
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "Val-Acc:" in line]
    rows = {line.split("│")[1].strip() if "│" in line else line.split()[0]
            for line in result.stdout.splitlines() if "%" in line}  # fmt: skip
    assert {"train (during the epoch)", "validation", "test"} <= rows, result.stdout
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert all("val_accuracy" in line for line in lines)
    run = gdcli.load(tmp_path / "weights.npz")
    assert run.history == lines and run.summary["val_accuracy"] == lines[-1]["val_accuracy"]
    summary = json.loads(run_cli(*args, "--json", "-q", cwd=tmp_path).stdout)
    assert summary["val_accuracy"] == lines[-1]["val_accuracy"]
    assert summary["val_error"] == lines[-1]["val_error"]


def test_without_validation_the_log_has_no_validation(tmp_path, synthetic_data_dir):
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "200",
                     "--epochs", "1", "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0 and "Val" not in result.stderr
    assert json.loads(result.stdout)["val_accuracy"] is None


@pytest.mark.parametrize(
    ("keys", "needle"),
    [
        ({"val": -1}, "val must be a whole number >= 0"),
        ({"val": 1000, "n_train": 59001}, "n_train 59,001 and val 1,000 take 60,001 images; "
         "mnist has 60,000 training images"),
    ],
)  # fmt: skip
def test_bad_validation_sizes_are_refused_through_the_library(keys, needle):
    with pytest.raises(UsageError, match=needle):
        make_config(None, keys)


def test_an_overlap_is_refused_by_the_files_count_too(tmp_path, synthetic_data_dir):
    """The synthetic files under MNIST's names hold 1,000 images, not the registry's 60,000."""
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "600",
                     "--val", "500", "--epochs", "1", cwd=tmp_path)  # fmt: skip
    assert_one_line_error(result, 2, "--n-train 600 and --val 500 take 1,100 images",
                          "has 1,000 training images")  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_val_on_the_command_line_below_0_is_one_line(tmp_path, synthetic_data_dir):
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--val", "-5", cwd=tmp_path)
    assert_one_line_error(result, 2, "val must be a whole number >= 0")
    assert list(tmp_path.iterdir()) == []


def test_plot_draws_validation_beside_train_and_test():
    from gdcli.viz.plot import curves_png

    figures = {"train_error": 1.0, "train_accuracy": 0.5, "test_error": 0.5,
               "test_accuracy": 0.6, "val_error": 0.4, "val_accuracy": 0.7}  # fmt: skip
    history = [{"epoch": e, **figures} for e in (1, 2)]
    with_val = curves_png([("a", history)], "svg").decode()
    plain = [{k: v for k, v in h.items() if not k.startswith("val")} for h in history]
    assert (
        "validation" in with_val and "validation" not in curves_png([("a", plain)], "svg").decode()
    )
