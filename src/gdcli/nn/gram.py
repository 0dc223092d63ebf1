"""Per-example backpropagation with the first layer's products taken through the Gram matrix.

The book trains its hidden-layer networks one image at a time. Most of that work is the first
layer: x_t @ W0 (784 x hidden) forward and W0 += alpha * outer(x_t, d_t) back, for every image.
But over a block of images starting from weights W0, the first layer's sums at step t are

    h_t = x_t @ W0_t = x_t @ W0 + sum_{s<t} (x_t . u_s) d_s

(d_s: alpha times the first layer's delta at step s, the book's sign; u_s: x_s with frozen
inputs set to 0). So a block needs one product X @ W0 at its start, the (x_t . u_s) of its
images (the Gram matrix, the same every epoch, computed once), one row of it per step, and one
W0 += U.T @ D at its end. The steps are the book's; only the order of the additions and where
alpha multiplies differ, so the weights equal the book's to rounding (measured: 2e-15 after
20 epochs of chapter 8, 8e-14 after 350).

One product per step: row t of the block's buffer D holds x_t @ W0 until step t overwrites it
with d_t, and the Gram's rows are stored as G[t] = (x_t . u_s for s < t, 1 at s = t, 0 after),
so h_t = G[t] @ D.

The layers above the first are small and stepped one image at a time. The book's networks (one
relu hidden layer, a linear output, squared error: chapter 8, with or without dropout) take a
straight-line step of eight numpy calls (two more with dropout, two more for relu's true
derivative) writing into buffers made once (_OneHidden); every other network goes through
_Stepper, which computes backprop.step's steps for any depth, activation, loss, bias and frozen
weights. A numpy call on vectors this small costs about 0.6 us whatever it computes, so the
number of calls is the cost: chapter 8 takes about 5 us an image in its eight calls and 2.4
us in its share of the block products (49,000 multiply-adds an image, at BLAS speed).

A pixel that is 0 in every image neither contributes to a sum nor moves a weight, so the
products skip such columns (in the first 1,000 MNIST images, 175 of the 784).
"""

from __future__ import annotations

import numpy as np

from gdcli.book.errata import DROPOUT_DERIV, RELU2DERIV
from gdcli.nn.model import Network, derivative, softmax

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
_ZERO = np.float64(0.0)


class GramSGD:
    """Per-example SGD on fixed examples x (n, n_inputs), in a fixed order, every epoch.

    bias: the first layer has a bias (the weight of an extra input that is always 1).
    input_mask: (n_inputs,) booleans, False for inputs whose first-layer weights are frozen;
    bias_trainable: False when the first layer's bias is frozen too. units: the first layer's
    number of units (it sets how many images a block holds).
    """

    def __init__(
        self,
        x: np.ndarray,
        bias: bool = False,
        input_mask: np.ndarray | None = None,
        bias_trainable: bool = True,
        units: int = 100,
    ) -> None:
        self.active = np.flatnonzero((x != 0).any(axis=0))
        self.bias = bias
        xa = x[:, self.active]
        ua = xa if input_mask is None else xa * input_mask[self.active]
        if bias:
            ones = np.ones((len(x), 1))
            xa, ua = np.hstack([xa, ones]), np.hstack([ua, ones * bias_trainable])
        self.x, self.u = np.ascontiguousarray(xa), np.ascontiguousarray(ua)
        block = max(1, min(BLOCK, BLOCK_WORK // (self.x.shape[1] * units)))
        self.blocks = [slice(i, min(i + block, len(x))) for i in range(0, len(x), block)]
        # rows of G = tril(X U.T, -1) + I per block, as views made once: a view costs a call
        self.grams = [list(np.tril(self.x[b] @ self.u[b].T, k=-1) + np.eye(b.stop - b.start))
                      for b in self.blocks]  # fmt: skip

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
        preds = np.empty((len(y), net.n_outputs))
        if _OneHidden.fits(net, trainable):
            step = _OneHidden(net, alpha, y, preds, masks, dropout, errata)
        else:
            step = _Generic(net, alpha, y, preds, masks, dropout, trainable, errata)
        deltas = np.empty((self.blocks[0].stop - self.blocks[0].start, w0.shape[1]))
        delta_rows = list(deltas)
        for blk, gram in zip(self.blocks, self.grams, strict=True):
            d = deltas[: blk.stop - blk.start]
            np.dot(self.x[blk], w0, out=d)  # row t: x_t @ W0 until step t writes d_t there
            step.block(blk, gram, d, delta_rows)
            w0 += self.u[blk].T @ d
        if self.bias:
            first.weights[self.active], first.bias[:] = w0[:-1], w0[-1]
        else:
            first.weights[self.active] = w0
        return preds


class _OneHidden:
    """The book's chapter 8 step, as straight-line numpy calls into buffers made once: one
    relu hidden layer (times its dropout mask, kept units scaled up), a linear output without
    bias, squared error. For each image of a block (gram, d, y, pred rows):

        h = G[t] @ D;  a = relu(h) [* kept];  pred = a @ W1;  e = alpha * (y - pred)
        d_t = W1 @ e [* gate];  W1 += outer(a, e)

    gate, as backprop.gate: the dropout mask (the book's dropout-deriv erratum) or kept (the
    chain rule through the mask), times h > 0 (relu's derivative) unless the relu2deriv
    erratum makes it 1.
    """

    @staticmethod
    def fits(net: Network, trainable: list[np.ndarray | None] | None) -> bool:
        if len(net.layers) != 2 or net.loss != "mse" or any(trainable or []):
            return False
        hidden, out = net.layers
        return hidden.activation == "relu" and out.activation == "linear" and out.bias is None

    def __init__(
        self,
        net: Network,
        alpha: float,
        y: np.ndarray,
        preds: np.ndarray,
        masks: list[np.ndarray] | None,
        dropout: float,
        errata: frozenset[str],
    ) -> None:
        self.w1 = net.layers[1].weights
        self.alpha = np.float64(alpha)
        units, n_outputs = self.w1.shape
        self.h, self.a, self.e = np.empty(units), np.empty(units), np.empty(n_outputs)
        self.outer = np.empty(self.w1.shape)
        self.ys, self.preds = list(y), list(preds)
        self.out, self.kept, self.gates = self.a, [None] * len(y), [None] * len(y)
        if masks is not None:
            mask = masks[0].astype(float)
            kept = mask * (1.0 / (1.0 - dropout))
            self.out, self.kept = np.empty(units), list(kept)
            self.gates = list(mask if DROPOUT_DERIV in errata else kept)
        # relu's true derivative (h > 0), unless the book's erratum (1 for every relu output)
        # applies: backprop.gate takes it through the doubled output only with dropout-deriv
        erratum = RELU2DERIV in errata and (masks is None or DROPOUT_DERIV in errata)
        self.positive = None if erratum else np.empty(units)

    def block(self, blk: slice, gram: list[np.ndarray], d: np.ndarray, d_rows: list[np.ndarray]):
        """Steps the images of blk in order: d (images, units) holds x_t @ W0 in and the first
        layer's deltas out (d_rows: its rows); gram: the block's rows of G."""
        dot, maximum, subtract, multiply, heaviside = (
            np.dot, np.maximum, np.subtract, np.multiply, np.heaviside,
        )  # fmt: skip
        w1, alpha, h, a, out, e, outer = (
            self.w1, self.alpha, self.h, self.a, self.out, self.e, self.outer,
        )  # fmt: skip
        positive, column, row = self.positive, out[:, None], e[None, :]
        d_rows = d_rows[: len(gram)]
        rows = (gram, d_rows, self.ys[blk], self.preds[blk], self.kept[blk], self.gates[blk])
        for g, di, y, pred, kept, gate in zip(*rows, strict=True):
            dot(g, d, out=h)
            maximum(h, _ZERO, out=a)
            if kept is not None:
                multiply(a, kept, out=out)
            dot(out, w1, out=pred)
            subtract(y, pred, out=e)
            e *= alpha
            dot(w1, e, out=di)  # W1 before its step
            if gate is not None:
                multiply(di, gate, out=di)
            if positive is not None:
                multiply(di, heaviside(h, _ZERO, out=positive), out=di)  # h > 0: 1.0, else 0.0
            dot(column, row, out=outer)  # the book's layer_1.T.dot(delta), times alpha
            w1 += outer


class _Generic:
    """Any network's block, one _Stepper call per image (the first layer's delta negated to
    the book's sign; with one layer, frozen output columns masked)."""

    def __init__(
        self,
        net: Network,
        alpha: float,
        y: np.ndarray,
        preds: np.ndarray,
        masks: list[np.ndarray] | None,
        dropout: float,
        trainable: list[np.ndarray | None] | None,
        errata: frozenset[str],
    ) -> None:
        self.y, self.preds, self.out_mask = y, preds, None
        self.minus_alpha = np.float64(-alpha)
        if len(net.layers) == 1 and trainable and trainable[0] is not None:
            self.out_mask = trainable[0].any(axis=0)
        self.step = _Stepper(net, alpha, masks, dropout, trainable, errata)

    def block(self, blk: slice, gram: list[np.ndarray], d: np.ndarray, d_rows: list[np.ndarray]):
        step, h = self.step, self.step.sums[0]  # the first layer's sums, as the stepper reads them
        for t, g, di in zip(range(blk.start, blk.stop), gram, d_rows[: len(gram)], strict=True):
            np.dot(g, d, out=h)
            step(t, self.y[t])
            self.preds[t] = step.pred
            np.multiply(step.deltas[0], self.minus_alpha, out=di)
            if self.out_mask is not None:
                di *= self.out_mask


class _Stepper:
    """One example's step, given the first layer's sums (written into sums[0]): the forward
    pass, the output's delta, each layer's delta from the one above and the steps of the
    layers above the first, as backprop.step computes them. Leaves the prediction in pred and
    the first layer's delta in deltas[0] (the caller steps the first layer's weights).

    Every vector lives in a buffer made once and numpy writes into it (out=): at a few
    microseconds a step, allocating them would cost as much as the arithmetic.
    """

    def __init__(
        self,
        net: Network,
        alpha: float,
        masks: list[np.ndarray] | None,
        dropout: float,
        trainable: list[np.ndarray | None] | None,
        errata: frozenset[str],
    ) -> None:
        self.layers, self.alpha = net.layers, np.float64(alpha)
        self.f = [layer.activation for layer in net.layers]
        self.softmax = net.loss == "softmax"
        self.masks = masks
        self.kept = [m * (1.0 / (1.0 - dropout)) for m in masks] if masks else None
        frozen = trainable or [None] * len(net.layers)
        self.frozen = [None if m is None else m.astype(float) for m in frozen]
        self.relu2deriv = RELU2DERIV in errata
        self.dropout_deriv = DROPOUT_DERIV in errata
        units = [layer.weights.shape[1] for layer in net.layers]
        self.sums = [np.empty(n) for n in units]
        # a linear layer's activation is its sums; a hidden layer's output is its activation,
        # times the kept mask with dropout
        self.acts = [
            h if f == "linear" else np.empty(h.shape)
            for h, f in zip(self.sums, self.f, strict=True)
        ]
        self.outs = [a if masks is None or i == len(units) - 1 else np.empty(a.shape)
                     for i, a in enumerate(self.acts)]  # fmt: skip
        self.deltas = [np.empty(n) for n in units]
        # outer(out, delta) as the book computes it, out.T.dot(delta): columns times rows
        self.columns = [o[:, None] for o in self.outs]
        self.rows = [d[None, :] for d in self.deltas]
        self.steps = [np.empty(layer.weights.shape) for layer in net.layers]
        self.pred = self.outs[-1]

    def __call__(self, t: int, y: np.ndarray) -> None:
        layers, alpha, last = self.layers, self.alpha, len(self.layers) - 1
        for i, layer in enumerate(layers):  # forward
            if i:
                np.dot(self.outs[i - 1], layer.weights, out=self.sums[i])
                if layer.bias is not None:
                    self.sums[i] += layer.bias
            _activate(self.f[i], self.sums[i], self.acts[i])
            if self.kept is not None and i < last:
                np.multiply(self.acts[i], self.kept[i][t], out=self.outs[i])
        self.pred = softmax(self.acts[-1]) if self.softmax else self.acts[-1]
        delta = np.subtract(self.pred, y, out=self.deltas[-1])
        if not self.softmax and self.f[-1] != "linear":
            delta *= derivative(self.f[-1], self.pred, self.relu2deriv)
        for i in range(last, 0, -1):  # backward, each layer's delta from the one above
            layer = layers[i]
            below = np.dot(layer.weights, delta, out=self.deltas[i - 1])  # weights before the step
            gate = self._gate(i - 1, t)
            if isinstance(gate, np.ndarray):  # not 1 everywhere
                below *= gate
            step = np.dot(self.columns[i - 1], self.rows[i], out=self.steps[i])
            if self.frozen[i] is not None:
                step *= self.frozen[i]
            step *= alpha
            layer.weights -= step
            if layer.bias is not None:
                frozen = 1.0 if self.frozen[i] is None else self.frozen[i].any(axis=0)
                layer.bias -= alpha * delta * frozen
            delta = below

    def _gate(self, i: int, t: int) -> np.ndarray | float:
        """Layer i's f'(h), times its dropout mask as the forward pass applied it."""
        if self.kept is None:
            return derivative(self.f[i], self.acts[i], self.relu2deriv)
        if self.dropout_deriv:  # the book: f' of the doubled output, times the 0/1 mask
            return derivative(self.f[i], self.outs[i], self.relu2deriv) * self.masks[i][t]
        return derivative(self.f[i], self.acts[i]) * self.kept[i][t]


def _activate(name: str, h: np.ndarray, out: np.ndarray) -> None:
    """model.activate(name, h), written into out (a linear layer's out is h itself)."""
    if name == "relu":
        np.maximum(h, _ZERO, out=out)
    elif name == "tanh":
        np.tanh(h, out=out)
    elif name == "sigmoid":
        np.negative(h, out=out)
        np.exp(out, out=out)
        out += 1.0
        np.divide(1.0, out, out=out)
