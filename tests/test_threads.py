"""The BLAS thread policy: one thread while training unless the user says otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from threadpoolctl import threadpool_info

from gdcli.errors import UsageError
from gdcli.nn import threads
from gdcli.nn.threads import ENV, blas_thread_limit, large_products, training_threads


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


def test_large_products_get_blas_threads_only_on_a_free_machine(monkeypatch) -> None:
    """One thread for small products; for large ones BLAS's own threads while no other process
    runs, one thread while one does; the user's choice wins either way."""
    np.ones((2, 2)) @ np.ones((2, 2))
    before = _blas_threads()
    if not before or max(before) < 2:
        pytest.skip("needs a BLAS with 2 or more threads")
    with training_threads({}):
        with large_products(100 * 784 * 10, {}):  # 784,000 multiply-adds: small
            assert _blas_threads() == [1] * len(before)
        monkeypatch.setattr(threads, "others_running", lambda: 0)
        with large_products(100 * 784 * 100, {}):  # chapter 9's batches
            assert _blas_threads() == before
        monkeypatch.setattr(threads, "others_running", lambda: 1)
        with large_products(100 * 784 * 100, {}):
            assert _blas_threads() == [1] * len(before)
        with large_products(10**9, {ENV: "1"}):
            assert _blas_threads() == [1] * len(before)
        assert _blas_threads() == [1] * len(before)


def test_others_running_counts_a_busy_process_and_not_ours() -> None:
    import subprocess
    import sys
    import time

    if threads.others_running() is None:
        pytest.skip("/proc does not say how many tasks run")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        seen = [threads.others_running() for _ in range(20)]
    finally:
        spinner.kill()
        spinner.wait()
    assert max(seen) >= 1  # the spinning process, whatever else runs
