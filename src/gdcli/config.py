"""The training configuration: every default in one place, validated once, loaded from TOML.

Options given on the command line win over a config file, which wins over these defaults.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from gdcli import sizes
from gdcli.book.errata import BATCH_REPEAT, CONV_POSITIONS, ERRATA, KERNEL_SIGN, RELU2DERIV
from gdcli.data.registry import DEFAULT_DATASET, N_CLASSES, N_PIXELS, registry
from gdcli.errors import UsageError, key, shorten
from gdcli.io.paths import MAX_INPUT_BYTES, check_input
from gdcli.nn.conv import Conv, geometry, parse_conv

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# fetch: seconds for connecting, for each read and for any one wait (--timeout)
FETCH_TIMEOUT = 30.0
INITS = ("book", "zeros")
ACTIVATIONS = ("linear", "sigmoid")  # of the output layer
HIDDEN_ACTIVATIONS = ("relu", "sigmoid", "tanh")
LOSSES = ("mse", "softmax")
AUGMENTATIONS = ("none", "shifts")
KEEPS = ("last", "best")  # which epoch's weights the weights file holds


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (and nothing about where output goes)."""

    dataset: str = DEFAULT_DATASET
    n_train: int = 1000  # the first N training images
    alpha: float = 0.01  # learning rate; a dataset may have its own default (default_alpha)
    epochs: int = 350
    batch_size: int = 1  # 1: the book's per-example descent; B > 1: averaged mini-batches
    seed: int = 1  # for --init book: np.random.RandomState(seed)
    init: str = "book"  # book: uniform in [-0.1, 0.1); zeros
    freeze_inputs: str = ""  # pixel indices and ranges whose weights never change, "0-27,700-783"
    freeze_outputs: str = ""  # output (class) indices whose weights never change, "3,8"
    activation: str = "linear"
    loss: str = "mse"
    bias: bool = False
    l2: float = 0.0  # weight decay: adds l2 * W to every weight delta (not to the bias)
    eval_every: int = 10  # test error and accuracy every N epochs, and at the end
    val: int = 0  # the last N training images held out, evaluated with the test (0: none)
    keep: str = "last"  # best: the weights of the epoch with the best validation accuracy
    early_stop: int = 0  # stop after N tested epochs in a row without a better val (0: never)
    alpha_decay: float = 0.0  # alpha for epoch e (from 1) is alpha / (1 + alpha_decay * (e - 1))
    deskew: bool = False  # straighten every image by its second moments (train and test)
    augment: str = "none"  # shifts: each batch is followed by its four one-pixel shifts
    hidden: tuple[int, ...] = ()  # hidden layer sizes, input side first: (40,) is 784-40-10
    hidden_activation: str = "relu"  # of every hidden layer
    dropout: float = 0.0  # probability that a hidden unit is dropped in a training step
    init_scale: tuple[float, ...] = (0.1,)  # per layer (one value: every layer); --init book
    freeze_layers: str = ""  # layers (0: the first, from the inputs) whose weights never change
    snapshots: str = "auto"  # epochs whose weights are kept: auto, none, or e.g. "0,1,10,350"
    errata: tuple[str, ...] = ()  # the book's errata to reproduce (book.ERRATA); book configs only
    conv: str = ""  # a convolutional first layer, "KxS": K kernels of SxS pixels ("": none)
    pool: int = 1  # max pooling of the conv layer's feature maps, PxP windows (1: none)

    def __post_init__(self) -> None:
        # TOML arrays and callers' lists become tuples: the config stays hashable and frozen.
        for name in LIST_ITEMS:
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))

    @property
    def n_layers(self) -> int:
        """Layers of weights: the conv layer, the hidden layers and the output layer."""
        return len(self.hidden) + 1 + (1 if self.conv else 0)

    @property
    def kernels(self) -> int:
        """The conv layer's kernels (0 without one)."""
        parsed = parse_conv(self.conv) if self.conv else None
        return parsed[0] if parsed else 0

    def conv_layer(self) -> Conv | None:
        """The conv layer's geometry over the dataset's images, or None without one."""
        parsed = parse_conv(self.conv) if self.conv else None
        if parsed is None:
            return None
        side = math.isqrt(N_PIXELS)
        return geometry(side, parsed[1], self.pool, CONV_POSITIONS in self.errata)

    def alpha_at(self, epoch: int) -> float:
        """The learning rate of `epoch` (counted from 1)."""
        return self.alpha / (1.0 + self.alpha_decay * (epoch - 1))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


KEYS = {f.name: f for f in fields(TrainConfig)}
# Keys holding a list (a TOML array, or one value for a list of one; "40,20" on the command
# line), and the type of their items.
LIST_ITEMS = {
    name: get_args(hint)[0]
    for name, hint in get_type_hints(TrainConfig).items()
    if get_origin(hint) is tuple
}
DEFAULTS = TrainConfig()


def _expect(name: str, ok: bool, wanted: str, value: Any) -> None:
    if not ok:
        raise UsageError(f"{name} must be {wanted}, got {value!r}")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check every value of `cfg`; raise UsageError naming the first bad one."""
    known = registry()  # the built-in datasets and $GDCLI_EXTRA_DATASETS
    _expect("dataset", cfg.dataset in known, f"one of {', '.join(known)}", cfg.dataset)
    _expect("alpha", math.isfinite(cfg.alpha) and cfg.alpha > 0, "a positive number", cfg.alpha)
    for name in ("l2", "alpha_decay"):
        v = getattr(cfg, name)
        _expect(name, math.isfinite(v) and v >= 0, "a number >= 0", v)
    for name in ("n_train", "epochs", "batch_size", "eval_every"):
        v = getattr(cfg, name)
        _expect(name, v >= 1, "a whole number >= 1", v)
    _expect("val", cfg.val >= 0, "a whole number >= 0 (0: no validation images)", cfg.val)
    _expect("keep", cfg.keep in KEEPS, " or ".join(KEEPS), cfg.keep)
    _expect("early_stop", cfg.early_stop >= 0, "a whole number >= 1 (0: never)", cfg.early_stop)
    needs_val = {"keep": cfg.keep == "best", "early_stop": cfg.early_stop > 0}
    for name, used in needs_val.items():
        if used and not cfg.val:
            what = "keep best" if name == "keep" else "early_stop"
            raise UsageError(
                f"{key(name)} {getattr(cfg, name)} chooses by the validation accuracy, and this "
                "run has no validation images",
                hint=f"hold some out with {key('val')} (e.g. {key('val')} 10000); {what} never "
                "looks at the test images",
            )
    _expect("seed", 0 <= cfg.seed < 2**32, "a whole number in [0, 2**32)", cfg.seed)
    _expect("init", cfg.init in INITS, f"one of {', '.join(INITS)}", cfg.init)
    _expect("activation", cfg.activation in ACTIVATIONS, " or ".join(ACTIVATIONS), cfg.activation)
    _expect("loss", cfg.loss in LOSSES, " or ".join(LOSSES), cfg.loss)
    _expect("augment", cfg.augment in AUGMENTATIONS, " or ".join(AUGMENTATIONS), cfg.augment)
    if cfg.loss == "softmax" and cfg.activation != "linear":
        raise UsageError(
            f"{key('loss')} softmax has its own output function; use {key('activation')} linear"
        )
    _validate_layers(cfg)
    _validate_conv(cfg)
    parse_spec(cfg.freeze_inputs, N_PIXELS, "freeze_inputs")
    parse_spec(cfg.freeze_outputs, N_CLASSES, "freeze_outputs")
    parse_spec(cfg.freeze_layers, cfg.n_layers, "freeze_layers")
    n_snapshots = len(snapshot_epochs(cfg))
    for name in cfg.errata:
        _expect("errata", name in ERRATA, f"some of {', '.join(ERRATA)}", name)
    if BATCH_REPEAT in cfg.errata and (len(cfg.hidden) != 1 or cfg.l2):
        raise UsageError(
            f"the {BATCH_REPEAT} erratum reproduces the book's chapter-8 batch listing: "
            "one hidden layer, no l2"
        )
    if RELU2DERIV in cfg.errata and not (cfg.hidden and cfg.hidden_activation == "relu"):
        why = "has no hidden layer" if not cfg.hidden else f"has {cfg.hidden_activation} ones"
        raise UsageError(
            f"the {RELU2DERIV} erratum is in relu's derivative, and this network {why}",
            hint="give relu hidden layers (hidden_activation = relu), or leave the erratum out",
        )
    ds = known[cfg.dataset]
    n_images = sizes.images_in(ds.train_images.idx_bytes)
    check_val(cfg, n_images)
    n_train = min(cfg.n_train, n_images)
    # the validation images are evaluated as the test images are
    n_evaluated = sizes.images_in(ds.test_images.idx_bytes) + cfg.val
    sizes.check(cfg, n_train, n_evaluated, n_snapshots)
    return cfg


def check_val(cfg: TrainConfig, n_images: int) -> None:
    """The validation images (the last cfg.val of the training set) do not overlap the
    training images (the first cfg.n_train) of a training set of `n_images`."""
    if cfg.val and cfg.n_train + cfg.val > n_images:
        raise UsageError(
            f"{key('n_train')} {cfg.n_train:,} and {key('val')} {cfg.val:,} take "
            f"{cfg.n_train + cfg.val:,} images; {cfg.dataset} has {n_images:,} training images",
            hint=f"the validation images are the last {key('val')} of the training set and must "
            f"not overlap the first {key('n_train')}",
        )


def _validate_layers(cfg: TrainConfig) -> None:
    for size in cfg.hidden:
        _expect("hidden", size >= 1, "layer sizes, whole numbers >= 1", size)
    _expect("hidden_activation", cfg.hidden_activation in HIDDEN_ACTIVATIONS,
            f"one of {', '.join(HIDDEN_ACTIVATIONS)}", cfg.hidden_activation)  # fmt: skip
    _expect("dropout", math.isfinite(cfg.dropout) and 0 <= cfg.dropout < 1,
            "a probability in [0, 1)", cfg.dropout)  # fmt: skip
    if cfg.dropout and not (cfg.hidden or cfg.conv):
        raise UsageError(
            f"{key('dropout')} drops hidden units; give hidden layers too ({key('hidden')} 40)"
        )
    _expect("init_scale", len(cfg.init_scale) in (1, cfg.n_layers),
            f"one number, or one per layer ({cfg.n_layers})", list(cfg.init_scale))  # fmt: skip
    for scale in cfg.init_scale:
        _expect("init_scale", math.isfinite(scale) and scale > 0, "positive numbers", scale)
    if (cfg.hidden or cfg.conv) and cfg.init == "zeros":
        raise UsageError(
            "init zeros gives every hidden unit the same weights, and they stay the same",
            hint=f"use {key('init')} book with hidden layers",
        )


def _validate_conv(cfg: TrainConfig) -> None:
    """The conv layer's kernels fit the images, pooling divides its feature maps, and the
    conv errata have a conv layer to act on."""
    _expect("pool", cfg.pool >= 1, "a whole number >= 1 (1: no pooling)", cfg.pool)
    if not cfg.conv:
        for name in (CONV_POSITIONS, KERNEL_SIGN):
            if name in cfg.errata:
                raise UsageError(
                    f"the {name} erratum is in the book's convolutional layer, and this network "
                    "has none",
                    hint=f"give one ({key('conv')} 16x3), or leave the erratum out",
                )
        if cfg.pool != 1:
            raise UsageError(
                f"{key('pool')} pools a conv layer's feature maps; give one ({key('conv')} 16x3)"
            )
        return
    parsed = parse_conv(cfg.conv)
    if parsed is None:
        raise UsageError(
            f"{key('conv')} must be KxS, K kernels of SxS pixels (e.g. 16x3), "
            f"got {shorten(cfg.conv)}"
        )
    kernels, size = parsed
    if kernels < 1:
        raise UsageError(f"{key('conv')} {cfg.conv}: 0 kernels; give at least 1 (e.g. 16x3)")
    side = math.isqrt(N_PIXELS)
    conv = cfg.conv_layer()
    assert conv is not None
    if size < 1 or conv.span < 1:
        where = " at the listing's positions (conv-positions)" if size <= side else ""
        raise UsageError(
            f"{key('conv')} {cfg.conv}: a kernel of {size}x{size} pixels does not fit the "
            f"{side}x{side} images{where}"
        )
    if conv.span % cfg.pool:
        raise UsageError(
            f"{key('pool')} {cfg.pool} does not divide the {conv.span}x{conv.span} feature maps "
            f"of {key('conv')} {cfg.conv}",
            hint="use a pool that divides them, or another kernel size",
        )
    for name in ("freeze_inputs", "freeze_layers"):
        if getattr(cfg, name):
            raise UsageError(f"{key(name)} is not supported with a conv layer")


def snapshot_epochs(cfg: TrainConfig) -> list[int]:
    """The epochs whose weights train() keeps (0: before training), from cfg.snapshots: "auto"
    is 0, 1, 2, 5, 10, 20, 50, ... and the last epoch; "none"; or a spec like "0,1,10-12,350"."""
    if cfg.snapshots == "none":
        return []
    if cfg.snapshots == "auto":
        series = [0] + [m * 10**k for k in range(10) for m in (1, 2, 5)]
        return sorted({e for e in series if e < cfg.epochs} | {cfg.epochs})
    return parse_spec(cfg.snapshots, cfg.epochs + 1, "snapshots", sizes.MAX_SNAPSHOTS, "epochs")


def parse_list(text: str | None, item: type, name: str) -> tuple[Any, ...] | None:
    """ "128,64" -> (128, 64) (item int) or a tuple of floats or strings; None stays None."""
    if text is None:
        return None
    try:
        return tuple(item(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        kind = {int: "whole numbers", float: "numbers"}.get(item, "names")
        raise UsageError(f"{name} must be {kind} separated by commas, got {text!r}") from None


def parse_spec(
    spec: str, size: int, name: str, max_count: int | None = None, what: str = "indices"
) -> list[int]:
    """ "0-27,700-783" -> the sorted indices it names, each in [0, size), at most `max_count`
    of them: counted from the ranges before any is expanded."""
    ranges = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise UsageError(f"{name}: {shorten(part)} is not an index or a range like 0-27")
        lo, hi = int(m[1]), int(m[2] or m[1])
        if lo > hi or hi >= size:
            raise UsageError(f"{name}: {shorten(part)} is outside 0-{size - 1}")
        ranges.append((lo, hi))
    if max_count is not None:
        count, end = 0, -1  # the union of the ranges, sorted: overlaps counted once
        for lo, hi in sorted(ranges):
            count += max(0, hi - max(lo, end + 1) + 1)
            end = max(end, hi)
        if count > max_count:
            raise UsageError(
                f"{name}: {shorten(spec)} names {count:,} {what}; at most {max_count:,} are kept"
            )
    out: set[int] = set()
    for lo, hi in ranges:
        out.update(range(lo, hi + 1))
    return sorted(out)


MAX_CONFIG_BYTES = MAX_INPUT_BYTES["config"]  # a config is a few lines; more is not a config


def _kind(default: Any, item: type | None = None) -> str:
    """The TOML type a key wants, in words."""
    if item is not None:
        return f"{_kind(item())} or an array of them"
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, (list, tuple)):
        return "an array"
    return "a string" if isinstance(default, str) else f"a {type(default).__name__}"


def _type_ok(value: Any, default: Any, item: type | None = None) -> bool:
    if item is not None:  # a list key: an array of items, or a single item
        values = value if isinstance(value, (list, tuple)) else [value]
        return all(_type_ok(v, item()) for v in values)
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, (list, tuple)):
        return isinstance(value, list)
    return isinstance(value, type(default))


def _coerce(value: Any, default: Any, item: type | None = None) -> Any:
    """A TOML value as the type of the key's default (int -> float; a list key's array, or
    single value, -> a tuple of its item type)."""
    if item is not None:
        return tuple(item(v) for v in (value if isinstance(value, (list, tuple)) else [value]))
    if isinstance(default, float):
        return float(value)
    if isinstance(default, tuple):
        return tuple(value)
    return value


def _line_of(text: str, key: str) -> str:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return f"line {number}: "
    return ""


def _read_toml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text of a TOML file and its table; UsageError for anything that is not one."""
    check_input(path, "config")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror or exc}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise UsageError(f"{path}: more than {MAX_CONFIG_BYTES:,} bytes: not a config file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a TOML file (byte {exc.start} is not UTF-8 text)") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise UsageError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None


def _checked(key: str, value: Any, where: str) -> Any:
    """`value` for config key `key`, type-checked and coerced to the key's type; UsageError
    naming `where` (a file and line, or nothing) and the key."""
    if key not in KEYS:
        raise UsageError(
            f"{where}unknown key {shorten(key)}", hint=f"known keys: {', '.join(KEYS)}"
        )
    default, item = getattr(DEFAULTS, key), LIST_ITEMS.get(key)
    if not _type_ok(value, default, item):
        raise UsageError(f"{where}key {key!r} must be {_kind(default, item)}, got {shorten(value)}")
    return _coerce(value, default, item)


def check_keys(values: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Config keys given by a caller (None: not given), type-checked and coerced."""
    return {k: _checked(k, v, where) for k, v in values.items() if v is not None}


def load_config(path: Path) -> dict[str, Any]:
    """The keys of a TOML config file, type-checked; UsageError naming file, line and key."""
    text, raw = _read_toml(Path(path))
    return {
        key: _checked(key, value, f"{path}: {_line_of(text, key)}") for key, value in raw.items()
    }


CONFIGS_DIR = Path(__file__).parent / "configs"  # the configs that ship with gdcli


def shipped_configs() -> dict[str, tuple[Path, str]]:
    """The configs that ship with gdcli: name -> (file, its one-line description, the
    file's first line `#: ...`)."""
    out = {}
    for path in sorted(CONFIGS_DIR.glob("*.toml"), key=lambda p: p.stem):
        first = path.read_text(encoding="utf-8").partition("\n")[0]
        out[path.stem] = (path, first.removeprefix("#:").strip() if first.startswith("#:") else "")
    return out


def find_config(name_or_path: str | Path) -> Path:
    """A config file: a path to one, or the name of a config that ships with gdcli ("book-ch8":
    no folder, no suffix). An existing file wins over a name, a folder does not (a sweep's
    `--run-dir best` must not hide the config `best` from its runs); UsageError naming the
    shipped ones for a name that is neither."""
    path = Path(name_or_path)
    if path.is_file() or path.parent != Path(".") or path.suffix:
        return path
    shipped = shipped_configs()
    name = path.name
    if name in shipped:
        return shipped[name][0]
    if path.exists():  # a folder, not shipped: load_config says what it is
        return path
    raise UsageError(
        f"no config file or shipped config named {shorten(str(name_or_path))}",
        hint=f"shipped configs: {', '.join(shipped)} (`gdcli configs` lists them)",
    )


def default_alpha(dataset: str) -> float:
    """The learning rate a run on `dataset` takes when neither a config file nor an option
    sets one: the dataset's own (the registry's `alpha`, Fashion-MNIST's 0.001), else
    DEFAULTS.alpha (the book's 0.01)."""
    ds = registry().get(dataset)
    return ds.alpha if ds is not None and ds.alpha is not None else DEFAULTS.alpha


def make_config(config_file: str | Path | None, given: dict[str, Any]) -> TrainConfig:
    """Defaults (alpha: the dataset's, default_alpha), then the config file (a path or a
    shipped config's name), then the options `given` (None: not given)."""
    values = load_config(find_config(config_file)) if config_file else {}
    values.update({k: v for k, v in given.items() if v is not None})
    if "alpha" not in values:
        values["alpha"] = default_alpha(values.get("dataset", DEFAULTS.dataset))
    return validate(TrainConfig(**values))
