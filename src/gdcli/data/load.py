"""The book's preprocessing: the first N images as float64 784-vectors in [0, 1], one-hot labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gdcli.data.idx import read_idx, records
from gdcli.data.registry import N_CLASSES, N_PIXELS, Dataset, local_copy
from gdcli.errors import GdcliError, UsageError, key


def dataset_paths(dataset: Dataset, data_dir: Path, split: str) -> tuple[Path, Path]:
    """(images, labels) paths of `split`: in the data folder, else in the system copy (Debian's
    /usr/share/datasets/<dataset>/, read in place, so no `fetch` is needed); else a clear error.
    """
    wanted = (dataset.images(split), dataset.labels(split))
    folder = data_dir / dataset.name
    for candidate in (folder, dataset.system_dir):
        found = [local_copy(candidate, f) for f in wanted]
        if found[0] is not None and found[1] is not None:
            return found[0], found[1]
    missing = next(f for f in wanted if local_copy(folder, f) is None)
    raise GdcliError(
        f"{dataset.name} is not fetched yet: no {missing.gz_name} in {folder}",
        hint=f"run `gdcli fetch --dataset {dataset.name}` (with the same {key('data_dir')}) first",
    )


def load_split(
    dataset: Dataset, data_dir: Path, split: str, n: int | None = None, start: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`n` images of `split` ("train" or "test") from image `start` (the first by default;
    negative: counted from the end, -n for the last n), all of them if n is None.

    Returns images, float64 of shape (n, 784) with values in [0, 1] (pixel / 255, as the book),
    and labels, int64 of shape (n,) with values 0..9.
    """
    images_path, labels_path = dataset_paths(dataset, data_dir, split)
    images = read_idx(images_path, n, start)
    labels = read_idx(labels_path, n, start)
    if n is not None and len(images) < n:
        what = key("n_train") if start == 0 else key("val")
        raise UsageError(
            f"{what} {n} is more than the {len(images)} {split} images of {dataset.name}"
        )
    if images.shape[1:] != (28, 28):
        raise GdcliError(f"{images_path.name}: images of shape {images.shape[1:]}, not 28x28")
    if len(labels) != len(images):
        raise GdcliError(f"{labels_path.name} holds {len(labels)} labels for {len(images)} images")
    flat = images.reshape(len(images), N_PIXELS) / 255
    return flat, labels.astype(np.int64)


def split_size(dataset: Dataset, data_dir: Path, split: str) -> int:
    """How many images `split` of `dataset` holds (its images file's header)."""
    return records(dataset_paths(dataset, data_dir, split)[0])


def one_hot(labels: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """(n,) class indices -> (n, n_classes) float64 rows with a single 1.0."""
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out
