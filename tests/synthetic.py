"""A tiny MNIST-like dataset made on the fly, so the tests' mechanics run in a plain clone.

Ten classes, each a stroke template drawn like a digit (a polyline in a unit box), rendered
anti-aliased into 28x28 uint8 images the way MNIST's are: white strokes on a black background,
the figure in the central 20x20 box, about 80% of the pixels 0. Each image jitters its template
(every point moved a little, then scaled, rotated, sheared and shifted) and varies the stroke's
width and brightness, so the classes overlap a little, like handwriting, but a linear network
learns them: trained the book's way for 10 epochs it scores far above chance, and each class's
weights correlate best with that class's mean image (tests/test_synthetic.py checks both).

The output is deterministic for a seed on one machine (np.random.RandomState's stream is
frozen), but float rounding may differ between CPUs: never hard-code the files' checksums,
take them from `registry_entry`.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np

N_TRAIN = 1000  # gdcli's default --n-train, so `gdcli fetch` and `gdcli train` run with defaults
N_TEST = 200
SEED = 20240531
MNIST_NAMES = {  # registry key -> MNIST's file name (without .gz)
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# Each class: polylines through points (x, y) of a unit box, y downwards, shaped like the digit.
TEMPLATES: tuple[tuple[tuple[tuple[float, float], ...], ...], ...] = (
    (tuple((0.5 + 0.4 * np.cos(t), 0.5 + 0.48 * np.sin(t)) for t in np.linspace(0, 6.3, 14)),),
    (((0.35, 0.15), (0.55, 0.0), (0.55, 1.0)),),
    (((0.15, 0.25), (0.3, 0.05), (0.7, 0.05), (0.85, 0.25), (0.8, 0.45), (0.15, 1.0),
      (0.9, 1.0)),),
    (((0.15, 0.05), (0.85, 0.05), (0.45, 0.45), (0.85, 0.65), (0.8, 0.9), (0.5, 1.0),
      (0.15, 0.9)),),
    (((0.7, 1.0), (0.7, 0.0), (0.1, 0.65), (0.9, 0.65)),),
    (((0.85, 0.0), (0.2, 0.0), (0.15, 0.45), (0.6, 0.4), (0.85, 0.6), (0.8, 0.9), (0.5, 1.0),
      (0.15, 0.9)),),
    (((0.75, 0.0), (0.3, 0.35), (0.15, 0.7), (0.3, 1.0), (0.7, 1.0), (0.85, 0.75), (0.7, 0.5),
      (0.3, 0.5), (0.18, 0.65)),),
    (((0.1, 0.0), (0.9, 0.0), (0.4, 1.0)), ((0.35, 0.5), (0.75, 0.5))),
    (((0.5, 0.5), (0.2, 0.3), (0.3, 0.05), (0.7, 0.05), (0.8, 0.3), (0.5, 0.5), (0.15, 0.75),
      (0.3, 1.0), (0.7, 1.0), (0.85, 0.75), (0.5, 0.5)),),
    (((0.8, 0.35), (0.6, 0.5), (0.3, 0.5), (0.15, 0.3), (0.3, 0.05), (0.7, 0.05), (0.85, 0.3),
      (0.8, 1.0)),),
)  # fmt: skip

_CENTRES = np.stack(np.meshgrid(np.arange(28.0), np.arange(28.0)), axis=-1).reshape(-1, 2)


def _distance_to_segments(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(784,) distance in pixels from each pixel centre to the nearest segment a[i]-b[i]."""
    ab = b - a  # (s, 2)
    t = ((points[:, None, :] - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9)
    nearest = a + np.clip(t, 0, 1)[..., None] * ab  # (784, s, 2)
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(-1)).min(axis=1)


def _render(label: int, rng: np.random.RandomState) -> np.ndarray:
    """One 28x28 uint8 image of class `label`, its template jittered."""
    angle, shear = rng.uniform(-0.2, 0.2), rng.uniform(-0.25, 0.25)
    scale = rng.uniform(0.85, 1.05)
    # unit box -> pixels: 13 wide and 18 high, centred, then rotated, sheared and shifted
    size = np.diag([13.0 * scale, 18.0 * scale])
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    affine = turn @ np.array([[1.0, shear], [0.0, 1.0]]) @ size
    centre = np.array([13.5, 13.5]) + rng.uniform(-1.5, 1.5, size=2)
    starts, ends = [], []
    for line in TEMPLATES[label]:
        pts = np.array(line) + rng.normal(0, 0.04, size=(len(line), 2))
        pts = (pts - 0.5) @ affine.T + centre
        starts.append(pts[:-1])
        ends.append(pts[1:])
    d = _distance_to_segments(_CENTRES, np.concatenate(starts), np.concatenate(ends))
    half_width = rng.uniform(0.7, 1.3)
    ink = np.clip(half_width + 0.5 - d, 0, 1) * rng.uniform(0.8, 1.0)
    return np.round(255 * ink).astype(np.uint8).reshape(28, 28)


def make_split(n: int, seed: int | np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """(n, 28, 28) uint8 images and (n,) uint8 labels, n / 10 of each class in random order.

    seed: a seed, or a RandomState to draw from (make_dataset draws both splits from one).
    """
    rng = seed if isinstance(seed, np.random.RandomState) else np.random.RandomState(seed)
    labels = rng.permutation(np.repeat(np.arange(10, dtype=np.uint8), n // 10))
    return np.stack([_render(int(y), rng) for y in labels]), labels


def idx_encode(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array (dtype code 0x08)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def make_dataset(
    n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = SEED
) -> dict[str, bytes]:
    """The raw IDX content of the four files, by MNIST file name (without .gz)."""
    rng = np.random.RandomState(seed)
    x_train, y_train = make_split(n_train, rng)
    x_test, y_test = make_split(n_test, rng)
    arrays = {"train_images": x_train, "train_labels": y_train}
    arrays |= {"test_images": x_test, "test_labels": y_test}
    return {MNIST_NAMES[key]: idx_encode(a) for key, a in arrays.items()}


def write_files(folder: Path, content: dict[str, bytes], gz: bool = True) -> Path:
    """Write the four files into `folder` (gzip'd as `name.gz`, or raw); returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in content.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return folder


def write_dataset(
    folder: Path, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = SEED
) -> Path:
    """Make a dataset and write its four gzip'd files into `folder`; returns `folder`."""
    return write_files(folder, make_dataset(n_train, n_test, seed))


def registry_entry(content: dict[str, bytes]) -> dict[str, object]:
    """The dataset's entry for a $GDCLI_EXTRA_DATASETS file: sizes and checksums of the content."""
    by_name = {name: key for key, name in MNIST_NAMES.items()}
    files = {
        by_name[name]: {
            "name": name,
            "idx_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        for name, data in content.items()
    }
    return {"files": files, "classes": [str(d) for d in range(10)]}


def write_registry(path: Path, name: str, content: dict[str, bytes]) -> Path:
    """A registry file defining the dataset `name` (no mirrors: tests pass --mirror)."""
    path.write_text(json.dumps({name: registry_entry(content)}, indent=2))
    return path
