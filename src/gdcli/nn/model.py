"""The network: a list of layers, each a weight matrix, an optional bias and an activation.

    h   = x @ weights (+ bias)     the weighted sums, one per unit of the layer
    out = f(h)                     the layer's activation, the next layer's input

Every network gdcli trains is of this form: the chapter's toy examples (3 inputs to 1 output,
1 to 3, 3 to 3), the book's 784x10 MNIST network (one linear layer), chapter 8's 784-40-10 with a
relu hidden layer and chapter 9's 784-100-10 with tanh and a softmax output. How they learn is
in backprop.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from gdcli.nn.conv import Conv
from gdcli.sizes import chunk_rows

Dot = Callable[[np.ndarray, np.ndarray], np.ndarray]
Exp = Callable[[np.ndarray], np.ndarray]
_ZERO = np.float64(0.0)
# np.dot without its __array_function__ dispatch (a Python call that costs about 0.2 us, a tenth
# of a per-image step's products); numpy arrays are all it is given. Older numpy: np.dot itself.
fast_dot: Callable[..., np.ndarray] = getattr(np.dot, "_implementation", np.dot)


def _relu(h: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.maximum(h, _ZERO, out=out)  # the book's (h >= 0) * h, without its -0.0 for h < 0


def _relu_deriv(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.heaviside(a, _ZERO, out=out)  # 1.0 where a > 0, else 0.0


def _sigmoid(h: np.ndarray, out: np.ndarray | None = None, exp: Exp = np.exp) -> np.ndarray:
    if exp is not np.exp:  # another e^x (the labs' C library exp, book/labs.py): no buffers
        result = 1.0 / (1.0 + exp(-h))
        if out is None:
            return result
        np.copyto(out, result)
        return out
    out = np.negative(h, out=out)  # 1 / (1 + exp(-h)), step by step into one buffer
    np.exp(out, out=out)
    out += 1.0
    return np.divide(1.0, out, out=out)


def _sigmoid_deriv(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.subtract(1.0, a, out=out)
    return np.multiply(a, out, out=out)  # a * (1 - a)


def _tanh_deriv(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    out = np.multiply(a, a, out=out)
    return np.subtract(1.0, out, out=out)  # 1 - a**2


def _identity(h: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    if out is None or out is h:
        return h
    np.copyto(out, h)
    return out


@dataclass(frozen=True)
class Activation:
    """An activation f and its derivative, each elementwise and writing into `out` if given.

    f(h) takes the weighted sums; deriv(a) takes the activation's output a = f(h) and gives
    f'(h), as the book computes it (relu: a > 0; sigmoid: a (1 - a); tanh: 1 - a^2). A linear
    layer's derivative is None: 1 everywhere, nothing to multiply by.
    """

    f: Callable[..., np.ndarray]
    deriv: Callable[..., np.ndarray] | None

    def bound(
        self, h: np.ndarray, out: np.ndarray, exp: Exp = np.exp
    ) -> Callable[[], np.ndarray] | None:
        """out = f(h) as a call with no arguments (None for linear: out is h itself). numpy's
        own functions are called directly from a lambda: cheaper than functools.partial,
        which merges its keywords on every call (0.1 us of a 5 us step). exp: how sigmoid
        computes e^x."""
        if self.deriv is None:
            return None
        if self.f is _relu:
            return lambda: np.maximum(h, _ZERO, out=out)
        if self.f is _sigmoid:
            return lambda: _sigmoid(h, out=out, exp=exp)
        f = self.f
        return lambda: f(h, out=out)

    def bound_deriv(self, a: np.ndarray, out: np.ndarray) -> Callable[[], np.ndarray] | None:
        """out = f'(h) from a = f(h) as a call with no arguments (None for linear: 1)."""
        if self.deriv is None:
            return None
        if self.deriv is _relu_deriv:
            return lambda: np.heaviside(a, _ZERO, out=out)
        deriv = self.deriv
        return lambda: deriv(a, out=out)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(_identity, None),
    "relu": Activation(_relu, _relu_deriv),
    "sigmoid": Activation(_sigmoid, _sigmoid_deriv),
    "tanh": Activation(np.tanh, _tanh_deriv),
}


def activate(name: str, h: np.ndarray, exp: Exp = np.exp) -> np.ndarray:
    """f(h) for the activation `name`, elementwise, in a new array (h itself if linear).
    exp: how sigmoid computes e^x."""
    if name == "sigmoid":
        return _sigmoid(h, exp=exp)
    return ACTIVATIONS[name].f(h)


def softmax(h: np.ndarray) -> np.ndarray:
    """exp(h) / sum(exp(h)) along the last axis (shifted by the largest h, which changes nothing
    but keeps exp from overflowing)."""
    e = np.exp(h - h.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sequential_dot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w summed left to right from 0, as the chapter's w_sum: the same digits on every CPU.

    x: (..., n); w: (n, k) -> (..., k). numpy's x @ w sums in an order that depends on the BLAS
    kernel, which changes the last digit the toy examples print.
    """
    out = np.zeros(x.shape[:-1] + w.shape[1:])
    for i in range(x.shape[-1]):
        out = out + x[..., i, None] * w[i]
    return out


@dataclass
class Layer:
    """weights: (n_in, n_out) float64, one column per unit (the book's layout); bias: (n_out,)
    or None; activation: one of ACTIVATIONS, applied to x @ weights (+ bias).

    conv: a convolutional layer's geometry (conv.py), or None for a dense layer. Its weights
    are then its kernels, (kernel pixels, kernels), its bias one per kernel, and its input the
    image's patches: x (n, pixels) -> (n, positions x kernels), position-major."""

    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str = "linear"
    conv: Conv | None = None

    @property
    def n_in(self) -> int:
        """The inputs the layer takes (a convolutional layer: the image's pixels)."""
        return self.weights.shape[0] if self.conv is None else self.conv.pixels

    @property
    def n_out(self) -> int:
        """The outputs the layer gives (a convolutional layer: pooled positions x kernels)."""
        kernels = self.weights.shape[1]
        return kernels if self.conv is None else self.conv.units(kernels)

    def sums(self, x: np.ndarray, dot: Dot = np.matmul) -> np.ndarray:
        """The weighted sums h: x (..., n_in) -> (..., n_out)."""
        if self.conv is not None:
            h = self.conv.layer_sums(x.reshape(-1, self.conv.pixels), self.weights)
            h = h.reshape(*x.shape[:-1], h.shape[-1])
            if self.bias is None:
                return h
            kernels = len(self.bias)
            return (h.reshape(*h.shape[:-1], -1, kernels) + self.bias).reshape(h.shape)
        h = dot(x, self.weights)
        return h if self.bias is None else h + self.bias

    def forward(self, x: np.ndarray, dot: Dot = np.matmul, exp: Exp = np.exp) -> np.ndarray:
        """The layer's output f(h): x (..., n_in) -> (..., n_out)."""
        if self.conv is not None and x.ndim == 2:
            return self.conv.activations(
                x, self.weights, self.bias, lambda h: activate(self.activation, h, exp)
            )
        return activate(self.activation, self.sums(x, dot), exp)


@dataclass
class Network:
    """layers: input to output. loss: "mse" (squared error) or "softmax" (softmax output and
    cross-entropy; the last layer is then linear). dot: how x @ weights is summed (numpy's
    matmul, or sequential_dot for the chapter's toy examples). exp: how sigmoid's e^x is
    computed (numpy's, whose SIMD code on some CPUs differs from the C library's exp in the last
    bit; the second seed's labs use the C library's, book/labs.py)."""

    layers: list[Layer]
    loss: str = "mse"
    dot: Dot = field(default=np.matmul, repr=False, compare=False)
    exp: Exp = field(default=np.exp, repr=False, compare=False)

    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """[x, layer 1's output, ..., the network's output]: x (..., n_inputs)."""
        outs = [x]
        for layer in self.layers:
            outs.append(layer.forward(outs[-1], self.dot, self.exp))
        if self.loss == "softmax":
            outs[-1] = softmax(outs[-1])
        return outs

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's output: x (..., n_inputs) -> (..., n_outputs), in chunks of rows."""
        return self._chunked(x, lambda rows: self.forward(rows)[-1])

    def scores(self, x: np.ndarray) -> np.ndarray:
        """The last layer's weighted sums (+ bias), before its activation or softmax:
        x (..., n_inputs) -> (..., n_outputs)."""

        def scores_of(x: np.ndarray) -> np.ndarray:
            for layer in self.layers[:-1]:
                x = layer.forward(x, self.dot, self.exp)
            return self.layers[-1].sums(x, self.dot)

        return self._chunked(x, scores_of)

    def _chunked(self, x: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """f(x) for images x (n, n_inputs), a bounded chunk of rows at a time: the activations
        of a wide layer for every test image at once could take gigabytes (a 784-100000-10
        network: 7.45 GiB for 10,000 images). Each row's figures are the same either way."""
        widest = max(layer.n_out for layer in self.layers)
        rows = chunk_rows(widest)
        if x.ndim != 2 or len(x) <= rows:
            return f(x)
        return np.concatenate([f(x[i : i + rows]) for i in range(0, len(x), rows)])


def book_weights(rng: np.random.RandomState, n_in: int, n_out: int, scale: float) -> np.ndarray:
    """Uniform in [-scale, scale): the book's 0.2 * np.random.random((n_in, n_out)) - 0.1 for
    scale 0.1, computed as it writes it (2 * scale * random - scale) so the bits are the book's."""
    return 2 * scale * rng.random_sample((n_in, n_out)) - scale


def new_network(
    sizes: list[int],
    activations: list[str],
    loss: str = "mse",
    bias: bool = False,
    scales: list[float] | None = None,
    rng: np.random.RandomState | None = None,
    conv: Conv | None = None,
) -> Network:
    """A network with layers sizes[0] -> sizes[1] -> ... -> sizes[-1].

    activations: one per layer. scales: one per layer, each layer's weights drawn from `rng`
    with book_weights, layer after layer, as the book draws weights_0_1 then weights_1_2; None:
    all weights 0. Biases start at 0. conv: the first layer is convolutional with sizes[1]
    kernels, its weights (kernel pixels, kernels) (the book's `kernels`), its bias one per
    kernel; the next layer takes its conv.units(sizes[1]) outputs.
    """
    layers = []
    for i, (n_in, n_out) in enumerate(pairwise(sizes)):
        if conv is not None and i == 0:
            n_in = conv.kernel * conv.kernel
        elif conv is not None and i == 1:
            n_in = conv.units(sizes[1])
        if scales is None:
            w = np.zeros((n_in, n_out))
        else:
            w = book_weights(rng or np.random.RandomState(), n_in, n_out, scales[i])
        layer_conv = conv if i == 0 else None
        layers.append(Layer(w, np.zeros(n_out) if bias else None, activations[i], layer_conv))
    return Network(layers, loss)
