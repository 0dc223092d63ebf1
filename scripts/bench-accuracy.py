"""gdcli's recipes beside scikit-learn's peers, first 1,000 images, chosen on validation.

    pip install -e '.[bench]' && python scripts/bench-accuracy.py [--data-dir DIR] [--only TEXT]

One protocol for every model (docs/experiments.md, "Choosing on validation"): it trains on the
first 1,000 MNIST training images; its settings are chosen on the validation images alone, the
last 10,000 training images (50,000-59,999, which the first 1,000 never reach); the chosen
model's test accuracy on all 10,000 test images is read once. gdcli's configs were chosen so
by `gdcli sweep` (their `val` and `keep = "best"`: the epoch with the best validation accuracy);
each scikit-learn model here tries the few values of its regularisation listed in GRIDS, keeps
the one with the best validation accuracy (the first on a tie) and reports its test accuracy.
Seconds are one run's: gdcli's training run; scikit-learn's fit of the chosen setting, plus
the preprocessing (deskewing the 21,000 images and shifting) where used. The search itself
(every setting tried, and gdcli's sweeps) takes longer. gdcli trains through its library,
whose steps run on one BLAS thread (gdcli/nn/threads.py); scikit-learn runs with its own
defaults.

The networks with a hidden layer compare like with like: 256 relu units and a softmax output
for both. scikit-learn's MLPClassifier uses its own solver, Adam (its default, and what it
recommends), on data shuffled every epoch, with its early stopping off (it would hold out part
of the 1,000 images, not use the validation split); it has no dropout, so its L2 penalty is
the setting chosen on validation. gdcli's convolutional network (best-cnn) comes last, with no
scikit-learn peer: scikit-learn has no convolutional layer.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gdcli.config import make_config
from gdcli.data.load import load_split
from gdcli.data.registry import DATASETS, resolve_data_dir
from gdcli.data.transforms import deskew, shifts
from gdcli.nn.train import load_data, train

ROOT = Path(__file__).resolve().parents[1]
N_TRAIN = 1000
VAL = 10000  # the last 10,000 training images, as the configs' val = 10000

# Each model's regularisation, tried on validation: C is the inverse of the L2 strength
# (LogisticRegression), alpha its strength (Ridge, SGD, MLP).
GRIDS: dict[str, tuple[str, list[float]]] = {
    "LogisticRegression": ("C", [0.01, 0.03, 0.1, 0.3, 1.0, 3.0]),
    "RidgeClassifier": ("alpha", [0.1, 1.0, 10.0, 100.0, 1000.0]),
    "SGDClassifier": ("alpha", [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]),
    "MLPClassifier": ("alpha", [1e-4, 1e-3, 1e-2, 0.1, 0.3, 1.0, 3.0]),
}

Images = tuple[np.ndarray, np.ndarray]


Result = tuple[str, float, float, float]  # the choice, validation, test accuracy, seconds


def gdcli_run(config_file: str, data_dir: Path, **given: object) -> Result:
    """Train as the config file (with `given` keys overriding it) says, as `gdcli train` does:
    the kept epoch, its validation and test accuracy, the seconds of the whole run."""
    start = time.perf_counter()
    cfg = make_config(ROOT / "configs" / config_file, given)
    result = train(cfg, load_data(cfg, data_dir))
    summary = result.summary(cfg)
    seconds = time.perf_counter() - start
    epoch = f"epoch {summary['weights_epoch']}"
    return epoch, summary["val_accuracy"], summary["test_accuracy"], seconds


def sklearn_run(
    make: Callable[..., object], name: str, train: Images, val: Images, test: Images
) -> Result:
    """Fit one model per value of its GRIDS setting on `train`, keep the best on `val` (the
    first on a tie): the setting, its validation and its test accuracy (read once), the
    seconds of its fit."""
    key, values = GRIDS[name]
    best: tuple[float, float, float, object] | None = None
    for value in values:
        start = time.perf_counter()
        model = make(**{key: value})
        model.fit(*train)
        seconds = time.perf_counter() - start
        score = float(model.score(*val))
        if best is None or score > best[0]:
            best = (score, value, seconds, model)
    assert best is not None
    score, value, seconds, model = best
    return f"{key} {value:g}", score, float(model.score(*test)), seconds


def prepared(images: Images, with_shifts: bool) -> Images:
    """Deskewed images, and (training images) their four one-pixel shifts after them."""
    x, labels = deskew(images[0]), images[1]
    if with_shifts:
        x, labels = np.vstack([x, *shifts(x)]), np.tile(labels, 5)
    return x, labels


def main() -> None:
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.neural_network import MLPClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--only", default="", help="run only the models whose name holds TEXT")
    args = parser.parse_args()
    folder = resolve_data_dir(args.data_dir)
    raw = (
        load_split(DATASETS["mnist"], folder, "train", N_TRAIN),
        load_split(DATASETS["mnist"], folder, "train", VAL, start=-VAL),
        load_split(DATASETS["mnist"], folder, "test"),
    )
    ready: list[tuple[Images, Images, Images]] = []
    start = time.perf_counter()
    ready.append((prepared(raw[0], True), prepared(raw[1], False), prepared(raw[2], False)))
    preparing = time.perf_counter() - start  # once, added to each model that uses it

    def sk(name: str, prepare: bool) -> Callable[[], Result]:
        makers: dict[str, Callable[..., object]] = {
            "LogisticRegression": lambda **k: LogisticRegression(max_iter=2000, **k),
            "RidgeClassifier": lambda **k: RidgeClassifier(**k),
            "SGDClassifier": lambda **k: SGDClassifier(random_state=1, **k),
            "MLPClassifier": lambda **k: MLPClassifier(
                hidden_layer_sizes=(256,), activation="relu", random_state=1, **k
            ),
        }

        def run() -> Result:
            chosen, val, test, seconds = sklearn_run(
                makers[name], name, *(ready[0] if prepare else raw)
            )
            return chosen, val, test, seconds + (preparing if prepare else 0.0)

        return run

    runs: list[tuple[str, Callable[[], Result]]] = [
        ("gdcli book run (configs/book.toml, val 10000)",
         lambda: gdcli_run("book.toml", folder, val=VAL)),
        ("gdcli best recipe (configs/best.toml)", lambda: gdcli_run("best.toml", folder)),
        ("sklearn LogisticRegression, raw", sk("LogisticRegression", False)),
        ("sklearn LogisticRegression, deskew+shifts", sk("LogisticRegression", True)),
        ("sklearn RidgeClassifier, raw", sk("RidgeClassifier", False)),
        ("sklearn RidgeClassifier, deskew+shifts", sk("RidgeClassifier", True)),
        ("sklearn SGDClassifier, raw", sk("SGDClassifier", False)),
        ("sklearn SGDClassifier, deskew+shifts", sk("SGDClassifier", True)),
        ("gdcli best MLP (configs/best-mlp.toml)", lambda: gdcli_run("best-mlp.toml", folder)),
        ("gdcli best MLP, raw (no deskew, no shifts)",
         lambda: gdcli_run("best-mlp.toml", folder, deskew=False, augment="none")),
        ("sklearn MLPClassifier 256 relu, raw", sk("MLPClassifier", False)),
        ("sklearn MLPClassifier 256 relu, deskew+shifts", sk("MLPClassifier", True)),
        ("gdcli best CNN (configs/best-cnn.toml)", lambda: gdcli_run("best-cnn.toml", folder)),
    ]  # fmt: skip
    runs = [(name, fn) for name, fn in runs if args.only.lower() in name.lower()]
    print(f"| {'model':<46} | {'chosen on validation':<20} | validation | test | seconds |")
    print(f"|{'-' * 48}|{'-' * 22}|------------|------|---------|")
    for name, fn in runs:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            chosen, val, test, seconds = fn()
        print(f"| {name:<46} | {chosen:<20} | {100 * val:.2f}% | {100 * test:.2f}% | "
              f"{seconds:>7.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
