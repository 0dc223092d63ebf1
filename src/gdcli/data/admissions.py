"""The graduate-admissions table of the second seed's labs, prepared as their data_prep.py does.

data_prep.py (pandas): rank one-hot as rank_1 .. rank_4 (the rank column dropped), gre and gpa
standardised by their mean and sample standard deviation (ddof 1), then np.random.seed(SEED)
and 90% of the rows, `np.random.choice(index, size=int(len * 0.9), replace=False)`, for training
(in the order drawn), the rest (in table order) held out. Features: gre, gpa, rank_1 .. rank_4.

gdcli computes the same numbers with numpy alone: pandas' mean is numpy's sum / n and its
std(ddof=1) numpy's sum of squared deviations / (n - 1), square-rooted, which np.mean and
np.std(ddof=1) compute in the same order (tests/test_labs.py compares them to pandas where it
is installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gdcli.data import csvfile
from gdcli.data.registry import TABLES, Table, local_copy
from gdcli.errors import GdcliError

ADMISSIONS = "admissions"
FEATURES = ("gre", "gpa", "rank_1", "rank_2", "rank_3", "rank_4")
RANKS = (1, 2, 3, 4)
TRAIN_FRACTION = 0.9


@dataclass(frozen=True)
class Prepared:
    """The lab's split: features (n, 6) float64 and targets (n,) float64 (0 or 1) of the
    training rows and of the held-out rows; train_rows: the table rows drawn, in order."""

    features: np.ndarray
    targets: np.ndarray
    features_test: np.ndarray
    targets_test: np.ndarray
    train_rows: np.ndarray


def table_path(data_dir: Path, table: Table | None = None) -> Path:
    """The fetched copy of the admissions table in `data_dir`; a GdcliError saying how to get
    it otherwise."""
    table = table or TABLES[ADMISSIONS]
    folder = data_dir / table.name
    for candidate in (folder, table.system_dir):
        found = local_copy(candidate, table.file)
        if found is not None:
            return found
    raise GdcliError(
        f"{table.name} is not fetched yet: no {table.file.name} in {folder}",
        hint=f"run `gdcli fetch --dataset {table.name}` (with the same --data-dir) first",
    )


def load(data_dir: Path) -> np.ndarray:
    """The 400 rows (admit, gre, gpa, rank) as float64, verified against the registry (the
    table is small: checking its checksum each time costs nothing and guarantees the digits)."""
    table = TABLES[ADMISSIONS]
    f = table.file
    rows = csvfile.verify(table_path(data_dir, table), f.idx_bytes, f.sha256, f.columns)
    return rows


def standardise(column: np.ndarray) -> np.ndarray:
    """(column - mean) / std with the sample standard deviation (ddof 1), as pandas computes."""
    return (column - column.mean()) / column.std(ddof=1)


def prepare(rows: np.ndarray, seed: int) -> Prepared:
    """data_prep.py on the table's rows (admit, gre, gpa, rank) with np.random.seed(seed).

    The split draws from numpy's legacy global generator as the lab does (RandomState(seed),
    choice without replacement), so the rows are the lab's whatever else uses numpy's.
    """
    admit, gre, gpa, rank = rows.T
    one_hot = [(rank == r).astype(np.float64) for r in RANKS]
    features = np.column_stack([standardise(gre), standardise(gpa), *one_hot])
    n = len(rows)
    sample = np.random.RandomState(seed).choice(np.arange(n), size=int(n * TRAIN_FRACTION),
                                                replace=False)  # fmt: skip
    held_out = np.setdiff1d(np.arange(n), sample)  # data.drop(sample): in table order
    return Prepared(features[sample], admit[sample], features[held_out], admit[held_out], sample)
