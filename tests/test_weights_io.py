"""Weights files (format 2 and gdcli 0.1's format 1, crafted ones refused), visualize-weights,
evaluate and predict end to end."""

import io
import json
import os
import resource
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image

from gdcli.io import weights_file
from gdcli.io.weights_file import WeightsFile
from gdcli.nn.model import Layer, Network


def save_weights(path, weights, bias=None, meta=None):
    net = Network([Layer(weights, bias)])
    weights_file.save(path, WeightsFile(net, meta or {"config": {}}))
    return path


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
                          "weights of shape (10, 784): the first layer must take 784")  # fmt: skip
    np.savez(tmp_path / "pickle.npz", weights=np.array([{"a": 1}], dtype=object))
    assert_one_line_error(run_cli(command, str(tmp_path / "pickle.npz"), *extra), 1,
                          "pickled object")  # fmt: skip


def test_weights_correlate_with_the_mean_digit(tmp_path, data_dir):
    """The book: a vague 2 and 1 appear in the weights for 2 and 1. After 10 epochs of the
    book's run, each digit's weights correlate positively with that digit's mean image, and
    more than with any other digit's."""
    from gdcli.config import TrainConfig
    from gdcli.data.load import load_split
    from gdcli.data.registry import DATASETS
    from gdcli.nn.train import TrainData, train

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
    from gdcli.data.load import load_split
    from gdcli.data.registry import DATASETS

    x, _ = load_split(DATASETS["mnist"], data_dir, "test", 1)
    Image.fromarray((x[0] * 255).round().astype(np.uint8).reshape(28, 28)).save(tmp_path / "7.png")
    by_image = run_cli("predict", "--image", "7.png", "--as-is", "--json", cwd=tmp_path)
    assert np.allclose(json.loads(by_image.stdout)["scores"], pred["scores"])

    Image.new("L", (20, 20)).save(tmp_path / "small.png")
    assert_one_line_error(run_cli("predict", "--image", "small.png", "--as-is", cwd=tmp_path), 2,
                          "20x20 pixels; --as-is takes a 28x28 image")  # fmt: skip
    assert_one_line_error(run_cli("predict", "--index", "10000", *dd, cwd=tmp_path), 2,
                          "--index 10000 is past")  # fmt: skip
    vis = run_cli("visualize-weights", cwd=tmp_path)
    assert vis.returncode == 0 and (tmp_path / "weights" / "grid.png").is_file()


# --- format 2 and format 1 ------------------------------------------------------------------


def two_layer_file(path, rng=None, snapshots=True, **meta):
    """A 784-16-10 relu network with a bias, history and snapshots, saved in format 2."""
    rng = rng or np.random.RandomState(0)
    layers = [Layer(rng.randn(784, 16) * 0.1, rng.randn(16), "relu"), Layer(rng.randn(16, 10))]
    net = Network(layers, loss="softmax")
    history = [{"epoch": e, "alpha": 0.01, "train_error": 1.0 / e, "train_accuracy": 0.5,
                "seconds": 0.1 * e} for e in (1, 2, 3)]  # fmt: skip
    history[0].update(test_error=0.9, test_accuracy=0.6)
    snaps = {e: [(layer.weights * (e + 1)).astype(np.float32) for layer in layers]
             for e in (0, 1, 3)} if snapshots else {}  # fmt: skip
    wf = WeightsFile(net, {"gdcli_version": "0.2.0", "config": {"n_train": 600, **meta}},
                     history, snaps)  # fmt: skip
    weights_file.save(path, wf)
    return wf


def test_format_2_round_trip(tmp_path):
    wf = two_layer_file(tmp_path / "w.npz")
    got = weights_file.load(tmp_path / "w.npz")
    assert len(got.network.layers) == 2 and got.network.loss == "softmax"
    for a, b in zip(got.network.layers, wf.network.layers, strict=True):
        assert a.activation == b.activation
        assert np.array_equal(a.weights, b.weights) and a.weights.dtype == np.float64
        assert (a.bias is None and b.bias is None) or np.array_equal(a.bias, b.bias)
    assert got.history == wf.history
    assert sorted(got.snapshots) == [0, 1, 3]
    assert got.snapshots[3][1].dtype == np.float32
    assert np.array_equal(got.snapshots[3][0], wf.snapshots[3][0])
    assert got.meta["format"] == 2 and got.meta["config"]["n_train"] == 600
    assert not {"layers", "history", "snapshot_epochs", "loss"} & set(got.meta)
    x = np.random.RandomState(1).rand(3, 784)
    assert np.array_equal(got.network.scores(x), wf.network.scores(x))
    # the saved meta is plain JSON a script can read
    with np.load(tmp_path / "w.npz", allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
        assert npz["snapshot_0"].shape == (3, 784, 16) and npz["snapshot_0"].dtype == np.float32
    assert meta["format"] == 2 and meta["snapshot_epochs"] == [0, 1, 3]
    assert meta["layers"] == [{"activation": "relu"}, {"activation": "linear"}]


def test_non_finite_history_is_written_as_null(tmp_path):
    net = Network([Layer(np.zeros((784, 10)))])
    history = [{"epoch": 1, "alpha": 0.1, "train_error": float("inf"), "train_accuracy": 0.1}]
    weights_file.save(tmp_path / "w.npz", WeightsFile(net, {}, history))
    with np.load(tmp_path / "w.npz", allow_pickle=False) as npz:
        text = str(npz["meta"])
    assert "Infinity" not in text and json.loads(text)["history"][0]["train_error"] is None


def write_format_1(path, weights, bias=None, meta=None):
    """A weights file exactly as gdcli 0.1 wrote it."""
    arrays = {"weights": weights, "meta": np.array(json.dumps(meta or {}))}
    if bias is not None:
        arrays["bias"] = bias
    np.savez(path, **arrays)
    return path


def test_format_1_files_still_load_everywhere(tmp_path, synthetic_data_dir):
    rng = np.random.RandomState(2)
    w, b = rng.randn(784, 10) * 0.01, rng.randn(10) * 0.01
    meta = {"gdcli_version": "0.1.0", "config": {"dataset": "mnist", "n_train": 600,
            "activation": "sigmoid", "loss": "mse", "bias": True, "deskew": False},
            "metrics": {"test_accuracy": 0.5, "epochs": 3}}  # fmt: skip
    path = write_format_1(tmp_path / "old.npz", w, b, meta)
    wf = weights_file.load(path)
    assert wf.meta["format"] == 1 and wf.history == [] and wf.snapshots == {}
    (layer,) = wf.network.layers
    assert np.array_equal(layer.weights, w) and np.array_equal(layer.bias, b)
    assert layer.activation == "sigmoid" and wf.network.loss == "mse"

    dd = ["--data-dir", str(synthetic_data_dir)]
    ev = run_cli("evaluate", str(path), *dd, "--json")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout)["layers"] == [784, 10]
    pred = run_cli("predict", str(path), *dd, "--index", "5", "--json")
    assert pred.returncode == 0, pred.stderr
    out = json.loads(pred.stdout)
    # the scores are the weighted sums, the outputs their sigmoid
    assert np.allclose(out["outputs"], 1 / (1 + np.exp(-np.array(out["scores"]))))
    vis = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "v"))
    assert vis.returncode == 0, vis.stderr
    # a 0.1 file without meta at all
    bare = write_format_1(tmp_path / "bare.npz", w)
    assert weights_file.load(bare).network.layers[0].bias is None


def test_train_writes_format_2_with_its_history(tmp_path, synthetic_data_dir):
    dd = ["--data-dir", str(synthetic_data_dir)]
    result = run_cli("train", *dd, "--n-train", "600", "--epochs", "3", "--eval-every", "2",
                     "--metrics", "m.jsonl", "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    wf = weights_file.load(tmp_path / "weights.npz")
    assert wf.meta["format"] == 2 and wf.meta["config"]["epochs"] == 3
    # the file's history is what --metrics writes, epoch by epoch
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert wf.history == lines and [h["epoch"] for h in wf.history] == [1, 2, 3]
    assert "test_accuracy" in wf.history[-1]  # tested after the last epoch
    ev = json.loads(run_cli("evaluate", *dd, "--json", cwd=tmp_path).stdout)
    assert ev["accuracy"] == pytest.approx(wf.history[-1]["test_accuracy"])


def test_evaluate_and_predict_a_network_with_hidden_layers(tmp_path, synthetic_data_dir):
    """Every depth: evaluate's accuracy and predict's scores are the library's, from the file."""
    from gdcli.data.load import load_split
    from gdcli.data.registry import DATASETS
    from gdcli.nn.metrics import evaluate

    wf = two_layer_file(tmp_path / "deep.npz")
    dd = ["--data-dir", str(synthetic_data_dir)]
    x, labels = load_split(DATASETS["mnist"], synthetic_data_dir, "test")
    ev = run_cli("evaluate", str(tmp_path / "deep.npz"), *dd, "--json", "--quiet")
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert report["layers"] == [784, 16, 10]
    assert report["accuracy"] == pytest.approx(evaluate(wf.network, x, labels).accuracy)
    table = run_cli("evaluate", str(tmp_path / "deep.npz"), *dd, "--split", "train")
    assert "600 images, network 784-16-10" in table.stdout

    pred = run_cli("predict", str(tmp_path / "deep.npz"), *dd, "--index", "7", "--json")
    out = json.loads(pred.stdout)
    assert np.allclose(out["scores"], wf.network.scores(x[7]), atol=1e-12)
    assert np.allclose(out["outputs"], wf.network.predict(x[7]), atol=1e-12)
    assert abs(sum(out["outputs"]) - 1) < 1e-9  # softmax
    assert out["label"] == int(labels[7]) and out["layers"] == [784, 16, 10]
    text = run_cli("predict", str(tmp_path / "deep.npz"), *dd, "--index", "7").stdout
    assert "probability" in text and f"predicted: {out['predicted']}" in text


# --- crafted files: one line, exit 1 -----------------------------------------------------------


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def write_zip(path, members):
    """An .npz by hand: members maps a name (no .npy) to raw bytes or an array."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, value in members.items():
            z.writestr(name + ".npy", value if isinstance(value, bytes) else npy(value))
    return path


def meta_of(obj) -> np.ndarray:
    return np.array(json.dumps(obj))


LAYER_META = {"format": 2, "layers": [{"activation": "relu"}, {"activation": "linear"}]}
W1, W2 = np.zeros((784, 40)), np.zeros((40, 10))
CRAFTED = {
    "meta is a list": ({"weights": np.zeros((784, 10)), "meta": meta_of([1, 2])},
                       "meta must be a JSON object, got a list"),
    "config is a string": ({"weights": np.zeros((784, 10)), "meta": meta_of({"config": "x"})},
                           "meta.config must be an object, got 'x'"),
    "n_train is text": ({"weights": np.zeros((784, 10)),
                         "meta": meta_of({"config": {"n_train": "abc"}})},
                        "meta.config.n_train must be a whole number, got 'abc'"),
    "n_train is 0": ({"weights": np.zeros((784, 10)), "meta": meta_of({"config": {"n_train": 0}})},
                     "meta.config.n_train must be a whole number >= 1"),
    "deskew is text": ({"weights": np.zeros((784, 10)),
                        "meta": meta_of({"config": {"deskew": "yes"}})},
                       "meta.config.deskew must be true or false"),
    "dataset not a name": ({"weights": np.zeros((784, 10)),
                            "meta": meta_of({"config": {"dataset": "../../etc/passwd"}})},
                           "meta.config.dataset must be a dataset's name"),
    "metrics not an object": ({"weights": np.zeros((784, 10)), "meta": meta_of({"metrics": [1]})},
                              "meta.metrics must be an object"),
    "meta not JSON": ({"weights": np.zeros((784, 10)), "meta": np.array("{not json")},
                      "meta is not valid JSON"),
    "meta nested deep": ({"weights": np.zeros((784, 10)), "meta": np.array("[" * 100000)},
                         "meta is not valid JSON"),
    "meta not a string": ({"weights": np.zeros((784, 10)), "meta": np.zeros(3)},
                          "meta must be one string"),
    "weights are raw pickle bytes": ({"weights": __import__("pickle").dumps({"a": 1})},
                                     "member 'weights' is not a numpy array"),
    "weights are a pickled object": ({"weights": np.array([{"a": 1}], dtype=object)},
                                     "member 'weights' holds a pickled object"),
    "weights are integers": ({"weights": np.zeros((784, 10), dtype=np.int64)},
                             "member 'weights' holds int64 values; gdcli reads floats"),
    "weights hold NaN": ({"weights": np.full((784, 10), np.nan)},
                         "member 'weights' holds NaN or infinite values"),
    "weights wrong first dimension": ({"weights": np.zeros((10, 784))},
                                      "the first layer must take 784 pixels"),
    "weights 1-D": ({"weights": np.zeros(7840)}, "expected 2 dimensions"),
    "bias wrong shape": ({"weights": np.zeros((784, 10)), "bias": np.zeros(9)},
                         "bias of layer 0 has shape (9,), expected (10,)"),
    "layers do not chain": ({"weights_0": np.zeros((784, 40)), "weights_1": np.zeros((30, 10)),
                             "meta": meta_of(LAYER_META)},
                            "layers do not chain: layer 0 is 784x40, layer 1 is 30x10"),
    "too few outputs": ({"weights_0": W1, "weights_1": np.zeros((40, 9)),
                         "meta": meta_of(LAYER_META)},
                        "the last layer must give 10 outputs"),
    "layer missing": ({"weights_0": W1, "meta": meta_of(LAYER_META)}, "no 'weights_1' array"),
    "unknown activation": ({"weights_0": W1, "weights_1": W2,
                            "meta": meta_of({**LAYER_META, "layers": [{"activation": "gelu"},
                                                                      {}]})},
                           "meta.layers[0].activation must be one of"),
    "history not a list": ({"weights_0": W1, "weights_1": W2,
                            "meta": meta_of({**LAYER_META, "history": {"epoch": 1}})},
                           "meta.history must be a list"),
    "history epoch text": ({"weights_0": W1, "weights_1": W2,
                            "meta": meta_of({**LAYER_META, "history": [{"epoch": "1"}]})},
                           "meta.history[0].epoch must be a whole number"),
    "history error text": ({"weights_0": W1, "weights_1": W2,
                            "meta": meta_of({**LAYER_META, "history": [
                                {"epoch": 1, "train_error": "low"}]})},
                           "meta.history[0].train_error must be a number or null"),
    "snapshots do not fit": ({"weights_0": W1, "weights_1": W2,
                              "snapshot_0": np.zeros((2, 784, 40), np.float32),
                              "snapshot_1": np.zeros((2, 40, 9), np.float32),
                              "meta": meta_of({**LAYER_META, "snapshot_epochs": [0, 5]})},
                             "snapshot_1 has shape (2, 40, 9)"),
    "snapshot epochs not rising": ({"weights_0": W1, "weights_1": W2,
                                    "meta": meta_of({**LAYER_META, "snapshot_epochs": [5, 0]})},
                                   "meta.snapshot_epochs must be a rising list"),
    "newer format": ({"weights_0": W1, "meta": meta_of({"format": 3})},
                     "written by a newer gdcli (weights file format 3"),
    "no weights": ({"meta": meta_of({})}, "no 'weights' or 'weights_0' array"),
    "huge value not echoed": ({"weights": np.zeros((784, 10)),
                               "meta": meta_of({"config": {"n_train": "9" * 100000 + "x"}})},
                              "meta.config.n_train must be a whole number, got '999"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_crafted_weights_files_are_one_line_exit_1(tmp_path, case):
    members, needle = CRAFTED[case]
    path = write_zip(tmp_path / "crafted.npz", members)
    result = run_cli("evaluate", str(path), "--data-dir", str(tmp_path))
    assert_one_line_error(result, 1, str(path), needle)
    assert len(result.stderr) < 300  # a huge crafted value is not echoed whole


def test_a_file_of_a_dataset_not_in_the_registry_says_so_where_the_data_is_needed(tmp_path):
    """The registry says which datasets exist (set $GDCLI_EXTRA_DATASETS to name more); what
    needs no data still works."""
    members = {"weights": np.zeros((784, 10)), "meta": meta_of({"config": {"dataset": "cifar"}})}
    path = write_zip(tmp_path / "w.npz", members)
    result = run_cli("evaluate", str(path), "--data-dir", str(tmp_path))
    assert_one_line_error(result, 2, "unknown dataset 'cifar' (known: mnist, fashion-mnist")
    drawn = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "v"))
    assert drawn.returncode == 0, drawn.stderr


def test_corrupt_compressed_data_is_one_line_exit_1(tmp_path):
    path = tmp_path / "w.npz"
    rng = np.random.RandomState(0)
    weights_file.save(path, WeightsFile(Network([Layer(rng.randn(784, 10))])))
    data = bytearray(path.read_bytes())
    for offset in (len(data) // 3, len(data) // 2):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    result = run_cli("evaluate", str(path))
    assert_one_line_error(result, 1, str(path))
    assert "cannot read it" in result.stderr or "not a valid .npz" in result.stderr


def test_crafted_files_through_predict_and_visualize(tmp_path):
    path = write_zip(tmp_path / "c.npz", CRAFTED["n_train is text"][0])
    assert_one_line_error(run_cli("predict", str(path), "--index", "0"), 1, "n_train")
    assert_one_line_error(run_cli("visualize-weights", str(path), "--out-dir",
                                  str(tmp_path / "o")), 1, "n_train")  # fmt: skip
    assert not (tmp_path / "o").exists()
    folder = tmp_path / "folder.npz"
    folder.mkdir()
    assert_one_line_error(run_cli("evaluate", str(folder)), 2, "is a folder")


def npz_bomb(path, n_bytes=2**31):
    """A real .npz whose `weights` member is an .npy of n_bytes of float64 zeros, deflated to
    about 2 MB: written by hand, as np.savez would take minutes to compress it. After a full
    flush deflate keeps no history, so every 16 MiB block of zeros compresses to the same bytes."""
    header = io.BytesIO()
    shape = (n_bytes // 8,)
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": shape})  # fmt: skip
    header = header.getvalue()
    block = bytes(1 << 24)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(header) + deflate.flush(zlib.Z_FULL_FLUSH)
    body = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    data = head + body * (n_bytes // len(block)) + deflate.flush()
    crc = zlib.crc32(header)
    for _ in range(n_bytes // len(block)):
        crc = zlib.crc32(block, crc)
    name, size = b"weights.npy", len(header) + n_bytes
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size,
                        len(name), 0) + name  # fmt: skip
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data),
                          size, len(name), 0, 0, 0, 0, 0, 0) + name  # fmt: skip
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)  # fmt: skip
    path.write_bytes(local + data + central + end)
    return path


def run_limited(*args, memory=512 << 20):
    """The CLI in a process that cannot map more than `memory` bytes."""

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "NO_COLOR": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "gdcli", *args], capture_output=True,
                          text=True, env=env, preexec_fn=limit, timeout=120)  # fmt: skip


def test_a_2_gb_array_in_a_2_mb_file_is_refused_unread(tmp_path):
    path = npz_bomb(tmp_path / "bomb.npz")
    assert path.stat().st_size < 2.2e6
    with zipfile.ZipFile(path) as z, z.open("weights.npy") as f:  # a genuine .npy member
        np.lib.format.read_magic(f)
        assert np.lib.format.read_array_header_1_0(f)[0] == (2**28,)
    # in 512 MB of address space: decompressing the array (2 GB) would fail with a traceback
    result = run_limited("evaluate", str(path))
    assert_one_line_error(result, 1, "would take 2.1 GB once decompressed", "at most 1.0 GB")
    # a member whose zip entry understates what its header declares is refused too
    small = write_zip(tmp_path / "liar.npz", {"weights": npy(np.zeros((784, 10)))[:200]})
    assert_one_line_error(run_cli("evaluate", str(small)), 1, "its header says 62720 bytes")
