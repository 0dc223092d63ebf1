"""The weights file: an .npz with `weights`, `bias` when used, and `meta`, a JSON string.

Written atomically; read without unpickling.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gdcli.atomic import atomic_path
from gdcli.datasets import N_CLASSES, N_PIXELS
from gdcli.errors import GdcliError, UsageError
from gdcli.model import Network


@dataclass
class WeightsFile:
    """STAND-IN for C3's API.md WeightsFile (lead replaces)."""

    network: Network
    meta: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)

    def __iter__(self):  # stand-in only: old callers unpack (network, meta)
        return iter((self.network, self.meta))


def save(path: Path, net: Network | WeightsFile, meta: dict[str, Any] | None = None) -> None:
    """Write `net` and `meta` (JSON-able) to `path` atomically."""
    wf = net if isinstance(net, WeightsFile) else WeightsFile(net, meta or {})
    net, meta = wf.network, dict(wf.meta)
    arrays: dict[str, np.ndarray] = {}
    if wf.history or wf.snapshots:  # stand-in of format 2: history in meta, snapshots as arrays
        epochs = sorted(wf.snapshots)
        meta.update(format=2, history=wf.history, snapshot_epochs=epochs)
        if epochs:
            arrays["snapshot_0"] = np.stack([wf.snapshots[e][0] for e in epochs]).astype("f4")
    arrays.update({"weights": net.weights, "meta": np.array(json.dumps(meta))})
    if net.bias is not None:
        arrays["bias"] = net.bias
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load(path: Path) -> WeightsFile:
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
            if "weights" not in npz.files:
                raise GdcliError(f"{path}: not a gdcli weights file (no 'weights' array)")
            weights = npz["weights"]
            bias = npz["bias"] if "bias" in npz.files else None
            meta = json.loads(str(npz["meta"])) if "meta" in npz.files else {}
            snaps = npz["snapshot_0"] if "snapshot_0" in npz.files else None
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
    net = Network(
        weights.astype(np.float64),
        None if bias is None else bias.astype(np.float64),
        activation=config.get("activation", "linear"),
        loss=config.get("loss", "mse"),
    )
    history = meta.pop("history", [])
    epochs = meta.pop("snapshot_epochs", [])
    snapshots = {} if snaps is None else {e: [snaps[i]] for i, e in enumerate(epochs)}
    return WeightsFile(net, meta, history, snapshots)
