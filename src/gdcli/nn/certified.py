"""The book's convolutional network tested in float32, with every predicted class certified.

Chapter 10 tests its network on the 10,000 test images after every one of its 300 iterations:
for image n and class c the score

    z_nc = sum over positions p, kernels k of  tanh(s_npk) * W[p k, c],   s_npk = patch_np . K_k

(the listing's layer_2 = np.dot(tanh(kernel_output), weights_1_2)), and the class is the largest.
That is 100 million tanh and a billion multiply-adds a test, 96% of the listing's time. Here
they are computed in float32, which is twice as fast, and the classes are still float64's:

    certified  every score comes with a rigorous bound E_nc on its error (below). When the
               largest score beats every other by more than their two bounds, float64 (the
               listing's, or exact arithmetic) has the same largest score.
    recomputed the few images where it does not (a handful an iteration, a few hundred in the
               first ones) are computed again in float64, as the listing does.

So the accuracy, per-class accuracy and confusion matrix are float64's on every CPU. The scores
themselves (and the test error computed from them) are float32's, within 2e-5 of float64's.

The work is laid out for the cache, the images being the same after every iteration: the
positions where at least DENSE_FRACTION of the images have a nonzero pixel in the patch are
computed for every image, in tiles of BLOCK positions by CHUNK images whose tanh outputs stay in
the CPU's cache from the kernel product to the output product; the other positions only for the
images with a nonzero patch there (a patch of zeros gives tanh(0) = 0 and adds nothing).

The bound, with u = 2^-24 (float32's unit roundoff) and g(m) = m u / (1 - m u):
  - a sum s of the kernel size's k^2 products, its pixels and kernel (or its whole pixel
    values and kernel / 255) rounded to float32, is within g(k^2 + 2) * B_np * max_j |K_jk|
    of s, where B_np is the patch's pixel sum (pixels are >= 0);
  - tanh is 1-Lipschitz, and float32's tanh is within TANH_ERROR of tanh (of magnitude <= 1);
  - the output products sum at most m = 16 * BLOCK terms in float32 (a tile's), the weights
    rounded to float32, then add up in float64: within (g(m) (1 + u) + u) * sum |W| over the
    patches with a nonzero pixel (|tanh| <= 1; a patch of zeros gives exactly 0).
Both sums over positions are one (n, 2 positions) x (2 positions, classes) product a test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdcli.nn.conv import Conv
from gdcli.nn.model import Network

DENSE_FRACTION = 0.25  # a position is computed for every image when this many have a pixel in it
BLOCK = 10  # positions a tile
CHUNK = 500  # images a tile
U32 = 2.0**-24
# numpy's float32 tanh: SIMD code from Intel's SVML (its "LA" accuracy: within 4 ulps) or the C
# library's tanhf (glibc: within 2 ulps); 16 ulps of a number in [0.5, 1), for any of them
TANH_ERROR = 16 * U32
# the bound's own sums (float32, 1,250 positive terms) are within 1e-4 of exact, and the float64
# sums of the scores, and the listing's, within 1e-7 of the bound: 1% more covers them all
SAFETY = 1.01


def gamma(m: int) -> float:
    """The bound on the relative error of m float32 roundings (Higham's gamma_m)."""
    return m * U32 / (1 - m * U32)


def fits(net: Network) -> bool:
    """Whether `net` is of the book's form: a conv layer of tanh units without bias or pooling,
    then the output layer, linear and without bias."""
    if len(net.layers) != 2:
        return False
    conv, out = net.layers
    return (
        conv.conv is not None
        and conv.conv.pool == 1
        and conv.activation == "tanh"
        and conv.bias is None
        and out.conv is None
        and out.bias is None
        and out.activation == "linear"
    )


@dataclass
class Scores:
    """scores (n, classes) float64, and bound (n, classes): |scores - float64's| <= bound."""

    scores: np.ndarray
    bound: np.ndarray

    def uncertain(self) -> np.ndarray:
        """The images whose largest score does not beat every other by more than both bounds."""
        n = np.arange(len(self.scores))
        top = np.argmax(self.scores, axis=1)
        lowest = self.scores[n, top] - self.bound[n, top]
        highest = self.scores + self.bound
        highest[n, top] = -np.inf
        return np.flatnonzero(highest.max(axis=1) >= lowest)


class CertifiedTest:
    """Fixed images x (n, side * side), in [0, 1], prepared once for a conv layer `conv` (pool 1):
    classes() gives a network's float64 classes and its scores, see the module's docstring."""

    def __init__(self, conv: Conv, x: np.ndarray) -> None:
        self.conv, self.x, self.n = conv, x, len(x)
        lit = conv.ink(x).reshape(self.n, -1)  # the patches holding a nonzero pixel
        box = np.zeros((self.n, conv.span, conv.span), dtype=np.float32)  # their pixel sums
        for window in conv.windows(x):
            box += window
        box = box.reshape(self.n, -1)
        self.bounds_by = np.concatenate([box * lit, lit], axis=1, dtype=np.float32)
        dense = lit.mean(axis=0) > DENSE_FRACTION
        self._tiles(x, np.flatnonzero(dense))
        self._sparse(x, lit & ~dense)

    def _tiles(self, x: np.ndarray, positions: np.ndarray) -> None:
        """Every image's patches at `positions`, tile by tile: (chunks, k * k, positions,
        CHUNK), the last chunk padded with images of zeros. Images of whole pixel values / 255
        (MNIST's, not deskewed) are kept as those values, uint8, exact: a quarter of float32's
        memory (32 MB for the book's test images, against 127), and the kernels divided by
        255 instead; other images as float32."""
        k, s, side = self.conv.kernel, self.conv.span, self.conv.side
        chunks = -(-self.n // CHUNK)
        self.dense = positions
        pixels = np.rint(x * 255.0)
        self.scale = 255.0 if np.array_equal(pixels / 255.0, x) else 1.0
        kind = np.uint8 if self.scale == 255.0 else np.float32
        padded = np.zeros((chunks * CHUNK, side * side), dtype=kind)
        padded[: self.n] = pixels if self.scale == 255.0 else x
        corner = (positions // s) * side + positions % s  # each position's top-left pixel
        self.patches = np.empty((chunks, k * k, len(positions), CHUNK), dtype=kind)
        for i in range(k):
            for j in range(k):
                pixels = padded[:, corner + i * side + j].reshape(chunks, CHUNK, -1)
                self.patches[:, i * k + j] = pixels.transpose(0, 2, 1)

    def _sparse(self, x: np.ndarray, lit: np.ndarray) -> None:
        """The patches with a nonzero pixel at the other positions, position by position:
        (rows, k * k) float32, each row's image, and each position's rows."""
        where = np.flatnonzero(lit.T)  # position-major: position * n + image
        position, self.rows_image = np.divmod(where, self.n)
        self.rows = self.conv.patches_at(x, self.rows_image, position).astype(np.float32)
        counts = np.bincount(position, minlength=self.conv.positions)
        self.sparse = np.flatnonzero(counts)
        ends = np.cumsum(counts)
        self.row_ranges = [(int(ends[p] - counts[p]), int(ends[p])) for p in self.sparse]

    def scores(self, kernels: np.ndarray, weights: np.ndarray) -> Scores:
        """The scores of kernels (k * k, K) and output weights (positions * K, classes) for
        every image, in float32 (float64 sums), and their bounds."""
        n_kernels, classes = kernels.shape[1], weights.shape[1]
        w = weights.reshape(self.conv.positions, n_kernels, classes)
        k32 = kernels.astype(np.float32)
        k32_t = np.ascontiguousarray((kernels.T / self.scale).astype(np.float32))  # the tiles'
        scores_t = np.zeros((classes, len(self.patches) * CHUNK))
        # a tile's output weights (classes, K * BLOCK), laid out as its tanh outputs (K, BLOCK)
        blocks = [
            (q, np.ascontiguousarray(w[self.dense[q : q + BLOCK]].transpose(2, 1, 0)))
            for q in range(0, len(self.dense), BLOCK)
        ]
        blocks = [(q, b.astype(np.float32).reshape(classes, -1)) for q, b in blocks]
        for c, chunk in enumerate(self.patches):
            out = scores_t[:, c * CHUNK : (c + 1) * CHUNK]
            for q, w_tile in blocks:
                positions = w_tile.shape[1] // n_kernels
                tile = chunk[:, q : q + positions].reshape(len(k32), -1)
                h = np.dot(k32_t, tile.astype(np.float32, copy=False))
                np.tanh(h, out=h)
                out += np.dot(w_tile, h.reshape(-1, CHUNK))
        scores = np.ascontiguousarray(scores_t[:, : self.n].T)
        w32 = w.astype(np.float32)
        for p, (start, end) in zip(self.sparse, self.row_ranges, strict=True):
            h = np.dot(self.rows[start:end], k32)
            np.tanh(h, out=h)
            scores[self.rows_image[start:end]] += np.dot(h, w32[p])
        return Scores(scores, self._bound(kernels, w))

    def _bound(self, kernels: np.ndarray, w: np.ndarray) -> np.ndarray:
        """(n, classes): the module docstring's bound, for weights w (positions, K, classes)."""
        size = w.shape[1] * BLOCK
        magnitude = np.abs(w)
        by_sum = gamma(kernels.shape[0] + 2) * np.einsum(
            "k,pkc->pc", np.abs(kernels).max(axis=0), magnitude
        )
        by_patch = (gamma(size) * (1 + U32) + U32 + TANH_ERROR) * magnitude.sum(axis=1)
        per = np.concatenate([by_sum, by_patch]).astype(np.float32)
        return SAFETY * np.dot(self.bounds_by, per).astype(np.float64)

    def classes(self, net: Network) -> tuple[np.ndarray, np.ndarray, int]:
        """`net`'s class for every image as float64 gives it, its scores (float32's, float64's
        for the images recomputed) and how many were recomputed."""
        got = self.scores(net.layers[0].weights, net.layers[1].weights)
        again = got.uncertain()
        scores = got.scores
        if len(again):
            scores[again] = net.scores(self.x[again])
        return np.argmax(scores, axis=1), scores, len(again)
