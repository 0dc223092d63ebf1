"""The weights file: a network's layers, its training history and snapshots, in one .npz.

Format 2 (gdcli 0.2), a zip of .npy members, deflated:

    weights_<i>   (n_in, n_out) float64    layer i's weights, i = 0 for the input layer
    bias_<i>      (n_out,) float64         layer i's bias, when it has one
    snapshot_<i>  (n_snap, n_in, n_out) float32   layer i's weights at meta["snapshot_epochs"]
    resume_weights_<i>, resume_bias_<i>    the weights a resume continues from, when they are
                                           not weights_<i> (keep = best: the last epoch's)
    meta          0-d unicode string       JSON: format, layers, loss, history, snapshot_epochs,
                                           gdcli_version, config, metrics, dataset, resume

meta.resume (gdcli 0.3; null after a divergence) is where the run stands, for `gdcli train
--resume`: epoch, engine, rng (numpy's RandomState.get_state(): keys, pos, has_gauss,
cached_gaussian), untrained_error, seconds, best_epoch, best_val_accuracy, stale. Older readers
ignore it and the resume_* members.

Format 1 (gdcli 0.1): `weights` (784, 10), `bias` (10,) when used, `meta` (JSON with
config.activation and config.loss); it loads as a one-layer network without history.

Reading never unpickles and never trusts the file: every member's size comes from its zip
entry and .npy header and is checked before a byte of it is decompressed, and every member's
shape and dtype and every meta field's type are checked before they are used.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import weakref
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from gdcli import __version__, sizes
from gdcli.config import DEFAULTS, KEYS, TrainConfig
from gdcli.data.registry import N_CLASSES, N_PIXELS, get_dataset
from gdcli.errors import GdcliError, UsageError, shorten
from gdcli.io.atomic import atomic_path
from gdcli.io.paths import check_input
from gdcli.nn.conv import Conv
from gdcli.nn.model import ACTIVATIONS, Layer, Network

if TYPE_CHECKING:
    from gdcli.nn.train import TrainResult

FORMAT = 2
# What a file may hold once decompressed, all members together, and its meta and layers: the
# limits train checks before it trains (gdcli.sizes), so every file it writes reads back. A
# crafted member claiming more is refused unread.
MAX_BYTES = sizes.MAX_FILE_BYTES
MAX_META_BYTES = sizes.MAX_META_BYTES
MAX_LAYERS = sizes.MAX_LAYERS
LOSSES = ("mse", "softmax")
READ_CHUNK = 16 << 20  # bytes decompressed at a time
HISTORY_NUMBERS = ("alpha", "train_error", "train_accuracy", "test_error", "test_accuracy",
                   "val_error", "val_accuracy", "seconds")  # fmt: skip
# meta keys that describe the file's structure: kept out of WeightsFile.meta on reading
STRUCTURE = ("layers", "loss", "history", "snapshot_epochs")


@dataclass
class WeightsFile:
    """A network with what is known about how it was trained.

    meta: gdcli_version, config (the TrainConfig as a dict), metrics (summary), dataset
    {name, sha256}; on reading also "format" (1 or 2).
    history: one dict per epoch (epoch, alpha, train_error, train_accuracy, test_error,
    test_accuracy, val_error, val_accuracy, seconds); [] when the file has none.
    snapshots: epoch -> each layer's weights (n_in, n_out) at the end of that epoch (0: before
    training), float32; {} when the file has none.
    """

    network: Network
    meta: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    snapshots: Mapping[int, list[np.ndarray]] = field(default_factory=dict)
    # the weights and biases a resume continues from, when they are not the network's
    resume_layers: list[tuple[np.ndarray, np.ndarray | None]] | None = None


# --- writing -------------------------------------------------------------------------------


def from_training(cfg: TrainConfig, result: TrainResult) -> WeightsFile:
    """What `gdcli train --out` writes for a run: the network, its configuration, the summary
    of its results, its dataset's checksums, its history and snapshots."""
    ds = get_dataset(cfg.dataset)
    meta = {
        "gdcli_version": __version__,
        "config": cfg.to_dict(),
        "metrics": result.summary(cfg),
        "dataset": {"name": ds.name, "sha256": {f.name: f.sha256 for f in ds.files}},
    }
    progress = result.progress
    meta["resume"] = None if progress is None else progress_json(progress)
    resume_layers = None
    if progress is not None and any(
        w is not layer.weights
        for (w, _), layer in zip(progress.layers, result.network.layers, strict=True)
    ):
        resume_layers = progress.layers
    history = [m.to_json() for m in result.history]
    return WeightsFile(result.network, meta, history, result.snapshots, resume_layers)


def progress_json(p: Any) -> dict[str, Any]:
    """A train.Progress as meta.resume (its layers are the file's arrays)."""
    _, keys, pos, has_gauss, cached = p.rng_state
    return {
        "epoch": p.epoch,
        "engine": p.engine,
        "rng": {
            "keys": [int(k) for k in keys],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "untrained_error": p.untrained_error,
        "seconds": p.seconds,
        "best_epoch": p.best_epoch,
        "best_val_accuracy": p.best_val_accuracy,
        "stale": p.stale,
    }


def read_progress(wf: WeightsFile, path: Path) -> Any:
    """The train.Progress meta.resume and the resume_* arrays describe; GdcliError naming the
    file when they are not well-formed (the caller says why a file has none)."""
    from gdcli.nn.train import Progress

    r = wf.meta.get("resume")
    try:
        _expect("meta.resume", isinstance(r, dict), "an object", r)
        epoch, rng = r.get("epoch"), r.get("rng")
        _expect("meta.resume.epoch", _is_int(epoch) and epoch >= 1, "a whole number >= 1", epoch)
        _expect("meta.resume.engine", r.get("engine") in ("reference", "blocked", "gram"),
                "an engine's name", r.get("engine"))  # fmt: skip
        _expect("meta.resume.rng", isinstance(rng, dict), "an object", rng)
        keys = rng.get("keys")
        ok = isinstance(keys, list) and len(keys) == 624
        ok = ok and all(_is_int(k) and 0 <= k < 2**32 for k in keys)
        _expect("meta.resume.rng.keys", ok, "624 whole numbers in [0, 2**32)", "...")
        pos, has_gauss, cached = rng.get("pos"), rng.get("has_gauss"), rng.get("cached_gaussian")
        _expect("meta.resume.rng.pos", _is_int(pos) and 0 <= pos <= 624, "in [0, 624]", pos)
        _expect("meta.resume.rng.has_gauss", has_gauss in (0, 1), "0 or 1", has_gauss)
        _expect("meta.resume.rng.cached_gaussian", _is_number(cached), "a number", cached)
        for name in ("untrained_error", "seconds", "best_val_accuracy"):
            v = r.get(name)
            _expect(f"meta.resume.{name}", v is None or _is_number(v), "a number or null", v)
        best, stale = r.get("best_epoch"), r.get("stale", 0)
        ok = best is None or (_is_int(best) and 1 <= best <= epoch)
        _expect("meta.resume.best_epoch", ok, f"null or an epoch in 1-{epoch}", best)
        _expect("meta.resume.stale", _is_int(stale) and stale >= 0, "a whole number >= 0", stale)
        if len(wf.history) < epoch or wf.history[epoch - 1].get("epoch") != epoch:
            raise _Bad(f"meta.history does not hold the {epoch} epochs meta.resume names")
    except _Bad as exc:
        raise GdcliError(f"{path}: {exc}") from None
    net = [(layer.weights, layer.bias) for layer in wf.network.layers]
    layers = wf.resume_layers or net
    state = ("MT19937", np.array(keys, dtype=np.uint32), pos, has_gauss, float(cached))
    untrained = r.get("untrained_error")
    best_layers = None
    if wf.meta.get("config", {}).get("keep") == "best" and best is not None:
        best_layers = layers if best == epoch else net
    return Progress(
        epoch, [(w.copy(), None if b is None else b.copy()) for w, b in layers], state,
        r["engine"], math.inf if untrained is None else float(untrained),
        float(r.get("seconds") or 0.0), best, r.get("best_val_accuracy"), best_layers, stale,
    )  # fmt: skip


def save(path: Path, wf: WeightsFile) -> None:
    """Write `wf` to `path` in format 2, atomically (a temporary file renamed into place)."""
    layers = wf.network.layers
    arrays: dict[str, np.ndarray] = {}
    for i, layer in enumerate(layers):
        arrays[f"weights_{i}"] = np.asarray(layer.weights, dtype=np.float64)
        if layer.bias is not None:
            arrays[f"bias_{i}"] = np.asarray(layer.bias, dtype=np.float64)
    for i, (w, b) in enumerate(wf.resume_layers or []):
        arrays[f"resume_weights_{i}"] = np.asarray(w, dtype=np.float64)
        if b is not None:
            arrays[f"resume_bias_{i}"] = np.asarray(b, dtype=np.float64)
    epochs = sorted(wf.snapshots)
    for i, layer in enumerate(layers):
        if epochs:
            stack = [np.asarray(wf.snapshots[e][i], dtype=np.float32) for e in epochs]
            if any(s.shape != layer.weights.shape for s in stack):
                raise ValueError(f"snapshot of layer {i} does not have its weights' shape")
            arrays[f"snapshot_{i}"] = np.stack(stack)
    meta = {
        **wf.meta,
        "format": FORMAT,
        "layers": [_layer_spec(layer) for layer in layers],
        "loss": wf.network.loss,
        "history": [_json_safe(h) for h in wf.history],
        "snapshot_epochs": [int(e) for e in epochs],
    }
    arrays["meta"] = np.array(json.dumps(_json_safe(meta), allow_nan=False))
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def _layer_spec(layer: Layer) -> dict[str, Any]:
    """A layer as meta.layers holds it: its activation, and a conv layer's geometry."""
    spec: dict[str, Any] = {"activation": layer.activation}
    if layer.conv is not None:
        spec["conv"] = layer.conv.to_json()
    return spec


def _read_conv(spec: Any, i: int, weights: np.ndarray) -> Conv:
    """meta.layers[i].conv: the conv layer's geometry, checked against its kernels."""
    where = f"meta.layers[{i}].conv"
    _expect(where, isinstance(spec, dict), "an object", spec)
    values = {}
    for name in ("side", "kernel", "span", "pool"):
        v = spec.get(name)
        _expect(f"{where}.{name}", _is_int(v) and 1 <= v <= 1024, "a whole number >= 1", v)
        values[name] = v
    conv = Conv(**values)
    if i != 0:
        raise _Bad(f"layer {i} is convolutional; only the first layer may be")
    if conv.side * conv.side != N_PIXELS or conv.span > conv.side - conv.kernel + 1:
        raise _Bad(f"{where}: {shorten(spec)} does not fit {N_PIXELS}-pixel images")
    if conv.span % conv.pool:
        raise _Bad(f"{where}: pool {conv.pool} does not divide {conv.span} positions")
    if weights.shape[0] != conv.kernel * conv.kernel:
        raise _Bad(f"kernels of shape {weights.shape} are not {conv.kernel}x{conv.kernel}")
    return conv


def _json_safe(value: Any) -> Any:
    """Non-finite floats become None (JSON has no NaN); numpy scalars become Python's."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- reading -------------------------------------------------------------------------------


class _Bad(Exception):
    """A fault in the file; load() turns it into one GdcliError line naming the file."""


def load(path: Path) -> WeightsFile:
    """Read and check a weights file of format 1 or 2.

    A missing file is a UsageError (exit 2); anything wrong inside the file (not a zip, a
    pickled or oversized member, a bad meta field, layers that do not chain, non-float or
    non-finite weights) is a GdcliError (exit 1) whose one line names the file and the fault.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise UsageError(f"no weights file at {path}", hint="train one first with `gdcli train`")
    check_input(path, "weights file")
    try:
        with zipfile.ZipFile(path) as zf:
            return _read(zf)
    except _Bad as exc:
        raise GdcliError(f"{path}: {exc}") from None
    except zipfile.BadZipFile as exc:
        raise GdcliError(f"{path}: not a valid .npz weights file ({exc})") from None
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, truncated, corrupt deflate
        raise GdcliError(f"{path}: cannot read it ({exc})") from None


def _read(zf: zipfile.ZipFile) -> WeightsFile:
    members = _members(zf)
    meta = _read_meta(zf, members["meta"]) if "meta" in members else {}
    fmt = meta.get("format", 1 if "weights" in members else FORMAT)
    if not _is_int(fmt) or fmt < 1:
        raise _Bad(f"meta.format must be a whole number >= 1, got {_short(fmt)}")
    if fmt > FORMAT:
        raise _Bad(f"written by a newer gdcli (weights file format {fmt}; this one reads 1 and 2)")
    _check_common_meta(meta)
    if fmt == 1:
        return _read_format_1(zf, members, meta)
    return _read_format_2(zf, members, meta)


def _members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """name (without .npy) -> zip entry, for the members gdcli reads; sizes checked."""
    out: dict[str, zipfile.ZipInfo] = {}
    wanted = re.compile(
        r"(weights|bias|meta|(weights|bias|snapshot|resume_weights|resume_bias)_\d{1,2})"
    )
    for info in zf.infolist():
        name = info.filename.removesuffix(".npy")
        if not wanted.fullmatch(name):
            continue  # not ours: never read
        if name in out:
            raise _Bad(f"holds two members named {name!r}")
        if info.flag_bits & 0x1:
            raise _Bad(f"member {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _Bad(f"member {name!r} is compressed with method {info.compress_type}; "
                       "numpy writes stored or deflated members")  # fmt: skip
        out[name] = info
    total = sum(info.file_size for info in out.values())
    if total > MAX_BYTES:
        raise _Bad(
            f"its arrays would take {_mb(total)} once decompressed; "
            f"gdcli reads weights files of at most {_mb(MAX_BYTES)}"
        )
    if "weights" not in out and "weights_0" not in out:
        raise _Bad("not a gdcli weights file (no 'weights' or 'weights_0' array)")
    return out


def _open_array(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[IO[bytes], np.dtype, tuple]:
    """Open a member and read its .npy header: (stream at the data, dtype, shape).

    Checks, before any data is read, that it is an .npy array (not raw or pickled bytes) of a
    plain dtype, and that the header's size agrees with the zip entry's.
    """
    f = zf.open(info)
    try:
        dtype, shape = _npy_header(f, info)
    except BaseException:
        f.close()
        raise
    return f, dtype, shape


def _npy_header(f: IO[bytes], info: zipfile.ZipInfo) -> tuple[np.dtype, tuple]:
    name = info.filename.removesuffix(".npy")
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    except (ValueError, EOFError, SyntaxError, TypeError) as exc:
        raise _Bad(f"member {name!r} is not a numpy array ({_short(str(exc), 60)})") from None
    if dtype.hasobject:
        raise _Bad(f"member {name!r} holds a pickled object; refusing to load it")
    if fortran and len(shape) > 1:
        raise _Bad(f"member {name!r} is stored in Fortran order; gdcli writes C order")
    nbytes, stored = math.prod(shape) * dtype.itemsize, info.file_size - f.tell()
    if nbytes != stored:
        raise _Bad(
            f"member {name!r}: its header says {nbytes} bytes of data, its zip entry "
            f"{stored} (a corrupt or crafted file)"
        )
    return dtype, shape


def _read_floats(zf: zipfile.ZipFile, info: zipfile.ZipInfo, ndim: int) -> np.ndarray:
    """A member holding `ndim`-dimensional finite floats, as float64 (snapshots: float32)."""
    name = info.filename.removesuffix(".npy")
    f, dtype, shape = _open_array(zf, info)
    with f:
        if dtype.kind != "f":
            raise _Bad(f"member {name!r} holds {dtype} values; gdcli reads floats")
        if len(shape) != ndim or 0 in shape:
            raise _Bad(f"member {name!r} has shape {shape}; expected {ndim} dimensions >= 1")
        # read straight into the array: one copy of a large layer in memory, not two
        a = np.empty(shape, dtype=dtype)
        view = memoryview(a.reshape(-1).view(np.uint8))
        done = 0
        while done < len(view):
            chunk = f.read(min(len(view) - done, READ_CHUNK))
            if not chunk:
                raise _Bad(f"member {name!r} is truncated")
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
    a = a.astype(np.float32 if name.startswith("snapshot") else np.float64, copy=False)
    if not np.isfinite(a).all():
        raise _Bad(f"member {name!r} holds NaN or infinite values")
    return a


def _read_meta(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, Any]:
    f, dtype, shape = _open_array(zf, info)
    with f:
        if dtype.kind not in "US" or shape != ():
            raise _Bad(f"meta must be one string, got {dtype} of shape {shape}")
        if info.file_size > MAX_META_BYTES:
            raise _Bad(f"meta of {_mb(info.file_size)}, more than {_mb(MAX_META_BYTES)}")
        raw = np.frombuffer(f.read(dtype.itemsize), dtype=dtype)[0]
    try:
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        # NaN/Infinity are not JSON; a file that has them gets None, as gdcli writes them
        meta = json.loads(text, parse_constant=lambda _: None)
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"meta is not valid JSON ({_short(str(exc), 60)})") from None
    if not isinstance(meta, dict):
        raise _Bad(f"meta must be a JSON object, got a {_json_kind(meta)}")
    return meta


def _read_format_1(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], meta: dict[str, Any]
) -> WeightsFile:
    config = meta.get("config", {})
    activation = config.get("activation", "linear")
    loss = config.get("loss", "mse")
    _expect("meta.config.activation", activation in ("linear", "sigmoid"), "linear or sigmoid",
            activation)  # fmt: skip
    _expect("meta.config.loss", loss in LOSSES, " or ".join(LOSSES), loss)
    weights = _read_floats(zf, members["weights"], 2)
    bias = _read_floats(zf, members["bias"], 1) if "bias" in members else None
    net = Network([Layer(weights, bias, activation)], loss=loss)
    _check_network(net)
    return WeightsFile(net, {**meta, "format": 1})


def _read_format_2(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], meta: dict[str, Any]
) -> WeightsFile:
    specs = meta.get("layers")
    ok = isinstance(specs, list) and 1 <= len(specs) <= MAX_LAYERS
    _expect("meta.layers", ok, f"a list of 1 to {MAX_LAYERS} layers", specs)
    loss = meta.get("loss", "mse")
    _expect("meta.loss", loss in LOSSES, " or ".join(LOSSES), loss)
    layers = []
    for i, spec in enumerate(specs):
        _expect(f"meta.layers[{i}]", isinstance(spec, dict), "an object", spec)
        activation = spec.get("activation", "linear")
        _expect(f"meta.layers[{i}].activation", activation in ACTIVATIONS,
                f"one of {', '.join(ACTIVATIONS)}", activation)  # fmt: skip
        if f"weights_{i}" not in members:
            raise _Bad(f"meta names {len(specs)} layers but there is no 'weights_{i}' array")
        weights = _read_floats(zf, members[f"weights_{i}"], 2)
        bias = _read_floats(zf, members[f"bias_{i}"], 1) if f"bias_{i}" in members else None
        conv = _read_conv(spec["conv"], i, weights) if "conv" in spec else None
        layers.append(Layer(weights, bias, activation, conv))
    if f"weights_{len(specs)}" in members:
        raise _Bad(f"holds more weight arrays than the {len(specs)} layers meta names")
    net = Network(layers, loss=loss)
    _check_network(net)
    history = _check_history(meta.get("history", []))
    snapshots = _read_snapshots(zf, members, meta.get("snapshot_epochs", []), net)
    rest = {k: v for k, v in meta.items() if k not in STRUCTURE}
    return WeightsFile(net, rest, history, snapshots, _read_resume_layers(zf, members, net))


def _read_resume_layers(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], net: Network
) -> list[tuple[np.ndarray, np.ndarray | None]] | None:
    """The resume_* arrays, each the shape of its layer's, or None when there are none."""
    if "resume_weights_0" not in members:
        return None
    out = []
    for i, layer in enumerate(net.layers):
        if f"resume_weights_{i}" not in members:
            raise _Bad(f"holds resume weights for some layers but not for layer {i}")
        w = _read_floats(zf, members[f"resume_weights_{i}"], 2)
        b = None
        if f"resume_bias_{i}" in members:
            b = _read_floats(zf, members[f"resume_bias_{i}"], 1)
        if (
            w.shape != layer.weights.shape
            or (b is None) != (layer.bias is None)
            or (
                b is not None and b.shape != layer.bias.shape  # type: ignore[union-attr]
            )
        ):
            raise _Bad(f"resume_weights_{i} or resume_bias_{i} does not have layer {i}'s shape")
        out.append((w, b))
    return out


def _read_snapshots(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], epochs: Any, net: Network
) -> Mapping[int, list[np.ndarray]]:
    """The snapshots' epochs and shapes, checked now; their weights are read when asked for."""
    ok = isinstance(epochs, list) and all(_is_int(e) and e >= 0 for e in epochs)
    ok = ok and all(a < b for a, b in itertools.pairwise(epochs))
    _expect("meta.snapshot_epochs", ok, "a rising list of epochs >= 0", epochs)
    if not epochs:
        return {}
    infos = []
    for i, layer in enumerate(net.layers):
        if f"snapshot_{i}" not in members:
            raise _Bad(f"meta names snapshots but there is no 'snapshot_{i}' array")
        info = members[f"snapshot_{i}"]
        f, dtype, shape = _open_array(zf, info)
        f.close()
        if dtype.kind != "f":
            raise _Bad(f"member 'snapshot_{i}' holds {dtype} values; gdcli reads floats")
        if shape != (len(epochs), *layer.weights.shape):
            raise _Bad(
                f"snapshot_{i} has shape {shape}; expected "
                f"{(len(epochs), *layer.weights.shape)} (epochs, layer {i}'s weights)"
            )
        infos.append((info, dtype, tuple(layer.weights.shape)))
    assert zf.filename is not None
    return Snapshots(Path(zf.filename), infos, list(epochs))


class Snapshots(Mapping[int, list[np.ndarray]]):
    """epoch -> each layer's weights (float32) at that epoch, read from the file when asked.

    A file's snapshots can be most of it (a thousand epochs of a large network), and evaluate
    or predict use none of them, so nothing of them is decompressed until a picture needs it:
    one epoch at a time (`[epoch]`), or a rising selection in one pass (`frames`). The file is
    held open from load() on, so a file replaced meanwhile still reads as the one loaded.
    """

    def __init__(
        self, path: Path, infos: list[tuple[zipfile.ZipInfo, np.dtype, tuple[int, ...]]],
        epochs: list[int],
    ) -> None:  # fmt: skip
        self.path, self.infos, self.epochs = path, infos, epochs
        self._index = {e: k for k, e in enumerate(epochs)}
        self._file = open(path, "rb")  # noqa: SIM115  (closed by the finalizer)
        weakref.finalize(self, self._file.close)

    def __getitem__(self, epoch: int) -> list[np.ndarray]:
        if epoch not in self._index:
            raise KeyError(epoch)
        return next(self.frames([epoch]))[1]

    def __iter__(self) -> Iterator[int]:
        return iter(self.epochs)

    def __len__(self) -> int:
        return len(self.epochs)

    def __contains__(self, epoch: object) -> bool:
        return epoch in self._index

    def frames(self, epochs: Iterable[int]) -> Iterator[tuple[int, list[np.ndarray]]]:
        """(epoch, layers) for `epochs` (held in the file), in rising order, in one pass over
        each layer's stack; one epoch's weights in memory at a time."""
        wanted = sorted({e for e in epochs if e in self._index})
        try:
            with zipfile.ZipFile(self._file) as zf:
                streams = [zf.open(info) for info, _, _ in self.infos]
                try:
                    for f, (info, _, _) in zip(streams, self.infos, strict=True):
                        _npy_header(f, info)
                    done = [0] * len(streams)  # frames read (or skipped) of each stack
                    for epoch in wanted:
                        k = self._index[epoch]
                        layers = []
                        for n, (f, spec) in enumerate(zip(streams, self.infos, strict=True)):
                            _skip(f, (k - done[n]) * _frame_bytes(spec))
                            layers.append(_frame(f, spec))
                            done[n] = k + 1
                        yield epoch, layers
                finally:
                    for f in streams:
                        f.close()
        except _Bad as exc:
            raise GdcliError(f"{self.path}: {exc}") from None
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
            raise GdcliError(f"{self.path}: cannot read its snapshots ({exc})") from None

    def __repr__(self) -> str:
        return f"Snapshots({self.path}, epochs {self.epochs})"


def snapshot_frames(
    snapshots: Mapping[int, list[np.ndarray]], epochs: Iterable[int]
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """(epoch, layers) for the rising `epochs` of `snapshots`: in one pass over the file when
    it reads them lazily (Snapshots), from memory otherwise."""
    if isinstance(snapshots, Snapshots):
        return snapshots.frames(epochs)
    return ((e, snapshots[e]) for e in sorted(epochs))


def _frame_bytes(spec: tuple[zipfile.ZipInfo, np.dtype, tuple[int, ...]]) -> int:
    return math.prod(spec[2]) * spec[1].itemsize


def _frame(f: IO[bytes], spec: tuple[zipfile.ZipInfo, np.dtype, tuple[int, ...]]) -> np.ndarray:
    """The next snapshot of one layer from its stack's stream, float32, checked finite."""
    info, dtype, shape = spec
    name = info.filename.removesuffix(".npy")
    data = f.read(_frame_bytes(spec))
    if len(data) != _frame_bytes(spec):
        raise _Bad(f"member {name!r} is truncated")
    a = np.frombuffer(data, dtype=dtype).reshape(shape).astype(np.float32)
    if not np.isfinite(a).all():
        raise _Bad(f"member {name!r} holds NaN or infinite values")
    return a


def _skip(f: IO[bytes], n: int) -> None:
    """Read and drop `n` bytes of a compressed stream, a bounded chunk at a time."""
    while n > 0:
        got = len(f.read(min(n, 1 << 20)))
        if not got:
            raise EOFError("truncated member")
        n -= got


# --- checks --------------------------------------------------------------------------------


def _check_network(net: Network) -> None:
    """784 inputs, 10 outputs, each layer's outputs the next one's inputs, biases that fit (a
    conv layer's: one per kernel)."""
    first = net.layers[0].weights
    if net.layers[0].n_in != N_PIXELS:
        raise _Bad(f"weights of shape {first.shape}: the first layer must take {N_PIXELS} pixels")
    for i, layer in enumerate(net.layers):
        n_out = layer.n_out
        if i + 1 < len(net.layers) and net.layers[i + 1].n_in != n_out:
            raise _Bad(
                f"layers do not chain: layer {i} is {_dims(layer.weights)}, "
                f"layer {i + 1} is {_dims(net.layers[i + 1].weights)}"
            )
        n_bias = layer.weights.shape[1]
        if layer.bias is not None and layer.bias.shape != (n_bias,):
            raise _Bad(f"bias of layer {i} has shape {layer.bias.shape}, expected ({n_bias},)")
    last = net.layers[-1].weights
    if last.shape[1] != N_CLASSES:
        raise _Bad(f"weights of shape {last.shape}: the last layer must give {N_CLASSES} outputs")


def _check_history(history: Any) -> list[dict[str, Any]]:
    _expect("meta.history", isinstance(history, list), "a list", history)
    for n, h in enumerate(history):
        where = f"meta.history[{n}]"
        _expect(where, isinstance(h, dict), "an object", h)
        epoch = h.get("epoch")
        _expect(f"{where}.epoch", _is_int(epoch) and epoch >= 1, "a whole number >= 1", epoch)
        for key in HISTORY_NUMBERS:
            v = h.get(key)
            _expect(f"{where}.{key}", v is None or _is_number(v), "a number or null", v)
    return history


def _check_common_meta(meta: dict[str, Any]) -> None:
    """The fields every command may read, in both formats: types first, then ranges."""
    version = meta.get("gdcli_version", "")
    _expect("meta.gdcli_version", isinstance(version, str), "a string", version)
    config = meta.get("config", {})
    _expect("meta.config", isinstance(config, dict), "an object", config)
    for key, value in config.items():
        if key in KEYS:
            _check_config_value(key, value)
    # which datasets exist is the registry's to say, when the data is needed (a dataset of
    # $GDCLI_EXTRA_DATASETS is as good as a built-in one)
    dataset = config.get("dataset", DEFAULTS.dataset)
    ok = isinstance(dataset, str) and re.fullmatch(r"[\w.-]{1,64}", dataset) is not None
    _expect("meta.config.dataset", ok, "a dataset's name", dataset)
    n_train = config.get("n_train", DEFAULTS.n_train)
    _expect("meta.config.n_train", n_train >= 1, "a whole number >= 1", n_train)
    metrics = meta.get("metrics", {})
    _expect("meta.metrics", isinstance(metrics, dict), "an object", metrics)
    for key, value in metrics.items():
        ok = value is None or isinstance(value, (int, float, str, bool))  # bool: stopped_early
        _expect(f"meta.metrics.{key}", ok, "a number, a string, true, false or null", value)
    ds = meta.get("dataset", {})
    _expect("meta.dataset", isinstance(ds, dict), "an object", ds)
    _expect("meta.dataset.name", isinstance(ds.get("name", ""), str), "a string", ds.get("name"))
    sums = ds.get("sha256", {})
    ok = isinstance(sums, dict) and all(isinstance(v, str) for v in sums.values())
    _expect("meta.dataset.sha256", ok, "an object of strings", sums)


def _check_config_value(key: str, value: Any) -> None:
    """A config key gdcli knows must have its default's JSON type."""
    default = getattr(DEFAULTS, key)
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = _is_int(value), "a whole number"
    elif isinstance(default, float):
        ok, kind = _is_number(value), "a number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    elif isinstance(default, (list, tuple)):
        ok, kind = isinstance(value, list), "a list"
    else:
        return
    _expect(f"meta.config.{key}", ok, kind, value)


def _expect(name: str, ok: bool, wanted: str, value: Any) -> None:
    if not ok:
        raise _Bad(f"{name} must be {wanted}, got {_short(value)}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _json_kind(v: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", type(None): "null"}.get(type(v), "number")


def _short(value: Any, limit: int = 40) -> str:
    """repr(value), cut so a huge crafted value is not echoed whole."""
    return shorten(value, limit)


def _dims(w: np.ndarray) -> str:
    return "x".join(str(d) for d in w.shape)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n < 1e9 else f"{n / 1e9:.1f} GB"
