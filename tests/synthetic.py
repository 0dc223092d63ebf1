"""A small MNIST-like dataset made on the fly: 28x28 grey strokes, 10 learnable classes.

Each class is a distinct stroke template (mostly-zero background, as in MNIST), drawn with a
random one- or two-pixel shift and some noise, so a linear network learns it in a few epochs.
Deterministic: the same seed gives the same bytes, so their checksums are stable.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _templates() -> np.ndarray:
    """(10, 28, 28) float templates in [0, 1]: bars, boxes and diagonals at distinct places."""
    t = np.zeros((10, 28, 28))
    t[0, 6:22, 8] = t[0, 6:22, 19] = t[0, 6, 8:20] = t[0, 21, 8:20] = 1  # a box
    t[1, 5:23, 14] = 1  # a vertical bar
    t[2, 8, 6:22] = t[2, 14, 6:22] = t[2, 20, 6:22] = 1  # three horizontal bars
    t[3, 5:23, 20] = t[3, 6, 8:21] = t[3, 14, 10:21] = 1
    t[4, 5:15, 8] = t[4, 14, 8:21] = t[4, 5:23, 18] = 1
    idx = np.arange(5, 23)
    t[5, idx, idx] = 1  # a diagonal
    t[6, idx, 27 - idx] = 1  # the other diagonal
    t[7, 6, 6:22] = 1
    t[7, idx, np.clip(27 - idx, 0, 27)] = 1
    t[8, 10:18, 10:18] = 1  # a filled square
    t[9, 6:14, 8:20] = 1
    t[9, 14:23, 19] = 1
    return t


def make_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 28, 28) uint8 and labels (n,) uint8, classes in turn."""
    rng = np.random.RandomState(seed)
    templates = _templates()
    labels = (np.arange(n) + rng.randint(0, 10)) % 10
    images = np.zeros((n, 28, 28))
    for i, label in enumerate(labels):
        dr, dc = rng.randint(-2, 3, size=2)
        img = np.roll(templates[label], (dr, dc), axis=(0, 1))
        img = img * rng.uniform(0.6, 1.0) + (rng.rand(28, 28) < 0.02) * rng.rand(28, 28)
        images[i] = img
    return np.clip(np.rint(images * 255), 0, 255).astype(np.uint8), labels.astype(np.uint8)


def idx_encode(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_dataset(folder: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """Write the four gzip'd IDX files with MNIST's names into `folder`; return it."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = make_split(n_train, seed)
    x_test, y_test = make_split(n_test, seed + 1)
    arrays = {
        "train_images": x_train, "train_labels": y_train,
        "test_images": x_test, "test_labels": y_test,
    }  # fmt: skip
    for kind, array in arrays.items():
        data = gzip.compress(idx_encode(array), mtime=0)
        (folder / f"{MNIST_NAMES[kind]}.gz").write_bytes(data)
    return folder
