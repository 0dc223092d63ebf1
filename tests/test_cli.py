"""The command layer as a user meets it: help, usage errors, JSON, quiet, pipes, signals, the
live display, output paths checked before work, a full disk. The CLI runs in-process
(conftest.run_cli) where only its output matters, as a real `python -m gdcli` where the process
does (signals, a broken pipe, a terminal, start-up imports); the first tests check that both
print the same. Training runs use the small synthetic dataset."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, cli_command, cli_env, run_cli, run_cli_process

import gdcli

N_TRAIN = "600"  # the synthetic dataset's training images
BOOK_LINE = re.compile(
    r"^ I:(\d+) Train-Err:(\S{1,5}) Train-Acc:(\S+)(?: Test-Err:(\S{1,5}))? Test-Acc:(\S+)$"
)


def train(tmp_path: Path, data: Path, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run_cli("train", "--data-dir", str(data), "--n-train", N_TRAIN, *args, cwd=tmp_path,
                   **kwargs)  # fmt: skip


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as RFC 8259 (and Node's JSON.parse) do."""

    def refuse(name: str):
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def commands() -> list[str]:
    out = run_cli("--help").stdout
    section = out.split("Commands:")[1]
    return [line.split()[0] for line in section.splitlines() if line.strip()]


ALL_COMMANDS = ["fetch", "train", "configs", "runs", "sweep", "evaluate", "predict",
                "visualize-weights", "examples", "plot", "report"]  # fmt: skip


def help_entries(text: str) -> dict[str, str]:
    """click's plain help -> {"--epochs N": "Passes over ... [default: 350]", ...}."""
    entries: dict[str, str] = {}
    name, in_section = None, False
    for line in text.splitlines():
        if re.match(r"^\S.*:$", line):  # a section title: "Options:", "Arguments:"
            name, in_section = None, True
        elif not in_section:
            continue  # the usage line and the description
        elif re.match(r"^  \S", line):
            name, _, rest = line.strip().partition("  ")
            entries[name] = rest.strip()
        elif name and line.strip():
            entries[name] = f"{entries[name]} {line.strip()}".strip()
    return entries


# ---------------------------------------------------------------- in-process runs


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["train", "--epoch", "3"],
        ["fetch", "--dataset", "cifar"],
        ["examples", "freeze"],
        ["evaluate", "nothing.npz"],
    ],
)
def test_in_process_runs_print_what_a_process_prints(tmp_path, args):
    inside, outside = run_cli(*args, cwd=tmp_path), run_cli_process(*args, cwd=tmp_path)
    assert (inside.returncode, inside.stdout, inside.stderr) == (
        outside.returncode, outside.stdout, outside.stderr,
    )  # fmt: skip


def test_in_process_training_prints_what_a_process_prints(tmp_path, synthetic_data_dir):
    args = ["train", "--data-dir", str(synthetic_data_dir), "--n-train", N_TRAIN, "--epochs",
            "3", "--eval-every", "1", "--metrics", "m.jsonl"]  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    inside, outside = run_cli(*args, cwd=tmp_path / "a"), run_cli_process(*args, cwd=tmp_path / "b")
    assert inside.returncode == outside.returncode == 0, (inside.stderr, outside.stderr)
    assert inside.stdout == outside.stdout, inside.stdout
    seconds = re.compile(r"\d+\.\d+ ?s\b")  # the time taken is the only difference
    assert seconds.sub("", inside.stderr) == seconds.sub("", outside.stderr), inside.stderr
    after_the_log = seconds.sub("", inside.stderr).splitlines()[3:]  # three log lines, then
    assert after_the_log == ["trained 3 epochs at alpha 0.01 in ", "wrote weights.npz",
                             "wrote m.jsonl"], inside.stderr  # fmt: skip
    a, b = ((tmp_path / d / "m.jsonl").read_text().splitlines() for d in "ab")
    assert [strict_json(x)["train_error"] for x in a] == [strict_json(x)["train_error"] for x in b]


def test_in_process_runs_leave_the_process_as_they_found_it(tmp_path, synthetic_data_dir):
    from threadpoolctl import threadpool_info

    def state():
        return (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM),
                signal.getsignal(signal.SIGALRM), dict(os.environ), os.getcwd(), sys.stdout,
                sys.stderr, sys.stdin, sys.argv,
                [lib["num_threads"] for lib in threadpool_info()])  # fmt: skip

    before = state()
    assert run_cli("examples", "nope", cwd=tmp_path, env={"GDCLI_X": "1"}).returncode == 2
    assert run_cli("examples", "freeze", cwd=tmp_path).returncode == 0
    assert train(tmp_path, synthetic_data_dir, "--epochs", "1", "-q").returncode == 0
    assert state() == before


def test_in_process_runs_time_out(tmp_path, synthetic_data_dir):
    with pytest.raises(subprocess.TimeoutExpired):
        train(tmp_path, synthetic_data_dir, "--epochs", "100000", "-q", timeout=0.5)


# ---------------------------------------------------------------- help


def test_the_command_list_is_complete():
    assert set(commands()) == set(ALL_COMMANDS)


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_help_gives_every_option_a_description_and_its_default(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    entries = help_entries(result.stdout)
    assert len(entries) >= 3, result.stdout
    for name, text in entries.items():
        if name.startswith("-h, --help"):
            continue
        assert " ." not in text and "<bool>" not in name, (name, text)
        if name.startswith("-"):  # an option: an explicit metavar, never typer's "<int range>"
            assert "<" not in name and "\\[" not in text, (name, text)
            assert re.match(r"\S.*\S \[default: [^\]]+\]", text), (name, text)
        else:  # an argument (typer >= 0.26 adds its type, "<path>", whatever the metavar)
            assert re.match(r"\S.*\S (\[default: [^\]]+\]|\s?\[required\])$", text), (name, text)


def test_train_help_defaults_come_from_config_defaults():
    from gdcli.config import DEFAULTS
    from gdcli.data.registry import DATASETS

    entries = help_entries(run_cli("train", "--help").stdout)
    assert entries["--epochs N"].endswith(f"[default: {DEFAULTS.epochs}]")
    assert entries["--seed SEED"].endswith(f"[default: {DEFAULTS.seed}]")
    # the datasets' own alphas from the registry follow gdcli's default
    alpha = f"[default: {DEFAULTS.alpha:g}; fashion-mnist: {DATASETS['fashion-mnist'].alpha:g}]"
    assert entries["--alpha ALPHA"].replace("- ", "-").endswith(alpha)  # click breaks at "-"
    assert entries["--n-train N"].endswith(f"[default: {DEFAULTS.n_train}]")
    assert entries["--bias / --no-bias"].endswith("[default: --no-bias]")
    assert entries["--out FILE"].endswith("[default: weights.npz]")
    fetch = help_entries(run_cli("fetch", "--help").stdout)
    assert fetch["--mirror URL"].startswith("Base URL")


def test_no_arguments_shows_the_help():
    result = run_cli()
    assert result.returncode == 0 and "Usage: gdcli" in result.stdout and "train" in result.stdout


# ---------------------------------------------------------------- usage errors


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["train", "--epochs", "1e9"], ["invalid value for '--epochs'", "1e9"]),
        (["train", "--seed", "x"], ["invalid value for '--seed'", "'x'"]),
        (["visualize-weights", "--pixels", "0"], ["invalid value for '--pixels'", "0"]),
        (["visualize-weights", "--scale", "0"], ["invalid value for '--scale'", "0"]),
        (["predict", "--index", "-1"], ["invalid value for '--index'", "-1"]),
        (["evaluate", "--split", "foo"], ["invalid value for '--split'", "foo"]),
        (["fetch", "--timeout", "0"], ["invalid value for '--timeout'"]),
        (["train", "--epochs"], ["'--epochs' requires an argument"]),
        (["train", "--bias=3"], ["'--bias' does not take a value"]),
        (["train", "stray"], ["unexpected extra argument", "stray"]),
        (["trian"], ["no such command 'trian'"]),
    ],
)
def test_clicks_own_usage_errors_are_one_line(tmp_path, args, needles):
    result = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(result, 2, *needles)
    assert list(tmp_path.iterdir()) == []


def test_unknown_option_suggests_the_right_one():
    result = run_cli("train", "--epoch", "3")
    assert_one_line_error(result, 2, "no such option", "--epoch")
    assert result.stderr.splitlines()[1] == "hint: did you mean --epochs?"


# ---------------------------------------------------------------- quiet, pipes, JSON


@pytest.mark.parametrize("command", ALL_COMMANDS)
def test_every_command_accepts_quiet(command):
    result = run_cli(command, "--quiet", "--help")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, synthetic_data_dir) -> Path:
    """A folder with w.npz (and its m.jsonl), a 2-epoch run on the synthetic dataset."""
    folder = tmp_path_factory.mktemp("small-run")
    result = train(folder, synthetic_data_dir, "--epochs", "2", "--out", "w.npz", "--metrics",
                   "m.jsonl", "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.parametrize(
    ("command", "args", "written"),
    [
        ("evaluate", ["w.npz"], None),
        ("predict", ["w.npz", "--index", "0"], None),
        ("visualize-weights", ["w.npz", "--out-dir", "pictures"], "pictures/grid.png"),
        ("plot", ["w.npz", "m.jsonl", "--out", "curves.svg"], "curves.svg"),
        ("report", ["w.npz", "--mistakes", "3", "--out", "page.html"], "page.html"),
    ],
)
def test_a_quiet_run_writes_nothing_on_stderr(small_run, synthetic_data_dir, command, args,
                                              written):  # fmt: skip
    data = ["--data-dir", str(synthetic_data_dir)] if command in ("evaluate", "predict",
                                                                  "report") else []  # fmt: skip
    result = run_cli(command, *args, *data, "--quiet", cwd=small_run)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    # the result on stdout; a command that writes files has none (its "wrote" lines are quiet)
    assert bool(result.stdout.strip()) == (written is None), result.stdout
    assert written is None or (small_run / written).is_file()


def test_examples_quiet_prints_the_same_results():
    loud, quiet = run_cli("examples", "freeze"), run_cli("examples", "freeze", "-q")
    assert quiet.returncode == 0 and quiet.stdout == loud.stdout and quiet.stderr == ""


def test_tables_in_a_pipe_are_not_folded(tmp_path, synthetic_data_dir):
    # COLUMNS=20 would fold "accuracy" into "accura"/"cy" if the table were fitted to it.
    result = train(tmp_path, synthetic_data_dir, "--epochs", "2", env={"COLUMNS": "20"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "error" in line)
    assert re.search(r"\berror\b.*\baccuracy\b", header), result.stdout
    rows = [line for line in lines if "train" in line or "test" in line]
    assert all(re.search(r"\d%", row) for row in rows[:2]), result.stdout
    assert result.stderr.splitlines()[-1] == "wrote weights.npz", result.stderr


def test_json_and_metrics_are_strict_json_after_divergence(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--alpha", "0.3", "--epochs", "50", "--json",
                   "--metrics", "m.jsonl", "-q")  # fmt: skip
    assert_one_line_error(result, 1, "diverged at epoch")
    summary = strict_json(result.stdout)
    assert summary["status"] == "diverged" and summary["weights"] is None
    for key in ("train_error", "train_accuracy", "test_error", "test_accuracy"):
        assert summary[key] is None or np.isfinite(summary[key])
    lines = [strict_json(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines[-1]["epoch"] == summary["epochs"] and lines[-1]["status"] == "diverged"
    assert all("status" not in line for line in lines[:-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]


def test_non_finite_values_become_null():
    from gdcli.cli.terminal import to_json

    obj = {"a": float("inf"), "b": [float("nan"), 1.5, -float("inf")], "c": {"d": 2}}
    assert strict_json(to_json(obj)) == {"a": None, "b": [None, 1.5, None], "c": {"d": 2}}


# ---------------------------------------------------------------- the training log and display


def test_log_lines_when_stderr_is_not_a_terminal(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--epochs", "12", "--eval-every", "5",
                   "--metrics", "m.jsonl")  # fmt: skip
    assert result.returncode == 0, result.stderr
    history = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    tested = [m for m in history if "test_accuracy" in m]
    *lines, trained, wrote_weights, wrote_metrics = result.stderr.splitlines()
    assert re.fullmatch(r"trained 12 epochs at alpha 0\.01 in \d+\.\d\ds", trained), trained
    assert (wrote_weights, wrote_metrics) == ("wrote weights.npz", "wrote m.jsonl")
    assert len(lines) == len(tested) >= 2, result.stderr
    for line, m in zip(lines, tested, strict=True):
        i, train_err, train_acc, test_err, test_acc = BOOK_LINE.match(line).groups()
        assert int(i) == m["epoch"] - 1
        assert train_err == str(m["train_error"])[0:5] and test_err == str(m["test_error"])[0:5]
        assert float(train_acc) == m["train_accuracy"] and float(test_acc) == m["test_accuracy"]
    assert "\x1b" not in result.stderr  # no bar, no cursor movement in a log file


def test_quiet_training_prints_nothing_on_stderr(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--epochs", "3", "--eval-every", "1", "-q")
    assert result.returncode == 0 and result.stderr == ""


def test_book_log_line_is_the_books():
    from gdcli.book.errata import log_line
    from gdcli.nn.train import EpochMetrics

    # The book's chapter-8 notebook prints these two lines (iterations 0 and 20).
    line = log_line(
        EpochMetrics(1, 0.005, 0.7221839, 537 / 1000, 0.6012345, 6488 / 10000).to_json()
    )
    assert line == " I:0 Train-Err:0.722 Train-Acc:0.537 Test-Err:0.601 Test-Acc:0.6488"
    line = log_line(EpochMetrics(21, 0.005, 0.2604, 930 / 1000, 0.41401, 8111 / 10000).to_json())
    assert line == " I:20 Train-Err:0.260 Train-Acc:0.93 Test-Err:0.414 Test-Acc:0.8111"


def read_pty(fd: int, proc: subprocess.Popen, timeout: float = 120) -> str:
    """Everything written to the terminal `fd` until `proc` exits."""
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the other side closed
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks).decode(errors="replace")


def test_live_display_on_a_terminal(tmp_path, synthetic_data_dir):
    master, slave = os.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdcli", "train", "--data-dir", str(synthetic_data_dir),
         "--n-train", N_TRAIN, "--epochs", "25", "--deskew", "--json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=slave, text=True,
    )  # fmt: skip
    os.close(slave)
    screen = read_pty(master, proc)
    out = proc.communicate(timeout=60)[0]
    os.close(master)
    assert proc.returncode == 0, screen
    assert strict_json(out)["status"] == "ok"  # stdout stays clean JSON
    assert "loading mnist, deskewing" in screen  # the spinner while data loads
    assert re.search(r"epoch\s+25/25 .* eta 0:00:00", screen)  # the final line is kept
    # the test figures are the last log line's, named by both numberings, cut as it cuts them
    last = re.search(r" I:24 Train-Err:(\S+) Train-Acc:\S+ Test-Err:(\S+) Test-Acc:(\S+)", screen)
    assert last, screen
    percent = f"{100 * float(last[3]):.2f}%"  # the book's 4 decimals: exact as a percentage
    assert f"test   err {last[2]}  acc {percent}  at epoch 25, I:24" in screen, screen
    assert f"train  err {last[1]}  acc " in screen
    assert " I:24 Train-Err:" in screen and " I:20 Train-Err:" in screen


@pytest.mark.parametrize("args", [["examples", "multi-in-out"], ["examples", "freeze", "--json"]])
def test_a_closed_pipe_on_stdout_is_not_a_traceback(args):
    read, write = os.pipe()
    os.close(read)  # `gdcli ... | head` after head has gone: every write to stdout fails
    try:
        result = subprocess.run(cli_command(*args), stdout=write, stderr=subprocess.PIPE,
                                text=True, env=cli_env(), timeout=120)  # fmt: skip
    finally:
        os.close(write)
    assert result.returncode == 1 and result.stderr == "", result.stderr


def test_startup_does_not_import_the_drawing_libraries(tmp_path, synthetic_data_dir):
    code = (
        "import atexit, sys\n"
        "def report():\n"
        "    drawn = sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'PIL'))\n"
        "    sys.__stderr__.write(f'\\nLOADED {drawn}\\n')\n"
        "atexit.register(report)\n"
        "sys.argv[0] = 'gdcli'\n"
        "import runpy\n"
        "runpy.run_module('gdcli', run_name='__main__')\n"  # what `python -m gdcli` runs
    )
    for args in (["--help"], ["train", "--help"],
                 ["train", "--data-dir", str(synthetic_data_dir), "--n-train", N_TRAIN,
                  "--epochs", "2", "-q"]):  # fmt: skip
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                                text=True, cwd=tmp_path, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "LOADED []" in result.stderr, (args, result.stderr)


# ---------------------------------------------------------------- signals


SIGNALS = [
    (signal.SIGINT, 130, "interrupted (SIGINT)"),
    (signal.SIGTERM, 143, "terminated (SIGTERM)"),
]


@pytest.mark.parametrize(("sig", "code", "name"), SIGNALS)
def test_a_signal_during_training_writes_the_last_finished_epoch(
    tmp_path, synthetic_data_dir, sig, code, name
):
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdcli", "train", "--data-dir", str(synthetic_data_dir),
         "--n-train", N_TRAIN, "--epochs", "100000", "--eval-every", "1",
         "--metrics", "m.jsonl"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    first = proc.stderr.readline()  # training has started: epoch 1 was tested and logged
    assert first.startswith(" I:0 Train-Err:"), first
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    errors = [line for line in err.splitlines() if not BOOK_LINE.match(line)]
    run = gdcli.load(tmp_path / "weights.npz")
    epoch = run.summary["interrupted_at"]
    assert epoch >= 1 and len(run.history) == epoch == run.summary["epochs"]
    assert errors == [
        f"error: {name} after epoch {epoch} of 100000: its weights and history were written to "
        "weights.npz and m.jsonl; nothing half-written was left behind",
        "hint: `gdcli train --resume weights.npz` continues it",
    ]
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines == run.history
    assert out == "" and sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl", "weights.npz"]


def test_a_signal_before_an_epoch_finished_leaves_nothing(tmp_path, synthetic_data_dir):
    """Ctrl-C in the first epoch: there is no finished epoch to keep, and nothing is written."""
    proc = subprocess.Popen(
        cli_command("train", "--data-dir", str(synthetic_data_dir), "--n-train", N_TRAIN,
                    "--epochs", "3", "--hidden", "4000", "--augment", "shifts",
                    "--metrics", "m.jsonl"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    time.sleep(1.0)  # importing, loading or in its first epoch (of 5,000 large steps)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == [
        "error: interrupted (SIGINT); nothing half-written was left behind"
    ]
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- output paths and the disk


@pytest.mark.parametrize("option", ["--out", "--metrics"])
def test_an_output_that_is_a_folder_is_refused_before_training(
    tmp_path, synthetic_data_dir, option
):
    (tmp_path / "runs").mkdir()
    # 100000 epochs: if the check came after training, the run would time out.
    result = train(tmp_path, synthetic_data_dir, "--epochs", "100000", option, "runs",
                   timeout=60)  # fmt: skip
    assert_one_line_error(result, 2, f"{option} runs: is a folder")
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.parametrize(
    ("target", "needle"),
    [("notes.txt/w.npz", "notes.txt is not a folder"), ("/dev/null", "not a regular file")],
)
def test_an_output_that_cannot_be_a_file_is_refused_before_training(
    tmp_path, synthetic_data_dir, target, needle
):
    (tmp_path / "notes.txt").write_text("keep me\n")
    result = train(tmp_path, synthetic_data_dir, "--epochs", "100000", "--out", target,
                   timeout=60)  # fmt: skip
    assert_one_line_error(result, 2, needle)
    assert (tmp_path / "notes.txt").read_text() == "keep me\n"


def test_the_same_file_for_weights_and_metrics_is_refused(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--out", "a.npz", "--metrics", "./a.npz")
    assert_one_line_error(result, 2, "is the --out file")


def test_missing_output_folders_are_created(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--epochs", "2", "--out", "runs/a/w.npz",
                   "--metrics", "runs/b/m.jsonl", "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs/a/w.npz").is_file() and (tmp_path / "runs/b/m.jsonl").is_file()


@pytest.fixture
def small_fs(tmp_path: Path):
    """Mount a small tmpfs (root only); yields a function that mounts one at a folder."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        if os.geteuid() != 0:
            pytest.skip("needs root to mount a small tmpfs (a real full / read-only disk)")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:  # lazily: a file still open there must not keep the mount
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def fill(folder: Path) -> None:
    """Fill the file system of `folder` to the last byte."""
    with open(folder / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_read_only_place_is_refused_before_training(tmp_path, synthetic_data_dir, small_fs):
    ro = small_fs("ro", "size=1m,ro")
    result = train(tmp_path, synthetic_data_dir, "--epochs", "100000", "--out",
                   str(ro / "w.npz"), timeout=60)  # fmt: skip
    assert_one_line_error(result, 2, "cannot write there: Read-only file system")


def test_a_full_disk_for_the_weights_is_one_line_and_leaves_nothing(
    tmp_path, synthetic_data_dir, small_fs
):
    full = small_fs("full", "size=64k")
    fill(full)
    result = train(tmp_path, synthetic_data_dir, "--epochs", "2", "--out", str(full / "w.npz"),
                   "--metrics", "m.jsonl", "-q")  # fmt: skip
    assert_one_line_error(result, 1, f"cannot write {full / 'w.npz'}", "no space left on device")
    assert [p.name for p in full.iterdir()] == ["filler"]
    assert not (tmp_path / "m.jsonl").exists()  # the weights come first; nothing after them


def test_a_full_disk_for_the_metrics_keeps_the_weights(tmp_path, synthetic_data_dir, small_fs):
    full = small_fs("full", "size=64k")
    fill(full)
    result = train(tmp_path, synthetic_data_dir, "--epochs", "2", "--metrics",
                   str(full / "m.jsonl"), "-q")  # fmt: skip
    assert_one_line_error(result, 1, f"cannot write {full / 'm.jsonl'}", "no space left on device")
    assert "the weights were written to weights.npz" in result.stderr
    assert [p.name for p in full.iterdir()] == ["filler"]
    ev = run_cli("evaluate", "--data-dir", str(synthetic_data_dir), "--json", cwd=tmp_path)
    assert ev.returncode == 0 and strict_json(ev.stdout)["accuracy"] > 0.5
