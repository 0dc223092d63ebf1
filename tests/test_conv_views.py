"""A conv network's pictures: visualize-weights draws its kernels and its output weights as one
map per kernel and class, report shows them, predict --explain draws its feature maps; evaluate
and plot read its file. Synthetic images; every picture decoded by Pillow."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from conftest import run_cli
from PIL import Image

from gdcli.io import weights_file
from gdcli.viz import explain
from gdcli.viz.heatmap import to_rgb

DATA_URI = re.compile(r'src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"')
K, SIDE = 4, 3  # kernels, their side


@pytest.fixture(scope="module")
def conv_run(tmp_path_factory, synthetic_data_dir):
    """A conv network trained by the CLI on the synthetic images, the book's 25x25 positions."""
    out = tmp_path_factory.mktemp("conv") / "c.npz"
    result = run_cli("train", "--conv", f"{K}x{SIDE}", "--errata", "conv-positions",
                     "--loss", "softmax", "--hidden-activation", "tanh", "--n-train", "40",
                     "--epochs", "2", "--batch-size", "8", "--alpha", "0.1",
                     "--snapshots", "0,1,2", "--data-dir", str(synthetic_data_dir),
                     "--out", str(out), "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def planted(tmp_path, conv_run):
    """conv_run's file with planted weights: kernel j is j + 1 at its top-left pixel and 0
    elsewhere; the output weights are 0 but for class 3 at kernel 1's positions (2, 5), (2, 6)
    and (3, 5) (+1), and the same positions of kernel 2 for class 3 and of kernel 1 for class 4
    (-1)."""
    wf = weights_file.load(conv_run)
    kernels = np.zeros((SIDE * SIDE, K))
    kernels[0] = np.arange(1, K + 1)
    out = np.zeros((25 * 25 * K, 10))
    for r, c in ((2, 5), (2, 6), (3, 5)):
        p = r * 25 + c  # position-major: unit p * K + k
        out[p * K + 1, 3] = 1.0
        out[p * K + 2, 3] = -1.0
        out[p * K + 1, 4] = -1.0
    wf.network.layers[0].weights[...] = kernels
    wf.network.layers[1].weights[...] = out
    wf.snapshots = {}
    path = tmp_path / "planted.npz"
    weights_file.save(path, wf)
    return path


def boxes(pixels: np.ndarray, colour: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The bounding boxes (top, left, bottom, right) of the connected blobs of `colour`."""
    mask = np.all(pixels == colour, axis=-1)
    seen = np.zeros_like(mask)
    found = []
    for y, x in zip(*np.nonzero(mask), strict=True):
        if seen[y, x]:
            continue
        stack, ys, xs = [(y, x)], [], []
        seen[y, x] = True
        while stack:
            a, b = stack.pop()
            ys.append(a)
            xs.append(b)
            for da, db in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                u, v = a + da, b + db
                if (
                    0 <= u < mask.shape[0]
                    and 0 <= v < mask.shape[1]
                    and mask[u, v]
                    and not seen[u, v]
                ):
                    seen[u, v] = True
                    stack.append((u, v))
        found.append((min(ys), min(xs), max(ys) + 1, max(xs) + 1, len(ys)))
    # the maps' squares, not the colour bar's end columns
    return [b for b in found if b[2] - b[0] == b[3] - b[1] > 1]


RED = to_rgb(np.array([1.0]), 1.0, "diverging")[0]
BLUE = to_rgb(np.array([-1.0]), 1.0, "diverging")[0]


def test_visualize_weights_draws_the_kernels_and_a_map_per_kernel_and_class(tmp_path, conv_run):
    path = planted(tmp_path, conv_run)
    out = tmp_path / "pictures"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--scale-max",
                     str(K), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([f"kernel-{j}.png" for j in range(K)] + ["grid.png", "layer-2.png"])
    # each kernel's file: its 3x3 weights, 9 x 10 pixels a weight, the colours exactly
    for j in range(K):
        img = np.asarray(Image.open(out / f"kernel-{j}.png").convert("RGB"))
        assert img.shape == (SIDE * 90, SIDE * 90, 3)
        square = np.zeros((SIDE, SIDE))
        square[0, 0] = j + 1
        assert np.array_equal(img[::90, ::90], to_rgb(square, K, "diverging"))
    report = json.loads(result.stdout)
    assert [s["layer"] for s in report["layers"]] == [1, 2]
    # layer 2: rows the classes, columns the kernels; each map laid out as the 25x25 positions
    maps = np.asarray(Image.open(out / "layer-2.png").convert("RGB"))
    (red,) = boxes(maps, RED)
    blues = sorted(boxes(maps, BLUE))
    assert len(blues) == 2
    top, left, bottom, right, count = red
    cell = (bottom - top) // 2  # the planted L: two weights a side, three of four drawn
    assert bottom - top == right - left == 2 * cell and count == 3 * cell * cell
    assert np.all(maps[top + cell : bottom, left + cell : right] != RED)  # (3, 6) is 0
    same_row = [b for b in blues if b[0] == top]
    same_column = [b for b in blues if b[1] == left]
    assert len(same_row) == 1 and same_row[0][1] > left  # kernel 2: the next column
    assert len(same_column) == 1 and same_column[0][0] > top  # class 4: the next row
    step_x, step_y = same_row[0][1] - left, same_column[0][0] - top
    assert step_x == step_y > 25 * cell // 2  # a map of 25x25 positions between them
    grid = Image.open(out / "grid.png")
    assert grid.width >= 600


def test_report_shows_the_kernels_the_maps_and_the_feature_maps(
    tmp_path, conv_run, synthetic_data_dir
):
    out = tmp_path / "r.html"
    result = run_cli("report", str(conv_run), "--data-dir", str(synthetic_data_dir),
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert f"each of the {K} kernels' {SIDE * SIDE} weights" in page
    assert "25x25 feature map" in page
    assert "its feature map" in page  # the explanation of one test image
    images = []
    for mime, payload in DATA_URI.findall(page):
        image = Image.open(io.BytesIO(base64.b64decode(payload)))
        image.load()
        images.append((mime, image))
    kinds = [m for m, _ in images]
    assert "image/gif" in kinds  # the kernels' training, from the snapshots
    assert sum(im.width >= 600 for m, im in images if m == "image/png") >= 3


def test_feature_maps_add_up_to_the_scores(conv_run, synthetic_data_dir):
    wf = weights_file.load(conv_run)
    net = wf.network
    rng = np.random.RandomState(3)
    x = rng.random_sample(784) * (rng.random_sample(784) < 0.3)
    maps, adds = explain.feature_maps(net, x)
    assert maps.shape == (K, 25, 25)
    # kernel k at position (r, c): tanh of its weights times the patch there
    k = net.layers[0].weights
    img = x.reshape(28, 28)
    r, c = 7, 11
    patch = img[r : r + SIDE, c : c + SIDE].ravel()
    bias0 = net.layers[0].bias if net.layers[0].bias is not None else 0.0
    assert np.allclose(maps[:, r, c], np.tanh(patch @ k + bias0), atol=1e-15)
    assert np.abs(maps).max() > 0.01
    bias = net.layers[1].bias if net.layers[1].bias is not None else 0.0
    assert np.allclose(adds.sum(axis=0) + bias, net.scores(x), atol=1e-12)


def test_predict_explain_draws_the_feature_maps(tmp_path, conv_run, synthetic_data_dir):
    out = tmp_path / "why.png"
    result = run_cli("predict", str(conv_run), "--index", "0", "--explain", str(out),
                     "--data-dir", str(synthetic_data_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr
    img = Image.open(out)
    img.load()
    assert img.format == "PNG" and img.width >= 600 and img.height >= 600


def test_evaluate_and_plot_read_a_conv_file(tmp_path, conv_run, synthetic_data_dir):
    ev = run_cli("evaluate", str(conv_run), "--data-dir", str(synthetic_data_dir), "--json")
    assert ev.returncode == 0, ev.stderr
    assert 0 <= json.loads(ev.stdout)["accuracy"] <= 1
    plot = run_cli("plot", str(conv_run), "--out", str(tmp_path / "p.png"))
    assert plot.returncode == 0, plot.stderr
    Image.open(tmp_path / "p.png").load()
