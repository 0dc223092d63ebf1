"""visualize-weights and the weight pictures: exact pixels, labels, colour bar, snapshots,
the change since the start, the animated GIF, hidden layers, and bad input.

Pictures are decoded with Pillow; the command runs in-process (conftest.run_cli)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image, ImageSequence

from gdcli.io.weights_file import WeightsFile, save
from gdcli.nn.model import Layer, Network
from gdcli.viz import heatmap, weights_figure
from gdcli.viz.heatmap import choose_scale

RED_END, BLUE_END = (103, 0, 31), (5, 48, 97)  # the diverging map's ends: +scale, -scale


def history(epochs: int) -> list[dict]:
    return [
        {"epoch": e, "alpha": 0.01, "train_error": 0.5, "train_accuracy": 0.5,
         "test_error": None, "test_accuracy": None, "seconds": 0.1}
        for e in range(1, epochs + 1)
    ]  # fmt: skip


def save_one_layer(path: Path, w: np.ndarray, snapshots: dict | None = None, epochs: int = 10,
                   dataset: str = "mnist") -> Path:  # fmt: skip
    """A format-2 file of a one-layer network whose final weights are w (epoch `epochs`)."""
    meta = {"config": {"dataset": dataset, "epochs": epochs}}
    snaps = {e: [s] for e, s in (snapshots or {}).items()}
    save(path, WeightsFile(Network([Layer(w)], loss="mse"), meta, history(epochs), snaps))
    return path


def save_format_1(path: Path, w: np.ndarray) -> Path:
    """A weights file as gdcli 0.1 wrote it: `weights` (784, 10) and a meta JSON string."""
    meta = {"config": {"dataset": "mnist", "epochs": 350}, "metrics": {"epochs": 350}}
    np.savez(path, weights=w, meta=np.array(json.dumps(meta)))
    return path


def constant_columns(values: list[float]) -> np.ndarray:
    """(784, k): column j is values[j] everywhere, so each panel is one known colour."""
    return np.tile(np.asarray(values, dtype=np.float64), (784, 1))


def count(img: np.ndarray, colour: tuple[int, ...]) -> int:
    return int(np.all(img == np.array(colour), axis=-1).sum())


@pytest.fixture
def gradient_weights(tmp_path):
    """Column d rises from -1 to +1 along the pixels, times (d - 4.5) / 4.5: column 0 is the
    reverse of column 9 and no column is zero; max |w| = 1."""
    ramp = np.linspace(-1.0, 1.0, 784)
    w = np.stack([ramp * (d - 4.5) / 4.5 for d in range(10)], axis=1)
    return save_one_layer(tmp_path / "w.npz", w), w


# --- the colour scale ---------------------------------------------------------------------


def test_scale_clips_at_the_99th_percentile_so_one_outlier_cannot_wash_it_out():
    w = np.random.RandomState(0).uniform(-0.1, 0.1, (784, 10))
    w[100, 3] = 50.0  # one outlier
    s = choose_scale(w)
    assert s.value == pytest.approx(np.percentile(np.abs(w), 99)) and s.value < 0.1
    assert s.beyond == pytest.approx(0.01, abs=0.001) and s.largest == 50.0
    assert "99th percentile of |w|" in s.legend() and "1.0% of the weights lie beyond" in s.legend()
    assert choose_scale(w, scale_max=60).legend().endswith("nothing clipped")
    assert choose_scale(np.zeros((784, 10))).value == 1.0  # zero still maps to neutral
    sparse = np.zeros((784, 10))
    sparse[0, 0] = -0.5  # the 99th percentile is 0: use the largest
    assert (choose_scale(sparse).value, choose_scale(sparse).rule) == (0.5, "largest |w|")


def test_panel_files_are_exact(tmp_path, gradient_weights):
    path, w = gradient_weights
    out = tmp_path / "img"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--format", "both",
                     "--pixels", "3", "--scale-max", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the paths written are on stderr, one "wrote" line each
    printed = [line[6:] for line in result.stderr.splitlines() if line.startswith("wrote ")]
    assert printed[0] == str(out / "digit-0.png") and printed[-1] == str(out / "grid.png")
    assert len(printed) == 21
    for d in (0, 4, 9):
        png = Image.open(out / f"digit-{d}.png")
        assert png.size == (84, 84) and png.mode == "RGB"
        expected = heatmap.to_diverging(w[:, d].reshape(28, 28), 1.0).repeat(3, 0).repeat(3, 1)
        assert np.array_equal(np.asarray(png), expected)
        pgm = Image.open(out / f"digit-{d}.pgm")
        assert pgm.size == (84, 84) and pgm.mode == "L"
        grey = np.rint(128 + 127 * w[:, d]).reshape(28, 28).repeat(3, 0).repeat(3, 1)
        assert np.array_equal(np.asarray(pgm).astype(int), grey)
    # digit 0 runs from +1 (top left: bright, red) to -1 (bottom right: dark, blue)
    assert np.asarray(Image.open(out / "digit-0.pgm"))[[0, -1], [0, -1]].tolist() == [255, 1]
    rgb0 = np.asarray(Image.open(out / "digit-0.png"))
    assert tuple(rgb0[0, 0]) == RED_END and tuple(rgb0[-1, -1]) == BLUE_END
    assert (out / "digit-3.pgm").read_bytes()[:13] == b"P5\n84 84\n255\n"


def test_scale_is_the_old_name_of_pixels(tmp_path, gradient_weights):
    path, _ = gradient_weights
    old = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "old"),
                  "--digits", "0", "--scale", "3")  # fmt: skip
    assert old.returncode == 0, old.stderr
    assert Image.open(tmp_path / "old" / "digit-0.png").size == (84, 84)
    assert "--scale" not in run_cli("visualize-weights", "--help").stdout.replace("--scale-", "")
    both = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "both"),
                   "--pixels", "3", "--scale", "4")  # fmt: skip
    assert_one_line_error(both, 2, "--scale is the old name of --pixels")


def test_default_scale_is_the_99th_percentile_and_zero_is_mid_grey(tmp_path):
    rs = np.random.RandomState(1)
    w = rs.uniform(-0.2, 0.2, (784, 10))
    w[:, 2] = 0.0
    w[5, 2], w[6, 2] = 40.0, -40.0  # two outliers in digit 2
    path = save_one_layer(tmp_path / "o.npz", w)
    out = tmp_path / "o"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--format", "pgm",
                     "--pixels", "1", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    s = np.percentile(np.abs(w), 99)
    assert report["scale"] == pytest.approx(s)
    assert report["layers"][0]["scale_rule"] == "99th percentile of |w|"
    assert report["layers"][0]["clipped"] == pytest.approx(np.mean(np.abs(w) > s))
    grey = np.asarray(Image.open(out / "digit-2.pgm")).ravel()
    assert grey[5] == 255 and grey[6] == 1 and (np.delete(grey, [5, 6]) == 128).all()
    # the other digits use the whole range, not a sliver around 128 as max |w| would give
    grey0 = np.asarray(Image.open(out / "digit-0.pgm")).astype(int).ravel()
    assert np.array_equal(grey0, np.clip(np.rint(128 + 127 * w[:, 0] / s), 1, 255))
    assert grey0.min() <= 10 and grey0.max() >= 245


def test_gray_colormap(tmp_path, gradient_weights):
    path, _ = gradient_weights
    out = tmp_path / "g"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--colormap", "gray",
                     "--digits", "0", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["written"] == [str(out / "digit-0.png"), str(out / "grid.png")]
    img = Image.open(out / "digit-0.png")
    assert img.mode == "L" and img.size == (280, 280)
    grid = np.asarray(Image.open(out / "grid.png").convert("RGB"))
    assert np.all(grid[..., 0] == grid[..., 2])  # grey panels and a grey colour bar


# --- the labelled grid --------------------------------------------------------------------


def test_grid_has_every_chosen_panel_labels_and_a_colour_bar(tmp_path):
    values = [(d - 4.5) / 10 for d in range(10)]  # -0.45 .. +0.45: inside the +-1 scale
    path = save_one_layer(tmp_path / "c.npz", constant_columns(values))
    out = tmp_path / "c"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--pixels", "4",
                     "--scale-max", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    grid = np.asarray(Image.open(out / "grid.png").convert("RGB"))
    tile = (28 * 4) ** 2
    for v in values:
        assert count(grid, tuple(heatmap.to_diverging(np.array(v), 1.0))) >= tile, v
    # the colour bar is the only place with the map's end colours; no arrows: nothing clipped
    bar_rows = np.nonzero(np.all(grid == RED_END, axis=-1).any(axis=1))[0]
    assert len(bar_rows) >= 10 and np.all(grid[bar_rows] == BLUE_END, axis=-1).any()
    # every panel has its label: dark text in the strip just above it
    for v in values:
        rows, cols = np.nonzero(np.all(grid == heatmap.to_diverging(np.array(v), 1.0), axis=-1))
        strip = grid[rows.min() - 22 : rows.min() - 2, cols.min() : cols.max() + 1]
        assert (strip.sum(axis=-1) < 200).sum() >= 10, v

    chosen = tmp_path / "chosen"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(chosen), "--pixels", "4",
                     "--scale-max", "1", "--digits", "1,7")  # fmt: skip
    assert sorted(p.name for p in chosen.iterdir()) == ["digit-1.png", "digit-7.png", "grid.png"]
    grid2 = np.asarray(Image.open(chosen / "grid.png").convert("RGB"))
    present = [count(grid2, tuple(heatmap.to_diverging(np.array(v), 1.0))) >= tile for v in values]
    assert present == [d in (1, 7) for d in range(10)]
    assert grid2.shape[1] < grid.shape[1]


def test_clothing_names_label_fashion_mnist_panels(tmp_path):
    w = constant_columns([0.1] * 10)
    panel = heatmap.to_diverging(np.array(0.1), 1.0)
    widths = {}
    for dataset in ("mnist", "fashion-mnist"):
        path = save_one_layer(tmp_path / f"{dataset}.npz", w, dataset=dataset)
        out = tmp_path / dataset
        assert run_cli("visualize-weights", str(path), "--out-dir", str(out), "--pixels", "6",
                       "--scale-max", "1", "--digits", "0,8").returncode == 0  # fmt: skip
        grid = np.asarray(Image.open(out / "grid.png").convert("RGB"))
        rows, cols = np.nonzero(np.all(grid == panel, axis=-1))
        strip = grid[rows.min() - 28 : rows.min() - 2].sum(axis=-1) < 300  # the labels' ink
        middle = (cols.min() + cols.max()) // 2  # between the two panels
        halves = strip[:, :middle], strip[:, middle:]
        widths[dataset] = [int(np.ptp(np.nonzero(h.any(axis=0))[0])) for h in halves]
    digits, clothes = widths["mnist"], widths["fashion-mnist"]
    assert digits[0] < 20 and digits[1] < 20  # "0", "8"
    assert (
        clothes[0] > 4 * digits[0] and clothes[0] > clothes[1] > digits[1]
    )  # "T-shirt/top", "Bag"


def title_strip(img: np.ndarray, title: str) -> bool:
    """Whether the picture's title (top left, inside the margin) is exactly `title`, drawn."""
    m = weights_figure.MARGIN
    block = np.asarray(weights_figure.text_block(title, 20, img.shape[1] - 2 * m))
    return np.array_equal(img[m : m + block.shape[0], m : img.shape[1] - m], block)


def test_weights_grid_png_for_the_report():
    w = np.random.RandomState(2).normal(0, 0.1, (784, 10))
    img = Image.open(io.BytesIO(weights_figure.weights_grid_png(w, list("abcdefghij"))))
    assert img.format == "PNG" and img.width > 600 and img.height > 300
    pixels = np.asarray(img.convert("RGB"))
    assert title_strip(pixels, "Each class's weights from the 784 pixels")
    s = choose_scale(w).value
    assert count(pixels, tuple(heatmap.to_diverging(np.array(w[0, 0]), s))) >= 36  # 6x6 pixels
    units = weights_figure.weights_grid_png(w[:, :3], list("012"), 5.0, hidden=True)
    units_pixels = np.asarray(Image.open(io.BytesIO(units)).convert("RGB"))
    assert units_pixels.shape[1] < pixels.shape[1]
    assert title_strip(units_pixels, "Layer 1: each hidden unit's weights from the 784 pixels")


# --- snapshots: --epoch, --change, --animate ----------------------------------------------


@pytest.fixture
def with_snapshots(tmp_path):
    """Snapshots at epochs 0, 1, 5; final weights at epoch 10 (not a snapshot). Every weight
    of digit d at epoch e is (d - 4.5) / 10 * (1 + e / 10) + 0.203 (0.203: away from the
    GIF's colour levels, multiples of 0.01, even in float32)."""

    def at(e: int) -> np.ndarray:
        return constant_columns([(d - 4.5) / 10 * (1 + e / 10) + 0.203 for d in range(10)])

    path = save_one_layer(tmp_path / "s.npz", at(10), {e: at(e) for e in (0, 1, 5)})
    return path, at


def test_epoch_draws_that_snapshot_and_change_subtracts_the_start(tmp_path, with_snapshots):
    path, at = with_snapshots
    for args, expected in (
        (["--epoch", "5"], at(5)),
        (["--epoch", "10"], at(10)),  # the final weights
        (["--change"], at(10) - at(0)),
        (["--change", "--epoch", "1"], at(1) - at(0)),
    ):
        out = tmp_path / "-".join(args)
        result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--format", "pgm",
                         "--pixels", "1", "--scale-max", "2", "--json", *args)  # fmt: skip
        assert result.returncode == 0, result.stderr
        epoch = int(args[args.index("--epoch") + 1]) if "--epoch" in args else 10
        assert json.loads(result.stdout)["epoch"] == epoch
        for d in (0, 9):
            grey = np.asarray(Image.open(out / f"digit-{d}.pgm")).astype(int).ravel()
            want = np.clip(np.rint(128 + 127 * expected[:, d].astype(np.float32) / 2), 1, 255)
            assert np.abs(grey - want).max() <= 1, (args, d)  # snapshots are float32


def test_animate_writes_one_titled_frame_per_snapshot(tmp_path, with_snapshots):
    path, at = with_snapshots
    gif = tmp_path / "anim" / "evo.gif"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "o"),
                     "--animate", str(gif), "--scale-max", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr.splitlines()[-1] == f"wrote {gif}"
    img = Image.open(gif)
    assert img.format == "GIF" and img.n_frames == 4 and img.info["loop"] == 0
    frames, durations = [], []
    for frame in ImageSequence.Iterator(img):
        durations.append(frame.info["duration"])
        frames.append(np.asarray(frame.convert("RGB")))
    assert durations == [weights_figure.FIRST_MS, weights_figure.FRAME_MS,
                         weights_figure.FRAME_MS, weights_figure.LAST_MS]  # fmt: skip
    tile = (28 * 4) ** 2
    palette = weights_figure._palette("diverging")
    for frame, epoch in zip(frames, (0, 1, 5, 10), strict=True):
        assert frame.shape == frames[0].shape
        for d in (0, 3, 9):  # each panel in its colour at that epoch (201 levels of the map)
            colour = weights_figure.colours(at(epoch)[0, d], "diverging", weights_figure.GIF_LEVELS)
            assert count(frame, tuple(colour)) >= tile, (epoch, d)
        # the title says the epoch: the frame's title strip is exactly that text, drawn
        title = weights_figure.epoch_title("Each digit's weights", epoch)
        width = frame.shape[1] - 2 * weights_figure.MARGIN
        block = weights_figure._indexed(weights_figure.text_block(title, 20, width), palette)
        m = weights_figure.MARGIN
        crop = frame[m : m + block.height, m : m + width]
        assert np.array_equal(crop, np.asarray(block.convert("RGB"))), epoch


def test_animate_the_change_of_a_hidden_layer(tmp_path):
    rs = np.random.RandomState(3)
    w1 = [rs.normal(0, 0.1, (784, 6)) for _ in range(3)]
    w2 = [rs.normal(0, 0.5, (6, 10)) for _ in range(3)]
    net = Network([Layer(w1[2], np.zeros(6), "relu"), Layer(w2[2])], loss="softmax")
    snaps = {0: [w1[0], w2[0]], 2: [w1[1], w2[1]], 4: [w1[2], w2[2]]}
    path = tmp_path / "h.npz"
    save(path, WeightsFile(net, {"config": {"dataset": "mnist"}}, history(4), snaps))
    gif = tmp_path / "h.gif"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "o"),
                     "--change", "--animate", str(gif), "--quiet")  # fmt: skip
    assert result.returncode == 0, result.stderr
    # epochs 2 and 4 (the final weights): epoch 0's change is nothing, a blank frame, left out
    assert Image.open(gif).n_frames == 2
    first = next(ImageSequence.Iterator(Image.open(gif)))
    assert first.info["duration"] == weights_figure.FIRST_MS
    pixels = np.asarray(first.convert("RGB"))
    assert count(pixels, heatmap.NEUTRAL) < 0.1 * 6 * (28 * 4) ** 2  # the change shows at once


def test_evolution_gif_for_the_report():
    frames = [(e, np.full((784, 10), e / 10.0)) for e in (0, 1, 2, 5, 10)]
    img = Image.open(io.BytesIO(weights_figure.evolution_gif(frames, [str(d) for d in range(10)])))
    assert img.n_frames == 5 and img.format == "GIF"
    units = [(e, w[:, :4]) for e, w in frames[:2]]
    hidden = Image.open(io.BytesIO(weights_figure.evolution_gif(units, list("0123"), hidden=True)))
    assert hidden.n_frames == 2 and hidden.width < img.width


# --- hidden layers ------------------------------------------------------------------------


def test_hidden_network_units_grid_and_later_layers(tmp_path):
    rs = np.random.RandomState(4)
    w1 = rs.normal(0, 0.1, (784, 12))
    w2 = rs.normal(0, 0.1, (12, 8))
    w3 = np.tile(np.linspace(-1, 1, 10), (8, 1))  # row (output) d: one colour per class
    net = Network([Layer(w1, None, "relu"), Layer(w2, None, "tanh"), Layer(w3)], loss="mse")
    path = tmp_path / "deep.npz"
    save(path, WeightsFile(net, {"config": {"dataset": "mnist"}}, history(3), {}))
    out = tmp_path / "deep"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--pixels", "2",
                     "--format", "both", "--json", "--digits", "0,9")  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    units = [f"unit-{j}.{ext}" for j in range(12) for ext in ("pgm", "png")]
    assert names == sorted([*units, "grid.png", "layer-2.png", "layer-3.png"])
    assert len(json.loads(result.stdout)["layers"]) == 3
    s1 = choose_scale(w1).value
    unit5 = np.asarray(Image.open(out / "unit-5.png"))
    assert unit5.shape == (56, 56, 3)
    assert np.array_equal(unit5[::2, ::2], heatmap.to_diverging(w1[:, 5].reshape(28, 28), s1))
    # the last layer's heatmap holds the chosen classes' rows only: their colours, no others
    last = np.asarray(Image.open(out / "layer-3.png").convert("RGB"))
    s3 = choose_scale(w3).value
    colours = [tuple(heatmap.to_diverging(np.array(v), s3)) for v in w3[0]]
    cells = 8 * 28 * 28  # a row: 8 cells of 28x28 pixels
    assert [count(last, c) >= cells for c in colours] == [d in (0, 9) for d in range(10)]


def test_a_wide_hidden_layer_is_one_grid_not_a_file_per_unit(tmp_path):
    from gdcli.viz.weights_views import MAX_UNIT_FILES

    rs = np.random.RandomState(6)
    n = MAX_UNIT_FILES + 1
    net = Network([Layer(rs.normal(0, 0.1, (784, n)), None, "relu"),
                   Layer(rs.normal(0, 0.1, (n, 10)))], loss="mse")  # fmt: skip
    path = tmp_path / "wide.npz"
    save(path, WeightsFile(net, {"config": {"dataset": "mnist"}}, history(2), {}))
    out = tmp_path / "o"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--pixels", "1")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "layer-2.png"]
    assert (
        f"note: {n} hidden units are more than {MAX_UNIT_FILES}: their pictures are all in "
        "grid.png, with no file per unit"
    ) in result.stderr.splitlines()
    Image.open(out / "grid.png").load()


# --- bad input ----------------------------------------------------------------------------


def test_an_old_file_draws_what_it_can_and_says_what_it_cannot(tmp_path, gradient_weights):
    _, w = gradient_weights
    path = save_format_1(tmp_path / "old.npz", w)
    out = tmp_path / "old"
    result = run_cli("visualize-weights", str(path), "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert (out / "grid.png").is_file() and (out / "digit-9.png").is_file()
    assert "no snapshots" in result.stderr and "--animate" in result.stderr
    quiet = run_cli("visualize-weights", str(path), "--out-dir", str(out), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""
    for args in (["--epoch", "350"], ["--change"], ["--animate", str(tmp_path / "a.gif")]):
        fresh = tmp_path / f"none{len(args)}{args[0]}"
        result = run_cli("visualize-weights", str(path), "--out-dir", str(fresh), *args)
        assert_one_line_error(result, 2, "holds no snapshots", args[0], "gdcli 0.1")
        assert not fresh.exists() and not (tmp_path / "a.gif").exists()  # nothing written


def test_unknown_epoch_lists_the_epochs_there_are(tmp_path, with_snapshots):
    path, _ = with_snapshots
    result = run_cli("visualize-weights", str(path), "--out-dir", str(tmp_path / "x"),
                     "--epoch", "7")  # fmt: skip
    assert_one_line_error(result, 2, "no weights of epoch 7")
    assert "hint: its weights are kept at epochs 0, 1, 5, 10" in result.stderr
    assert not (tmp_path / "x").exists()
    no_start = save_one_layer(tmp_path / "n.npz", np.ones((784, 10)), {5: np.ones((784, 10))})
    assert_one_line_error(run_cli("visualize-weights", str(no_start), "--change"), 2,
                          "no snapshot of epoch 0")  # fmt: skip


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (["--out-dir", "{tmp}/file"], 2, "is a file, not a folder"),
        (["--out-dir", "{tmp}/file/sub"], 2, "/file is a file, not a folder"),
        (["--animate", "{tmp}"], 2, "is a folder"),
        (["--animate", "{tmp}/evo.png"], 2, "name it *.gif"),
        (["--animate", "{tmp}/file/evo.gif"], 2, "/file is a file, not a folder"),
        (["--scale-max", "0"], 2, "--scale-max must be a positive number"),
        (["--scale-max", "inf"], 2, "--scale-max must be a positive number"),
        (["--digits", "3,12"], 2, "outside 0-9"),
    ],
)
def test_bad_options(tmp_path, with_snapshots, args, code, needle):
    path, _ = with_snapshots
    (tmp_path / "file").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = run_cli("visualize-weights", str(path), *args, cwd=tmp_path)
    assert_one_line_error(result, code, needle)
    assert not (tmp_path / "weights").exists()


def test_unwritable_output_folder(tmp_path, gradient_weights):
    path, _ = gradient_weights
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = run_cli("visualize-weights", str(path), "--out-dir", str(locked / "sub"))
        if os.geteuid() != 0:  # root may write anywhere
            assert_one_line_error(result, 1, "cannot write")
    finally:
        locked.chmod(0o700)


# --- real runs ----------------------------------------------------------------------------


def test_train_then_visualize(tmp_path, synthetic_data_dir):
    dd = ["--data-dir", str(synthetic_data_dir)]
    trained = run_cli("train", *dd, "--epochs", "3", "--n-train", "600", "--quiet", "--out",
                      "w.npz", cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    result = run_cli("visualize-weights", "w.npz", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epoch"] == 3
    grid = Image.open(tmp_path / "weights" / "grid.png")
    assert grid.mode == "RGB" and grid.width > 600


def test_train_records_snapshots_that_animate(tmp_path, synthetic_data_dir):
    from gdcli.io.weights_file import load

    dd = ["--data-dir", str(synthetic_data_dir)]
    trained = run_cli("train", *dd, "--epochs", "12", "--n-train", "600", "--quiet", "--out",
                      "w.npz", cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    snapshots = load(tmp_path / "w.npz").snapshots
    assert sorted(snapshots) == [0, 1, 2, 5, 10, 12]  # the default: 0, 1, 2, 5, 10... and the last
    result = run_cli("visualize-weights", "w.npz", "--animate", "evo.gif", "--change",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    frames = len(set(snapshots) | {12}) - 1  # not epoch 0: no change yet
    assert Image.open(tmp_path / "evo.gif").n_frames == frames >= 3


def test_a_file_kept_at_its_best_epoch_is_drawn_as_that_epoch(tmp_path, synthetic_data_dir):
    """keep = best: the network is the best epoch's, not the last's; the last is a snapshot."""
    from gdcli.io.weights_file import load
    from gdcli.viz.weights_views import animation_epochs, animation_frames, layers_at

    trained = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "200", "--val",
                      "200", "--hidden", "20", "--alpha", "0.005", "--epochs", "60", "--eval-every",
                      "2", "--keep", "best", "--quiet", "--json", "--out", "w.npz",
                      cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    best = json.loads(trained.stdout)["weights_epoch"]
    assert 1 < best < 60  # this run overfits: its best validation accuracy is before the end
    result = run_cli("visualize-weights", "w.npz", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["epoch"] == best
    wf = load(tmp_path / "w.npz")
    assert 60 in wf.snapshots and not np.array_equal(layers_at(wf, 60, False)[0],
                                                     layers_at(wf, best, False)[0])  # fmt: skip
    epochs = animation_epochs(wf)
    frames = animation_frames(wf, epochs, [0, 1])
    assert [e for e, _ in frames] == epochs == sorted(epochs) and best in epochs
    assert np.array_equal(dict(frames)[best], wf.network.layers[0].weights[:, [0, 1]])


def test_readme_correlations(data_dir):
    """The README's table: after the book's 350 epochs each digit's weights correlate with its
    mean image at only 0.00-0.06 (memorised), configs/best.toml's at 0.34-0.57."""
    from gdcli.config import TrainConfig, make_config
    from gdcli.data.load import load_split
    from gdcli.data.registry import DATASETS
    from gdcli.data.transforms import deskew
    from gdcli.nn.metrics import mean_image_correlations
    from gdcli.nn.train import TrainData, train

    x, labels = load_split(DATASETS["mnist"], data_dir, "train", 1000)
    best = make_config(Path(__file__).resolve().parents[1] / "configs" / "best.toml", {})
    for cfg, low, high in ((TrainConfig(), -0.01, 0.07), (best, 0.33, 0.57)):
        xs = deskew(x) if cfg.deskew else x
        # the test split only feeds the test figures, which this does not need: 10 images;
        # best keeps the epoch of its best validation accuracy, so it gets its validation split
        data = TrainData(xs, labels, xs[:10], labels[:10])
        if cfg.val:
            x_val, data.labels_val = load_split(DATASETS["mnist"], data_dir, "train", cfg.val,
                                                start=-cfg.val)  # fmt: skip
            data.x_val = deskew(x_val) if cfg.deskew else x_val
        w = train(cfg, data).network.layers[0].weights
        corr = mean_image_correlations(w, xs, labels)
        assert low <= corr.min() and corr.max() <= high, corr


# --- pictures that show no digit: the note ------------------------------------------------


def test_mean_image_correlations_measures_each_class_against_its_own_mean():
    from gdcli.nn.metrics import mean_image_correlations

    rng = np.random.RandomState(0)
    images, labels = rng.uniform(0, 1, (60, 784)), np.arange(60) % 3
    means = np.stack([images[labels == c].mean(axis=0) for c in range(3)], axis=1)
    w = np.column_stack([2 * means[:, 0] + 5, -means[:, 1], means[:, 0]])
    corr = mean_image_correlations(np.column_stack([w, np.ones(784)]), images, labels)
    assert corr[:2] == pytest.approx([1.0, -1.0])
    assert corr[2] == pytest.approx(np.corrcoef(means[:, 0], means[:, 2])[0, 1])
    assert np.isnan(corr[3])  # class 3 has no image (and its weights are constant)


NO_DIGITS = "note: these pictures hardly look like the digits"


def digit_means(data_dir: Path) -> np.ndarray:
    from gdcli.data.load import load_split
    from gdcli.data.registry import DATASETS

    x, labels = load_split(DATASETS["mnist"], data_dir, "train", 1000)
    return np.stack([x[labels == d].mean(axis=0) for d in range(10)], axis=1)


def test_pictures_like_the_mean_digits_get_no_note_and_noise_gets_one(tmp_path, synthetic_data_dir):
    """Weights that are the mean digit images (of the run's training images, found in the
    data folder) show the digits; noise, as the book's memorised run, gets one note naming the
    two commands that show them."""
    from gdcli.io.weights_file import load
    from gdcli.viz.weights_views import likeness

    env = {"GDCLI_DATA_DIR": str(synthetic_data_dir)}
    means = digit_means(synthetic_data_dir)
    noise = np.random.RandomState(1).uniform(-0.1, 0.1, (784, 10))
    like = save_one_layer(tmp_path / "like.npz", means - 0.05, {0: noise, 1: means})
    speckle = save_one_layer(tmp_path / "speckle.npz", noise, {0: noise * 0, 1: noise})
    assert likeness(load(like), means, data_dir=synthetic_data_dir) == pytest.approx(1.0)
    assert abs(likeness(load(speckle), noise, data_dir=synthetic_data_dir)) < 0.1

    result = run_cli("visualize-weights", str(like), "--out-dir", str(tmp_path / "a"), env=env)
    assert result.returncode == 0 and NO_DIGITS not in result.stderr, result.stderr
    result = run_cli("visualize-weights", str(speckle), "--out-dir", str(tmp_path / "b"), env=env)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith(NO_DIGITS), result.stderr
    assert f"`gdcli visualize-weights {speckle} --epoch 1 --change`" in notes[0]
    assert "`gdcli train --config best --out best.npz`" in notes[0]
    # what epoch 1 added is the digits here: drawing it says nothing
    result = run_cli("visualize-weights", str(like), "--out-dir", str(tmp_path / "c"), "--epoch",
                     "1", "--change", env=env)  # fmt: skip
    assert result.returncode == 0 and NO_DIGITS not in result.stderr, result.stderr
    # drawing that change when it shows nothing suggests only the other command
    result = run_cli("visualize-weights", str(speckle), "--out-dir", str(tmp_path / "d"),
                     "--epoch", "1", "--change", "--digits", "2,3", env=env)  # fmt: skip
    assert NO_DIGITS in result.stderr and "--epoch 1 --change`" not in result.stderr
    assert "--config best" in result.stderr
    quiet = run_cli("visualize-weights", str(speckle), "--out-dir", str(tmp_path / "b"), "-q",
                    env=env)  # fmt: skip
    assert quiet.returncode == 0 and quiet.stderr == ""
    # the report draws the final weights too: the same note for the speckled run alone
    result = run_cli("report", str(like), str(speckle), "--out", str(tmp_path / "r.html"),
                     "--data-dir", str(synthetic_data_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith(NO_DIGITS)]
    assert len(notes) == 1 and f"visualize-weights {speckle} --epoch 1" in notes[0], notes


def test_no_note_without_the_training_images_or_for_hidden_units(tmp_path, synthetic_data_dir):
    from gdcli.io.weights_file import load
    from gdcli.viz.weights_views import likeness

    noise = np.random.RandomState(1).uniform(-0.1, 0.1, (784, 10))
    speckle = save_one_layer(tmp_path / "speckle.npz", noise, {0: noise * 0, 1: noise})
    assert likeness(load(speckle), noise, data_dir=tmp_path / "empty") is None
    result = run_cli("visualize-weights", str(speckle), "--out-dir", str(tmp_path / "a"),
                     env={"GDCLI_DATA_DIR": str(tmp_path / "empty"),
                          "GDCLI_SYSTEM_DATASETS": str(tmp_path / "none")})  # fmt: skip
    assert result.returncode == 0 and NO_DIGITS not in result.stderr, result.stderr
    net = Network([Layer(noise[:, :8]), Layer(np.ones((8, 10)))], loss="mse")
    deep = tmp_path / "deep.npz"
    save(deep, WeightsFile(net, {"config": {"dataset": "mnist", "epochs": 3}}, history(3), {}))
    assert likeness(load(deep), noise[:, :8], data_dir=synthetic_data_dir) is None
