"""Run folders (`train --run-dir`), one file claimed by one train, `gdcli runs`, `gdcli sweep`.

Mechanics on the synthetic data, 1-2 epochs. Processes where the process matters: two trains
at once, the sweep's children side by side, Ctrl-C stopping them.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli_command, cli_env, run_cli, run_cli_process

from gdcli.config import DEFAULTS, TrainConfig, load_config
from gdcli.errors import UsageError
from gdcli.experiments import folders, grid
from gdcli.experiments.config_file import config_toml
from gdcli.experiments.naming import differences, run_label
from gdcli.experiments.pool import Job, Pool
from gdcli.experiments.table import read_runs, sort_runs
from gdcli.io.atomic import claim, is_claimed, lock_name

QUICK = ("--epochs", "2", "--quiet")


def train(tmp_path: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("train", "--data-dir", str(data), *QUICK, *args, cwd=tmp_path)


# ---------------------------------------------------------------------------- run folders


def test_a_run_folder_resumed_keeps_its_metrics_and_summary(tmp_path, synthetic_data_dir):
    first = train(tmp_path, synthetic_data_dir, "--n-train", "100", "--val", "20", "--run-dir",
                  "runs")  # fmt: skip
    assert first.returncode == 0, first.stderr
    folder = next((tmp_path / "runs").iterdir())
    result = run_cli("train", "--resume", str(folder / "weights.npz"), "--epochs", "3",
                     "--data-dir", str(synthetic_data_dir), "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["name"] == folder.name
    assert summary["settings"] == {"epochs": 2, "n_train": 100, "val": 20}  # as it was named
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 3
    both = run_cli("train", "--resume", str(folder / "weights.npz"), "--run-dir", "runs",
                   cwd=tmp_path)  # fmt: skip
    assert_one_line_error(both, 2, "--resume cannot go with it")


def test_run_dir_holds_the_run_and_its_config_loads_back(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--alpha", "0.001", "--run-dir", "runs",
                   "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    folder = tmp_path / "runs" / "1-alpha0.001-epochs2"
    assert out["run_dir"] == "runs/1-alpha0.001-epochs2" and out["name"] == folder.name
    assert sorted(p.name for p in folder.iterdir()) == sorted(folders.FILES)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["test_accuracy"] == out["test_accuracy"]
    assert summary["settings"] == {"alpha": 0.001, "epochs": 2}
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 2
    # the config file is the whole configuration, and --config runs the same run again
    assert load_config(folder / "config.toml") == TrainConfig(alpha=0.001, epochs=2).to_dict()
    again = run_cli("train", "--config", str(folder / "config.toml"), "--data-dir",
                    str(synthetic_data_dir), "--quiet", "--json", "--out", "w.npz",
                    cwd=tmp_path)  # fmt: skip
    assert json.loads(again.stdout)["test_accuracy"] == out["test_accuracy"]
    # best holds out 10,000 validation images; the synthetic set has 1,000 in all
    second = train(tmp_path, synthetic_data_dir, "--config", "best", "--n-train", "800", "--val",
                   "200", "--run-dir", "runs")  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "runs" / "2-best-n_train800-epochs2-val200" / "weights.npz").is_file()
    assert "runs/" not in second.stdout  # paths go to stderr (docs/commands.md)


def test_run_dir_refuses_out_and_bad_folders(tmp_path, synthetic_data_dir):
    result = train(tmp_path, synthetic_data_dir, "--run-dir", "runs", "--out", "w.npz")
    assert_one_line_error(result, 2, "--run-dir", "--out")
    (tmp_path / "file").write_text("x")
    result = train(tmp_path, synthetic_data_dir, "--run-dir", "file")
    assert_one_line_error(result, 2, "file", "not a folder")
    result = train(tmp_path, synthetic_data_dir, "--run-dir", "runs", "--alpha", "-1")
    assert_one_line_error(result, 2, "alpha")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_failed_run_says_so_in_its_folder(tmp_path):
    result = run_cli("train", *QUICK, "--data-dir", str(tmp_path / "nothing"), "--run-dir", "r",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 1
    (record,) = read_runs(tmp_path / "r")
    assert record.status == "failed" and "gdcli fetch" in result.stderr + (record.error or "")


def test_names_say_what_differs_and_only_safe_characters():
    cfg = TrainConfig(alpha=0.1, hidden=(128, 64), freeze_inputs="0-27,700-783", bias=True)
    assert run_label(differences(cfg, DEFAULTS)) == (
        "alpha0.1-freeze_inputs0-27_700-783-bias" + "true-hidden128_64"
    )
    assert run_label({}) == "defaults" and run_label({}, "best") == "best"
    assert len(run_label({"freeze_inputs": "0," * 200})) <= 80
    assert run_label({"snapshots": "a/b c"}) == "snapshotsa_b_c"


def test_config_toml_round_trips_awkward_values(tmp_path):
    cfg = TrainConfig(alpha=1e-05, hidden=(40,), errata=(), snapshots="0,1", init_scale=(0.1, 0.2))
    path = tmp_path / "c.toml"
    path.write_text(config_toml(cfg, 'a "comment"\non two lines'))
    assert TrainConfig(**load_config(path)) == cfg
    import tomllib

    from gdcli.experiments.config_file import toml_string

    text = 'q"\\\n\x7f\x01é\t'
    assert tomllib.loads(f"v = {toml_string(text)}")["v"] == text


MAKE_FOLDERS = """
import sys
from pathlib import Path
from gdcli.experiments.folders import new_run_folder
for _ in range(int(sys.argv[2])):
    print(new_run_folder(Path(sys.argv[1]), sys.argv[3]).name)
"""


def test_folders_made_at_once_by_several_processes_never_collide(tmp_path):
    command = [sys.executable, "-c", MAKE_FOLDERS, str(tmp_path), "15"]
    procs = [
        subprocess.Popen([*command, label], stdout=subprocess.PIPE, text=True, env=cli_env())
        for label in ("a", "b", "c")
    ]
    names = [line for p in procs for line in p.communicate(timeout=60)[0].split()]
    assert all(p.returncode == 0 for p in procs)
    numbers = sorted(folders.run_number(n) for n in names)
    assert numbers == list(range(1, 46))
    assert sorted(os.listdir(tmp_path)) == sorted(names)  # no claimed number left behind


def test_two_trains_started_together_get_two_folders(tmp_path, synthetic_data_dir):
    args = ("train", "--data-dir", str(synthetic_data_dir), *QUICK, "--run-dir", "runs")
    procs = [subprocess.Popen(cli_command(*args), cwd=tmp_path, env=cli_env(),
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    assert [p.wait(60) for p in procs] == [0, 0]
    assert sorted(os.listdir(tmp_path / "runs")) == ["1-epochs2", "2-epochs2"]


# ------------------------------------------------------------------- one writer per file


def test_a_claimed_file_is_refused_to_a_second_claimant(tmp_path):
    target = tmp_path / "new" / "w.npz"
    with claim(target, "weights file"):
        assert is_claimed(target) and lock_name(target).exists()
        busy = pytest.raises(UsageError, match=f"being written by process {os.getpid()}")
        with busy, claim(target, "weights file"):
            pass
    assert not is_claimed(target) and not (tmp_path / "new").exists()  # nothing left
    with claim(target):
        pass


def test_a_second_train_into_a_busy_weights_file_is_refused(tmp_path, synthetic_data_dir):
    """Two trains into one weights.npz: the second is refused at once (exit 2, nothing written),
    instead of both reporting success and the file holding one of them."""
    first = subprocess.Popen(
        cli_command("train", "--data-dir", str(synthetic_data_dir), "--epochs", "100000",
                    "--quiet", "--snapshots", "none", "--out", "w.npz"),
        cwd=tmp_path, env=cli_env(), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not lock_name(tmp_path / "w.npz").exists():
            assert first.poll() is None and time.monotonic() < deadline, first.stderr
            time.sleep(0.05)
        second = run_cli_process("train", "--data-dir", str(synthetic_data_dir), *QUICK,
                                 "--out", "w.npz", cwd=tmp_path)  # fmt: skip
        assert_one_line_error(second, 2, "w.npz is being written by process", str(first.pid))
        assert "--run-dir" in second.stderr
        assert not (tmp_path / "w.npz").exists()
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
    assert first.returncode == 143
    third = train(tmp_path, synthetic_data_dir, "--out", "w.npz")
    assert third.returncode == 0 and (tmp_path / "w.npz").is_file()
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]


# ---------------------------------------------------------------------------- gdcli runs


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory, synthetic_data_dir) -> Path:
    """A folder of three runs: alpha 0.001 and 0.01 (done), 1.0 (diverged)."""
    base = tmp_path_factory.mktemp("three-runs")
    for alpha in ("0.001", "0.01", "1.0"):
        train(base, synthetic_data_dir, "--alpha", alpha, "--run-dir", "runs")
    return base / "runs"


def test_runs_table_and_json(three_runs):
    result = run_cli("runs", str(three_runs))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "1-alpha0.001-epochs2" in line)
    assert "alpha=0.001" in row and "done" in row and "72.50%" in row
    assert "diverged" in next(line for line in lines if "3-alpha1.0" in line)
    runs = json.loads(run_cli("runs", str(three_runs), "--json").stdout)["runs"]
    assert [r["status"] for r in runs] == ["done", "done", "diverged"]
    assert [r["settings"] for r in runs] == [{"alpha": a} for a in (0.001, 0.01, 1.0)]
    assert runs[0]["val_accuracy"] is None and runs[0]["best_test_accuracy"] == 0.725


def test_runs_sorted_by_a_column(three_runs):
    def order(*args: str) -> list[str]:
        out = json.loads(run_cli("runs", str(three_runs), "--json", *args).stdout)
        return [r["name"].split("-")[0] for r in out["runs"]]

    assert order("--sort", "test") == ["2", "1", "3"]  # best first, no figure last
    assert order("--sort", "test", "--reverse") == ["1", "2", "3"]
    assert order("--sort", "alpha", "--reverse") == ["3", "2", "1"]
    assert_one_line_error(run_cli("runs", str(three_runs), "--sort", "colour"), 2, "colour")


def test_runs_of_a_missing_or_empty_folder(tmp_path):
    assert_one_line_error(run_cli("runs", str(tmp_path / "no")), 2, "no run folder")
    assert run_cli("runs", str(tmp_path)).stdout.strip() == f"no runs in {tmp_path}"
    (tmp_path / "4-x").mkdir()
    (tmp_path / "4-x" / "summary.json").write_text("[1, 2")
    (record,) = read_runs(tmp_path)
    assert record.status == "unreadable" and "not a run's summary" in record.error
    assert sort_runs([record], "best_val") == [record]


# ---------------------------------------------------------------------------- gdcli sweep


@pytest.mark.parametrize(
    ("axes", "needle"),
    [
        (["colour=1,2"], "unknown key 'colour'"),
        (["alpha="], "alpha= has no values"),
        (["alpha=0.1,,0.2"], "an empty value"),
        (["alpha=fast"], "alpha is a number, got 'fast'"),
        (["epochs=2.5"], "epochs is a whole number"),
        (["bias=maybe"], "bias is true or false"),
        (["alpha=0.1,0.1"], "given twice"),
        (["alpha=0.1", "alpha=0.2"], "swept twice"),
        (["alpha"], "is not KEY=VALUES"),
        (["hidden=[40"], "a [ without its ]"),
        (["alpha=0.1,-1"], "the run alpha=-1.0: alpha must be a positive number"),
        (["dropout=0.5"], "the run dropout=0.5: --dropout drops hidden units"),
        (["seed=" + ",".join(map(str, range(1001)))], "1,001 runs, more than 1,000"),
        ([], "nothing to sweep"),
    ],
)
def test_sweep_bad_input_starts_nothing(tmp_path, axes, needle):
    result = run_cli("sweep", *axes, "--run-dir", "runs", cwd=tmp_path)
    assert_one_line_error(result, 2, needle)
    assert list(tmp_path.iterdir()) == []


def test_over_a_thousand_runs_points_at_print_commands(tmp_path):
    result = run_cli("sweep", "seed=" + ",".join(map(str, range(1001))), cwd=tmp_path)
    assert "hint: --print-commands" in result.stderr
    printed = run_cli("sweep", "seed=" + ",".join(map(str, range(1001))), "--print-commands")
    assert printed.returncode == 0 and len(printed.stdout.splitlines()) == 1001


def test_grid_values_are_typed_and_combined_in_order():
    axes = grid.parse_axes(["alpha=0.1,1e-3", "hidden=[],40,[128,64]", "freeze_inputs=[0-2,5]"])
    assert [a.values for a in axes] == [(0.1, 0.001), ((), (40,), (128, 64)), ("0-2,5",)]
    combos = list(grid.combinations(axes))
    assert len(combos) == grid.grid_size(axes) == 6
    assert combos[1] == {"alpha": 0.1, "hidden": (40,), "freeze_inputs": "0-2,5"}


def test_print_commands_are_complete_and_run(tmp_path, synthetic_data_dir):
    # best holds out 10,000 validation images: the synthetic set has 1,000 in all
    result = run_cli("sweep", "--config", "best", "alpha=0.05,0.1", "hidden=[],40", "epochs=1",
                     "n_train=800", "val=200", "--run-dir", "r", "--data-dir",
                     str(synthetic_data_dir), "--print-commands",
                     cwd=tmp_path)  # fmt: skip
    lines = result.stdout.splitlines()
    assert len(lines) == 4 and list(tmp_path.iterdir()) == []
    assert lines[0] == (
        f"gdcli train --config best --alpha 0.05 --hidden '' --epochs 1 --n-train 800 --val 200 "
        f"--run-dir r "
        f"--data-dir {shlex.quote(str(synthetic_data_dir))}"
    )
    args = shlex.split(lines[3])
    assert run_cli(*args[1:], "--quiet", cwd=tmp_path).returncode == 0
    (record,) = read_runs(tmp_path / "r")
    assert (
        record.name == "1-best-n_train800-epochs1-val200-hidden40"
    )  # best has alpha 0.1 and record.status == "done"


SLEEPER = "import sys, time; print(time.time()); time.sleep(0.6); print(time.time())"


def test_pool_runs_at_most_n_at_a_time_and_reads_progress(tmp_path):
    jobs = [Job([sys.executable, "-c", SLEEPER]) for _ in range(4)]
    reporter = (
        "import os, json; fd = int(os.environ['GDCLI_PROGRESS_FD']);"
        'os.write(fd, b\'{"run_dir": "r/1-x"}\\n{"epoch": 3, "epochs": 5}\\n\');'
        "import sys; sys.stderr.write('error: it broke\\n'); sys.exit(1)"
    )
    jobs.append(Job([sys.executable, "-c", reporter]))
    Pool(jobs, workers=2, env=cli_env()).run()
    spans = [tuple(map(float, j._out.split())) for j in jobs[:4]]
    assert [j.state for j in jobs] == ["done"] * 4 + ["failed"]
    at_once = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
    assert at_once == 2  # two side by side, never three
    assert (jobs[4].run_dir, jobs[4].epoch, jobs[4].epochs) == ("r/1-x", 3, 5)
    assert jobs[4].error == "it broke"


def test_sweep_runs_in_parallel_records_divergence_and_plots(tmp_path, synthetic_data_dir):
    from PIL import Image

    result = run_cli_process("sweep", "alpha=0.01,1.0", "epochs=2", "--jobs", "2",
                             "--data-dir", str(synthetic_data_dir), "--json",
                             cwd=tmp_path, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [r["status"] for r in out["runs"]] == ["done", "diverged"]
    assert out["runs"][0]["command"].startswith("gdcli train --alpha 0.01 --epochs 2")
    assert out["record"] == "runs/sweep-1.json" and out["plot"] == "runs/sweep-1.png"
    with Image.open(tmp_path / "runs" / "sweep-1.png") as im:
        assert im.format == "PNG" and im.width > 400
    # a plain line when each run starts and ends (no terminal here)
    assert "[2/2] alpha=1.0 epochs=2: diverged at epoch 1" in result.stderr
    runs = json.loads(run_cli("runs", str(tmp_path / "runs"), "--json").stdout)["runs"]
    assert sorted(r["status"] for r in runs) == ["diverged", "done"]


def _alive(marker: str) -> list[int]:
    """Processes whose command line holds `marker`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return [p for p in pids if p != os.getpid()]


def test_ctrl_c_stops_every_child_and_keeps_the_finished_runs(tmp_path, synthetic_data_dir):
    runs = tmp_path / "runs-ctrl-c"
    sweep = subprocess.Popen(
        cli_command("sweep", "epochs=1,100000", "snapshots=none", "--jobs", "2", "--run-dir",
                    str(runs), "--data-dir", str(synthetic_data_dir)),
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lines = []
        while not any(": done" in line for line in lines):
            line = sweep.stderr.readline()
            assert line, (lines, sweep.poll())
            lines.append(line)
        time.sleep(0.5)  # the long run is well into its epochs
        sweep.send_signal(signal.SIGINT)
        _, stderr = sweep.communicate(timeout=60)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    assert sweep.returncode == 130, stderr
    assert "error: interrupted (SIGINT)" in stderr and "1 of 2 runs had finished" in stderr
    assert _alive(str(runs)) == []  # no child outlives the sweep
    records = read_runs(runs)
    assert [r.status for r in records] == ["done", "interrupted"] or [
        r.status for r in sorted(records, key=lambda r: r.settings.get("epochs", 0))
    ] == ["done", "interrupted"]
    done = next(r for r in records if r.status == "done")
    assert done.weights is not None and done.weights.is_file()
    record = json.loads((runs / "sweep-1.json").read_text())
    assert record["status"] == "interrupted"
    assert sorted(r["status"] for r in record["runs"]) == ["done", "stopped"]
