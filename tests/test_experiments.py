"""The experiment recipes and the shell-scripting example, end to end on the real data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import run_cli

from gdcli.data.transforms import deskew, shifts

ROOT = Path(__file__).resolve().parents[1]


def test_best_recipe_beats_92_percent(tmp_path, data_dir):
    result = run_cli("train", "--config", str(ROOT / "configs" / "best.toml"), "--data-dir",
                     str(data_dir), "--json", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["test_accuracy"] >= 0.92
    ev = run_cli("evaluate", "--data-dir", str(data_dir), "--json", cwd=tmp_path)
    assert json.loads(ev.stdout)["accuracy"] == json.loads(result.stdout)["test_accuracy"]


def test_alpha_sweep_script(tmp_path, data_dir):
    env = {**os.environ, "GDCLI": f"{sys.executable} -m gdcli",
           "GDCLI_SWEEP_ARGS": f"--epochs 3 --data-dir {data_dir}"}  # fmt: skip
    script = str(ROOT / "scripts" / "alpha-sweep.sh")
    result = subprocess.run(["sh", script, "0.001", "0.01", "0.1"], capture_output=True,
                            text=True, cwd=tmp_path, env=env, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert rows[0] == ["alpha", "train_accuracy", "test_accuracy", "test_error", "status"]
    assert [r[0] for r in rows[1:]] == ["0.001", "0.01", "0.1"]
    assert rows[1][4] == rows[2][4] == "ok" and 0.5 < float(rows[2][2]) < 1
    assert rows[3][4] == "diverged"
    assert list(tmp_path.iterdir()) == []


def test_shifts_move_by_one_pixel():
    img = np.zeros((1, 28, 28))
    img[0, 10, 12] = 1.0
    up, down, left, right = (s.reshape(28, 28) for s in shifts(img.reshape(1, -1)))
    assert up[9, 12] == down[11, 12] == left[10, 11] == right[10, 13] == 1.0
    assert all(s.sum() == 1.0 for s in (up, down, left, right))


def test_deskew_straightens_a_slanted_bar():
    img = np.zeros((28, 28))
    for r in range(6, 22):
        img[r, 8 + (21 - r) // 2 : 11 + (21 - r) // 2] = 1.0  # leaning right, like /
    out = deskew(img.reshape(1, -1)).reshape(28, 28)
    cols = np.arange(28)
    centre = [(out[r] * cols).sum() / out[r].sum() for r in range(8, 20) if out[r].sum() > 0]
    assert np.ptp(centre) < 1.0  # upright: every row's mass in the same column
    before = [(img[r] * cols).sum() / img[r].sum() for r in range(8, 20)]
    assert np.ptp(before) > 4.0
