"""Weights files, images, evaluate and predict (visualize-weights: test_visualize.py)."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image

from gdcli.image_files import png_bytes, read_grey, write_pgm


def test_png_reader_reads_what_pillow_writes(tmp_path):
    rng = np.random.RandomState(0)
    pixels = rng.randint(0, 256, (28, 28)).astype(np.uint8)
    for mode in ("L", "RGB", "RGBA", "P"):
        Image.fromarray(pixels).convert(mode).save(tmp_path / f"{mode}.png", optimize=False)
        got = read_grey(tmp_path / f"{mode}.png")
        assert np.max(np.abs(got - pixels)) <= 1.0, mode
    assert np.array_equal(np.asarray(Image.open(__import__("io").BytesIO(png_bytes(pixels)))),
                          pixels)  # fmt: skip
    write_pgm(tmp_path / "x.pgm", pixels)
    assert np.array_equal(read_grey(tmp_path / "x.pgm"), pixels)


@pytest.mark.parametrize("command", ["visualize-weights", "evaluate", "predict"])
def test_bad_weights_files(tmp_path, command):
    extra = ["--index", "0"] if command == "predict" else []
    assert_one_line_error(run_cli(command, str(tmp_path / "missing.npz"), *extra), 2,
                          "no weights file")  # fmt: skip
    (tmp_path / "text.npz").write_text("not a zip")
    assert_one_line_error(run_cli(command, str(tmp_path / "text.npz"), *extra), 1,
                          "not a valid .npz")  # fmt: skip
    np.savez(tmp_path / "shape.npz", weights=np.zeros((10, 784)))
    assert_one_line_error(run_cli(command, str(tmp_path / "shape.npz"), *extra), 1,
                          "weights of shape (10, 784)")  # fmt: skip
    np.savez(tmp_path / "pickle.npz", weights=np.array([{"a": 1}], dtype=object))
    assert_one_line_error(run_cli(command, str(tmp_path / "pickle.npz"), *extra), 1,
                          "pickled object")  # fmt: skip


def test_weights_correlate_with_the_mean_digit(tmp_path, data_dir):
    """The book: a vague 2 and 1 appear in the weights for 2 and 1. After 10 epochs of the
    book's run, each digit's weights correlate positively with that digit's mean image, and
    more than with any other digit's."""
    from gdcli.config import TrainConfig
    from gdcli.data import load_split
    from gdcli.datasets import DATASETS
    from gdcli.train import TrainData, train

    x, labels = load_split(DATASETS["mnist"], data_dir, "train", 1000)
    w = train(TrainConfig(epochs=10), TrainData(x, labels, x[:10], labels[:10])).network.weights
    means = np.array([x[labels == d].mean(axis=0) for d in range(10)])
    corr = np.array([[np.corrcoef(w[:, d], means[e])[0, 1] for e in range(10)] for d in range(10)])
    assert (np.diag(corr) > 0).all(), np.diag(corr)
    assert (corr.argmax(axis=1) == np.arange(10)).all()


def test_end_to_end_train_evaluate_predict_visualize(tmp_path, data_dir):
    dd = ["--data-dir", str(data_dir)]
    assert run_cli("train", *dd, "--epochs", "5", "--quiet", cwd=tmp_path).returncode == 0
    ev = run_cli("evaluate", *dd, "--json", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10000
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 10000)
    table = run_cli("evaluate", *dd, "--split", "train", cwd=tmp_path)
    assert "confusion matrix" in table.stdout and "1000 images" in table.stdout

    pred = json.loads(run_cli("predict", *dd, "--index", "0", "--json", cwd=tmp_path).stdout)
    assert pred["label"] == 7 and len(pred["scores"]) == 10
    assert pred["predicted"] == int(np.argmax(pred["scores"]))

    # the same test image as a PNG gives the same scores
    from gdcli.data import load_split
    from gdcli.datasets import DATASETS

    x, _ = load_split(DATASETS["mnist"], data_dir, "test", 1)
    Image.fromarray((x[0] * 255).round().astype(np.uint8).reshape(28, 28)).save(tmp_path / "7.png")
    by_image = json.loads(run_cli("predict", "--image", "7.png", "--json", cwd=tmp_path).stdout)
    assert np.allclose(by_image["scores"], pred["scores"])

    Image.new("L", (20, 20)).save(tmp_path / "small.png")
    assert_one_line_error(run_cli("predict", "--image", "small.png", cwd=tmp_path), 2,
                          "20x20 pixels, expected 28x28")  # fmt: skip
    assert_one_line_error(run_cli("predict", "--index", "10000", *dd, cwd=tmp_path), 2,
                          "--index 10000 is past")  # fmt: skip
    vis = run_cli("visualize-weights", cwd=tmp_path)
    assert vis.returncode == 0 and (tmp_path / "weights" / "grid.png").is_file()
