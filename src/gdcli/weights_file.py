"""STAND-IN for helper C3's weights file format 2 (API.md); the lead replaces this file.

Format 2 (.npz): weights_0, bias_0 (when used), weights_1, ...; snapshot_<layer> arrays
(n_snapshots, n_in, n_out) float32 with meta["snapshot_epochs"]; meta (a JSON string) with
"format": 2, the layers' activations, the loss and the history. Format 1 (gdcli 0.1: one
`weights` array, optional `bias`) loads as a one-layer network with no history or snapshots.
The old save(path, net, meta) / `net, meta = load(path)` calls keep working until C3 lands.
"""

from __future__ import annotations

import itertools
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gdcli.atomic import atomic_path
from gdcli.errors import GdcliError, UsageError
from gdcli.model import Layer, Network


@dataclass
class WeightsFile:
    network: Network
    meta: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def __iter__(self):  # the old `net, meta = load(path)`
        return iter((self.network, self.meta))


def save(path: Path, wf: WeightsFile | Network, meta: dict[str, Any] | None = None) -> None:
    """Write `wf` to `path` atomically, in format 2 (the old save(path, net, meta): format 1)."""
    if isinstance(wf, Network):
        _save_format_1(path, wf, meta or {})
        return
    net = wf.network
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(net.layers):
        arrays[f"weights_{i}"] = layer.weights
        if layer.bias is not None:
            arrays[f"bias_{i}"] = layer.bias
    epochs = sorted(wf.snapshots)
    for i in range(len(net.layers)) if epochs else ():
        arrays[f"snapshot_{i}"] = np.stack([wf.snapshots[e][i] for e in epochs]).astype(np.float32)
    meta = {
        **wf.meta,
        "format": 2,
        "activations": [layer.activation for layer in net.layers],
        "loss": net.loss,
        "history": wf.history,
        "snapshot_epochs": epochs,
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def _save_format_1(path: Path, net: Network, meta: dict[str, Any]) -> None:
    arrays = {"weights": net.layers[0].weights, "meta": np.array(json.dumps(meta))}
    if net.layers[0].bias is not None:
        arrays["bias"] = net.layers[0].bias
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load(path: Path) -> WeightsFile:
    """Read a weights file of format 1 or 2 (never unpickles)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"no weights file at {path}", hint="train one first with `gdcli train` (--out PATH)"
        )
    if not zipfile.is_zipfile(path):
        raise GdcliError(f"{path}: not a valid .npz weights file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise GdcliError(f"{path}: holds a pickled object; refusing to load it") from exc
        raise GdcliError(f"{path}: not a valid .npz weights file ({exc})") from exc
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise GdcliError(f"{path}: not a valid .npz weights file ({exc})") from exc
    meta = json.loads(str(arrays.pop("meta"))) if "meta" in arrays else {}
    if "weights" in arrays:  # format 1
        w = arrays["weights"]
        if w.shape != (784, 10) or not np.issubdtype(w.dtype, np.floating):
            raise GdcliError(
                f"{path}: weights of shape {w.shape} ({w.dtype}), expected (784, 10) floats"
            )
        config = meta.get("config", {})
        bias = arrays.get("bias")
        layer = Layer(w.astype(np.float64), None if bias is None else bias.astype(np.float64),
                      config.get("activation", "linear"))  # fmt: skip
        return WeightsFile(Network([layer], loss=config.get("loss", "mse")), meta)
    if "weights_0" not in arrays:
        raise GdcliError(f"{path}: not a gdcli weights file (no 'weights' array)")
    n = sum(1 for k in arrays if k.startswith("weights_"))
    activations = meta.get("activations", ["linear"] * n)
    layers = []
    for i in range(n):
        bias = arrays.get(f"bias_{i}")
        layers.append(Layer(arrays[f"weights_{i}"].astype(np.float64),
                            None if bias is None else bias.astype(np.float64),
                            activations[i]))  # fmt: skip
    for a, b in itertools.pairwise(layers):
        if a.weights.shape[1] != b.weights.shape[0]:
            raise GdcliError(f"{path}: layers do not chain")
    epochs = meta.get("snapshot_epochs", [])
    snapshots = {
        int(e): [arrays[f"snapshot_{i}"][k] for i in range(n)] for k, e in enumerate(epochs)
    }
    net = Network(layers, loss=meta.get("loss", "mse"))
    return WeightsFile(net, meta, meta.get("history", []), snapshots)
