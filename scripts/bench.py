"""Speed and exactness of gdcli's trainers against the book's loop, side by side in one process.

    python scripts/bench.py [--data-dir DIR] [--epochs 350] [--n-train 1000] [--full]

Runs on the same first N images at alpha 0.01: the book's loop written the book's way (numpy,
one image at a time), gdcli's per-example trainer (BlockedSGD, exact) and gdcli's mini-batch
trainer (batch 10). Prints ms per epoch, the speed ratio to the book's loop, the max abs weight
difference to the book's weights, and peak memory. --full adds the cost per epoch on all
60,000 training images (a few epochs; the book's loop there is timed on one epoch).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from gdcli.config import TrainConfig
from gdcli.data import load_split, one_hot
from gdcli.datasets import DATASETS, resolve_data_dir
from gdcli.train import TrainData, train


def book_loop(images: np.ndarray, labels: np.ndarray, alpha: float, epochs: int) -> np.ndarray:
    np.random.seed(1)
    weights = 0.2 * np.random.random((784, 10)) - 0.1
    for _ in range(epochs):
        for i in range(len(images)):
            layer_0 = images[i : i + 1]
            pred = layer_0.dot(weights)
            delta = pred - labels[i : i + 1]
            weight_deltas = layer_0.T.dot(delta)
            weights -= alpha * weight_deltas
    return weights


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run(data: TrainData, epochs: int, book_epochs: int) -> None:
    n = len(data.labels_train)
    y = one_hot(data.labels_train)
    book_w, book_s = timed(lambda: book_loop(data.x_train, y, 0.01, book_epochs))
    book_ms = book_s / book_epochs * 1e3
    print(f"\n{n} images, alpha 0.01 ({epochs} epochs; the book's loop {book_epochs})")
    print(f"{'trainer':<32}{'ms/epoch':>10}{'speed-up':>10}{'max |dW| vs book':>20}")
    print(f"{'book loop (numpy, per image)':<32}{book_ms:>10.2f}{1:>10.1f}{'-':>20}")
    for name, cfg in (
        ("gdcli per-example (exact)", TrainConfig(n_train=n, epochs=epochs, eval_every=10**9)),
        ("gdcli mini-batch (B=10)", TrainConfig(n_train=n, epochs=epochs, batch_size=10,
                                                eval_every=10**9)),
    ):  # fmt: skip
        result, seconds = timed(lambda cfg=cfg: train(cfg, data))
        ms = seconds / epochs * 1e3
        if cfg.batch_size == 1 and epochs == book_epochs:
            diff = f"{np.max(np.abs(result.network.weights - book_w)):.2e}"
        elif cfg.batch_size == 1:
            same = train(TrainConfig(n_train=n, epochs=book_epochs, eval_every=10**9), data)
            diff = f"{np.max(np.abs(same.network.weights - book_w)):.2e}"
        else:
            diff = "(another algorithm)"
        print(f"{name:<32}{ms:>10.2f}{book_ms / ms:>10.1f}{diff:>20}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--epochs", type=int, default=350)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--full", action="store_true", help="also all 60,000 images")
    args = parser.parse_args()
    ds = DATASETS["mnist"]
    folder = resolve_data_dir(args.data_dir)
    xt, lt = load_split(ds, folder, "test")
    x, labels = load_split(ds, folder, "train", args.n_train)
    run(TrainData(x, labels, xt, lt), args.epochs, args.epochs)
    if args.full:
        x, labels = load_split(ds, folder, "train", 60000)
        run(TrainData(x, labels, xt, lt), 3, 1)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory (max RSS): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
