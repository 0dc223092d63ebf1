"""Config files as `gdcli train --config` reads them: good keys, and every bad file one line."""

from __future__ import annotations

import os

import pytest
from conftest import assert_one_line_error, run_cli

from gdcli.config import MAX_CONFIG_BYTES, load_config
from gdcli.errors import UsageError


def train_with(tmp_path, content: str | bytes, *args: str):
    path = tmp_path / "c.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return run_cli("train", "--config", "c.toml", "--data-dir", str(tmp_path / "none"), *args,
                   cwd=tmp_path)  # fmt: skip


def test_keys_are_read_with_their_types(tmp_path):
    (tmp_path / "c.toml").write_text('alpha = 1\nepochs = 3\nbias = true\n"seed" = 7\n')
    assert load_config(tmp_path / "c.toml") == {"alpha": 1.0, "epochs": 3, "bias": True,
                                                "seed": 7}  # fmt: skip
    assert isinstance(load_config(tmp_path / "c.toml")["alpha"], float)


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("alpha = 0.01\nalpah = 0.1\n", ["line 2: unknown key 'alpah'"]),
        ("epochs = 'many'\n", ["line 1: key 'epochs' must be a whole number, got 'many'"]),
        ("epochs = true\n", ["line 1: key 'epochs' must be a whole number, got True"]),
        ("alpha = 'fast'\n", ["line 1: key 'alpha' must be a number, got 'fast'"]),
        ("bias = 1\n", ["line 1: key 'bias' must be true or false, got 1"]),
        ("seed = 1\n'epochs' = 'x'\n", ["line 2: key 'epochs' must be a whole number"]),
        ("alpha = 0.01\nepochs = = 3\n", ["invalid TOML", "line 2"]),
    ],
)
def test_bad_keys_name_file_line_and_key(tmp_path, content, needles):
    (tmp_path / "c.toml").write_text(content)
    with pytest.raises(UsageError) as caught:
        load_config(tmp_path / "c.toml")
    assert caught.value.exit_code == 2
    for needle in ["c.toml", *needles]:
        assert needle in caught.value.message


def test_a_bad_key_through_the_cli(tmp_path):
    result = train_with(tmp_path, "n_train = 1.5\n")
    assert_one_line_error(result, 2, "c.toml: line 1: key 'n_train' must be a whole number")


def test_unknown_key_hints_at_the_known_ones(tmp_path):
    result = train_with(tmp_path, "alpah = 0.1\n")
    assert result.stderr.splitlines()[1].startswith("hint: known keys: dataset, n_train, alpha")


def test_binary_garbage_is_one_line(tmp_path):
    garbage = bytes(range(256)) * 4 + os.urandom(1024)
    assert_one_line_error(train_with(tmp_path, garbage), 2, "c.toml", "not a TOML file")


def test_nul_bytes_in_text_are_invalid_toml(tmp_path):
    assert_one_line_error(train_with(tmp_path, b"epochs = 3\n\x00\x00\n"), 2, "invalid TOML")


@pytest.mark.parametrize(
    "nesting", ["[" * 50_000 + "]" * 50_000, "{a = " * 5_000 + "1" + "}" * 5_000]
)
def test_deep_nesting_is_one_line(tmp_path, nesting):
    result = train_with(tmp_path, f"epochs = {nesting}\n")
    assert_one_line_error(result, 2, "c.toml", "nested too deeply")


def test_a_huge_value_is_not_echoed_whole(tmp_path):
    result = train_with(tmp_path, f"epochs = '{'9' * 200_000}'\n")
    assert_one_line_error(result, 2, "line 1: key 'epochs' must be a whole number", "chars)")
    assert len(result.stderr) < 300


def test_a_huge_key_is_not_echoed_whole(tmp_path):
    result = train_with(tmp_path, f"{'k' * 100_000} = 1\n")
    assert_one_line_error(result, 2, "unknown key 'kkk", "chars)")
    assert len(result.stderr.splitlines()[0]) < 300


def test_a_file_too_big_for_a_config_is_refused_unread(tmp_path):
    result = train_with(tmp_path, "# " + "x" * MAX_CONFIG_BYTES + "\n")
    assert_one_line_error(result, 2, "c.toml", "not a config file")


@pytest.mark.parametrize("name", ["missing.toml", "folder"])
def test_a_config_that_cannot_be_read(tmp_path, name):
    (tmp_path / "folder").mkdir()
    result = run_cli("train", "--config", name, cwd=tmp_path)
    assert_one_line_error(result, 2, f"cannot read config {name}")


def test_config_values_are_checked_like_options(tmp_path):
    result = train_with(tmp_path, "epochs = 0\n")
    assert_one_line_error(result, 2, "epochs must be a whole number >= 1")
