"""gdcli report: one self-contained HTML page, checked by Pillow and by a real headless browser."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image
from test_plot import old_weights_file, train_runs

from gdcli.io import weights_file

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: `apt-get install chromium` (.ci/run installs it)",
)
DATA_URI = re.compile(r'src="data:(image/[a-z+]+);base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def runs(tmp_path_factory, synthetic_data_dir) -> list[Path]:
    return train_runs(tmp_path_factory, synthetic_data_dir)


@pytest.fixture(scope="module")
def one_report(runs, synthetic_data_dir, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("one") / "report.html"
    result = run_cli("report", str(runs[0]), "--data-dir", str(synthetic_data_dir),
                     "--out", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def two_report(runs, synthetic_data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("two") / "report.html"
    result = run_cli("report", *map(str, runs), "--data-dir", str(synthetic_data_dir),
                     "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr.splitlines()[-1] == f"wrote {out}"
    return out


def data_images(page: str) -> list[tuple[str, Image.Image]]:
    """Every data: image of the page, decoded (fully) by Pillow."""
    images = []
    for mime, payload in DATA_URI.findall(page):
        image = Image.open(io.BytesIO(base64.b64decode(payload, validate=True)))
        image.load()
        assert image.width > 0 and image.height > 0
        assert image.format.lower() == mime.split("/")[1], (image.format, mime)
        images.append((mime, image))
    return images


def assert_self_contained(page: str) -> None:
    """No reference leaves the file: every src and href is a data: URI or an anchor."""
    assert page.count("<img") == len(DATA_URI.findall(page))
    for ref in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page):
        assert ref.startswith(("data:", "#")), ref
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"url\((?!\s*['\"]?data:)", page)


def cells(page: str, table_class: str) -> list[list[str]]:
    """The text of each body row's cells of the first <table class=...>."""
    table = re.search(rf'<table class="{table_class}">(.*?)</table>', page, re.S)
    assert table, table_class
    body = table[1].split("<tbody>")[1]
    return [
        [
            html.unescape(re.sub("<[^>]+>", "", c))
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)
        ]
        for r in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def test_one_run_holds_every_part_and_every_image_decodes(one_report, runs, synthetic_data_dir):
    out, printed = one_report
    page = out.read_text()
    assert printed["written"] == str(out) and printed["left_out"] == []
    assert_self_contained(page)
    images = data_images(page)
    kinds = [m for m, _ in images]
    # curves, weights grid, evolution (GIF), mistakes (several), explanation
    assert kinds.count("image/gif") == 1 and kinds.count("image/png") >= 4
    gif = next(im for m, im in images if m == "image/gif")
    wf = weights_file.load(runs[0])
    assert gif.n_frames == len(wf.snapshots) >= 2
    for anchor in ("curves", "runs", "weights-1", "test-1", "mistakes-1", "explain-1"):
        assert f'id="{anchor}"' in page

    # the confusion matrix and per-class accuracy agree with `gdcli evaluate`
    evaluated = run_cli("evaluate", str(runs[0]), "--data-dir", str(synthetic_data_dir), "--json")
    expected = json.loads(evaluated.stdout)
    matrix = [[int(v or 0) for v in row[1:]] for row in cells(page, "cm")]
    assert matrix == expected["confusion"]
    per_class = [row[2] for row in cells(page, "pc")]
    assert per_class == [f"{100 * a:.1f}%" for a in expected["per_class_accuracy"]]
    assert f"{100 * expected['accuracy']:.2f}% correct" in page
    # the mistakes: the wrong guesses, at most 24, each image 84x84
    confusion = np.array(expected["confusion"])
    wrong = int(confusion.sum() - np.trace(confusion))
    shown = re.findall(r'<figure class="m"><img src="data:image/png;base64,([^"]+)"', page)
    assert len(shown) == min(24, wrong) > 0
    assert Image.open(io.BytesIO(base64.b64decode(shown[0]))).size == (84, 84)
    # the configuration as trained
    assert "<dt>alpha</dt><dd>0.01</dd>" in page and "<dt>epochs</dt><dd>6</dd>" in page


def test_two_runs_are_compared(two_report):
    page = two_report.read_text()
    assert_self_contained(page)
    data_images(page)
    config = cells(page, "cfg")
    assert config[0] == ["alpha", "0.01", "0.001"]  # the difference comes first...
    assert re.search(r'<tr class="diff"><th class="l">alpha</th>', page)  # ...highlighted
    assert page.count('<tr class="diff">') == 1
    results = {row[0]: row[1:] for row in cells(page, "res")}
    assert set(results) >= {"test accuracy", "train accuracy (during the last epoch)", "epochs"}
    assert results["epochs"] == ["6", "6"]
    assert 'id="run-1"' in page and 'id="run-2"' in page
    assert "Run 1: alpha 0.01" in page and "Run 2: alpha 0.001" in page


def test_a_run_that_kept_its_best_epoch_is_reported_by_that_epoch(tmp_path, synthetic_data_dir):
    args = ["train", "--data-dir", str(synthetic_data_dir), "--n-train", "100", "--val", "100",
            "--hidden", "8", "--alpha", "0.05", "--epochs", "12", "--eval-every", "1",
            "--keep", "best", "--out", "w.npz", "--json", "-q"]  # fmt: skip
    summary = json.loads(run_cli(*args, cwd=tmp_path).stdout)
    out = tmp_path / "r.html"
    result = run_cli("report", str(tmp_path / "w.npz"), "--data-dir", str(synthetic_data_dir),
                     "--out", str(out), "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    cards = re.findall(r'<div class="v">([^<]*)</div><div class="k">([^<]*)</div>', out.read_text())
    results = {html.unescape(name): html.unescape(value) for value, name in cards}
    held = summary["weights_epoch"]
    assert held < 12 and results["weights of epoch"] == str(held) and results["epochs"] == "12"
    assert results["test accuracy"] == f"{100 * summary['test_accuracy']:.2f}%"


def test_without_data_it_draws_what_it_can_and_says_what_it_cannot(tmp_path, runs):
    out = tmp_path / "r.html"
    empty = tmp_path / "no-data"
    result = run_cli("report", str(runs[0]), "--data-dir", str(empty), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("warning: mnist is not fetched yet"), lines
    assert lines[1] == f"wrote {out}"
    assert "no confusion matrix" in lines[0]
    page = out.read_text()
    assert_self_contained(page)
    assert len(data_images(page)) == 3  # curves, weights grid, evolution
    assert "mnist is not fetched yet" in page and 'id="mistakes-1"' not in page


def test_an_old_file_is_reported_without_curves_or_evolution(tmp_path, synthetic_data_dir):
    old = old_weights_file(tmp_path / "old.npz")
    out = tmp_path / "r.html"
    result = run_cli("report", str(old), "--data-dir", str(synthetic_data_dir),
                     "--out", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    left_out = json.loads(result.stdout)["left_out"]
    assert [line.split(": ", 1)[1] for line in left_out] == [
        "no training history (a gdcli 0.1 file): no learning curves",
        "no weight snapshots (a gdcli 0.1 file): no evolution",
    ]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {line}" for line in left_out]
    page = out.read_text()
    assert "No run holds a training history" in page and "No snapshots in this file" in page
    assert len(data_images(page)) >= 3  # weights grid, mistakes, explanation


def test_bad_input_is_one_line(tmp_path, runs, synthetic_data_dir):
    data = ["--data-dir", str(synthetic_data_dir)]
    metrics = str(runs[0].with_suffix(".jsonl"))
    assert_one_line_error(run_cli("report", metrics, *data), 2, "is a metrics file")
    assert_one_line_error(run_cli("report", str(tmp_path / "none.npz")), 2, "no such file")
    result = run_cli("report", str(runs[0]), *data, "--out", str(tmp_path / "r.pdf"))
    assert_one_line_error(result, 2, "unknown file type '.pdf'", ".html")
    a_file = tmp_path / "f"
    a_file.write_text("x")
    result = run_cli("report", str(runs[0]), *data, "--out", str(a_file / "r.html"))
    assert_one_line_error(result, 2, "is a file, not a folder")
    result = run_cli("report", str(runs[0]), *data, "--out", str(tmp_path / "r.html"),
                     "--explain-index", "200")  # fmt: skip
    assert_one_line_error(result, 2, "--explain-index 200 is past the 200 test images")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip")
    assert_one_line_error(run_cli("report", str(corrupt), *data), 1, "corrupt.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.npz", "f"]


# --- in a real browser ------------------------------------------------------------------------

CHECK_SCRIPT = """<script>
addEventListener("load", () => {
  const images = Array.from(document.images);
  const result = {
    images: images.length,
    broken: images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt),
    height: document.documentElement.scrollHeight,
    figures: images.filter(i => i.classList.contains("figure")).length,
    shrunk: images.filter(i => i.classList.contains("figure") && i.width < i.naturalWidth)
                  .map(i => `${i.alt}: ${i.width} of ${i.naturalWidth} px`),
    text: document.body.innerText.length,
  };
  const out = document.createElement("pre");
  out.id = "gdcli-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path: Path, page: Path, *args: str) -> str:
    """Run headless chromium on `page` (offline, a throwaway profile); its stdout."""
    profile = tmp_path / "profile"
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=5000",
         *args, page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rendered_check(tmp_path: Path, page: Path, *args: str) -> dict:
    """What the browser saw: image count, the images that did not decode, page size, the
    figures drawn smaller than their pixels."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))
    dom = chromium(tmp_path, probe, "--dump-dom", *args)
    found = re.search(r'<pre id="gdcli-check">(.*?)</pre>', dom, re.S)
    assert found, dom[-500:]
    return json.loads(html.unescape(found[1]))


def ink_fraction(screenshot: Path) -> float:
    """The share of pixels that are neither white nor the page's background grey."""
    rgb = np.asarray(Image.open(screenshot).convert("RGB")).astype(int)
    background = np.array([243, 245, 248])
    plain = (rgb.min(axis=2) > 235) | (np.abs(rgb - background).sum(axis=2) < 12)
    return float(1 - plain.mean())


@needs_chromium
def test_the_browser_decodes_every_image(tmp_path, two_report):
    seen = rendered_check(tmp_path, two_report, "--window-size=1280,4000")
    assert seen["images"] == two_report.read_text().count("<img") > 10
    assert seen["broken"] == []
    # at 1280 px every figure shows at its own size: its text reads as it was drawn
    assert seen["figures"] >= 6 and seen["shrunk"] == []
    assert seen["height"] > 3000 and seen["text"] > 2000


@needs_chromium
def test_the_browser_check_sees_a_broken_image(tmp_path):
    """The harness itself: a corrupt data: image is reported broken."""
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, "PNG")
    good = base64.b64encode(buf.getvalue()).decode()
    page = tmp_path / "broken.html"
    page.write_text(
        f'<!DOCTYPE html><html><body><img alt="good" src="data:image/png;base64,{good}">'
        f'<img alt="bad" src="data:image/png;base64,{good[:24]}AAAA"></body></html>'
    )
    seen = rendered_check(tmp_path, page)
    assert seen["images"] == 2 and seen["broken"] == ["bad"]


@needs_chromium
def test_the_rendered_page_is_not_blank(tmp_path, one_report):
    out, _ = one_report
    shot = tmp_path / "shot.png"
    chromium(tmp_path, out, f"--screenshot={shot}", "--window-size=1280,2400")
    assert Image.open(shot).size == (1280, 2400)
    assert ink_fraction(shot) > 0.08
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    chromium(tmp_path, blank, f"--screenshot={shot}", "--window-size=1280,2400")
    assert ink_fraction(shot) < 0.001


# --- what a learner reads: figures at their own size, one scale, every layer, a bounded page ---


def gif_frames(page: str) -> list[Image.Image]:
    gif = next(im for m, im in data_images(page) if m == "image/gif")
    frames = []
    for k in range(gif.n_frames):
        gif.seek(k)
        frame = gif.convert("RGB")
        frame.info["duration"] = gif.info["duration"]
        frames.append(frame)
    return frames


def test_the_animation_opens_on_the_final_weights_on_the_still_pictures_scale(one_report, runs):
    from gdcli.viz import weights_figure as figure
    from gdcli.viz import weights_views as views
    from gdcli.viz.heatmap import choose_scale

    out, _ = one_report
    page = out.read_text()
    wf = weights_file.load(runs[0])
    final = wf.network.layers[0].weights
    scale = choose_scale(final)
    # one scale, said in the page's text, the same for the picture and the animation
    said = set(re.findall(r"\u00b1([0-9.]+)", html.unescape(re.sub("<[^>]+>", " ", page))))
    assert said == {f"{scale.value:.3g}"}
    frames = gif_frames(page)
    epochs = views.animation_epochs(wf)
    assert len(frames) == len(epochs)  # the final weights first, then the others from 0
    assert [f.info["duration"] for f in frames[:2]] == [figure.LAST_MS, figure.FIRST_MS]
    # the poster frame is exactly the final weights drawn on that scale, without a colour bar
    title = figure.epoch_title(views.animation_title(wf), epochs[-1])
    expected = figure.grid_figure(final, views.panel_names(wf), scale, title, "", "diverging",
                                  4, figure.GIF_LEVELS, 1080, bar=False)  # fmt: skip
    indexed = figure._indexed(expected, figure._palette("diverging")).convert("RGB")
    assert np.array_equal(np.asarray(frames[0]), np.asarray(indexed))
    # and the next frame is the start of training
    start = figure.grid_figure(np.asarray(wf.snapshots[0][0], np.float64),
                               views.panel_names(wf), scale, figure.epoch_title(
                                   views.animation_title(wf), 0), "", "diverging", 4,
                               figure.GIF_LEVELS, 1080, bar=False)  # fmt: skip
    indexed = figure._indexed(start, figure._palette("diverging")).convert("RGB")
    assert np.array_equal(np.asarray(frames[1]), np.asarray(indexed))


@pytest.fixture(scope="module")
def hidden_run(tmp_path_factory, synthetic_data_dir) -> Path:
    out = tmp_path_factory.mktemp("hidden") / "h.npz"
    result = run_cli(
        "train", "--data-dir", str(synthetic_data_dir), "--n-train", "100", "--epochs", "2",
        "--hidden", "12", "--loss", "softmax", "--deskew", "--alpha", "0.01", "--out", str(out),
        "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_a_hidden_network_shows_every_layer_and_softmax_mistakes_apart(
    hidden_run, synthetic_data_dir
):
    from gdcli import api
    from gdcli.data.load import load_split
    from gdcli.data.registry import get_dataset
    from gdcli.data.transforms import deskew

    page = api.report(hidden_run, synthetic_data_dir, mistakes=5).html
    alts = re.findall(r'<img class="figure" src="data:[^"]+" alt="([^"]+)"', page)
    assert "the final weights of layer 1" in alts and "the final weights of layer 2" in alts
    # softmax outputs: probabilities to three significant digits and the scores
    captions = re.findall(r'<span class="muted">(p [^<]+)<br>(scores [^<]+)<br>', page)
    assert len(captions) == 5
    for p, scores in captions:
        assert re.fullmatch(r"p \S+ vs \S+", p) and re.fullmatch(r"scores \S+ vs \S+", scores)
        for figure in re.findall(r"[-0-9.e]+", p):
            assert len(re.sub(r"e.*|[-.]|^0+", "", figure.lstrip("0."))) == 3, figure
    assert "shown deskewed" in page
    # the images shown are the deskewed ones the network saw
    x, _ = load_split(get_dataset("mnist"), synthetic_data_dir, "test")
    number = int(re.search(r"test #(\d+)", page)[1])
    tile = re.search(r'<figure class="m"><img src="data:image/png;base64,([^"]+)"', page)[1]
    shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(tile))))[::3, ::3]
    seen = np.rint(np.clip(deskew(x[number : number + 1])[0], 0, 1) * 255).reshape(28, 28)
    assert np.array_equal(shown, seen.astype(np.uint8))


def test_the_page_is_bounded_and_says_what_it_left_out(tmp_path, monkeypatch, synthetic_data_dir):
    """A wide first layer and many snapshots: fewer units and frames, within the bound."""
    from gdcli.io.weights_file import WeightsFile, save
    from gdcli.nn.model import Layer, Network
    from gdcli.viz import report
    from gdcli.viz.plot import load_run

    rs = np.random.RandomState(5)
    snaps = {e: [rs.uniform(-0.1, 0.1, (784, 40)), rs.uniform(-1, 1, (40, 10))]
             for e in range(0, 13)}  # fmt: skip
    net = Network([Layer(snaps[12][0], None, "relu"), Layer(snaps[12][1])], loss="mse")
    history = [{"epoch": e, "train_error": 0.5, "train_accuracy": 0.5} for e in range(1, 13)]
    path = tmp_path / "wide.npz"
    save(path, WeightsFile(net, {"config": {"dataset": "mnist"}}, history, snaps))
    monkeypatch.setattr(report, "MAX_PAGE_BYTES", 700_000)
    tests = report.load_test_images([load_run(path)], synthetic_data_dir)
    page = report.build_report([load_run(path)], tests, mistakes=0).html
    assert len(page.encode()) <= 700_000
    caption = html.unescape(re.search(r"<figcaption>(The training[^<]+)</figcaption>", page)[1])
    assert "Left out to keep the page under 0.7 MB: " in caption
    units = re.search(r"(\d+) of the 40 hidden units \(shown: the (\d+)", caption)
    frames = gif_frames(page)
    assert units and int(units[1]) + int(units[2]) == 40 and int(units[2]) < 40
    epochs = re.search(r"one frame per epoch kept: ([0-9, ]+)\.", caption)[1].split(", ")
    assert len(frames) == len(epochs) >= report.MIN_FRAMES
    assert len(epochs) == 13 or (
        f"shows {len(epochs)} of the 13 snapshots" in caption and "(to keep the page" in caption
    )
