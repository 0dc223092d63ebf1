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
    assert set(results) >= {"test accuracy", "train accuracy", "epochs"}
    assert results["epochs"] == ["6", "6"]
    assert 'id="run-1"' in page and 'id="run-2"' in page
    assert "Run 1: alpha 0.01" in page and "Run 2: alpha 0.001" in page


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
    assert result.stderr.splitlines() == [f"warning: {line}" for line in left_out]
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


def rendered_check(tmp_path: Path, page: Path) -> dict:
    """What the browser saw: image count, the images that did not decode, page size."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", CHECK_SCRIPT + "</body>"))
    dom = chromium(tmp_path, probe, "--dump-dom")
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
    seen = rendered_check(tmp_path, two_report)
    assert seen["images"] == two_report.read_text().count("<img") > 10
    assert seen["broken"] == []
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
