"""The weights file: an .npz with `weights`, `bias` when used, and `meta`, a JSON string;
a network with hidden layers has `weights_0`, `bias_0`, `weights_1`, ... instead.

Written atomically; read without unpickling.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from gdcli.atomic import atomic_path
from gdcli.datasets import N_CLASSES, N_PIXELS
from gdcli.errors import GdcliError, UsageError
from gdcli.model import Layer, Network


def save(path: Path, net: Network, meta: dict[str, Any]) -> None:
    """Write `net` and `meta` (JSON-able) to `path` atomically."""
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for i, layer in enumerate(net.layers):
        suffix = "" if len(net.layers) == 1 else f"_{i}"
        arrays["weights" + suffix] = layer.weights
        if layer.bias is not None:
            arrays["bias" + suffix] = layer.bias
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load(path: Path) -> tuple[Network, dict[str, Any]]:
    """Read a weights file: (Network with its activation and loss, meta dict).

    A missing file is a UsageError (exit 2); one that is not a gdcli weights file, holds a
    pickled object or has weights of the wrong shape is a GdcliError (exit 1).
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"no weights file at {path}", hint="train one first with `gdcli train` (--out PATH)"
        )
    if not zipfile.is_zipfile(path):  # np.load would call any non-zip file "pickled data"
        raise GdcliError(f"{path}: not a valid .npz weights file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"])) if "meta" in npz.files else {}
            if "weights_0" in npz.files:
                return _load_layers(path, npz, meta), meta
            if "weights" not in npz.files:
                raise GdcliError(f"{path}: not a gdcli weights file (no 'weights' array)")
            weights = npz["weights"]
            bias = npz["bias"] if "bias" in npz.files else None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise GdcliError(f"{path}: holds a pickled object; refusing to load it") from exc
        raise GdcliError(f"{path}: not a valid .npz weights file ({exc})") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise GdcliError(f"{path}: not a valid .npz weights file ({exc})") from exc
    if weights.shape != (N_PIXELS, N_CLASSES) or not np.issubdtype(weights.dtype, np.floating):
        raise GdcliError(
            f"{path}: weights of shape {weights.shape} ({weights.dtype}), "
            f"expected ({N_PIXELS}, {N_CLASSES}) floats"
        )
    if bias is not None and bias.shape != (N_CLASSES,):
        raise GdcliError(f"{path}: bias of shape {bias.shape}, expected ({N_CLASSES},)")
    config = meta.get("config", {})
    layer = Layer(
        weights.astype(np.float64),
        None if bias is None else bias.astype(np.float64),
        activation=config.get("activation", "linear"),
    )
    return Network([layer], loss=config.get("loss", "mse")), meta


def _load_layers(path: Path, npz: Any, meta: dict[str, Any]) -> Network:
    """weights_0, bias_0, weights_1, ...: a network with hidden layers."""
    config = meta.get("config", {})
    layers = []
    while f"weights_{len(layers)}" in npz.files:
        i = len(layers)
        weights = npz[f"weights_{i}"]
        bias = npz[f"bias_{i}"] if f"bias_{i}" in npz.files else None
        n_in = N_PIXELS if i == 0 else layers[-1].weights.shape[1]
        if weights.ndim != 2 or weights.shape[0] != n_in:
            raise GdcliError(f"{path}: weights_{i} of shape {weights.shape}, expected {n_in} rows")
        if bias is not None and bias.shape != (weights.shape[1],):
            raise GdcliError(f"{path}: bias_{i} of shape {bias.shape}")
        last = f"weights_{i + 1}" not in npz.files
        activation = config.get("activation" if last else "hidden_activation", "linear")
        layers.append(
            Layer(
                weights.astype(np.float64),
                None if bias is None else bias.astype(np.float64),
                activation,
            )
        )
    if layers[-1].weights.shape[1] != N_CLASSES:
        raise GdcliError(f"{path}: {layers[-1].weights.shape[1]} outputs, expected {N_CLASSES}")
    return Network(layers, loss=config.get("loss", "mse"))
