"""A convolutional layer's geometry and its own arithmetic: patches, pooling, the kernel step.

A convolutional layer is a layer of the one model (model.Layer with `conv` set). Its weights
are its kernels, (kernel pixels, kernels) = (k * k, K) as chapter 10 of the book lays them out;
its input is seen as patches: every k x k window of the image at each of span x span positions
(stride 1, no padding), one patch a row:

    patches  (n * positions, k * k)       rows image by image, positions row-major
    sums     patches @ kernels            (n * positions, K)
    map      sums.reshape(n, positions * K)   position-major, as the book's
                                              kernel_output.reshape(batch, -1)

With pooling p > 1, each kernel's span x span feature map is cut into p x p windows and each
window gives its largest sum (max pooling commutes with the monotonic activations, so pooling
the sums is pooling the activations). The layer's output is then (n, (span / p)^2 * K).

Backward, the layer's delta (n, units) goes to the position each pooled window took its
maximum from (the first one on a tie), and the kernels' deltas are patches.T @ delta, summed
over every image and position: the book's flattened_input.T.dot(l1d_reshape).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Conv:
    """side: the images' side (28); kernel: the kernels' side (3); span: positions a row and a
    column (side - kernel + 1; the book's listing: side - kernel); pool: max pooling's window
    side (1: none)."""

    side: int = 28
    kernel: int = 3
    span: int = 26
    pool: int = 1

    @property
    def pixels(self) -> int:
        """The inputs: the image's pixels."""
        return self.side * self.side

    @property
    def positions(self) -> int:
        """Positions of the kernel on the image, before pooling."""
        return self.span * self.span

    @property
    def pooled_span(self) -> int:
        return self.span // self.pool

    def units(self, kernels: int) -> int:
        """The layer's outputs for `kernels` kernels: one per pooled position and kernel."""
        return self.pooled_span * self.pooled_span * kernels

    def patches(self, x: np.ndarray) -> np.ndarray:
        """x (n, side * side) -> (n * positions, kernel * kernel), a new C-ordered array: the
        book's expanded_input reshaped to flattened_input, the same numbers."""
        n, k, s = len(x), self.kernel, self.span
        out = np.empty((n, s, s, k * k), dtype=x.dtype)
        for offset, window in enumerate(self.windows(x)):  # k * k strided copies
            out[..., offset] = window
        return out.reshape(n * s * s, k * k)

    def activations(
        self,
        x: np.ndarray,
        kernels: np.ndarray,
        bias: np.ndarray | None,
        f: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """The layer's output f(sums), pooled, for images x (n, side * side): (n, units).

        A patch of zeros (most of an MNIST image's) sums to the bias alone (0 without), so
        its activation is f(bias) without a product: only the patches holding a nonzero
        pixel are multiplied, their sums and f computed as for every patch. Max pooling of
        f(sums) is f of the pooled sums, f being nondecreasing.
        """
        n, s = len(x), self.span
        where = np.flatnonzero(self.ink(x))
        sums = np.dot(self.patches_at(x, *np.divmod(where, s * s)), kernels)
        if bias is not None:
            sums += bias
        unlit = f(np.zeros(kernels.shape[1]) if bias is None else bias.copy())
        if np.any(unlit):
            out = np.empty((n * s * s, kernels.shape[1]))
            out[:] = unlit
        else:  # tanh or relu without a bias (the book): fresh zero pages, no pass to fill them
            out = np.zeros((n * s * s, kernels.shape[1]))  # (5-10% of the book's test, measured)
        out[where] = f(sums)
        return self.pool_sums(out, n)[0]

    def windows(self, x: np.ndarray) -> Iterator[np.ndarray]:
        """For each of the kernel's k * k pixels, row-major, the images' pixels under it at
        every position: views (n, span, span) of x (n, side * side)."""
        k, s = self.kernel, self.span
        images = x.reshape(len(x), self.side, self.side)
        for i in range(k):
            for j in range(k):
                yield images[:, i : i + s, j : j + s]

    def ink(self, x: np.ndarray) -> np.ndarray:
        """(n, span, span) bool: the positions whose patch holds a nonzero pixel."""
        lit = np.zeros((len(x), self.span, self.span), dtype=bool)
        for window in self.windows(x):
            lit |= window != 0
        return lit

    def patches_at(self, x: np.ndarray, image: np.ndarray, position: np.ndarray) -> np.ndarray:
        """The patches of images x (n, side * side) at (image, position) pairs, two index
        arrays of one length m: (m, kernel * kernel), gathered from the flat pixels."""
        k, s, side = self.kernel, self.span, self.side
        corner = image * self.pixels + (position // s) * side + position % s
        offsets = (np.arange(k)[:, None] * side + np.arange(k)).ravel()
        return x.reshape(-1)[corner[:, None] + offsets]

    def feature_sums(self, patches: np.ndarray, kernels: np.ndarray) -> np.ndarray:
        """Every kernel at every position, (n * positions, K): patches @ kernels."""
        return np.dot(patches, kernels)

    def pool_sums(self, sums: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """sums (n * positions, K) -> the layer's sums (n, units) and, with pooling, where each
        window's maximum is: (n, pooled, pooled, K) indices into the p * p window, row-major
        (the first on a tie, as np.argmax; None without pooling: the sums are the layer's,
        reshaped)."""
        if self.pool == 1:
            return sums.reshape(n, -1), None
        offsets = self._offsets(sums, n)
        best = offsets[0].copy()
        where = np.zeros(best.shape, dtype=np.int8)
        for i, window in enumerate(offsets[1:], start=1):  # p * p strided views, no copies
            larger = window > best
            np.copyto(best, window, where=larger)
            where[larger] = i
        return best.reshape(n, -1), where

    def unpool(self, delta: np.ndarray, where: np.ndarray | None, n: int) -> np.ndarray:
        """The layer's delta (n, units) as a delta per position and kernel, (n * positions, K):
        each pooled unit's delta at the position its maximum came from, 0 elsewhere."""
        kernels = delta.shape[1] // (self.pooled_span**2)
        if where is None:
            return delta.reshape(-1, kernels)
        q = self.pooled_span
        full = np.zeros((n * self.positions, kernels))
        pooled = delta.reshape(n, q, q, kernels)
        for i, window in enumerate(self._offsets(full, n)):
            np.copyto(window, pooled, where=where == i)
        return full

    def _offsets(self, sums: np.ndarray, n: int) -> list[np.ndarray]:
        """(n * positions, K) -> p * p views (n, pooled, pooled, K): each pooling window's
        entry at one offset, row-major (the positions past the last whole window left out)."""
        q, p = self.pooled_span, self.pool
        maps = sums.reshape(n, self.span, self.span, -1)
        return [maps[:, a : q * p : p, b : q * p : p] for a in range(p) for b in range(p)]

    def layer_sums(self, x: np.ndarray, kernels: np.ndarray) -> np.ndarray:
        """The layer's sums for images x (n, side * side): (n, units), before any bias."""
        n = len(x)
        return self.pool_sums(self.feature_sums(self.patches(x), kernels), n)[0]

    def to_json(self) -> dict[str, int]:
        return {"side": self.side, "kernel": self.kernel, "span": self.span, "pool": self.pool}


def lit_rows(patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of `patches` (rows, kernel pixels) holding a nonzero pixel: their indices, and
    those rows (a copy)."""
    where = np.flatnonzero(patches.any(axis=1))
    return where, patches[where]


def parse_conv(text: str) -> tuple[int, int] | None:
    """ "16x3" -> (16 kernels, 3 pixels a side); None if `text` is not of that form."""
    parts = text.strip().lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def geometry(side: int, kernel: int, pool: int = 1, book_positions: bool = False) -> Conv:
    """The layer of kernel x kernel kernels over side x side images, stride 1, no padding:
    side - kernel + 1 positions a row (side - kernel with book_positions, the listing's
    range(28 - 3))."""
    span = side - kernel + (0 if book_positions else 1)
    return Conv(side, kernel, span, pool)
