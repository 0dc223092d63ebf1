"""gdcli fetch against a real HTTP server on loopback serving the real MNIST files."""

import gzip
import json
import shutil

import numpy as np
import pytest
from conftest import MNIST_FILES, assert_one_line_error, run_cli

from gdcli.data import load_split
from gdcli.datasets import DATASETS


def fetch_cli(tmp_path, *args, env=None):
    return run_cli(
        "fetch", "--data-dir", str(tmp_path / "data"), "--no-builtin-mirrors", *args, env=env
    )


def final_files(tmp_path):
    folder = tmp_path / "data" / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_downloads_verifies_and_prepares(tmp_path, mirror):
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json", "--timeout", "10")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [f["name"] + ".gz" for f in report["files"]] == list(MNIST_FILES)
    assert all(f["verified"] and f["source"] == mirror.url for f in report["files"])
    assert report["prepared"] == {
        "train_images": [1000, 784], "train_labels": [1000, 10], "test_images": [10000, 784],
    }  # fmt: skip
    assert final_files(tmp_path) == sorted(MNIST_FILES)  # no temporary file left

    x, labels = load_split(DATASETS["mnist"], tmp_path / "data", "train", 1000)
    assert x.dtype == np.float64 and x.shape == (1000, 784)
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert x.min() == 0.0 and x.max() == 1.0

    # Run again: every file is present and verified, nothing is downloaded.
    mirror.requests.clear()
    again = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    assert again.returncode == 0
    assert {f["source"] for f in json.loads(again.stdout)["files"]} == {"present"}
    assert mirror.requests == []


def test_table_on_stdout_nothing_on_stderr_when_quiet(tmp_path, mirror):
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--quiet")
    assert result.returncode == 0
    assert result.stderr == ""
    assert "train-images-idx3-ubyte.gz" in result.stdout and "prepared:" in result.stdout


def test_mirror_from_environment(tmp_path, mirror, dead_url):
    result = fetch_cli(tmp_path, "--json", env={"GDCLI_MIRROR": f"{dead_url},{mirror.url}"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"][0]["source"] == mirror.url


def test_404_moves_to_next_mirror(tmp_path, mirror, mnist_dir):
    from conftest import Mirror

    broken = Mirror(mnist_dir)
    broken.faults = {name: [404] for name in MNIST_FILES}
    try:
        result = fetch_cli(tmp_path, "--mirror", broken.url, "--mirror", mirror.url, "--json")
    finally:
        broken.close()
    assert result.returncode == 0, result.stderr
    assert {f["source"] for f in json.loads(result.stdout)["files"]} == {mirror.url}


def test_500_twice_then_the_file(tmp_path, mirror):
    mirror.faults = {"train-labels-idx1-ubyte.gz": [500, 500]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    assert result.returncode == 0, result.stderr
    assert mirror.requests.count("train-labels-idx1-ubyte.gz") == 3


def test_500_forever_fails_with_the_status(tmp_path, mirror):
    mirror.faults = {"train-images-idx3-ubyte.gz": [503] * 10}
    result = fetch_cli(tmp_path, "--mirror", mirror.url)
    assert_one_line_error(result, 1, "train-images-idx3-ubyte.gz", "HTTP 503")
    assert final_files(tmp_path) == []


def test_corrupt_byte_is_rejected_then_next_mirror(tmp_path, mirror, mnist_dir):
    from conftest import Mirror

    bad = Mirror(mnist_dir)
    bad.faults = {"t10k-labels-idx1-ubyte.gz": ["corrupt"]}
    try:
        result = fetch_cli(tmp_path, "--mirror", bad.url, "--mirror", mirror.url, "--json")
    finally:
        bad.close()
    assert result.returncode == 0, result.stderr
    sources = {f["name"]: f["source"] for f in json.loads(result.stdout)["files"]}
    assert sources["t10k-labels-idx1-ubyte"] == mirror.url
    assert sources["train-images-idx3-ubyte"] == bad.url


def test_corrupt_byte_with_no_other_mirror_keeps_nothing(tmp_path, mirror):
    mirror.faults = {"train-labels-idx1-ubyte.gz": ["corrupt"]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url)
    assert_one_line_error(result, 1, "train-labels-idx1-ubyte.gz", mirror.url)
    assert "train-labels-idx1-ubyte.gz" not in final_files(tmp_path)
    assert not any(name.endswith(".part") for name in final_files(tmp_path))


def test_stall_past_read_timeout(tmp_path, mirror):
    mirror.faults = {"train-images-idx3-ubyte.gz": ["stall", "stall"]}
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--timeout", "0.5")
    assert_one_line_error(result, 1, "train-images-idx3-ubyte.gz", "timed out after 0.5s")
    assert final_files(tmp_path) == []


def test_no_mirror_reachable_lists_every_source(tmp_path, dead_url):
    other = dead_url.replace("127.0.0.1", "localhost")
    result = fetch_cli(tmp_path, "--mirror", dead_url, "--mirror", other)
    assert_one_line_error(result, 1, f"{dead_url}: connection refused", other)
    assert "--from DIR" in result.stderr and "fashion-mnist" in result.stderr
    assert final_files(tmp_path) == []


def test_from_folder_gzipped_or_raw(tmp_path, mnist_dir):
    source = tmp_path / "src"
    source.mkdir()
    for name in MNIST_FILES:
        if name.startswith("t10k"):  # raw copies of the test files
            (source / name[:-3]).write_bytes(gzip.decompress((mnist_dir / name).read_bytes()))
        else:
            shutil.copy(mnist_dir / name, source / name)
    result = fetch_cli(tmp_path, "--from", str(source), "--json")
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir())
    expected = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", *MNIST_FILES[:2]]
    assert names == sorted(expected)


@pytest.fixture
def from_copy(tmp_path, mnist_dir):
    source = tmp_path / "src"
    shutil.copytree(mnist_dir, source)
    for p in source.iterdir():
        p.chmod(0o644)
    return source


def test_from_truncated_gzip(tmp_path, from_copy):
    target = from_copy / "train-labels-idx1-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-100])
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_one_line_error(result, 1, "train-labels-idx1-ubyte.gz", "truncated gzip")
    assert "train-labels-idx1-ubyte.gz" not in final_files(tmp_path)


def test_from_wrong_idx_magic(tmp_path, from_copy):
    target = from_copy / "t10k-labels-idx1-ubyte.gz"
    data = bytearray(gzip.decompress(target.read_bytes()))
    data[0:4] = b"\x12\x34\x08\x01"
    target.write_bytes(gzip.compress(bytes(data)))
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_one_line_error(result, 1, "t10k-labels-idx1-ubyte.gz", "not an IDX file")
    assert "t10k-labels-idx1-ubyte.gz" not in final_files(tmp_path)


def test_from_folder_missing_a_file(tmp_path, from_copy):
    (from_copy / "t10k-images-idx3-ubyte.gz").unlink()
    result = fetch_cli(tmp_path, "--from", str(from_copy))
    assert_one_line_error(result, 1, "t10k-images-idx3-ubyte", "no t10k-images-idx3-ubyte.gz")


def test_from_folder_that_does_not_exist(tmp_path):
    assert_one_line_error(
        fetch_cli(tmp_path, "--from", str(tmp_path / "nope")), 2, "no such folder"
    )


def test_corrupt_local_copy_is_replaced(tmp_path, mirror):
    assert fetch_cli(tmp_path, "--mirror", mirror.url).returncode == 0
    target = tmp_path / "data" / "mnist" / "train-labels-idx1-ubyte.gz"
    target.write_bytes(b"junk")
    result = fetch_cli(tmp_path, "--mirror", mirror.url, "--json")
    sources = {f["name"]: f["source"] for f in json.loads(result.stdout)["files"]}
    assert sources["train-labels-idx1-ubyte"] == mirror.url
    assert sources["train-images-idx3-ubyte"] == "present"


def test_unknown_dataset_is_a_usage_error(tmp_path):
    assert_one_line_error(fetch_cli(tmp_path, "--dataset", "cifar"), 2, "unknown dataset 'cifar'")


@pytest.mark.skipif(
    not DATASETS["fashion-mnist"].system_dir.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_fashion_mnist_from_debian_copy(tmp_path, dead_url):
    result = fetch_cli(tmp_path, "--dataset", "fashion-mnist", "--mirror", dead_url, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {f["source"] for f in report["files"]} == {"/usr/share/datasets/fashion-mnist"}
