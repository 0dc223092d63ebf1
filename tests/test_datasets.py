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


# ------------------------------------------------------------- a dataset's own default alpha


@pytest.mark.parametrize("alpha", [0, -1, "0.001", True, None])
def test_a_bad_alpha_in_a_registry_file_is_a_usage_error(tmp_path, alpha):
    path = tmp_path / "extra.json"
    e = entry()
    e["alpha"] = alpha
    path.write_text(json.dumps({"x": e}))
    if alpha is None:  # null: the same as leaving it out
        assert load_extra(path)["x"].alpha is None
        return
    with pytest.raises(UsageError, match='"alpha": a positive number'):
        load_extra(path)


def test_fashion_mnist_has_its_own_default_alpha_and_an_explicit_one_wins(tmp_path):
    import gdcli
    from gdcli.config import DEFAULTS, make_config

    assert DATASETS["fashion-mnist"].alpha == 0.001 and DATASETS["mnist"].alpha is None
    assert gdcli.configure(dataset="fashion-mnist").alpha == 0.001
    assert gdcli.configure().alpha == gdcli.configure(dataset="mnist").alpha == DEFAULTS.alpha
    assert gdcli.configure(dataset="fashion-mnist", alpha=0.02).alpha == 0.02
    # a config file: its dataset chooses the default, its alpha is explicit and wins
    (tmp_path / "f.toml").write_text('dataset = "fashion-mnist"\nepochs = 3\n')
    assert make_config(tmp_path / "f.toml", {}).alpha == 0.001
    assert make_config(tmp_path / "f.toml", {"dataset": "mnist"}).alpha == 0.01
    assert make_config("book", {"dataset": "fashion-mnist"}).alpha == 0.01  # book.toml sets it


def test_train_takes_an_extra_datasets_alpha(tmp_path, monkeypatch, synthetic_content):
    """The CLI and the API both read a dataset's alpha from the registry, and --alpha wins."""
    import synthetic

    import gdcli

    path = tmp_path / "extra.json"
    path.write_text(json.dumps({"inky": {**synthetic.registry_entry(synthetic_content),
                                         "alpha": 0.003}}))  # fmt: skip
    monkeypatch.setenv(EXTRA_DATASETS_ENV, str(path))
    synthetic.write_files(tmp_path / "data" / "inky", synthetic_content)
    common = ("train", "--dataset", "inky", "--data-dir", str(tmp_path / "data"), "--epochs", "2",
              "--json", "--quiet")  # fmt: skip
    result = run_cli(*common, "--out", "a.npz", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["alpha"] == 0.003
    given = run_cli(*common, "--alpha", "0.01", "--out", "b.npz", cwd=tmp_path)
    assert json.loads(given.stdout)["alpha"] == 0.01
    run = gdcli.train(dataset="inky", epochs=2, data_dir=tmp_path / "data", quiet=True)
    assert run.config.alpha == 0.003
    assert gdcli.load(tmp_path / "a.npz").config.alpha == 0.003  # the file keeps what was used


@pytest.mark.skipif(
    not DATASETS["fashion-mnist"].system_dir.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_fashion_mnist_trains_at_its_default_alpha_and_diverges_at_the_books(tmp_path):
    """The book's 350 epochs on Fashion-MNIST: at 0.01 they diverge in epoch 2 (with the hint);
    at the dataset's own default they finish (70.59% test accuracy, measured)."""
    common = ("train", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "none"))
    diverged = run_cli(*common, "--alpha", "0.01", "--quiet", cwd=tmp_path)
    assert diverged.returncode == 1
    assert "diverged at epoch 2 (alpha 0.01)" in diverged.stderr
    assert "hint: try a smaller alpha, e.g. --alpha 0.001" in diverged.stderr
    result = run_cli(*common, "--json", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["alpha"] == 0.001 and summary["epochs"] == 350
    assert round(summary["test_accuracy"], 4) == 0.7059
