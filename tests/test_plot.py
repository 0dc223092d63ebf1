"""gdcli plot: learning curves from weights files and metrics files, through the CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image

from gdcli.errors import GdcliError
from gdcli.viz.plot import (
    PALETTE,
    Run,
    differing_keys,
    legend_columns,
    read_metrics,
    run_labels,
)


def train_runs(tmp_path_factory, data_dir: Path, alphas=("0.01", "0.001")) -> list[Path]:
    """One short run per alpha on `data_dir`, each writing run-<alpha>.npz and .jsonl; trained
    once per session (test_report uses them too)."""
    folder = tmp_path_factory.getbasetemp() / "trained-runs"
    paths = [folder / f"run-{alpha}.npz" for alpha in alphas]
    if all(p.is_file() for p in paths):
        return paths
    folder.mkdir(exist_ok=True)
    for alpha in alphas:
        out = folder / f"run-{alpha}.npz"
        result = run_cli(
            "train", "--data-dir", str(data_dir), "--n-train", "600", "--epochs", "6",
            "--eval-every", "2", "--alpha", alpha, "--out", str(out),
            "--metrics", str(out.with_suffix(".jsonl")), "--quiet",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return paths


def old_weights_file(path: Path) -> Path:
    """A weights file as gdcli 0.1 wrote it: weights and meta, no history, no snapshots."""
    meta = {"config": {"alpha": 0.01, "epochs": 350}, "metrics": {"test_accuracy": 0.6}}
    w = np.random.RandomState(0).uniform(-0.1, 0.1, (784, 10))
    with open(path, "wb") as f:
        np.savez(f, weights=w, meta=np.array(json.dumps(meta)))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic_data_dir) -> list[Path]:
    return train_runs(tmp_path_factory, synthetic_data_dir)


def colour_pixels(png: Path, hex_colour: str) -> int:
    rgb = np.asarray(Image.open(png).convert("RGB")).astype(int)
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - target).sum(axis=2) < 30).sum())


def test_weights_files_overlaid_with_a_legend_of_what_differs(tmp_path, runs):
    out = tmp_path / "curves.png"
    result = run_cli("plot", *map(str, runs), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["written"] == str(out)
    assert [r["label"] for r in printed["runs"]] == ["alpha 0.01", "alpha 0.001"]
    assert [r["epochs"] for r in printed["runs"]] == [6, 6]
    image = Image.open(out)
    image.load()
    assert image.format == "PNG" and image.width == 1500 and 630 <= image.height <= 720
    # both runs are drawn, each in its own colour, and nothing in a third run's colour
    assert colour_pixels(out, PALETTE[0]) > 500 and colour_pixels(out, PALETTE[1]) > 500
    assert colour_pixels(out, PALETTE[2]) == 0


def test_metrics_files_to_svg_with_the_labels_as_text(tmp_path, runs):
    out = tmp_path / "sub" / "curves.svg"
    result = run_cli("plot", *(str(p.with_suffix(".jsonl")) for p in runs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == f"wrote {out}\n"
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    texts = {"".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")}
    assert {"alpha 0.01", "alpha 0.001", "train", "test", "epoch"} <= texts


def test_hand_written_metrics_with_gaps(tmp_path):
    """A diverging epoch (null), epochs without a test: drawn, the nulls as gaps."""
    lines = [
        {"epoch": 1, "alpha": 0.1, "train_error": 0.9, "train_accuracy": 0.5,
         "test_error": 0.8, "test_accuracy": 0.55},
        {"epoch": 2, "alpha": 0.1, "train_error": 0.5, "train_accuracy": 0.7},
        {"epoch": 3, "alpha": 0.1, "train_error": None, "train_accuracy": None,
         "test_error": None, "test_accuracy": None, "seconds": 1.5},
    ]  # fmt: skip
    metrics = tmp_path / "m.jsonl"
    metrics.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    result = run_cli("plot", str(metrics), "--out", str(tmp_path / "c.png"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["runs"][0]["label"] == "m.jsonl"


def test_untested_epochs_are_skipped_and_non_finite_ones_are_gaps():
    from gdcli.viz.plot import _series

    history = [
        {"epoch": 1, "train_error": 0.9, "test_error": 0.8},
        {"epoch": 2, "train_error": None, "test_error": None},
        {"epoch": 3, "train_error": 0.5},
        {"epoch": 4, "train_error": 0.4, "test_error": 0.6},
    ]
    epochs, values = _series(history, "train_error", 1.0)
    assert epochs == [1, 2, 3, 4] and values[1] != values[1] and values[3] == 0.4
    assert _series(history, "test_error", 1.0) == ([1, 4], [0.8, 0.6])
    assert _series(history, "test_accuracy", 100.0) == ([], [])


def test_labels_name_only_the_keys_that_differ_else_the_file_names():
    def run(name, **config):
        return Run(Path(name), config, [])

    a, b = run("a.npz", alpha=0.01, epochs=350, bias=False), run("b.npz", alpha=0.001, epochs=350)
    assert differing_keys([a.config, b.config]) == ["alpha"]
    assert run_labels([a, b]) == ["alpha 0.01", "alpha 0.001"]
    c = run("c.npz", alpha=0.01, epochs=10, bias=True)
    assert run_labels([a, c]) == ["epochs 350, bias off", "epochs 10, bias on"]
    assert run_labels([a, run("x/a.npz", alpha=0.01, epochs=350)]) == ["a.npz", "x/a.npz"]
    assert run_labels([a]) == ["a.npz"]


def test_long_legend_labels_take_fewer_columns():
    assert legend_columns(["alpha 0.01", "alpha 0.001", "train", "test"], 9.6) == 4
    long = [f"alpha 0.0{i}, epochs 350, init book, bias off, deskew off" for i in range(3)]
    assert legend_columns([*long, "train", "test"], 9.6) == 2
    assert legend_columns(["x" * 200, "train"], 9.6) == 1


def test_an_old_file_beside_a_run_with_history_is_a_warning(tmp_path, runs):
    old = old_weights_file(tmp_path / "old.npz")
    out = tmp_path / "c.png"
    result = run_cli("plot", str(old), str(runs[0]), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"warning: {old} has no training history (a file from gdcli 0.1, written before it "
        "was kept); plotting the other runs"
    ]
    assert json.loads(result.stdout)["skipped"] == [str(old)]
    Image.open(out).load()
    quiet = run_cli("plot", str(old), str(runs[0]), "--out", str(out), "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == ""


def test_nothing_to_plot_is_exit_2(tmp_path):
    old = old_weights_file(tmp_path / "old.npz")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_cli("plot", str(old), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 2, "old.npz has no training history", "nothing to plot")
    result = run_cli("plot", str(old), str(empty), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 2, "none of", "empty.jsonl", "nothing to plot")
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"this is not json\n", "line 1: not JSON"),
        (b'{"epoch": 1, "train_error": 0.5}\n[1, 2]\n', "line 2: not a JSON object"),
        (b'{"train_error": 0.5}\n', "line 1: no epoch number"),
        (b'{"epoch": 1, "train_error": "low"}\n', "line 1: train_error is not a number"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a metrics file (not text)"),
    ],
)
def test_garbage_metrics_is_a_failure_naming_the_line(tmp_path, content, needle):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    with pytest.raises(GdcliError) as caught:
        read_metrics(bad)
    assert caught.value.exit_code == 1 and caught.value.message.startswith(f"{bad}: {needle}")


def test_garbage_metrics_is_one_line_exit_1(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"epoch": 1, "train_error": 0.5}\nnot json\n')
    result = run_cli("plot", str(bad), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 1, f"{bad}: line 2: not JSON")
    assert result.stderr.splitlines()[1].startswith("hint: expected one JSON object per line")
    assert not (tmp_path / "c.png").exists()


def test_bad_paths_are_exit_2_and_write_nothing(tmp_path, runs):
    run = str(runs[0])
    assert_one_line_error(run_cli("plot", str(tmp_path / "nope.npz")), 2, "no such file")
    assert_one_line_error(run_cli("plot", str(tmp_path)), 2, "is a folder")
    a_file = tmp_path / "taken"
    a_file.write_text("keep me")
    result = run_cli("plot", run, "--out", str(a_file / "curves.png"))
    assert_one_line_error(result, 2, f"{a_file} is a file, not a folder")
    assert a_file.read_text() == "keep me"
    result = run_cli("plot", run, "--out", str(tmp_path / "curves.jpg"))
    assert_one_line_error(result, 2, "unknown file type '.jpg'", ".png or .svg")
    assert_one_line_error(run_cli("plot", run, "--out", str(tmp_path)), 2, "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_labels_take_the_few_settings_that_say_most_and_the_figure_lists_the_rest():
    from gdcli.viz.plot import label_keys, other_differences, wrap

    book = {"alpha": 0.01, "epochs": 350, "batch_size": 1, "loss": "mse", "hidden": [], "l2": 0.0}
    best = {"alpha": 0.2, "epochs": 40, "batch_size": 10, "loss": "softmax", "hidden": [],
            "l2": 0.001}  # fmt: skip
    mlp = {"alpha": 0.4, "epochs": 60, "batch_size": 20, "loss": "softmax", "hidden": [256],
           "l2": 0.0005}  # fmt: skip
    runs = [Run(Path(f"{n}.npz"), c, []) for n, c in (("a", book), ("b", best), ("c", mlp))]
    assert label_keys([book, best, mlp]) == ["hidden", "loss", "alpha"]
    assert run_labels(runs) == ["hidden none, loss mse, alpha 0.01",
                                "hidden none, loss softmax, alpha 0.2",
                                "hidden 256, loss softmax, alpha 0.4"]  # fmt: skip
    assert other_differences(runs) == (
        "also different: epochs (350,\u00a040,\u00a060), batch_size (1,\u00a010,\u00a020), "
        "l2 (0,\u00a00.001,\u00a00.0005)"
    )
    # more keys only when three leave two runs with one label
    same = [dict(book, l2=v) for v in (0.0, 0.1)]
    assert label_keys(same) == ["l2"]
    assert wrap("hidden 256, loss softmax, alpha 0.4, epochs 60", 20) == (
        "hidden 256,\nloss softmax,\nalpha 0.4, epochs 60"
    )


def test_validation_curves_slot_in_and_the_key_names_every_split(tmp_path):
    lines = [{"epoch": e, "train_error": 0.5 / e, "train_accuracy": 0.5,
              "val_error": 0.6 / e, "val_accuracy": 0.4, "test_error": 0.7 / e,
              "test_accuracy": 0.3} for e in range(1, 6)]  # fmt: skip
    metrics = tmp_path / "m.jsonl"
    metrics.write_text("\n".join(json.dumps(x) for x in lines))
    out = tmp_path / "c.svg"
    result = run_cli("plot", str(metrics), "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["log_y"] is False  # 0.1 to 0.7: less than a decade
    root = ET.parse(out).getroot()
    texts = {"".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")}
    assert {"train", "validation", "test", "error (squared, mean per image)"} <= texts
    from gdcli.viz.plot import splits

    assert splits([lines]) == ["train", "val", "test"]


def test_the_error_axis_is_logarithmic_beyond_a_decade_or_when_asked(tmp_path):
    lines = [{"epoch": e, "train_error": 10.0**-e, "train_accuracy": 0.9} for e in range(1, 4)]
    metrics = tmp_path / "m.jsonl"
    metrics.write_text("\n".join(json.dumps(x) for x in lines))
    out = tmp_path / "c.svg"

    def plotted(*args: str) -> tuple[bool, set]:
        result = run_cli("plot", str(metrics), "--out", str(out), "--json", *args)
        assert result.returncode == 0, result.stderr
        root = ET.parse(out).getroot()
        texts = {"".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")}
        return json.loads(result.stdout)["log_y"], texts

    log, texts = plotted()
    assert log is True and "error (squared, mean per image; log scale)" in texts
    log, texts = plotted("--linear-y")
    assert log is False and "error (squared, mean per image)" in texts
    metrics.write_text(json.dumps({"epoch": 1, "train_error": 0.5}))
    assert plotted("--log-y")[0] is True
