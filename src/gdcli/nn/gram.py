"""The Gram engine: per-image backpropagation with the first layer's products taken through
the Gram matrix of the images.

The book trains its hidden-layer networks one image at a time. Most of that work is the first
layer: x_t @ W0 (784 x hidden) forward and W0 -= alpha * outer(x_t, delta_t) back, for every
image. But over a block of images starting from weights W0, the first layer's sums at step t are

    h_t = x_t @ W0_t = x_t @ W0 - sum_{s<t} (x_t . u_s) d_s

(d_s: alpha times the first layer's delta at step s; u_s: x_s with frozen inputs set to 0). So a
block needs one product X @ W0 at its start, the (x_t . u_s) of its images (the Gram matrix,
the same every epoch, computed once), one row of it per step, and one W0 -= U.T @ D at its end.
The steps are backprop.py's; only the order of the additions and where alpha multiplies differ,
so the weights equal the step-by-step ones to rounding (measured: 2e-15 after 20 epochs of
chapter 8, 8e-14 after 350).

One product per step: row t of the block's buffer D holds x_t @ W0 until step t overwrites it
with d_t, and the Gram's rows are stored as G[t] = (-x_t . u_s for s < t, 1 at s = t, 0 after),
so h_t = G[t] @ D.

Everything above the first layer's sums is backprop.Backprop: the forward pass from h_t, the
deltas, the steps of the layers above, the first layer's delta. A numpy call on vectors this
small costs about 0.6 us whatever it computes, so the number of calls is the cost: chapter 8
takes about 5 us an image in its calls and 2.4 us in its share of the block products (49,000
multiply-adds an image, at BLAS speed).

A pixel that is 0 in every image neither contributes to a sum nor moves a weight, so the
products skip such columns (in the first 1,000 MNIST images, 175 of the 784).
"""

from __future__ import annotations

import numpy as np

from gdcli.nn.backprop import Backprop, StepRule
from gdcli.nn.engines import dropout_masks, hidden_sizes
from gdcli.nn.model import Network, fast_dot

# A block holds up to BLOCK images, fewer when its products X @ W0 and U.T @ D would exceed
# BLOCK_WORK multiply-adds. Each step's product G[t] @ D grows with the block; the block's
# products gain from it (a matrix product of a few rows runs at a fraction of BLAS's speed).
# Measured, one OpenBLAS thread, the block products alone per epoch of 1,000 images: 40 units,
# 8 images 3.2 ms, 16 images 2.4 ms, 32 images 2.1 ms; 100 units, 8 images 11.0 ms, 16 images
# 6.4 ms; whole epochs of chapter 8 (40 units) fastest at 16-24 images. Products much larger
# than OpenBLAS's one-thread limit (about 260,000) wake its threads, which on a busy machine
# cost more than they save: chapter 8 end to end took 140 s with blocks of 100 images and two
# threads, 16 s with one thread.
BLOCK = 16
BLOCK_WORK = 1_000_000


class Gram:
    """The Gram engine (engines.py): per-image steps of any network.

    rule.trainable may freeze whole input rows of the first layer (and, when it is also the
    last, whole output columns); any layer above may be frozen in any way.
    """

    name = "gram"

    def __init__(
        self,
        net: Network,
        x: np.ndarray,
        rule: StepRule,
        rng: np.random.RandomState | None = None,
        batch_size: int = 1,
        augment: str = "none",
    ) -> None:
        self.net, self.rule, self.rng = net, rule, rng
        first = net.layers[0]
        frozen = rule.frozen(0)
        self.active = np.flatnonzero((x != 0).any(axis=0))
        self.bias = first.bias is not None
        xa = x[:, self.active]
        ua = xa if frozen is None else xa * frozen.any(axis=1)[self.active]
        if self.bias:
            ones = np.ones((len(x), 1))
            bias_trainable = frozen is None or bool(frozen.any())
            xa, ua = np.hstack([xa, ones]), np.hstack([ua, ones * bias_trainable])
        self.x, self.u = np.ascontiguousarray(xa), np.ascontiguousarray(ua)
        self.out_mask = None
        if len(net.layers) == 1 and frozen is not None:
            self.out_mask = frozen.any(axis=0).astype(float)
        units = first.weights.shape[1]
        block = max(1, min(BLOCK, BLOCK_WORK // (self.x.shape[1] * units)))
        self.blocks = [slice(i, min(i + block, len(x))) for i in range(0, len(x), block)]
        # rows of G = I - tril(X U.T, -1) per block, as views made once: a view costs a call
        self.grams = [list(np.eye(b.stop - b.start) - np.tril(self.x[b] @ self.u[b].T, k=-1))
                      for b in self.blocks]  # fmt: skip
        # the layers above the first, and the first layer's delta (alpha in it, the book's way)
        self.bp = Backprop(net, rule, alpha_in_delta=True)
        self._y: np.ndarray | None = None
        self.preds = np.empty((0, net.n_outputs))
        self._row_views: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])

    def epoch(self, y: np.ndarray, alpha: float) -> np.ndarray:
        """One epoch, in place; returns the n predictions made before each step (n, k)."""
        net, bp = self.net, self.bp
        if self.rule.dropout:
            bp.use_masks(dropout_masks(self.rng, self.rule.dropout, len(y), hidden_sizes(net)))
        first = net.layers[0]
        w0 = first.weights[self.active]
        if self.bias:
            w0 = np.vstack([w0, first.bias])
        y_rows, pred_rows = self._rows(y)
        h = bp.sums[0][0]
        step, dot = bp.step, fast_dot
        alpha, out_mask = np.float64(alpha), self.out_mask
        deltas = np.empty((self.blocks[0].stop - self.blocks[0].start, w0.shape[1]))
        # the first layer's delta (alpha times it) goes straight into its row of D
        delta_rows = [deltas[k : k + 1] for k in range(len(deltas))]
        for blk, gram in zip(self.blocks, self.grams, strict=True):
            d = deltas[: blk.stop - blk.start]
            np.dot(self.x[blk], w0, out=d)  # row t: x_t @ W0 until step t writes d_t there
            rows = (range(blk.start, blk.stop), gram, delta_rows, y_rows[blk], pred_rows[blk])
            steps = zip(*rows, strict=False)  # delta_rows: as many as the largest block
            for t, g, d_t, y_t, pred_t in steps:
                dot(g, d, out=h)
                bp.deltas[0] = d_t
                step(None, y_t, alpha, t, pred_t)
                if out_mask is not None:
                    d_t *= out_mask
            w0 -= self.u[blk].T @ d
        if self.bias:
            first.weights[self.active], first.bias[:] = w0[:-1], w0[-1]
        else:
            first.weights[self.active] = w0
        return self.preds.copy()

    def _rows(self, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The (1, k) rows of the targets y and of the predictions buffer, as views made once
        for the targets every epoch is given (a thousand views cost a few percent of an
        epoch)."""
        if self._y is not y:
            self.preds = np.empty(y.shape)
            n = len(y)
            self._y = y
            self._row_views = ([y[t : t + 1] for t in range(n)],
                               [self.preds[t : t + 1] for t in range(n)])  # fmt: skip
        return self._row_views
