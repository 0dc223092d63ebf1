"""Hostile inputs, round two (issue 18): each kind of fault, through the CLI.

Where the process matters (FIFOs that would block, signals, memory limits, SIGKILL) the CLI
runs as a real subprocess through `run_process`, built on conftest's cli_command()/cli_env();
elsewhere through conftest's run_cli.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error, cli_command, cli_env, run_cli

import gdcli


def run_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`gdcli ARGS` as a real subprocess (a FIFO must not block it; its exit is what counts)."""
    return subprocess.run(
        cli_command(*args), capture_output=True, text=True, cwd=cwd, env=cli_env(env),
        timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory, synthetic_data_dir: Path) -> Path:
    """A small trained weights file (784-10, snapshots), with its metrics file beside it."""
    out = tmp_path_factory.mktemp("hostile") / "w.npz"
    result = run_cli(
        "train", "--data-dir", str(synthetic_data_dir), "--n-train", "100", "--epochs", "3",
        "--out", str(out), "--metrics", str(out.with_suffix(".jsonl")), "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


# ---------------------------------------------------------------- inputs that are not files


def test_a_fifo_is_refused_by_every_reader_without_blocking(tmp_path, fifo, weights):
    cases = [
        (["evaluate", str(fifo)], {}),
        (["plot", str(fifo), "--out", str(tmp_path / "c.png")], {}),
        (["predict", str(weights), "--image", str(fifo)], {}),
        (["train", "--config", str(fifo), "--out", str(tmp_path / "x.npz")], {}),
        (["train", "--out", str(tmp_path / "x.npz")], {"GDCLI_EXTRA_DATASETS": str(fifo)}),
    ]
    for args, env in cases:
        result = run_process(*args, env=env, timeout=30)
        assert_one_line_error(result, 2, str(fifo), "FIFO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_a_symlink_to_a_device_is_a_device(tmp_path):
    link = tmp_path / "m.jsonl"
    link.symlink_to("/dev/zero")
    result = run_process("plot", str(link), "--out", str(tmp_path / "c.png"), timeout=30)
    assert_one_line_error(result, 2, "m.jsonl is a device")


def test_an_input_larger_than_its_kind_can_be_is_refused_unread(tmp_path):
    from gdcli.io.paths import MAX_INPUT_BYTES

    big = tmp_path / "m.jsonl"
    with open(big, "wb") as f:  # sparse: costs no disk
        f.truncate(MAX_INPUT_BYTES["metrics file"] + 1)
    result = run_cli("plot", str(big), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 2, "more than a metrics file can be")


# ------------------------------------------------------------- outputs that are inputs


def _same(before: dict[Path, bytes]) -> None:
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path} was overwritten"


def test_predict_never_overwrites_its_picture(tmp_path, weights):
    from test_predict import draw

    picture = tmp_path / "mine.png"
    draw(3).save(picture)
    before = {picture: picture.read_bytes()}
    for option in ("--show-input", "--explain"):
        result = run_cli("predict", str(weights), "--image", str(picture), option, str(picture))
        assert_one_line_error(result, 2, f"{option} {picture} is the --image file")
    _same(before)


def test_train_never_overwrites_its_config(tmp_path, synthetic_data_dir):
    config = tmp_path / "c.toml"
    config.write_text("epochs = 1\nn_train = 50\n")
    before = {config: config.read_bytes()}
    for option in ("--out", "--metrics"):
        args = ["--out", str(tmp_path / "w.npz")] if option == "--metrics" else []
        result = run_cli("train", "--config", str(config), "--data-dir", str(synthetic_data_dir),
                         *args, option, str(config))  # fmt: skip
        assert_one_line_error(result, 2, f"{option} {config} is the --config file")
    _same(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_plot_and_report_never_overwrite_their_runs(tmp_path, weights):
    metrics = tmp_path / "m.svg"  # a metrics file, whatever its name says
    shutil.copy(weights.with_suffix(".jsonl"), metrics)
    run = tmp_path / "run.html"  # a weights file
    shutil.copy(weights, run)
    linked = tmp_path / "other.png"  # the same metrics file under a second name
    os.link(metrics, linked)
    before = {metrics: metrics.read_bytes(), run: run.read_bytes()}
    cases = [
        (["plot", str(metrics), "--out", str(metrics)], f"--out {metrics} is the run {metrics}"),
        (["plot", str(metrics), "--out", str(linked)], f"--out {linked} is the run {metrics}"),
        (["report", str(run), "--out", str(run)], f"--out {run} is the run {run}"),
    ]
    for args, needle in cases:
        assert_one_line_error(run_cli(*args), 2, needle)
    _same(before)


def test_visualize_weights_never_overwrites_the_weights_file(tmp_path, weights):
    grid = tmp_path / "grid.png"  # the weights file, named as a picture the command writes
    shutil.copy(weights, grid)
    gif = tmp_path / "w.gif"
    shutil.copy(weights, gif)
    before = {grid: grid.read_bytes(), gif: gif.read_bytes()}
    result = run_cli("visualize-weights", str(grid), "--out-dir", str(tmp_path))
    assert_one_line_error(result, 2, f"{grid} is the weights file")
    result = run_cli("visualize-weights", str(gif), "--out-dir", str(tmp_path / "o"),
                     "--animate", str(gif))  # fmt: skip
    assert_one_line_error(result, 2, f"--animate {gif} is the weights file")
    _same(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "w.gif"]


# ------------------------------------------------------------------------- early signals


def _catches(pid: int, signum: int) -> bool:
    """Whether process `pid` has a handler for `signum` (its SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(mask, 16) >> (signum - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_at_any_early_instant_is_one_line(tmp_path, synthetic_data_dir, signum):
    """From the moment gdcli's handler is installed (Python does not catch SIGTERM, so a caught
    SIGTERM is gdcli's), a signal while importing, loading or training is one line, 130/143."""
    args = ["train", "--data-dir", str(synthetic_data_dir), "--epochs", "100000",
            "--out", str(tmp_path / "w.npz"), "-q"]  # fmt: skip
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.25, 0.4, 0.7, 1.5):
        proc = subprocess.Popen(cli_command(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=cli_env())  # fmt: skip
        deadline = time.monotonic() + 30
        while not _catches(proc.pid, signal.SIGTERM) and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == 128 + signum, (delay, proc.returncode, err)
        assert lines and lines[0].startswith("error: "), (delay, err)
        assert "Traceback" not in err
        # nothing, or (once an epoch has finished) the whole file of the last one, and a hint
        files = [p.name for p in tmp_path.iterdir()]
        assert files in ([], ["w.npz"]), (delay, files)
        if files:
            assert gdcli.load(tmp_path / "w.npz").summary["interrupted_at"] >= 1
            assert len(lines) == 2 and lines[1].startswith("hint: "), (delay, err)
            (tmp_path / "w.npz").unlink()
        else:
            assert len(lines) == 1, (delay, err)


# ------------------------------------------------------- sizes bounded before allocation


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--hidden", "1024", "--n-train", "10", "--snapshots", "0-320", "--epochs", "320"],
         ["the weights file would hold 1.05 GB", "at most 1.00 GB"]),
        (["--hidden", "1000000000"], ["the weights file would hold", "TB"]),
        (["--hidden", "9223372036854775807"], ["the weights file would hold"]),
        (["--snapshots", "0-100000000000", "--epochs", "100000000000"],
         ["names 100,000,000,001 epochs; at most 10,000"]),
        (["--hidden", ",".join(["5"] * 70)], ["70 hidden layers", "at most 63"]),
    ],
)  # fmt: skip
def test_what_train_would_write_is_checked_against_the_reader_first(tmp_path, args, needles):
    started = time.monotonic()
    result = run_cli("train", *args, "--out", str(tmp_path / "w.npz"))
    assert_one_line_error(result, 2, *needles)
    assert time.monotonic() - started < 20  # refused before anything was expanded or trained
    assert list(tmp_path.iterdir()) == []


def test_a_file_train_writes_at_the_limit_reads_back(tmp_path, synthetic_data_dir):
    from gdcli import sizes
    from gdcli.config import TrainConfig

    # The largest snapshot count a 784-1024-10 network may keep, by the estimator, is written
    # and read back (the estimate is never smaller than the file).
    cfg = TrainConfig(hidden=(1024,), n_train=10, epochs=3, snapshots="0-3")
    est = sizes.estimate(cfg, 10, 200, 4)
    out = tmp_path / "w.npz"
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--hidden", "1024",
                     "--n-train", "10", "--epochs", "3", "--snapshots", "0-3", "--out", str(out),
                     "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    import zipfile

    with zipfile.ZipFile(out) as zf:
        held = sum(i.file_size for i in zf.infolist())
    assert held <= est.file < 1.2 * held
    assert run_cli("evaluate", str(out), "--data-dir", str(synthetic_data_dir)).returncode == 0


AS_LIMIT = str(2_000_000_000)


def run_limited(*args: str, limit: str = AS_LIMIT, **kw) -> subprocess.CompletedProcess[str]:
    """gdcli under an address-space limit (prlimit --as), as a real subprocess."""
    if shutil.which("prlimit") is None:
        pytest.skip("needs prlimit (util-linux) to limit a subprocess's memory")
    return subprocess.run(["prlimit", f"--as={limit}", *cli_command(*args)], capture_output=True,
                          text=True, env=cli_env(), timeout=120, **kw)  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [
        ["--hidden", "100000", "--snapshots", "none"],
        ["--n-train", "60000", "--batch-size", "60000", "--hidden", "1000"],
        ["--hidden", "256", "--n-train", "10", "--snapshots", "0-1200", "--epochs", "1200"],
    ],
)
def test_what_would_not_fit_in_memory_is_refused_in_one_line(tmp_path, synthetic_data_dir, args):
    result = run_limited("train", "--data-dir", str(synthetic_data_dir), *args,
                         "--out", str(tmp_path / "w.npz"))  # fmt: skip
    assert_one_line_error(result, 2, "would take about", "GB of memory", "is available")
    assert list(tmp_path.iterdir()) == []


def test_a_run_that_fits_runs_under_the_same_limit(tmp_path, synthetic_data_dir):
    result = run_limited("train", "--data-dir", str(synthetic_data_dir), "--hidden", "40",
                         "--epochs", "2", "--out", str(tmp_path / "w.npz"), "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_out_of_memory_is_one_line_exit_1(monkeypatch, capsys, weights, synthetic_data_dir):
    import importlib

    app_module = importlib.import_module("gdcli.cli.app")  # gdcli.cli.app is also the Typer app
    api_module = importlib.import_module("gdcli.api")  # what `gdcli evaluate` computes with

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(api_module, "evaluate_network", exhausted)
    with pytest.raises(SystemExit) as exit_info:
        app_module.main(["evaluate", str(weights), "--data-dir", str(synthetic_data_dir)])
    assert exit_info.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        "error: out of memory while running `gdcli evaluate`; nothing half-written was left behind"
    )
    assert len(lines) == 2 and lines[1].startswith("hint: ")


def test_evaluation_runs_in_bounded_chunks_with_the_same_figures(monkeypatch):
    import tracemalloc

    import numpy as np

    from gdcli import sizes
    from gdcli.nn.model import new_network

    rng = np.random.RandomState(0)
    net = new_network([784, 5000, 10], ["relu", "linear"], scales=[0.1, 0.1], rng=rng)
    x = rng.random_sample((2000, 784))
    whole = net.predict(x)  # 2000 x 5000 activations at once: 80 MB
    monkeypatch.setattr(sizes, "EVAL_CHUNK_BYTES", 4 << 20)
    tracemalloc.start()
    chunked = net.predict(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.allclose(chunked, whole, rtol=1e-12, atol=0)
    assert peak < 20e6, peak


def test_snapshots_are_read_only_when_drawn(tmp_path):
    import tracemalloc

    import numpy as np

    from gdcli.io import weights_file
    from gdcli.nn.model import new_network

    rng = np.random.RandomState(0)
    net = new_network([784, 10], ["linear"], scales=[0.1], rng=rng)
    snaps = {e: [rng.random_sample((784, 10)).astype(np.float32)] for e in range(0, 2001, 2)}
    path = tmp_path / "w.npz"
    weights_file.save(path, weights_file.WeightsFile(net, {}, [], snaps))
    tracemalloc.start()
    wf = weights_file.load(path)  # 1001 snapshots: 31 MB once decompressed
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5e6, peak
    assert len(wf.snapshots) == 1001 and 2000 in wf.snapshots and 1 not in wf.snapshots
    assert np.array_equal(wf.snapshots[1000][0], snaps[1000][0])
    got = dict(weights_file.snapshot_frames(wf.snapshots, [0, 998, 2000]))
    assert all(np.array_equal(got[e][0], snaps[e][0]) for e in (0, 998, 2000))


def test_an_animation_of_many_snapshots_is_bounded_and_says_so(tmp_path, synthetic_data_dir):
    from PIL import Image

    from gdcli.viz.weights_figure import MAX_FRAMES

    out = tmp_path / "w.npz"
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "20",
                     "--epochs", "300", "--snapshots", "0-300", "--out", str(out),
                     "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    gif = tmp_path / "e.gif"
    result = run_limited("visualize-weights", str(out), "--out-dir", str(tmp_path / "v"),
                         "--animate", str(gif))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"the animation shows {MAX_FRAMES} of the 301 snapshots" in result.stderr
    with Image.open(gif) as img:
        assert img.n_frames == MAX_FRAMES
        img.seek(MAX_FRAMES - 1)
        img.convert("RGB").load()  # every frame decodes
    report = tmp_path / "r.html"
    result = run_limited("report", str(out), "--out", str(report), "--data-dir",
                         str(synthetic_data_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr
    # the report's animation: at most MAX_FRAMES too, fewer when the page's bound needs it
    page = report.read_text()
    shown = re.search(r"The animation shows (\d+) of the 301 snapshots", page)
    assert shown and int(shown[1]) <= MAX_FRAMES and len(page.encode()) <= 3_000_000


# ------------------------------------------------------------- messages that tell the truth


def test_as_is_checks_the_size_before_decoding(tmp_path, weights):
    from PIL import Image

    big = tmp_path / "big.png"
    Image.new("RGBA", (8000, 8000), (0, 0, 0, 0)).save(big)
    started = time.monotonic()
    result = run_limited("predict", str(weights), "--image", str(big), "--as-is",
                         limit=str(700_000_000))  # fmt: skip
    assert_one_line_error(result, 2, "8000x8000 pixels; --as-is takes a 28x28 image")
    assert time.monotonic() - started < 20


def test_an_image_just_over_the_limit_says_by_how_much(tmp_path, weights):
    from PIL import Image

    over = tmp_path / "over.png"
    Image.new("L", (8001, 8000)).save(over)
    result = run_cli("predict", str(weights), "--image", str(over))
    assert_one_line_error(result, 2, "64.01 megapixels; gdcli reads images of at most 64")


def test_a_scale_that_is_not_a_normal_number_is_refused(tmp_path, weights):
    result = run_cli("visualize-weights", str(weights), "--out-dir", str(tmp_path / "v"),
                     "--scale-max", "1e-320")  # fmt: skip
    assert_one_line_error(result, 2, "--scale-max must be a positive number", "1e-320")
    assert not (tmp_path / "v").exists()


def test_plot_and_report_say_what_is_missing(tmp_path, weights, synthetic_data_dir):
    from gdcli.io import weights_file

    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_cli("plot", str(empty), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 2, "empty.jsonl has no training history (an empty metrics")
    wf = weights_file.load(weights)
    no_history = tmp_path / "h.npz"
    weights_file.save(no_history, weights_file.WeightsFile(wf.network, wf.meta, [], {}))
    result = run_cli("plot", str(no_history), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 2, "(a weights file whose history is empty)")
    assert "0.1" not in result.stderr
    none = tmp_path / "none.npz"
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "50",
                     "--epochs", "1", "--snapshots", "none", "--out", str(none), "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = run_cli("report", str(none), "--out", str(tmp_path / "r.html"),
                     "--data-dir", str(synthetic_data_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no weight snapshots (trained with snapshots = none)" in result.stderr
    assert "0.1" not in result.stderr


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ('{"epoch": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "line 1: JSON nested too"),
        ('{"epoch": 1, "train_error": 1e308}', "line 1: train_error 1e+308 is out of range"),
    ],
)
def test_metrics_lines_beyond_reason_are_one_line(tmp_path, line, needle):
    metrics = tmp_path / "m.jsonl"
    metrics.write_text(line + "\n")
    result = run_cli("plot", str(metrics), "--out", str(tmp_path / "c.png"))
    assert_one_line_error(result, 1, needle)
    assert not (tmp_path / "c.png").exists()


def test_a_truncated_download_is_said_in_words(tmp_path):
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"\x1f\x8b" * 5)

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/"
    try:
        result = run_cli("fetch", "--dataset", "synthetic", "--data-dir", str(tmp_path / "d"),
                         "--mirror", url, "--no-builtin-mirrors")  # fmt: skip
    finally:
        server.close()
    assert_one_line_error(result, 1, "the connection closed after 10 bytes, 990 more expected")
    assert "IncompleteRead" not in result.stderr


def test_a_diverged_run_says_which_file_is_which(tmp_path, synthetic_data_dir):
    out, metrics = tmp_path / "w.npz", tmp_path / "m.jsonl"
    out.write_bytes(b"an earlier run")
    result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--alpha", "0.3",
                     "--epochs", "50", "--out", str(out), "--metrics", str(metrics),
                     "-q")  # fmt: skip
    assert_one_line_error(result, 1, "diverged", f"{metrics} holds this run's epochs",
                          f"{out} is left from an earlier run")  # fmt: skip
    assert out.read_bytes() == b"an earlier run"


def test_relu2deriv_without_relu_is_refused(tmp_path):
    for args, why in ((["--errata", "relu2deriv"], "has no hidden layer"),
                      (["--errata", "relu2deriv", "--hidden", "8", "--hidden-activation", "tanh"],
                       "has tanh ones")):  # fmt: skip
        result = run_cli("train", *args, "--out", str(tmp_path / "w.npz"))
        assert_one_line_error(result, 2, "relu2deriv erratum is in relu's derivative", why)


# ------------------------------------------- folders, files and environment values misplaced


def test_a_folder_where_a_data_file_belongs_is_named(tmp_path, synthetic_files):
    (tmp_path / "synthetic" / "train-images-idx3-ubyte").mkdir(parents=True)
    result = run_cli("fetch", "--dataset", "synthetic", "--data-dir", str(tmp_path),
                     "--from", str(synthetic_files))  # fmt: skip
    assert_one_line_error(result, 2, "train-images-idx3-ubyte is a folder, where gdcli keeps")


def test_a_data_dir_that_is_a_file_is_said_to_be_one(tmp_path):
    data = tmp_path / "data"
    data.write_text("")
    for args in (["train"], ["fetch"]):
        result = run_cli(*args, env={"GDCLI_DATA_DIR": str(data)})
        assert_one_line_error(result, 2, "$GDCLI_DATA_DIR", "is a file, not a folder")


@pytest.mark.parametrize(
    ("name", "value", "args"),
    [
        ("GDCLI_BLAS_THREADS", "9" * 5000, ["train", "--epochs", "1"]),
        ("GDCLI_MIRROR", "http://a" + "b" * 100_000, ["fetch", "--dataset", "fashion-mnist"]),
        ("GDCLI_MIRROR", "http://a\nb/", ["fetch", "--dataset", "fashion-mnist"]),
    ],
)
def test_environment_values_are_checked_and_shown_cut(tmp_path, synthetic_data_dir, name,
                                                       value, args):  # fmt: skip
    if args[0] == "train":  # train reads the data (and checks BLAS threads) before it trains
        args = [*args, "--data-dir", str(synthetic_data_dir), "--out", str(tmp_path / "w.npz")]
    else:
        args = [*args, "--data-dir", str(tmp_path)]
    result = run_cli(*args, env={name: value})
    assert_one_line_error(result, 2, name)
    assert len(result.stderr.splitlines()[0]) < 250, result.stderr[:300]


WRITER = """
import sys, time
from pathlib import Path
from gdcli.io.atomic import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(bytes(1 << 20))
    print(tmp, flush=True)
    time.sleep(120)
"""


def test_a_killed_writers_temporary_is_removed_a_live_ones_never(tmp_path, synthetic_data_dir):
    import sys

    out = tmp_path / "w.npz"

    def writer() -> tuple[subprocess.Popen[str], Path]:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE,
                                text=True, env=cli_env())  # fmt: skip
        assert proc.stdout is not None
        return proc, Path(proc.stdout.readline().strip())

    live, live_tmp = writer()  # first: a writer removes what dead ones left, so a later one
    killed, killed_tmp = writer()  # would have removed this one's temporary already
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    try:
        assert killed_tmp.exists() and live_tmp.exists()  # SIGKILL skips every clean-up
        result = run_cli("train", "--data-dir", str(synthetic_data_dir), "--n-train", "50",
                         "--epochs", "1", "--out", str(out), "-q")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert not killed_tmp.exists()
        assert live_tmp.exists() and live_tmp.stat().st_size == 1 << 20
    finally:
        live.kill()
        live.wait(30)
    assert out.is_file()
