"""Test accuracy of gdcli's recipes beside scikit-learn's linear peers, first 1,000 images.

    pip install -e '.[bench]' && python scripts/bench-accuracy.py [--data-dir DIR]

Every model trains on the same first 1,000 MNIST training images and is tested on all 10,000
test images. Seconds include each model's own preprocessing (deskewing, shifts).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from gdcli.config import make_config
from gdcli.data import load_split
from gdcli.datasets import DATASETS, resolve_data_dir
from gdcli.train import load_data, train
from gdcli.transforms import deskew, shifts

ROOT = Path(__file__).resolve().parents[1]


def gdcli_run(config_file: str, data_dir: Path) -> float:
    cfg = make_config(ROOT / "configs" / config_file, {})
    return train(cfg, load_data(cfg, data_dir)).history[-1].test_accuracy or 0.0


def sklearn_run(model, x, labels, xt, lt, prepared: bool) -> float:
    if prepared:
        x, xt = deskew(x), deskew(xt)
        x, labels = np.vstack([x, *shifts(x)]), np.tile(labels, 5)
    model.fit(x, labels)
    return float(model.score(xt, lt))


def main() -> None:
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    folder = resolve_data_dir(args.data_dir)
    x, labels = load_split(DATASETS["mnist"], folder, "train", 1000)
    xt, lt = load_split(DATASETS["mnist"], folder, "test")

    runs = [
        ("gdcli book run (configs/book.toml)", lambda: gdcli_run("book.toml", folder)),
        ("gdcli best recipe (configs/best.toml)", lambda: gdcli_run("best.toml", folder)),
        ("sklearn LogisticRegression, raw",
         lambda: sklearn_run(LogisticRegression(max_iter=2000), x, labels, xt, lt, False)),
        ("sklearn LogisticRegression, deskew+shifts",
         lambda: sklearn_run(LogisticRegression(max_iter=2000), x, labels, xt, lt, True)),
        ("sklearn RidgeClassifier, raw",
         lambda: sklearn_run(RidgeClassifier(), x, labels, xt, lt, False)),
        ("sklearn RidgeClassifier, deskew+shifts",
         lambda: sklearn_run(RidgeClassifier(), x, labels, xt, lt, True)),
        ("sklearn SGDClassifier, raw",
         lambda: sklearn_run(SGDClassifier(random_state=1), x, labels, xt, lt, False)),
        ("sklearn SGDClassifier, deskew+shifts",
         lambda: sklearn_run(SGDClassifier(random_state=1), x, labels, xt, lt, True)),
    ]  # fmt: skip
    print(f"| {'model':<44} | test accuracy | seconds |")
    print(f"|{'-' * 46}|---------------|---------|")
    for name, fn in runs:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            acc = fn()
        print(f"| {name:<44} | {100 * acc:>12.2f}% | {time.perf_counter() - start:>7.1f} |")


if __name__ == "__main__":
    main()
