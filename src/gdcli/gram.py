"""Per-example backpropagation with the first layer's products taken through the Gram matrix.

The book trains its hidden-layer networks one image at a time. Most of that work is the first
layer: x_t @ W0 (784 x hidden) forward and W0 -= alpha * outer(x_t, d_t) back, for every image.
But over a block of images starting from weights W0, the first layer's sums at step t are

    h_t = x_t @ W0_t = x_t @ W0 - alpha * sum_{s<t} (x_t . u_s) d_s

(d_s: the first layer's delta at step s; u_s: x_s with frozen inputs set to 0). So a block
needs one product X @ W0 at its start, the (x_t . x_s) of its images (the Gram matrix, the
same every epoch, computed once), one row of it per step, and one X.T @ D at its end. The
layers above the first are small and stepped one image at a time, exactly as backprop.step
does. The steps are the book's; only the order of the additions inside h_t differs, so the
weights equal the book's to rounding (measured: 1e-15 after 350 epochs of chapter 8).

A pixel that is 0 in every image neither contributes to a sum nor moves a weight, so the
products skip such columns (in the first 1,000 MNIST images, 175 of the 784).
"""

from __future__ import annotations

import numpy as np

from gdcli.book import DROPOUT_DERIV, RELU2DERIV
from gdcli.model import Network, activate, derivative, softmax

BLOCK = 100  # images per block: the per-step row of the Gram matrix stays short


class GramSGD:
    """Per-example SGD on fixed examples x (n, n_inputs), in a fixed order, every epoch.

    bias: the first layer has a bias (the weight of an extra input that is always 1).
    input_mask: (n_inputs,) booleans, False for inputs whose first-layer weights are frozen;
    bias_trainable: False when the first layer's bias is frozen too.
    """

    def __init__(
        self,
        x: np.ndarray,
        bias: bool = False,
        input_mask: np.ndarray | None = None,
        bias_trainable: bool = True,
        block: int = BLOCK,
    ) -> None:
        self.active = np.flatnonzero((x != 0).any(axis=0))
        self.bias = bias
        xa = x[:, self.active]
        ua = xa if input_mask is None else xa * input_mask[self.active]
        if bias:
            ones = np.ones((len(x), 1))
            xa, ua = np.hstack([xa, ones]), np.hstack([ua, ones * bias_trainable])
        self.x, self.u = np.ascontiguousarray(xa), np.ascontiguousarray(ua)
        self.blocks = [slice(i, min(i + block, len(x))) for i in range(0, len(x), block)]
        self.grams = [np.tril(self.x[b] @ self.u[b].T, k=-1) for b in self.blocks]
        self._scaled: tuple[float, list[np.ndarray]] | None = None

    def _alpha_grams(self, alpha: float) -> list[np.ndarray]:
        if self._scaled is None or self._scaled[0] != alpha:
            self._scaled = (alpha, [alpha * g for g in self.grams])
        return self._scaled[1]

    def epoch(
        self,
        net: Network,
        y: np.ndarray,
        alpha: float,
        masks: list[np.ndarray] | None = None,
        dropout: float = 0.0,
        trainable: list[np.ndarray | None] | None = None,
        errata: frozenset[str] = frozenset(),
    ) -> np.ndarray:
        """One epoch on `net`, in place; returns the n predictions made before each step.

        masks: one (n, units) 0/1 array per hidden layer, row t for image t. trainable: one
        mask or None per layer, as backprop.weight_step takes them; the first layer's must
        freeze whole input rows (input_mask) and, when it is also the last, whole columns.
        """
        first = net.layers[0]
        w0 = first.weights[self.active]
        if self.bias:
            w0 = np.vstack([w0, first.bias])
        out_mask = None
        if len(net.layers) == 1 and trainable and trainable[0] is not None:
            out_mask = trainable[0].any(axis=0)
        kept = [m * (1.0 / (1.0 - dropout)) for m in masks] if masks else None
        preds = np.empty((len(y), net.n_outputs))
        step = _Stepper(net, alpha, masks, kept, trainable, errata)
        for blk, gram in zip(self.blocks, self._alpha_grams(alpha), strict=True):
            sums = self.x[blk] @ w0  # the first layer's sums with the block's starting weights
            deltas = np.zeros_like(sums)
            for i, t in enumerate(range(blk.start, blk.stop)):
                h = sums[i] - np.dot(gram[i], deltas)
                preds[t], deltas[i] = step(t, h, y[t])
                if out_mask is not None:
                    deltas[i] *= out_mask
            w0 -= alpha * (self.u[blk].T @ deltas)
        if self.bias:
            first.weights[self.active], first.bias[:] = w0[:-1], w0[-1]
        else:
            first.weights[self.active] = w0
        return preds


class _Stepper:
    """One example's step given the first layer's sums h: the forward pass above it, the
    output's delta, the layers above the first stepped as backprop.step steps them; returns
    the prediction and the first layer's delta (its weights are stepped by the caller)."""

    def __init__(
        self,
        net: Network,
        alpha: float,
        masks: list[np.ndarray] | None,
        kept: list[np.ndarray] | None,
        trainable: list[np.ndarray | None] | None,
        errata: frozenset[str],
    ) -> None:
        self.layers = net.layers
        self.activations = [layer.activation for layer in net.layers]
        self.softmax = net.loss == "softmax"
        self.alpha = alpha
        self.masks, self.kept = masks, kept
        self.trainable = trainable or [None] * len(net.layers)
        self.relu2deriv = RELU2DERIV in errata
        self.dropout_deriv = DROPOUT_DERIV in errata

    def __call__(self, t: int, h: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        layers, f, alpha, kept = self.layers, self.activations, self.alpha, self.kept
        last = len(layers) - 1
        acts, outs = [], []  # per layer: f(h), and what the next layer receives
        for i, layer in enumerate(layers):
            if i:
                h = np.dot(outs[-1], layer.weights)
                if layer.bias is not None:
                    h = h + layer.bias
            a = activate(f[i], h)
            acts.append(a)
            outs.append(a * kept[i][t] if kept is not None and i < last else a)
        pred = outs[-1] = softmax(a) if self.softmax else a
        delta = pred - y
        if not self.softmax and f[-1] != "linear":
            delta = delta * derivative(f[-1], pred, self.relu2deriv)
        for i in range(last, 0, -1):
            layer = layers[i]
            back = np.dot(layer.weights, delta)  # delta @ weights.T, the weights before the step
            if kept is None:
                gate = derivative(f[i - 1], acts[i - 1], self.relu2deriv)
            elif self.dropout_deriv:
                gate = derivative(f[i - 1], outs[i - 1], self.relu2deriv) * self.masks[i - 1][t]
            else:
                gate = derivative(f[i - 1], acts[i - 1]) * kept[i - 1][t]
            weight_deltas = np.multiply.outer(outs[i - 1], delta)
            trainable = self.trainable[i]
            if trainable is not None:
                weight_deltas = np.where(trainable, weight_deltas, 0.0)
            layer.weights -= alpha * weight_deltas
            if layer.bias is not None:
                bias_deltas = delta if trainable is None else np.where(trainable.any(0), delta, 0)
                layer.bias -= alpha * bias_deltas
            delta = back * gate
        return pred, delta
