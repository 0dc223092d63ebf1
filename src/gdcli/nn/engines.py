"""Engines: how an epoch of training is computed. Every engine computes backprop.py's steps.

An engine is made for one network, its training images x (n, n_inputs) in a fixed order and the
StepRule; `engine.epoch(y, alpha)` runs one epoch over the images with one-hot targets y
(n, n_outputs), updating the network in place, and returns the predictions each step made
before it stepped, (n, n_outputs). Three engines compute the same steps:

    reference  backprop.Backprop, step by step: any batch size, l2, augmentation
    blocked    the book's per-image descent for one linear layer with squared error, a block of
               images at a time by solving the block's triangular system (blocked.py)
    gram       per-image descent for any network: the first layer's sums through the images'
               Gram matrix, every layer above through backprop.Backprop (gram.py)

choose() is the one place that decides which engine trains a configuration.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from gdcli.book.errata import DROPPED_TAIL
from gdcli.config import TrainConfig
from gdcli.data.transforms import shifts
from gdcli.errors import UsageError
from gdcli.nn.backprop import Backprop, StepRule
from gdcli.nn.conv import lit_rows
from gdcli.nn.model import Network


class Engine(Protocol):
    """An epoch over fixed images, in place (see the module's docstring)."""

    name: str

    def __init__(
        self,
        net: Network,
        x: np.ndarray,
        rule: StepRule,
        rng: np.random.RandomState,
        batch_size: int = 1,
        augment: str = "none",
    ) -> None: ...

    def epoch(self, y: np.ndarray, alpha: float) -> np.ndarray: ...


def dropout_masks(
    rng: np.random.RandomState, p: float, rows: int, sizes: list[int]
) -> list[np.ndarray]:
    """0/1 masks (1: kept), one (rows, size) array per hidden layer, drawn from rng as one
    (rows, sum of sizes) array. For p = 0.5 this is the book's
    np.random.randint(2, size=layer_1.shape); otherwise a unit is kept when random() >= p.
    Drawn for a whole epoch at once or a step at a time, the stream gives the same masks."""
    shape = (rows, sum(sizes))
    if p == 0.5:
        drawn = rng.randint(2, size=shape)
    else:
        drawn = (rng.random_sample(shape) >= p).astype(np.int64)
    return np.split(drawn, np.cumsum(sizes)[:-1], axis=1)


def hidden_sizes(net: Network) -> list[int]:
    return [layer.n_out for layer in net.layers[:-1]]


# A convolutional network's training images are cut into patches once, when they take at most
# this (the book's 1,000 images: 45 MB of 3x3 patches); more are cut a batch at a time.
PATCHES_ONCE_BYTES = 256 << 20


class Reference:
    """backprop.Backprop's steps one after another: single images or mini-batches in order,
    each followed by its four one-pixel shifts with augment "shifts". A network whose first
    layer is convolutional steps through Backprop.step_conv on the images' patches. With the
    dropped-tail erratum the last batch, smaller than the others, is not trained and the
    epoch's predictions are those of the images trained."""

    name = "reference"

    def __init__(
        self,
        net: Network,
        x: np.ndarray,
        rule: StepRule,
        rng: np.random.RandomState,
        batch_size: int = 1,
        augment: str = "none",
    ) -> None:
        self.net, self.x, self.rule, self.rng = net, x, rule, rng
        self.batch_size, self.augment = batch_size, augment
        self._steppers: dict[int, Backprop] = {}
        self.sizes = hidden_sizes(net)
        self.conv = net.layers[0].conv
        self.stop = len(x)
        if DROPPED_TAIL in rule.errata and len(x) > batch_size:
            self.stop = len(x) - len(x) % batch_size
        self.patches: np.ndarray | None = None
        self.lit: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # batch start: conv.lit_rows
        if self.conv is not None and augment == "none":
            size = self.stop * self.conv.positions * self.conv.kernel**2 * x.itemsize
            if size <= PATCHES_ONCE_BYTES:
                self.patches = self.conv.patches(x[: self.stop])

    def _stepper(self, rows: int) -> Backprop:
        if rows not in self._steppers:  # the last batch may be smaller
            self._steppers[rows] = Backprop(self.net, self.rule, rows)
        return self._steppers[rows]

    def epoch(self, y: np.ndarray, alpha: float) -> np.ndarray:
        preds = np.empty_like(y[: self.stop])
        for start, xb, yb, original in self._batches(y):
            bp = self._stepper(len(xb))
            if self.rule.dropout:
                bp.use_masks(dropout_masks(self.rng, self.rule.dropout, len(xb), self.sizes))
            if self.conv is None:
                pred = bp.step(xb, yb, alpha)
            else:
                patches = self._patches(start, xb, original)
                lit = None
                if bp.lit_only and self.patches is not None and original:
                    if start not in self.lit:
                        self.lit[start] = lit_rows(patches)
                    lit = self.lit[start]
                pred = bp.step_conv(patches, yb, alpha, lit=lit)
            if original:
                preds[start : start + len(xb)] = pred
        return preds

    def _patches(self, start: int, xb: np.ndarray, original: bool) -> np.ndarray:
        """The batch's patches: rows of the ones cut once, or cut now."""
        if self.patches is None or not original or self.conv is None:
            return self.conv.patches(xb)  # type: ignore[union-attr]
        per = self.conv.positions
        return self.patches[start * per : (start + len(xb)) * per]

    def _batches(self, y: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray, bool]]:
        """(start, images, targets, whether it is the original images) for each step."""
        for start in range(0, self.stop, self.batch_size):
            stop = min(start + self.batch_size, self.stop)
            xb, yb = self.x[start:stop], y[start:stop]
            yield start, xb, yb, True
            if self.augment == "shifts":
                for shifted in shifts(xb):
                    yield start, shifted, yb, False


def _per_image(cfg: TrainConfig) -> bool:
    return (cfg.batch_size, cfg.l2, cfg.augment, cfg.conv) == (1, 0.0, "none", "")


def _linear(cfg: TrainConfig) -> bool:
    return not cfg.hidden and (cfg.activation, cfg.loss) == ("linear", "mse")


def choose(cfg: TrainConfig, name: str | None = None) -> type[Engine]:
    """The engine that trains `cfg`: `name` ("reference", "blocked" or "gram"), or the fastest
    that computes its steps (None). UsageError if the named engine cannot."""
    from gdcli.nn.blocked import Blocked
    from gdcli.nn.gram import Gram

    engines: dict[str, type[Engine]] = {"reference": Reference, "blocked": Blocked, "gram": Gram}
    fits = {
        "blocked": _per_image(cfg) and _linear(cfg),
        "gram": _per_image(cfg),
        "reference": True,
    }
    if name is None:
        return engines[next(n for n in ("blocked", "gram", "reference") if fits[n])]
    if name not in engines:
        raise UsageError(f"engine must be one of {', '.join(engines)}, got {name!r}")
    if not fits[name]:
        needs = "per-image steps (batch_size 1, no l2, no augment, no conv)"
        if name == "blocked":
            needs += " of one linear layer with squared error"
        raise UsageError(f"the {name} engine computes only {needs}")
    return engines[name]
