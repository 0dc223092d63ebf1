"""The registry: extra datasets from $GDCLI_EXTRA_DATASETS, and where a dataset's files are read."""

import json
import shutil

import pytest
from conftest import SYNTHETIC, assert_one_line_error, run_cli

from gdcli.data.load import dataset_paths
from gdcli.data.registry import DATASETS, EXTRA_DATASETS_ENV, get_dataset, load_extra, registry
from gdcli.errors import GdcliError, UsageError

GOOD_FILE = {"name": "train-images-idx3-ubyte", "idx_bytes": 16, "sha256": "0" * 64}


def entry(**changes):
    keys = ("train_images", "train_labels", "test_images", "test_labels")
    return {"files": {k: dict(GOOD_FILE) for k in keys}, **changes}


def bad_test_labels(**changes):
    """A registry file whose test_labels entry has `changes`."""
    e = entry()
    e["files"]["test_labels"].update(changes)
    return json.dumps({"x": e})


def test_without_the_variable_only_the_builtin_datasets(monkeypatch):
    monkeypatch.delenv(EXTRA_DATASETS_ENV)
    assert registry() == DATASETS


def test_an_extra_dataset_is_in_the_registry(tmp_path, monkeypatch):
    path = tmp_path / "extra.json"
    path.write_text(json.dumps({"kmnist": entry(mirrors=["https://example.org/k/"])}))
    monkeypatch.setenv(EXTRA_DATASETS_ENV, str(path))
    ds = get_dataset("kmnist")
    assert ds.train_images.name == "train-images-idx3-ubyte"
    assert ds.mirrors == ("https://example.org/k/",)
    assert list(registry()) == ["mnist", "fashion-mnist", "kmnist"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not JSON"),
        ("[]", "an object of datasets by name"),
        (json.dumps({"mnist": entry()}), "a built-in dataset cannot be redefined"),
        (json.dumps({"../up": entry()}), "a plain name"),
        (json.dumps({"x": {"files": []}}), '{"files": {...}, ...} expected'),
        (json.dumps({"x": entry(classes=["a"])}), '"classes": 10 names'),
        (json.dumps({"x": {"files": {"train_images": GOOD_FILE}}}), "train_labels"),
        (bad_test_labels(idx_bytes=True), '"idx_bytes"'),
        (bad_test_labels(sha256="abc"), '"sha256"'),
        (bad_test_labels(name="a/b"), "a plain name"),
    ],
)
def test_a_bad_registry_file_is_a_usage_error_naming_it(tmp_path, content, needle):
    path = tmp_path / "extra.json"
    path.write_text(content)
    with pytest.raises(UsageError, match=r"extra\.json") as info:
        load_extra(path)
    assert needle in info.value.message


def test_a_bad_registry_file_through_the_cli(tmp_path):
    path = tmp_path / "extra.json"
    path.write_bytes(b"\xff\xfe garbage")
    result = run_cli("fetch", "--dataset", SYNTHETIC, "--data-dir", str(tmp_path),
                     env={EXTRA_DATASETS_ENV: str(path)})  # fmt: skip
    assert_one_line_error(result, 2, f"$GDCLI_EXTRA_DATASETS file {path}", "not JSON")


def test_dataset_paths_fall_back_to_the_system_copy(tmp_path, synthetic_files, monkeypatch):
    monkeypatch.setenv("GDCLI_SYSTEM_DATASETS", str(tmp_path / "system"))
    ds = DATASETS["fashion-mnist"]
    with pytest.raises(GdcliError, match="fashion-mnist is not fetched yet"):
        dataset_paths(ds, tmp_path / "data", "train")
    shutil.copytree(synthetic_files, tmp_path / "system" / "fashion-mnist")
    images, labels = dataset_paths(ds, tmp_path / "data", "test")
    assert images == tmp_path / "system" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    assert labels.parent == images.parent
    # a fetched copy in the data folder comes first
    shutil.copytree(synthetic_files, tmp_path / "data" / "fashion-mnist")
    assert (
        dataset_paths(ds, tmp_path / "data", "test")[0].parent
        == tmp_path / "data" / "fashion-mnist"
    )
