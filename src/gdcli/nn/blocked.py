"""The book's per-example gradient descent, to the last digit, a block of examples at a time.

For the linear network with squared error, the step on example t (a row x_t, target y_t) is

    d_t     = x_t W_t - y_t                       (the delta, 1 x k)
    W_{t+1} = W_t - alpha * u_t^T d_t             (u_t: x_t with frozen inputs set to 0)

Unrolled over a block of b examples starting from W_0, each delta depends on the earlier ones
only through dot products of images:

    d_t = x_t W_0 - y_t - alpha * sum_{s<t} (x_t . u_s) d_s

that is, (I + alpha L) D = X W_0 - Y with L the strictly lower triangle of the Gram matrix X U^T,
and then W_b = W_0 - alpha U^T D. The triangular system is the only sequential part, and it
depends on the images and alpha alone: its inverse is computed once per block and reused every
epoch, so an epoch is three matrix products per block instead of n small steps.

A pixel that is 0 in every image neither contributes to a prediction nor has its weights moved,
so the products skip such columns (in the first 1,000 MNIST images, 175 of the 784).

A bias is the weight of an input that is always 1: a column of ones on x, a row on W.
"""

from __future__ import annotations

import numpy as np

from gdcli.nn.backprop import StepRule
from gdcli.nn.model import Network

# Examples per block. Small products are exact and fast, and BLAS keeps them on one thread:
# measured per epoch of 1,000 images, 0.98 ms with blocks of 64 (1.15 ms with two OpenBLAS
# threads on a busy machine) against 1.45 ms with blocks of 256 (5.1 ms with two threads).
BLOCK = 64


class Blocked:
    """The blocked engine (engines.py): per-image steps of one linear layer with squared error.

    rule.trainable may freeze whole input rows and output columns of the layer (the freezing
    experiments); nothing else of the rule applies to this network.
    """

    name = "blocked"

    def __init__(
        self,
        net: Network,
        x: np.ndarray,
        rule: StepRule,
        rng: np.random.RandomState | None = None,
        batch_size: int = 1,
        augment: str = "none",
        block: int = BLOCK,
    ) -> None:
        self.layer = net.layers[0]
        frozen = rule.frozen(0)
        input_mask = None if frozen is None else frozen.any(axis=1)
        self.output_mask = None if frozen is None else frozen.any(axis=0)
        if self.layer.bias is not None:
            x = np.hstack([x, np.ones((len(x), 1))])
            if input_mask is not None:
                input_mask = np.append(input_mask, frozen.any())
        self.active = np.flatnonzero((x != 0).any(axis=0))
        self.x = np.ascontiguousarray(x[:, self.active])
        self.u = self.x if input_mask is None else self.x * input_mask[self.active]
        self.blocks = [slice(i, min(i + block, len(x))) for i in range(0, len(x), block)]
        self._inverses: dict[float, list[np.ndarray]] = {}

    def _solvers(self, alpha: float) -> list[np.ndarray]:
        if alpha not in self._inverses:
            solvers = []
            for blk in self.blocks:
                lower = np.tril(self.x[blk] @ self.u[blk].T, k=-1)
                solvers.append(np.linalg.inv(np.eye(len(lower)) + alpha * lower))
            self._inverses = {alpha: solvers}  # a schedule changes alpha: keep only the latest
        return self._inverses[alpha]

    def epoch(self, y: np.ndarray, alpha: float) -> np.ndarray:
        """One epoch, in place; returns the n predictions made before each step (n, k)."""
        layer = self.layer
        weights = layer.weights if layer.bias is None else np.vstack([layer.weights, layer.bias])
        try:
            deltas = self._deltas(weights, y, alpha)
        except np.linalg.LinAlgError:  # alpha so large that the block's system overflowed
            return np.full_like(y, np.nan)
        if layer.bias is not None:
            layer.weights[...], layer.bias[...] = weights[:-1], weights[-1]
        return deltas + y

    def _deltas(self, weights: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
        """The epoch on `weights` (n_inputs, k), in place; returns the n deltas (n, k)."""
        output_mask = self.output_mask
        w = weights[self.active]
        deltas = np.empty((len(self.x), weights.shape[1]))
        for blk, inverse in zip(self.blocks, self._solvers(alpha), strict=True):
            residual = self.x[blk] @ w - y[blk]
            d = inverse @ residual
            if output_mask is not None:
                d = np.where(output_mask, d, residual)  # a frozen output never learns
                w -= alpha * (self.u[blk].T @ d) * output_mask
            else:
                w -= alpha * (self.u[blk].T @ d)
            deltas[blk] = d
        weights[self.active] = w
        return deltas
