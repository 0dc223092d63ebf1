"""Backpropagation: one step of gradient descent for a network of any depth, as the seed says it.

    forward    out_0 = x,  out_l = f_l(out_{l-1} @ W_l + b_l)      (dropout: times mask / (1 - p))
    output     delta_L = (pred - true) * f_L'(h_L)       the error term (softmax and cross-entropy:
                                                         pred - true)
    backward   delta_{l-1} = (delta_l @ W_l.T) * f_{l-1}'(h_{l-1})
               "the output errors, scaled by the weights between the layers, and the gradient"
    step       W_l -= alpha * out_{l-1}.T @ delta_l,  b_l -= alpha * sum(delta_l)
               "the learning rate times the error term of the layer times its inputs"

Every delta is computed from the weights as they were before the step. Arrays are batches: x is
(rows, n_inputs), one image being a batch of one, (1, 784), as the book's images[i:i+1]. A
mini-batch is the mean over its examples: the output delta is divided by the batch size, and
the weight step out.T @ delta sums the examples' outer products.

This is the only place the mathematics is written. Every engine (engines.py) runs it: the
reference engine for whole steps, the Gram engine for every layer above the first (it computes
the first layer's sums its own way). A step of a 784-40-10 network costs a few microseconds, as
much as allocating its arrays would, so Backprop makes every buffer once and numpy writes into
them (out=); backprop.step() is the same computation for one call, returning copies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gdcli.book.errata import (
    BATCH_REPEAT,
    BATCH_SQUARED,
    DROPOUT_DERIV,
    KERNEL_SIGN,
    RELU2DERIV,
)
from gdcli.nn.conv import lit_rows
from gdcli.nn.model import ACTIVATIONS, Layer, Network, fast_dot, softmax

NARROW = 16  # outputs of a layer whose batch weight deltas are computed transposed


@dataclass(frozen=True)
class StepRule:
    """How every step is taken beyond plain gradient descent, resolved once from the config.

    dropout: the probability a hidden unit is dropped (the masks come with each step).
    l2: weight decay, l2 * W added to every weight delta (not to biases).
    trainable: one (n_in, n_out) boolean mask per layer, False where a weight never changes, or
    None for a layer that is wholly trainable; () for none frozen. A frozen output unit's bias
    is frozen with it.
    errata: names from book.errata.ERRATA to reproduce.
    """

    dropout: float = 0.0
    l2: float = 0.0
    trainable: tuple[np.ndarray | None, ...] = ()
    errata: frozenset[str] = frozenset()

    def frozen(self, i: int) -> np.ndarray | None:
        """Layer i's trainable mask, or None when the whole layer trains."""
        return self.trainable[i] if self.trainable else None


@dataclass
class Step:
    """What one step saw and did: the network's output before the step (rows, n_outputs), each
    layer's error term and each layer's weight deltas (0 where frozen), first layer first."""

    pred: np.ndarray
    deltas: list[np.ndarray]
    weight_deltas: list[np.ndarray]


def _narrow(layer: Layer) -> bool:
    """A dense layer of at most NARROW outputs and more inputs than outputs."""
    n_in, n_out = layer.weights.shape
    return layer.conv is None and n_out <= NARROW and n_out < n_in


class Backprop:
    """Steps of gradient descent on `net` for batches of `rows` examples, in place.

    The buffers, one per layer l (first layer 0): sums[l] (rows, units) the weighted sums,
    acts[l] f(sums), outs[l] what the next layer receives (acts times the kept mask with
    dropout), deltas[l] the error term, grads[l] (n_in, n_out) the weight deltas; pred is the
    network's output. Dropout masks for the steps to come are set with use_masks().

    alpha_in_delta: keep the deltas times alpha, so a step is W -= x.T @ (alpha delta), one
    product fewer per layer than alpha * (x.T @ delta): the same step, rounded differently
    (the Gram engine's choice; the reference engine and step() round as the book does).
    """

    def __init__(
        self, net: Network, rule: StepRule = StepRule(), rows: int = 1, alpha_in_delta: bool = False
    ) -> None:
        self.net, self.rule, self.rows, self.alpha_in_delta = net, rule, rows, alpha_in_delta
        layers = net.layers
        self.last = len(layers) - 1
        self.f = [ACTIVATIONS[layer.activation] for layer in layers]
        self.sums = [np.empty((rows, layer.n_out)) for layer in layers]
        # a linear layer's activation is its sums; a hidden layer's output is its activation,
        # times the kept mask with dropout
        self.acts = [h if f.deriv is None else np.empty_like(h)
                     for h, f in zip(self.sums, self.f, strict=True)]  # fmt: skip
        dropped = rule.dropout > 0
        self.outs = [np.empty_like(a) if dropped and i < self.last else a
                     for i, a in enumerate(self.acts)]  # fmt: skip
        self.outs_t = [o.T for o in self.outs]  # the next layer's inputs, as x.T @ delta takes them
        self.softmax = net.loss == "softmax"
        self.pred = np.empty_like(self.acts[-1]) if self.softmax else self.acts[-1]
        self.deltas = [np.empty_like(h) for h in self.sums]
        # a batch's weight deltas out.T @ delta, for a layer of few outputs and more inputs, as
        # (delta.T @ out).T: OpenBLAS is faster with the long side last (chapter 10's output
        # layer, 10,000 x 128 x 10: 1.3 ms against 4.6), the same sums; wider layers are not
        # (their steps' elementwise work on the transposed deltas costs more than it gains)
        self.by_outputs = [rows > 1 and net.dot is np.matmul and _narrow(layer) for layer in layers]
        self.grads = [np.empty(layer.weights.shape[::-1]).T if t else np.empty(layer.weights.shape)
                      for layer, t in zip(layers, self.by_outputs, strict=True)]  # fmt: skip
        self.moves = [np.empty(layer.weights.shape) for layer in layers]
        self.trainable = [None if m is None else m.astype(float)
                          for m in (rule.frozen(i) for i in range(len(layers)))]  # fmt: skip
        errata = rule.errata
        divisor = rows * rows if BATCH_SQUARED in errata else rows
        self.divisor = None if divisor == 1 else float(divisor)
        # the output's f'(h) for squared error (softmax with cross-entropy has none)
        self.out_deriv = None if self.softmax else self.f[-1].deriv
        self.out_buf = np.empty_like(self.pred)
        self.dot = fast_dot if net.dot is np.matmul else self._exact_dot
        self._gates(errata, dropped)
        self.masks: list[np.ndarray] | None = None
        self.kept: list[list[np.ndarray]] | None = None
        self.gate_masks: list[list[np.ndarray]] | None = None
        # per layer: acts = f(sums) as a call bound to the buffers, None if linear
        self.activate = [f.bound(h, a, net.exp)
                         for f, h, a in zip(self.f, self.sums, self.acts, strict=True)]  # fmt: skip
        self.repeat = BATCH_REPEAT in errata and rows > 1
        # W.T as views made once: every step updates the weights in place, the views follow
        self.weights_t = [layer.weights.T for layer in layers]
        self.conv = layers[0].conv
        # the conv layer's patches of zeros give it 0 (no bias, no pooling, f(0) = 0): its own
        # steps take only the patches holding a nonzero pixel (_step_lit)
        zero_gives_zero = not np.any(self.f[0].f(np.zeros(1)))
        self.lit_only = (self.conv is not None and self.conv.pool == 1
                         and layers[0].bias is None and zero_gives_zero)  # fmt: skip
        if self.conv is not None:  # every kernel at every position, before pooling
            shape = (rows * self.conv.positions, layers[0].weights.shape[1])
            # without pooling they are the layer's sums, position-major: the same buffer
            self.feature = self.sums[0].reshape(shape) if self.conv.pool == 1 else np.empty(shape)
            self.kernel_sign = -1.0 if KERNEL_SIGN in errata else 1.0
        if self.lit_only:  # the conv layer's outputs, 0 but where the last step wrote them
            self.lit_outs = self.outs[0].reshape(shape)
            self.lit_outs[...] = 0.0
            self.lit_before = np.arange(0)
        self.step = self._stepper()

    def _gates(self, errata: frozenset[str], dropped: bool) -> None:
        """What layer l's delta is multiplied by once it comes down through the weights: f'(h)
        from gate_of[l], times the dropout mask. The book's errata: relu2deriv makes relu's
        derivative 1 (without dropout, or with the dropout-deriv erratum too), dropout-deriv
        takes f' of the doubled output and multiplies by the 0/1 mask; the chain rule through
        out = f(h) * mask / (1 - p) gives f'(h) * mask / (1 - p)."""
        self.book_dropout = dropped and DROPOUT_DERIV in errata
        relu_is_one = RELU2DERIV in errata and (not dropped or self.book_dropout)
        self.gates: list = []  # per hidden layer: f'(h) into a buffer, bound; None for 1
        for i, f in enumerate(self.f[:-1]):
            of = self.outs[i] if self.book_dropout else self.acts[i]
            one = relu_is_one and f is ACTIVATIONS["relu"]
            self.gates.append(None if one else f.bound_deriv(of, np.empty_like(of)))

    def _exact_dot(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        np.copyto(out, self.net.dot(a, b))  # the toy examples' left-to-right sums
        return out

    def use_masks(self, masks: list[np.ndarray] | None) -> None:
        """The 0/1 dropout masks of the steps to come: one (steps * rows, units) array per
        hidden layer, rows t * rows ... (t + 1) * rows for step t (None: no dropout)."""
        self.masks = masks
        if masks is None:
            self.kept = self.gate_masks = None
            return
        scale = 1.0 / (1.0 - self.rule.dropout)
        skip = 1 if self.lit_only else 0  # the conv layer's: read at its lit rows, _step_lit

        def steps(masks: list[np.ndarray]) -> list[list[np.ndarray]]:
            return [[]] * skip + [list(m.reshape(-1, self.rows, m.shape[1])) for m in masks]

        self.kept = steps([m * scale for m in masks[skip:]])
        self.gate_masks = (
            steps([m.astype(float) for m in masks[skip:]]) if self.book_dropout else self.kept
        )

    def _stepper(self) -> Callable[..., np.ndarray]:
        """The step function, its buffers and flags bound once as the locals of a closure: at
        a few microseconds a step, attribute look-ups and method calls would cost a fifth of it.
        """
        layers, last, dot, deltas = self.net.layers, self.last, self.dot, self.deltas
        weights, biases = [layer.weights for layer in layers], [layer.bias for layer in layers]
        sums, acts, outs, outs_t, grads = self.sums, self.acts, self.outs, self.outs_t, self.grads
        fs, gates, weights_t = self.activate, self.gates, self.weights_t
        softmax_out, out_deriv, out_buf, divisor = (
            self.softmax,
            self.out_deriv,
            self.out_buf,
            self.divisor,
        )
        in_delta, repeat, step_layer = self.alpha_in_delta, self.repeat, self.step_layer
        # the output's sums are its prediction: the last product can write it where it is wanted
        direct = not softmax_out and fs[-1] is None and biases[-1] is None and last > 0
        # W -= out.T @ (alpha delta) and nothing more: no l2, no frozen weights, no bias
        plain = [in_delta and not self.rule.l2 and m is None and b is None
                 for m, b in zip(self.trainable, biases, strict=True)]  # fmt: skip
        # the lit-only conv layer's output and gate are _step_lit's: start above it
        first = 1 if self.lit_only else 0
        hidden, down = range(first, last), range(last, 0, -1)  # made once: 0.08 us a range

        def step(
            x: np.ndarray | None,
            y: np.ndarray,
            alpha: float,
            t: int = 0,
            out: np.ndarray | None = None,
        ) -> np.ndarray:
            """One step on the batch x (rows, n_inputs) with targets y (rows, n_outputs) and
            step t's dropout masks; returns the prediction made before the step, written into
            `out` (rows, n_outputs) if given, else into a buffer.

            With x None, the first layer's sums are already in sums[0] and its delta is left in
            deltas[0] without its step (the Gram engine makes both).
            """
            kept = self.kept
            # forward: out_l = f_l(out_{l-1} @ W_l + b_l), times the kept mask with dropout
            below = outs[0] if first else x  # (the lit-only conv layer: its outputs)
            for i in hidden:
                if below is not None:
                    dot(below, weights[i], out=sums[i])
                    if biases[i] is not None:
                        sums[i] += biases[i]
                if fs[i] is not None:
                    fs[i]()
                if kept is not None:
                    np.multiply(acts[i], kept[i][t], out=outs[i])
                below = outs[i]
            pred = self.pred if out is None else out
            if direct:
                dot(below, weights[-1], out=pred)
            else:
                if below is not None:
                    dot(below, weights[-1], out=sums[-1])
                    if biases[-1] is not None:
                        sums[-1] += biases[-1]
                if fs[-1] is not None:
                    fs[-1]()
                np.copyto(pred, softmax(acts[-1]) if softmax_out else acts[-1])
            # output: delta_L = (pred - y) * f'(h_L), the mean over the batch
            delta = np.subtract(pred, y, out=deltas[-1])
            if out_deriv is not None:
                delta *= out_deriv(pred, out=out_buf)
            if divisor is not None:
                delta /= divisor
            if in_delta:
                delta *= alpha
            if repeat:
                self._repeated(x, alpha, t)
                return pred
            # backward: delta_{l-1} = (delta_l @ W_l.T) * f'_{l-1} [* mask], then layer l's step
            gate_masks = self.gate_masks
            for i in down:
                below = dot(deltas[i], weights_t[i], out=deltas[i - 1])
                if i > first:  # (the lit-only conv layer gates its delta itself)
                    if gates[i - 1] is not None:
                        below *= gates[i - 1]()
                    if gate_masks is not None:
                        below *= gate_masks[i - 1][t]
                if plain[i]:
                    weights[i] -= dot(outs_t[i - 1], deltas[i], out=grads[i])
                else:
                    step_layer(i, outs_t[i - 1], alpha)
            if x is not None:
                step_layer(0, x.T, alpha)
            return pred

        return step

    def step_conv(
        self,
        patches: np.ndarray,
        y: np.ndarray,
        alpha: float,
        t: int = 0,
        lit: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> np.ndarray:
        """One step of a network whose first layer is convolutional, on the images seen as
        patches (rows * positions, kernel pixels) (conv.Conv.patches); returns the prediction
        made before the step (a buffer).

        The first layer's sums come from the patches (pooled, with pooling), every layer
        above steps through step() as a dense network's does, and the kernels step last from
        the first layer's delta, each pooled unit's at the position its maximum came from:
        kernels -= alpha * patches.T @ delta (+ l2 kernels). The kernel-sign erratum (the
        chapter-10 listing) adds the step instead: gradient ascent on the kernels.

        lit: the patches' rows holding a nonzero pixel and those rows, conv.lit(patches), if
        the caller keeps them; a layer whose patches of zeros give 0 steps on them alone.
        """
        conv, layer, rows = self.conv, self.net.layers[0], self.rows
        assert conv is not None
        if self.lit_only:
            return self._step_lit(*(lit_rows(patches) if lit is None else lit), y, alpha, t)
        feature = np.dot(patches, layer.weights, out=self.feature)
        pooled, where = conv.pool_sums(feature, rows)
        h = self.sums[0]
        if where is not None:
            np.copyto(h, pooled)
        if layer.bias is not None:
            h.reshape(rows, -1, len(layer.bias))[...] += layer.bias
        pred = self.step(None, y, alpha, t)
        delta = conv.unpool(self.deltas[0], where, rows)
        self._step_kernels(patches, delta, alpha)
        if layer.bias is not None:
            layer.bias -= (alpha * self.kernel_sign) * delta.sum(axis=0)
        return pred

    def _step_lit(
        self, where: np.ndarray, patches: np.ndarray, y: np.ndarray, alpha: float, t: int
    ) -> np.ndarray:
        """step_conv for a conv layer whose patches of zeros give 0 (no bias, no pooling,
        f(0) = 0): 60% of an MNIST image's patches. Their outputs stay 0, and a delta at them
        moves no kernel (its patch is 0), so only the patches holding a nonzero pixel are
        computed: `patches` (lit, kernel pixels), `where` their rows among the batch's
        rows * positions. The same step, the kernels' sums rounded in another order."""
        f = self.f[0]
        acts = np.dot(patches, self.net.layers[0].weights)
        if f.deriv is not None:
            f.f(acts, out=acts)
        outs, mask = acts, None
        if self.masks is not None:
            mask = self.masks[0][t * self.rows : (t + 1) * self.rows]
            mask = np.take(mask.reshape(len(self.lit_outs), -1), where, axis=0).astype(float)
            # out = f(h) * mask / (1 - p), rounded once either way (mask is 0 or 1)
            outs = np.multiply(acts, mask)
            outs *= 1.0 / (1.0 - self.rule.dropout)
        self.lit_outs[self.lit_before] = 0.0
        self.lit_outs[where] = outs
        self.lit_before = where
        pred = self.step(None, y, alpha, t)
        delta = np.take(self.deltas[0].reshape(len(self.lit_outs), -1), where, axis=0)
        if self.gates[0] is not None:  # f'(h), or the dropout-deriv erratum's f' of the output
            delta *= f.deriv(outs if self.book_dropout else acts)  # type: ignore[misc]
        if mask is not None:  # the chain rule's mask / (1 - p); the erratum's 0/1 mask
            delta *= mask
            if not self.book_dropout:
                delta *= 1.0 / (1.0 - self.rule.dropout)
        self._step_kernels(patches, delta, alpha)
        return pred

    def _step_kernels(self, patches: np.ndarray, delta: np.ndarray, alpha: float) -> None:
        """kernels -= alpha * (patches.T @ delta + l2 kernels), the other way with the
        kernel-sign erratum: patches (rows, kernel pixels), delta (rows, kernels)."""
        kernels = self.net.layers[0].weights
        grads = np.dot(patches.T, delta, out=self.grads[0])
        if self.rule.l2:
            grads += self.rule.l2 * kernels
        kernels -= np.multiply(grads, alpha * self.kernel_sign, out=self.moves[0])

    def weight_deltas(self, i: int, inputs_t: np.ndarray) -> np.ndarray:
        """Layer i's weight deltas from its inputs, transposed (n_in, rows): inputs.T @ delta
        [+ l2 W], 0 where frozen, into grads[i]."""
        if self.by_outputs[i]:
            grads = self.dot(self.deltas[i].T, inputs_t.T, out=self.grads[i].T).T
        else:
            grads = self.dot(inputs_t, self.deltas[i], out=self.grads[i])
        if self.rule.l2:
            grads += self.rule.l2 * self.net.layers[i].weights
        if self.trainable[i] is not None:
            grads *= self.trainable[i]
        return grads

    def bias_deltas(self, i: int) -> np.ndarray:
        """Layer i's bias deltas: its delta summed over the batch, 0 for frozen units."""
        deltas = self.deltas[i].sum(axis=0)
        if self.trainable[i] is not None:
            deltas *= self.trainable[i].any(axis=0)
        return deltas

    def step_layer(self, i: int, inputs_t: np.ndarray, alpha: float) -> None:
        """Layer i's step: W -= alpha * weight deltas, b -= alpha * bias deltas."""
        layer = self.net.layers[i]
        grads = self.weight_deltas(i, inputs_t)
        if self.alpha_in_delta:
            layer.weights -= grads
        else:
            layer.weights -= np.multiply(grads, alpha, out=self.moves[i])
        if layer.bias is not None:
            bias_deltas = self.bias_deltas(i)
            layer.bias -= bias_deltas if self.alpha_in_delta else alpha * bias_deltas

    def _repeated(self, x: np.ndarray | None, alpha: float, t: int) -> None:
        """The chapter-8 batch listing's erratum (book.errata.BATCH_REPEAT; one hidden layer):
        the batch's backward pass and step, batch_size times from one forward pass.

        The output delta and the hidden outputs stay the same, so every repeat moves the output
        weights by the same step. The hidden delta of a repeat is linear in the output weights
        it goes through, and nothing reads the first layer's weights in between: its steps add
        up to one step with the delta through the sum of the output weights the repeats saw
        (the book makes them one by one: the same sum, rounded differently).
        """
        top = self.net.layers[1]
        seen = np.zeros_like(top.weights)  # the sum of the output weights the repeats go through
        moves = np.multiply(self.weight_deltas(1, self.outs_t[0]), alpha, out=self.moves[1])
        bias_moves = None if top.bias is None else alpha * self.bias_deltas(1)
        for _ in range(self.rows):
            seen += top.weights
            top.weights -= moves
            if bias_moves is not None:
                top.bias -= bias_moves
        below = self.dot(self.deltas[1], seen.T, out=self.deltas[0])
        if self.gates[0] is not None:
            below *= self.gates[0]()
        if self.gate_masks is not None:
            below *= self.gate_masks[0][t]
        if x is not None:
            self.step_layer(0, x.T, alpha)


def step(
    net: Network,
    x: np.ndarray,
    true: np.ndarray,
    alpha: float,
    rule: StepRule = StepRule(),
    masks: list[np.ndarray] | None = None,
) -> Step:
    """One step of gradient descent on `net`, in place.

    Parameters
    ----------
    net : the network; its weights and biases are updated.
    x : (rows, n_inputs) the batch (one example: a batch of one).
    true : (rows, n_outputs) the targets.
    alpha : the learning rate.
    rule : dropout, l2, frozen weights and errata (StepRule).
    masks : one (rows, units) 0/1 dropout mask per hidden layer, 1 where a unit is kept.

    Returns
    -------
    Step : the prediction before the step, every layer's delta and weight deltas (copies).
    """
    bp = Backprop(net, rule, len(x))
    bp.use_masks(masks)
    conv = net.layers[0].conv
    pred = bp.step(x, true, alpha) if conv is None else bp.step_conv(conv.patches(x), true, alpha)
    return Step(pred.copy(), [d.copy() for d in bp.deltas], [g.copy() for g in bp.grads])
