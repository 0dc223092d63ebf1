"""gdcli fetch against a real HTTP server on loopback that misbehaves: in-process, and as real
subprocesses where the process matters (killed mid-download, two fetches racing for the lock).

Every mechanic runs on the synthetic dataset (`--dataset synthetic`, defined for the session by
conftest's registry file); one test fetches the real MNIST when a copy is found.
"""

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import synthetic
from conftest import (
    MNIST_FILES,
    SYNTHETIC,
    Mirror,
    assert_one_line_error,
    cli_command,
    cli_env,
    run_cli,
)

from gdcli.data.fetch import LOCK_FILE, FetchError, fetch
from gdcli.data.load import load_split
from gdcli.data.registry import DATASETS

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"


def fetch_args(tmp_path, *args, dataset=SYNTHETIC):
    data = str(tmp_path / "data")
    return ("fetch", "--dataset", dataset, "--data-dir", data, "--no-builtin-mirrors", *args)


def fetch_cli(tmp_path, *args, env=None, dataset=SYNTHETIC, timeout=120):
    return run_cli(*fetch_args(tmp_path, *args, dataset=dataset), env=env, timeout=timeout)


def final_files(tmp_path, dataset=SYNTHETIC):
    """The dataset folder's files but the lock file (a temporary file would show up here)."""
    folder = tmp_path / "data" / dataset
    return (
        sorted(p.name for p in folder.iterdir() if p.name != LOCK_FILE) if folder.exists() else []
    )


def assert_fetch_error(result, *needles):
    """One error line, exit 1, naming the file being fetched and never a temporary file."""
    assert_one_line_error(result, 1, *needles)
    assert ".part" not in result.stderr, result.stderr


def sources(result):
    return {f["name"]: f["source"] for f in json.loads(result.stdout)["files"]}


@pytest.fixture
def quick_retries(monkeypatch):
    """Retries 1 ms apart (in-process runs), for tests where only what is retried matters;
    test_500_forever_fails_with_the_status keeps and checks the real backoff."""
    import gdcli.data.fetch

    monkeypatch.setattr(gdcli.data.fetch, "BACKOFF", 0.001)


# ------------------------------------------------------------------------- the happy path


def test_downloads_verifies_and_prepares(tmp_path, mirror, synthetic_content, synthetic_dataset):
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["name"] + ".gz" for f in report["files"]] == list(MNIST_FILES)
    assert all(f["verified"] and f["source"] == mirror.url for f in report["files"])
    assert report["prepared"] == {
        "train_images": [1000, 784], "train_labels": [1000, 10], "test_images": [200, 784],
    }  # fmt: skip
    assert final_files(tmp_path) == sorted(MNIST_FILES)  # no temporary file left
    for name, content in synthetic_content.items():  # byte for byte what was served
        assert (
            gzip.decompress((tmp_path / "data" / SYNTHETIC / f"{name}.gz").read_bytes()) == content
        )

    x, labels = load_split(synthetic_dataset, tmp_path / "data", "train", 1000)
    served = np.frombuffer(synthetic_content["train-labels-idx1-ubyte"][8:], np.uint8)
    assert labels.tolist() == served.tolist()
    assert x.dtype == np.float64 and x.shape == (1000, 784) and x.min() == 0.0

    # Run again: every file is present and verified, nothing is downloaded.
    mirror.requests.clear()
    again = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    assert again.returncode == 0
    assert set(sources(again).values()) == {"present"}
    assert mirror.requests == []


def test_table_on_stdout_nothing_on_stderr_when_quiet(tmp_path, mirror):
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--quiet")
    assert result.returncode == 0
    assert result.stderr == ""
    assert TRAIN_IMAGES in result.stdout and "prepared:" in result.stdout


def test_n_train_is_accepted_with_a_note_and_changes_nothing(tmp_path, mirror):
    """gdcli 0.2's `fetch --n-train` is accepted for a release: one note, the same output."""
    plain = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    old = fetch_cli(tmp_path, "--mirror", mirror.url, "--json", "--n-train", "5")
    assert plain.returncode == old.returncode == 0, old.stderr
    assert "--n-train" not in plain.stderr
    notes = [line for line in old.stderr.splitlines() if "--n-train" in line]
    assert notes == [
        "note: fetch --n-train has no effect and will be removed in gdcli 0.4; "
        "`gdcli train --n-train N` chooses the training images"
    ]
    assert json.loads(old.stdout)["prepared"] == json.loads(plain.stdout)["prepared"]
    assert json.loads(old.stdout)["prepared"]["train_images"] == [1000, 784]
    quiet = fetch_cli(tmp_path, "--mirror", mirror.url, "--quiet", "--n-train", "5")
    assert quiet.returncode == 0 and quiet.stderr == ""
    helped = run_cli("fetch", "--help")
    assert "--n-train" not in helped.stdout


def test_mirror_from_environment(tmp_path, mirror, dead_url, quick_retries):
    result = fetch_cli(tmp_path, "--json", env={"GDCLI_MIRROR": f"{dead_url},{mirror.url}"})
    assert result.returncode == 0, result.stderr
    assert set(sources(result).values()) == {mirror.url}


def test_system_copy_comes_before_mirrors(tmp_path, synthetic_files, dead_url):
    system = tmp_path / "system"
    shutil.copytree(synthetic_files, system / SYNTHETIC)
    result = fetch_cli(tmp_path, "--mirror", dead_url, "--json",
                       env={"GDCLI_SYSTEM_DATASETS": str(system)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert set(sources(result).values()) == {str(system / SYNTHETIC)}


def test_files_get_the_usual_mode(tmp_path, mirror):
    """0666 less the umask, as any new file: 0644 under 022, 0640 under 027 (not mkstemp's 0600)."""
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        old = os.umask(umask)
        try:
            result = fetch_cli(tmp_path / oct(umask), "--mirror", mirror.url)
        finally:
            os.umask(old)
        assert result.returncode == 0, result.stderr
        folder = tmp_path / oct(umask) / "data" / SYNTHETIC
        assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {oct(mode)}


# ------------------------------------------------------------------ mirrors that misbehave


def test_404_moves_to_next_mirror(tmp_path, mirror, synthetic_files):
    broken = Mirror(synthetic_files)
    broken.faults = {name: [404] for name in MNIST_FILES}
    try:
        result = fetch_cli(tmp_path, "--mirror", broken.url, "--mirror", mirror.url, "--json")
    finally:
        broken.close()
    assert result.returncode == 0, result.stderr
    assert set(sources(result).values()) == {mirror.url}


def test_500_twice_then_the_file(tmp_path, mirror, quick_retries):
    mirror.faults = {"train-labels-idx1-ubyte.gz": [500, 500]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    assert result.returncode == 0, result.stderr
    assert mirror.requests.count("train-labels-idx1-ubyte.gz") == 3


def test_500_forever_fails_with_the_status(tmp_path, mirror):
    mirror.faults = {TRAIN_IMAGES: [503] * 10}
    started = time.monotonic()
    result = fetch_cli(tmp_path, "--mirror", mirror.url)
    assert time.monotonic() - started >= 0.25 + 0.5 + 1.0  # backoff 0.25 s, doubled each time
    assert_fetch_error(result, TRAIN_IMAGES, "HTTP 503")
    assert mirror.requests.count(TRAIN_IMAGES) == 4  # the first try and 3 retries
    assert final_files(tmp_path) == []


def test_retry_after_an_hour_is_not_waited_for(tmp_path, mirror):
    mirror.faults = {TRAIN_IMAGES: [(503, 3600)] * 10}
    started = time.monotonic()
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--timeout", "1", timeout=60)
    assert time.monotonic() - started < 30  # generous: the fault is a sleep of an hour
    assert_fetch_error(result, TRAIN_IMAGES, "HTTP 503", "retry after 3600s")
    assert mirror.requests.count(TRAIN_IMAGES) == 1
    assert final_files(tmp_path) == []


def test_short_retry_after_is_honoured(tmp_path, mirror):
    mirror.faults = {TRAIN_IMAGES: [(503, 1)]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--timeout", "5", "--json")
    assert result.returncode == 0, result.stderr
    assert mirror.requests.count(TRAIN_IMAGES) == 2


def test_corrupt_byte_is_rejected_then_next_mirror(tmp_path, mirror, synthetic_files):
    bad = Mirror(synthetic_files)
    bad.faults = {"t10k-labels-idx1-ubyte.gz": ["corrupt"]}
    try:
        result = fetch_cli(tmp_path, "--mirror", bad.url, "--mirror", mirror.url, "--json")
    finally:
        bad.close()
    assert result.returncode == 0, result.stderr
    assert sources(result)["t10k-labels-idx1-ubyte"] == mirror.url
    assert sources(result)["train-images-idx3-ubyte"] == bad.url


def test_corrupt_byte_with_no_other_mirror_keeps_nothing(tmp_path, mirror):
    mirror.faults = {"train-labels-idx1-ubyte.gz": ["corrupt"]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url)
    assert_fetch_error(result, "could not get train-labels-idx1-ubyte.gz", mirror.url)
    assert final_files(tmp_path) == [TRAIN_IMAGES]  # the good first file stays; nothing else


def test_stall_past_read_timeout(tmp_path, mirror):
    mirror.faults = {TRAIN_IMAGES: ["stall", "stall"]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--timeout", "0.5")
    assert_fetch_error(result, TRAIN_IMAGES, "timed out after 0.5s")
    assert final_files(tmp_path) == []


@pytest.mark.parametrize("fault", ["forever", "huge"])
def test_endless_download_stops_at_the_files_size(tmp_path, mirror, synthetic_dataset, fault):
    """A server streaming without end (or announcing 1 TB) is cut off near the file's size."""
    mirror.faults = {TRAIN_IMAGES: [fault]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, timeout=60)
    assert_fetch_error(result, TRAIN_IMAGES, "more than the file can be")
    assert final_files(tmp_path) == []


def test_a_content_length_that_is_not_a_number_is_ignored(tmp_path, mirror):
    mirror.faults = {TRAIN_IMAGES: ["bad-length"]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    assert result.returncode == 0, result.stderr  # the file itself is whole and verifies
    assert final_files(tmp_path) == sorted(MNIST_FILES)


def test_no_mirror_reachable_lists_every_source(tmp_path, dead_url, quick_retries):
    other = dead_url.replace("127.0.0.1", "localhost")
    result = fetch_cli(tmp_path, "--mirror", dead_url, "--mirror", other)
    assert_fetch_error(result, f"{dead_url}: connection refused", other)
    hint = result.stderr.splitlines()[-1]
    assert all(s in hint for s in ("--mirror", "$GDCLI_MIRROR", "--from DIR", "fashion-mnist"))
    assert final_files(tmp_path) == []


def test_no_source_at_all_says_how_to_give_one(tmp_path):
    result = fetch_cli(tmp_path)
    assert_fetch_error(result, "no source to try")
    assert "--mirror" in result.stderr and "$GDCLI_MIRROR" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--mirror", "notaurl"], {}, "--mirror 'notaurl'"),
        (["--mirror", "ftp://example.org/mnist/"], {}, "--mirror 'ftp://"),
        (["--mirror", "http://"], {}, "--mirror 'http://'"),
        ([], {"GDCLI_MIRROR": "http://127.0.0.1:9/,notaurl"}, "$GDCLI_MIRROR entry 'notaurl'"),
    ],
)
def test_a_mirror_that_is_not_a_url_is_a_usage_error(tmp_path, args, env, needle):
    result = fetch_cli(tmp_path, *args, env=env)
    assert_one_line_error(result, 2, needle, "not an http:// or https:// base URL")
    assert final_files(tmp_path) == []


# ------------------------------------------------------------------------------- --from


def test_from_folder_gzipped_or_raw(tmp_path, synthetic_files):
    source = tmp_path / "src"
    source.mkdir()
    for name in MNIST_FILES:
        if name.startswith("t10k"):  # raw copies of the test files
            raw = gzip.decompress((synthetic_files / name).read_bytes())
            (source / name[:-3]).write_bytes(raw)
        else:
            shutil.copy(synthetic_files / name, source / name)
    result = fetch_cli(tmp_path, "--from", str(source), "--json")
    assert result.returncode == 0, result.stderr
    expected = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", *MNIST_FILES[:2]]
    assert final_files(tmp_path) == sorted(expected)


@pytest.fixture
def from_copy(tmp_path, synthetic_files):
    source = tmp_path / "src"
    shutil.copytree(synthetic_files, source)
    return source


def test_from_truncated_gzip(tmp_path, from_copy):
    target = from_copy / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_fetch_error(result, "train-labels-idx1-ubyte.gz", "truncated gzip")
    assert "train-labels-idx1-ubyte.gz" not in final_files(tmp_path)


def test_from_wrong_idx_magic(tmp_path, from_copy):
    target = from_copy / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(target.read_bytes()))
    data[0:4] = b"\x12\x34\x08\x01"
    target.write_bytes(gzip.compress(bytes(data)))
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_fetch_error(result, "t10k-labels-idx1-ubyte.gz", "not an IDX file")
    assert "t10k-labels-idx1-ubyte.gz" not in final_files(tmp_path)


def test_from_a_file_far_too_large(tmp_path, from_copy):
    """A raw copy padded to a few MB is refused by its size, before anything is copied."""
    raw = gzip.decompress((from_copy / TRAIN_IMAGES).read_bytes())
    (from_copy / TRAIN_IMAGES).unlink()
    (from_copy / TRAIN_IMAGES[:-3]).write_bytes(raw + bytes(4 << 20))
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_fetch_error(result, "train-images-idx3-ubyte", "more than")
    assert final_files(tmp_path) == []


def test_from_folder_missing_a_file(tmp_path, from_copy):
    (from_copy / "t10k-images-idx3-ubyte.gz").unlink()
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_fetch_error(result, "t10k-images-idx3-ubyte", "no t10k-images-idx3-ubyte.gz")


def test_from_folder_that_does_not_exist(tmp_path):
    assert_one_line_error(
        fetch_cli(tmp_path, "--from", str(tmp_path / "nope")), 2, "no such folder"
    )


def test_corrupt_local_copy_is_replaced(tmp_path, mirror):
    assert fetch_cli(tmp_path, "--mirror", mirror.url).returncode == 0
    target = tmp_path / "data" / SYNTHETIC / "train-labels-idx1-ubyte.gz"
    target.write_bytes(b"junk")
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    assert sources(result)["train-labels-idx1-ubyte"] == mirror.url
    assert sources(result)["train-images-idx3-ubyte"] == "present"


def test_stale_raw_copy_is_replaced_by_the_new_gz(tmp_path, mirror, synthetic_content):
    folder = tmp_path / "data" / SYNTHETIC
    folder.mkdir(parents=True)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"junk")
    result = fetch_cli(tmp_path, "--mirror", mirror.url)
    assert result.returncode == 0, result.stderr
    assert final_files(tmp_path) == sorted(MNIST_FILES)


def test_unknown_dataset_is_a_usage_error(tmp_path):
    result = fetch_cli(tmp_path, dataset="cifar")
    assert_one_line_error(result, 2, "unknown dataset 'cifar'", "mnist", SYNTHETIC)


# -------------------------------------------------------------- killed, racing, disk full


def start_fetch(tmp_path, *args):
    return subprocess.Popen(
        cli_command(*fetch_args(tmp_path, *args)), env=cli_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_download(tmp_path, proc, mirror):
    """Wait until `proc` is downloading the first file: the mirror has its request and the
    temporary file exists (it is created just before the request is sent)."""
    folder = tmp_path / "data" / SYNTHETIC
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if TRAIN_IMAGES in mirror.requests and any(p.suffix == ".part" for p in folder.iterdir()):
            return
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"the download never started: {proc.communicate()}")


def wait_until_waiting_for_the_lock(tmp_path, proc):
    """Wait until `proc` has the dataset folder's lock file open (Linux: /proc/PID/fd)."""
    lock = str(tmp_path / "data" / SYNTHETIC / LOCK_FILE)
    fds = f"/proc/{proc.pid}/fd"
    if not os.path.isdir(fds):
        time.sleep(3)  # no /proc: give it time to start
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError):
            if any(os.readlink(f"{fds}/{fd}") == lock for fd in os.listdir(fds)):
                return
        time.sleep(0.02)
    raise AssertionError("the second fetch never opened the lock file")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_leftover_of_a_killed_fetch_is_cleaned_by_the_next(tmp_path, mirror, sig):
    mirror.faults = {TRAIN_IMAGES: ["hold"]}
    proc = start_fetch(tmp_path, "--mirror", mirror.url)
    wait_for_download(tmp_path, proc, mirror)
    proc.send_signal(sig)
    proc.communicate(timeout=30)
    assert proc.returncode != 0
    if sig == signal.SIGKILL:  # nothing can clean up after SIGKILL: the next fetch must
        assert any(name.endswith(".part") for name in final_files(tmp_path))

    result = fetch_cli(tmp_path, "--mirror", mirror.url)
    assert result.returncode == 0, result.stderr
    assert final_files(tmp_path) == sorted(MNIST_FILES)


def test_two_fetches_at_once_take_turns(tmp_path, mirror):
    """The second waits for the first's lock, then finds every file present and verified."""
    mirror.faults = {TRAIN_IMAGES: ["hold"]}
    first = start_fetch(tmp_path, "--mirror", mirror.url, "--json")
    wait_for_download(tmp_path, first, mirror)
    second = start_fetch(tmp_path, "--mirror", mirror.url, "--json")
    wait_until_waiting_for_the_lock(tmp_path, second)
    mirror.release.set()  # the first finishes its download while the second waits
    _, err1 = first.communicate(timeout=120)
    out2, err2 = second.communicate(timeout=120)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert {f["source"] for f in json.loads(out2)["files"]} == {"present"}
    assert sorted(mirror.requests) == sorted(MNIST_FILES)  # each file downloaded once
    assert final_files(tmp_path) == sorted(MNIST_FILES)


def test_lock_wait_is_bounded(tmp_path, mirror, synthetic_dataset):
    mirror.faults = {TRAIN_IMAGES: ["hold"]}
    proc = start_fetch(tmp_path, "--mirror", mirror.url)
    try:
        wait_for_download(tmp_path, proc, mirror)
        with pytest.raises(FetchError, match=r"another gdcli fetch \(pid \d+\) has been writing"):
            fetch(synthetic_dataset, tmp_path / "data", mirrors=[mirror.url],
                  use_builtin_mirrors=False, lock_wait=0.3)  # fmt: skip
    finally:
        mirror.release.set()
        proc.communicate(timeout=120)
    assert proc.returncode == 0


def test_full_disk_while_downloading(tmp_path, mirror, small_disk):
    result = run_cli("fetch", "--dataset", SYNTHETIC, "--data-dir", str(small_disk),
                     "--no-builtin-mirrors", "--mirror", mirror.url)  # fmt: skip
    assert_fetch_error(result, f"cannot write {small_disk / SYNTHETIC / TRAIN_IMAGES}",
                       "no space left on device")  # fmt: skip
    assert sorted(p.name for p in (small_disk / SYNTHETIC).iterdir()) == [LOCK_FILE]


def test_full_disk_while_copying_from_a_folder(tmp_path, synthetic_content, small_disk):
    source = synthetic.write_files(tmp_path / "raw", synthetic_content, gz=False)
    result = run_cli("fetch", "--dataset", SYNTHETIC, "--data-dir", str(small_disk),
                     "--from", str(source))  # fmt: skip
    assert_fetch_error(result, "cannot write", "train-images-idx3-ubyte", "no space left")
    assert sorted(p.name for p in (small_disk / SYNTHETIC).iterdir()) == [LOCK_FILE]


# ------------------------------------------------------------------------ system copies


def test_train_reads_the_system_copy_without_fetch(tmp_path, synthetic_files):
    """`train --dataset fashion-mnist` finds Debian's copy ($GDCLI_SYSTEM_DATASETS) unfetched."""
    system = tmp_path / "system"
    shutil.copytree(synthetic_files, system / "fashion-mnist")  # stand-in files, same names
    result = run_cli("train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "empty"),
                     "--epochs", "3", "--json", cwd=tmp_path,
                     env={"GDCLI_SYSTEM_DATASETS": str(system)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test_accuracy"] > 0.5
    assert not (tmp_path / "empty").exists()  # read in place, nothing copied


@pytest.mark.skipif(
    not DATASETS["fashion-mnist"].system_dir.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_fashion_mnist_from_debian_copy(tmp_path, dead_url):
    result = fetch_cli(tmp_path, "--mirror", dead_url, "--json", dataset="fashion-mnist")
    assert result.returncode == 0, result.stderr
    assert set(sources(result).values()) == {"/usr/share/datasets/fashion-mnist"}


# --------------------------------------------------------------------------- real MNIST


def test_real_mnist_from_a_loopback_mirror(tmp_path, real_mirror):
    result = fetch_cli(tmp_path, "--mirror", real_mirror.url, "--json", dataset="mnist")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(sources(result).values()) == {real_mirror.url}
    assert report["prepared"]["test_images"] == [10000, 784]
    _, labels = load_split(DATASETS["mnist"], tmp_path / "data", "train", 10)
    assert labels.tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
