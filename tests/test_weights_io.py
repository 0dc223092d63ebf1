"""Weights files, images, visualize-weights, evaluate and predict."""

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image

from gdcli import heatmap, weights_file
from gdcli.image_files import png_bytes, read_grey, write_pgm
from gdcli.model import Layer, Network


def save_weights(path, weights, bias=None, meta=None):
    weights_file.save(path, Network([Layer(weights, bias)]), meta or {"config": {}})
    return path


@pytest.fixture
def gradient_weights(tmp_path):
    """Column d holds a known pattern: weights rising from -1 to +1 along the pixels, times
    (d - 4.5) / 4.5, so column 0 is the reverse of column 9 and no column is zero."""
    ramp = np.linspace(-1.0, 1.0, 784)
    w = np.stack([ramp * (d - 4.5) / 4.5 for d in range(10)], axis=1)
    return save_weights(tmp_path / "w.npz", w), w


def test_png_and_pgm_decode_with_pillow(tmp_path, gradient_weights):
    path, w = gradient_weights
    out = tmp_path / "img"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--format", "both",
                     "--scale", "3")  # fmt: skip
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    assert printed[0] == str(out / "digit-0.png") and printed[-1] == str(out / "grid.png")
    assert len(printed) == 21

    s = np.abs(w).max()
    for d in (0, 9):
        png = Image.open(out / f"digit-{d}.png")
        png.load()
        assert png.size == (84, 84) and png.mode == "RGB"
        pix = np.asarray(png)
        expected = heatmap.to_diverging(w[:, d].reshape(28, 28), s).repeat(3, 0).repeat(3, 1)
        assert np.array_equal(pix, expected)
        pgm = Image.open(out / f"digit-{d}.pgm")
        assert pgm.size == (84, 84) and pgm.mode == "L"
        grey = np.asarray(pgm).astype(int)
        expected_grey = np.rint(128 + 127 * w[:, d] / s).reshape(28, 28).repeat(3, 0).repeat(3, 1)
        assert np.array_equal(grey, expected_grey)
    # digit 0 runs from +1 (top left: bright, red) to -1 (bottom right: dark, blue)
    grey0 = np.asarray(Image.open(out / "digit-0.pgm"))
    assert grey0[0, 0] == 255 and grey0[-1, -1] == 1
    rgb0 = np.asarray(Image.open(out / "digit-0.png"))
    assert rgb0[0, 0].tolist() == [103, 0, 31] and rgb0[-1, -1].tolist() == [5, 48, 97]

    grid = Image.open(out / "grid.png")
    assert grid.mode == "RGB" and grid.size == (5 * 84 + 6 * 1, 2 * 84 + 3 * 1)
    header = (out / "digit-3.pgm").read_bytes()[:13]
    assert header == b"P5\n84 84\n255\n"


def test_zero_weight_is_the_neutral_colour(tmp_path):
    w = np.zeros((784, 10))
    w[0, :] = 0.5
    w[1, :] = -0.5
    path = save_weights(tmp_path / "z.npz", w)
    out = tmp_path / "o"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--format", "both",
                     "--scale", "1", "--digits", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["digit-2.pgm", "digit-2.png", "grid.png"]
    rgb = np.asarray(Image.open(out / "digit-2.png"))
    assert tuple(rgb[5, 5]) == heatmap.NEUTRAL
    grey = np.asarray(Image.open(out / "digit-2.pgm"))
    assert grey[5, 5] == 128 and grey[0, 0] == 255 and grey[0, 1] == 1


def test_gray_colormap_png(tmp_path, gradient_weights):
    path, _ = gradient_weights
    out = tmp_path / "g"
    assert run_cli("visualize-weights", str(path), "--out-dir", str(out), "--colormap", "gray",
                   "--digits", "0").returncode == 0  # fmt: skip
    img = Image.open(out / "digit-0.png")
    assert img.mode == "L" and img.size == (280, 280)
    as_json = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--digits", "0",
                      "--json")  # fmt: skip
    report = json.loads(as_json.stdout)
    assert report["written"] == [str(out / "digit-0.png"), str(out / "grid.png")]
    assert report["scale"] == 1.0


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


def test_unwritable_output_folder(tmp_path, gradient_weights):
    path, _ = gradient_weights
    (tmp_path / "file").write_text("")
    assert_one_line_error(run_cli("visualize-weights", str(path), "--out-dir",
                                  str(tmp_path / "file")), 2, "is not a folder")  # fmt: skip
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_cli("visualize-weights", str(path), "--out-dir", str(locked / "sub"))
        import os

        if os.geteuid() != 0:  # root may write anywhere
            assert_one_line_error(result, 1, "cannot write")
    finally:
        locked.chmod(0o700)


def test_weights_correlate_with_the_mean_digit(tmp_path, data_dir):
    """The book: a vague 2 and 1 appear in the weights for 2 and 1. After 10 epochs of the
    book's run, each digit's weights correlate positively with that digit's mean image, and
    more than with any other digit's."""
    from gdcli.config import TrainConfig
    from gdcli.data import load_split
    from gdcli.datasets import DATASETS
    from gdcli.train import TrainData, train

    x, labels = load_split(DATASETS["mnist"], data_dir, "train", 1000)
    w = (
        train(TrainConfig(epochs=10), TrainData(x, labels, x[:10], labels[:10]))
        .network.layers[0]
        .weights
    )
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
