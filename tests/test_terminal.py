"""What a person reads in a terminal: tables that fit 60, 80 and 120 columns without splitting
a cell, help without internal type names, one rounding rule, and one rule for the paths of the
files written (stderr, "wrote PATH"; stdout is the result). The CLI runs in-process as on a
terminal of the given width (TTY_COMPATIBLE=1 makes rich take the pipe for a terminal;
COLUMNS sets its width), on the synthetic dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_cli

from gdcli.book.errata import ERRATA

N_TRAIN = "600"  # the synthetic dataset's training images
WIDTHS = (60, 80, 120)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(width: int, *args: str, cwd: Path | None = None):
    """`gdcli ARGS` with stdout (and stderr) taken for a terminal `width` columns wide."""
    result = run_cli(*args, cwd=cwd, env={"TTY_COMPATIBLE": "1", "COLUMNS": str(width)})
    result.stdout = ANSI.sub("", result.stdout)
    return result


def assert_fits(text: str, width: int, *cells: str) -> None:
    """No table row wider than the terminal, and every cell whole on one line: a number or a
    word folded over two lines ("72." over "04%") is not there in one piece. (A line of prose
    is one long line that the terminal folds, as it folds the book's log line.)"""
    lines = text.splitlines()
    assert lines, text
    rows = [line for line in lines if re.search(r"[│┃━─]|\S  +\S", line)]  # not prose
    assert rows and max(len(line) for line in rows) <= width, text
    for cell in cells:
        assert any(re.search(rf"(^|[\s│┃]){re.escape(cell)}($|[\s│┃])", line) for line in lines), (
            cell,
            text,
        )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, synthetic_data_dir) -> Path:
    """w.npz: 3 epochs of the book's network on the synthetic dataset, and m.jsonl."""
    folder = tmp_path_factory.mktemp("terminal")
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", N_TRAIN,
                     "--epochs", "3", "--out", "w.npz", "--metrics", "m.jsonl", "-q",
                     cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("split", ["test", "train"])
def test_evaluate_fits_the_terminal(run_dir, synthetic_data_dir, width, split):
    from gdcli.cli.terminal import fmt_error, fmt_pct

    args = ["evaluate", "w.npz", "--split", split, "--data-dir", str(synthetic_data_dir)]
    numbers = json.loads(run_cli(*args, "--json", cwd=run_dir).stdout)
    result = on_terminal(width, *args, cwd=run_dir)
    assert result.returncode == 0, result.stderr
    cells = [fmt_pct(a) for a in numbers["per_class_accuracy"]]
    cells += [str(n) for row in numbers["confusion"] for n in row]
    cells += [fmt_error(numbers["error"]) + ",", fmt_pct(numbers["accuracy"])]
    assert_fits(result.stdout, width, "class", "images", "accuracy", *cells)


@pytest.mark.parametrize("width", WIDTHS)
def test_fashion_mnists_class_names_fit(width, capsys, monkeypatch):
    from gdcli.cli.evaluate import print_evaluation
    from gdcli.data.registry import DATASETS

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", str(width))
    classes = list(DATASETS["fashion-mnist"].classes)
    confusion = [[1000 if i == j else 7 for j in range(10)] for i in range(10)]
    print_evaluation("test", {
        "images": 10000, "layers": [784, 10], "error": 0.4321, "accuracy": 0.7204,
        "classes": classes, "per_class_accuracy": [0.7204] * 10, "confusion": confusion,
    })  # fmt: skip
    out = ANSI.sub("", capsys.readouterr().out)
    assert_fits(out, width, "72.04%", "1000", "1063", *[f"{i} {c}" for i, c in enumerate(classes)])


@pytest.mark.parametrize("width", WIDTHS)
def test_train_summary_and_predict_fit(tmp_path, run_dir, synthetic_data_dir, width):
    trained = on_terminal(width, "train", "--data-dir", str(synthetic_data_dir), "--n-train",
                          N_TRAIN, "--epochs", "2", cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    summary = [line for line in trained.stdout.splitlines() if "train" in line or "test" in line]
    assert len(summary) == 2 and all(re.search(r" \d\.\d{3} .* \d+\.\d\d% ", s) for s in summary)
    assert_fits(trained.stdout, width, "error", "accuracy")

    args = ["predict", "w.npz", "--index", "0", "--data-dir", str(synthetic_data_dir)]
    scores = json.loads(run_cli(*args, "--json", cwd=run_dir).stdout)["scores"]
    shown = on_terminal(width, *args, cwd=run_dir)
    assert shown.returncode == 0, shown.stderr
    assert_fits(shown.stdout, width, "class", "score", "predicted", *[f"{s:.4f}" for s in scores])


@pytest.mark.parametrize("width", WIDTHS)
def test_fetch_and_configs_fit(tmp_path, synthetic_files, width):
    fetched = on_terminal(width, "fetch", "--dataset", "synthetic", "--data-dir", str(tmp_path),
                          "--from", str(synthetic_files))  # fmt: skip
    assert fetched.returncode == 0, fetched.stderr
    sizes = [f"{p.stat().st_size:,}" for p in synthetic_files.iterdir()]
    assert_fits(fetched.stdout, width, "file", "bytes", *sizes,
                *[p.name for p in synthetic_files.iterdir()])  # fmt: skip
    listed = on_terminal(width, "configs")
    names = [c["name"] for c in json.loads(run_cli("configs", "--json").stdout)]
    assert_fits(listed.stdout, width, *names)


# ---------------------------------------------------------------- one rounding rule


def test_errors_and_accuracies_are_cut_as_the_books_log_line_cuts_them():
    import random

    from gdcli.cli.terminal import fmt_error, fmt_pct

    rng = random.Random(0)
    for _ in range(2000):
        e = rng.uniform(0.01, 9.999)
        assert fmt_error(e) == str(e)[0:5], e  # the book's str(error)[0:5]
        n = rng.choice([1000, 10000, 60000])
        correct = rng.randrange(n // 10, n)  # from 10%: str() of less may be 6.6e-05
        book = str(correct / n)  # the book's Test-Acc, e.g. 0.7204 (72.04%)
        whole, _, decimals = fmt_pct(correct / n).rstrip("%").partition(".")
        assert f"{int(whole):02d}{decimals}" == book.split(".")[1].ljust(4, "0")[:4], book
    assert fmt_error(1.21376) == "1.213" and fmt_pct(0.925991) == "92.59%"  # cut, not rounded
    assert fmt_error(0.00123456) == "0.00123" and fmt_error(None) == "-"


# ---------------------------------------------------------------- help


def test_help_at_80_columns_has_no_internal_type_names_and_no_cut_descriptions():
    main = on_terminal(80, "--help").stdout
    commands = re.findall(r"^  ([a-z-]+)  +(.+)$", main.split("Commands:")[1], re.M)
    names = [name for name, _ in commands]
    assert names == ["fetch", "train", "configs", "runs", "sweep", "evaluate", "predict",
                     "visualize-weights", "plot", "report", "examples"]  # fmt: skip
    assert not any(about.endswith("...") for _, about in commands), main
    for name in names:
        text = on_terminal(80, name, "--help").stdout
        assert not re.search(r"<[\w\[\]]+>|\{[A-Z]+\}|list\[|\bstr\b|\bint\b", text), (name, text)
        assert max(len(line) for line in text.splitlines()) <= 80, (name, text)
    assert "Usage: gdcli plot [OPTIONS] RUN..." in run_cli("plot", "--help").stdout


def test_train_help_groups_its_options_and_names_every_erratum():
    text = on_terminal(80, "train", "--help").stdout
    sections = re.findall(r"^(\w+):$", text, re.M)
    assert sections == ["Usage", "Options", "Data", "Network", "Training", "Book", "Output"][1:]
    book = " ".join(text.split("\nBook:\n")[1].split("\nOutput:\n")[0].split())
    assert all(name in book for name in ERRATA), book


# ---------------------------------------------------------------- where the paths go


@pytest.mark.parametrize(
    ("args", "written"),
    [
        (["train", "--out", "x.npz", "--metrics", "x.jsonl"], ["x.npz", "x.jsonl"]),
        (["predict", "w.npz", "--index", "0", "--show-input", "in.png"], ["in.png"]),
        (["visualize-weights", "w.npz", "--out-dir", "pics", "--digits", "0,1"],
         ["pics/digit-0.png", "pics/digit-1.png", "pics/grid.png"]),
        (["plot", "m.jsonl", "--out", "c.png"], ["c.png"]),
        (["report", "w.npz", "--mistakes", "2", "--out", "r.html"], ["r.html"]),
    ],
)  # fmt: skip
def test_every_file_written_is_named_on_stderr_and_only_results_go_to_stdout(
    run_dir, synthetic_data_dir, args, written
):
    data = (
        [] if args[0] in ("visualize-weights", "plot") else ["--data-dir", str(synthetic_data_dir)]
    )
    more = ["--n-train", N_TRAIN, "--epochs", "2"] if args[0] == "train" else []
    result = run_cli(*args, *data, *more, cwd=run_dir)
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("wrote ")]
    assert said == [f"wrote {path}" for path in written], result.stderr
    for path in written:
        assert (run_dir / path).is_file()
        assert path not in result.stdout, result.stdout  # stdout: the result, no paths
    quiet = run_cli(*args, *data, *more, "--quiet", cwd=run_dir)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    as_json = json.loads(run_cli(*args, *data, *more, "--json", "-q", cwd=run_dir).stdout)
    listed = as_json.get("written", as_json.get("weights"))
    listed = [listed] if isinstance(listed, str) else listed
    assert set(listed) <= set(written) and listed, as_json
