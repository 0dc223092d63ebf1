"""The BLAS thread policy: one thread while training unless the user says otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from threadpoolctl import threadpool_info

from gdcli.errors import UsageError
from gdcli.nn.threads import ENV, blas_thread_limit, threads_for_work, training_threads


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, 1),
        ({ENV: "auto"}, None),
        ({ENV: " AUTO "}, None),
        ({ENV: "3"}, 3),
        ({"OMP_NUM_THREADS": "2"}, None),  # the user's standard choice is kept
        ({"OPENBLAS_NUM_THREADS": "4"}, None),
        ({"OMP_NUM_THREADS": "", "PATH": "/bin"}, 1),  # set but empty: no choice made
        ({"OMP_NUM_THREADS": "2", ENV: "1"}, 1),  # gdcli's own variable wins
    ],
)
def test_limit_follows_the_environment(environ: dict[str, str], expected: int | None) -> None:
    assert blas_thread_limit(environ) == expected


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "two", "100000", "\u00b2", "x" * 1000])
def test_a_bad_value_is_a_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match=ENV) as caught:
        blas_thread_limit({ENV: value})
    assert len(caught.value.message) < 100  # a huge value is not echoed whole


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_one_blas_thread_inside_the_block_and_the_old_limit_after() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # numpy's BLAS is loaded
    before = _blas_threads()
    if not before:
        pytest.skip("threadpoolctl finds no BLAS library in this numpy")
    with training_threads({}):
        assert _blas_threads() == [1] * len(before)
    assert _blas_threads() == before


def test_auto_leaves_blas_alone() -> None:
    before = _blas_threads()
    with training_threads({ENV: "auto"}):
        assert _blas_threads() == before


def test_train_refuses_a_bad_thread_count(synthetic_data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.npz"
    result = run_cli(
        "train", "--epochs", "1", "--n-train", "600", "--data-dir", str(synthetic_data_dir),
        "--out", str(out), env={ENV: "lots"},
    )  # fmt: skip
    assert_one_line_error(result, 2, ENV, "'lots'")
    assert not out.exists()


def test_the_default_follows_the_work() -> None:
    """One thread for per-image steps and small batches; BLAS's own for large batch products
    (chapter 9's 100 x 784 x 100); the user's choice wins either way."""
    assert threads_for_work(1, 784, 40) == 1  # chapter 8, one image at a time
    assert threads_for_work(10, 784, 10) == 1  # best.toml's batches of 10
    assert threads_for_work(100, 784, 100) is None  # chapter 9
    assert blas_thread_limit({}, default=None) is None
    assert blas_thread_limit({ENV: "1"}, default=None) == 1
    assert blas_thread_limit({ENV: "auto"}, default=1) is None
