"""The library API (docs/api.md): what `import gdcli` promises, on the synthetic dataset."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SYNTHETIC, assert_one_line_error, run_cli

import gdcli
from gdcli.config import CONFIGS_DIR, shipped_configs

SMALL = {"epochs": 3, "eval_every": 1, "n_train": 200}


@pytest.fixture(scope="module")
def small(synthetic_data_dir: Path) -> gdcli.Run:
    """A run of 3 epochs of the book's network on 200 synthetic images."""
    return gdcli.train(data_dir=synthetic_data_dir, quiet=True, **SMALL)


def test_train_returns_a_run_with_its_network_history_and_config(small):
    assert small.config.epochs == 3 and small.config.alpha == 0.01
    assert small.config.to_dict()["n_train"] == 200
    assert [h["epoch"] for h in small.history] == [1, 2, 3]
    assert set(small.history[-1]) >= {"epoch", "alpha", "train_error", "train_accuracy",
                                      "test_error", "test_accuracy", "seconds"}  # fmt: skip
    x = np.zeros((5, 784))
    assert small.network.predict(x).shape == (5, 10)
    assert small.summary["epochs"] == 3 and 0 < small.summary["test_accuracy"] <= 1
    assert "784-10, 3 epochs" in repr(small)


def test_a_config_by_name_with_keywords_over_it(synthetic_data_dir):
    run = gdcli.train("book-ch8", epochs=2, n_train=100, data_dir=synthetic_data_dir, quiet=True)
    assert run.config.hidden == (40,) and run.config.epochs == 2 and run.config.alpha == 0.005
    assert [layer.weights.shape for layer in run.network.layers] == [(784, 40), (40, 10)]


def test_on_epoch_sees_each_epochs_history_entry(synthetic_data_dir):
    seen = []
    run = gdcli.train(data_dir=synthetic_data_dir, quiet=True, on_epoch=seen.append, **SMALL)
    assert seen == run.history


def test_the_reference_engine_is_chosen_by_name(synthetic_data_dir, small):
    slow = gdcli.train(data_dir=synthetic_data_dir, quiet=True, engine="reference", **SMALL)
    assert np.max(np.abs(slow.network.layers[0].weights - small.network.layers[0].weights)) < 1e-9
    with pytest.raises(gdcli.UsageError, match="the blocked engine computes only per-image"):
        gdcli.train(data_dir=synthetic_data_dir, engine="blocked", hidden=[8], **SMALL)


@pytest.mark.parametrize(
    ("call", "message", "hint"),
    [
        (lambda: gdcli.train(alph=0.1), "unknown key 'alph'", "known keys: dataset, n_train"),
        (lambda: gdcli.train("book-ch99"), "no config file or shipped config named 'book-ch99'",
         "shipped configs: best, best-cnn, best-mlp, book, book-ch10"),
        (lambda: gdcli.train(alpha=-1), "alpha must be a positive number, got -1.0", None),
        (lambda: gdcli.train(alpha="fast"), "key 'alpha' must be a number, got 'fast'", None),
        (lambda: gdcli.train(loss="softmax", activation="sigmoid"),
         "loss softmax has its own output function; use activation linear", None),
    ],
)  # fmt: skip
def test_bad_input_raises_the_clis_message_naming_keys(call, message, hint, tmp_path, monkeypatch):
    (tmp_path / SYNTHETIC).mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GDCLI_DATA_DIR", str(tmp_path))
    with pytest.raises(gdcli.UsageError) as caught:
        call()
    assert caught.value.message == message and "--" not in caught.value.message
    if hint:
        assert caught.value.hint.startswith(hint)
    assert sorted(p.name for p in tmp_path.iterdir()) == [SYNTHETIC]  # nothing written


def test_the_cli_says_the_same_with_its_option_names(tmp_path, synthetic_data_dir):
    with pytest.raises(gdcli.UsageError) as caught:
        gdcli.train(n_train=70000, data_dir=synthetic_data_dir)
    assert caught.value.message == "n_train 70000 is more than the 1000 train images of mnist"
    result = run_cli("train", "--n-train", "70000", "--data-dir", str(synthetic_data_dir),
                     cwd=tmp_path)  # fmt: skip
    assert_one_line_error(result, 2, "--n-train 70000 is more than the 1000 train images")


def test_a_diverged_run_raises_with_its_history(synthetic_data_dir):
    with pytest.raises(gdcli.Diverged) as caught:
        gdcli.train(alpha=1e3, data_dir=synthetic_data_dir, quiet=True, **SMALL)
    exc = caught.value
    assert isinstance(exc, gdcli.GdcliError) and exc.epoch == 1
    assert "training diverged at epoch 1" in exc.message and exc.hint.startswith("try a smaller")
    assert [h["epoch"] for h in exc.run.history] == [1]


def test_save_writes_the_file_every_command_reads(small, tmp_path, synthetic_data_dir):
    path = small.save(tmp_path / "w.npz")
    assert small.path == path
    loaded = gdcli.load(path)
    assert np.array_equal(loaded.network.layers[0].weights, small.network.layers[0].weights)
    assert loaded.history == small.history and loaded.config == small.config
    result = run_cli("evaluate", str(path), "--json", "--data-dir", str(synthetic_data_dir))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == gdcli.evaluate(loaded, data_dir=synthetic_data_dir)


def test_evaluate_gives_the_keys_of_evaluate_json(small, synthetic_data_dir):
    ev = gdcli.evaluate(small, data_dir=synthetic_data_dir)
    assert set(ev) >= {"split", "images", "error", "accuracy", "per_class_accuracy",
                       "confusion", "classes", "layers"}  # fmt: skip
    assert ev["images"] == 200 and ev["layers"] == [784, 10]
    assert gdcli.evaluate(small, "train", data_dir=synthetic_data_dir)["images"] == 200


def test_plot_is_a_figure_jupyter_shows(small, tmp_path):
    from matplotlib.figure import Figure
    from PIL import Image

    fig = gdcli.plot([small, small])
    assert isinstance(fig, Figure)
    png = tmp_path / "curves.png"
    png.write_bytes(fig._repr_png_())
    width, height = Image.open(png).size
    assert width == 1500 and 630 <= height <= 800  # taller with a legend under the plots


def test_weights_image_is_a_pil_image_of_the_grid(small):
    from PIL import Image

    img = gdcli.weights_image(small)
    assert isinstance(img, Image.Image) and img.width > 280
    start = np.asarray(gdcli.weights_image(small, epoch=0))
    assert not np.array_equal(start, np.asarray(img))
    with pytest.raises(gdcli.UsageError, match="has no weights of epoch 7"):
        gdcli.weights_image(small, epoch=7)


def test_report_shows_inline_and_saves(small, tmp_path, synthetic_data_dir):
    report = gdcli.report([small], data_dir=synthetic_data_dir)
    assert report._repr_html_().startswith("<iframe srcdoc=")
    path = report.save(tmp_path / "r.html")
    assert path.read_text().startswith("<!DOCTYPE html>")


def test_load_dataset_is_the_books_preparation(synthetic_data_dir):
    images, labels = gdcli.load_dataset("mnist", "test", n=50, data_dir=synthetic_data_dir)
    assert images.shape == (50, 784) and images.dtype == np.float64
    assert images.min() >= 0 and images.max() <= 1 and labels.dtype == np.int64
    with pytest.raises(gdcli.UsageError, match="split must be train or test"):
        gdcli.load_dataset(split="validation")


def test_a_run_on_an_extra_dataset_is_read_by_every_command(tmp_path, synthetic_files):
    """A dataset of $GDCLI_EXTRA_DATASETS is as good as a built-in one for every reader."""
    data = tmp_path / "data"
    assert run_cli("fetch", "--dataset", SYNTHETIC, "--from", str(synthetic_files),
                   "--data-dir", str(data)).returncode == 0  # fmt: skip
    run = gdcli.train(dataset=SYNTHETIC, data_dir=data, quiet=True, **SMALL)
    w = str(run.save(tmp_path / "w.npz"))
    d = ["--data-dir", str(data)]
    for args in (["evaluate", w, *d], ["predict", w, "--index", "0", *d],
                 ["report", w, "--out", str(tmp_path / "r.html"), *d],
                 ["visualize-weights", w, "--out-dir", str(tmp_path / "v")],
                 ["plot", w, "--out", str(tmp_path / "c.png")]):  # fmt: skip
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)


def test_shipped_configs_are_named_and_listed():
    shipped = shipped_configs()
    assert {"book", "book-ch8", "book-ch9", "best", "best-mlp", "best-cnn"} <= set(shipped)
    assert all(about for _, about in shipped.values())
    assert gdcli.configs() == {name: about for name, (_, about) in shipped.items()}
    result = run_cli("configs")
    names = [line.split()[0] for line in result.stdout.splitlines() if line[:1].strip()]
    assert result.returncode == 0 and names == sorted(shipped)


def test_a_config_name_works_from_any_folder(tmp_path, synthetic_data_dir):
    result = run_cli("train", "--config", "book-ch8", "--epochs", "1", "--n-train", "50",
                     "--data-dir", str(synthetic_data_dir), "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert gdcli.load(tmp_path / "weights.npz").config.hidden == (40,)


def test_a_folder_named_like_a_shipped_config_does_not_hide_it(tmp_path, monkeypatch):
    """`gdcli sweep --config best --run-dir best` makes ./best; its runs still read the config."""
    from gdcli.config import find_config

    (tmp_path / "best").mkdir()
    monkeypatch.chdir(tmp_path)
    assert find_config("best") == shipped_configs()["best"][0]
    (tmp_path / "mine").mkdir()
    assert find_config("mine") == Path("mine")  # not shipped: the folder, refused when read


def test_the_configs_are_in_the_built_wheel(tmp_path):
    """`pip install .` installs them: they are package data of the wheel."""
    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".*", "*.egg-info", "build"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if built.returncode != 0 and "setuptools" in built.stderr:  # no package index reachable
        pytest.skip(f"pip could not get setuptools to build a wheel: {built.stderr[-200:]}")
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("gdcli-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"gdcli/configs/{p.name}" for p in CONFIGS_DIR.glob("*.toml")} <= names
