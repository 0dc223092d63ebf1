"""Why the network chose its class: each score as a dot product of the input with weights.

For the book's one-layer network a class's score is the sum over the 784 pixels of
input x weight: drawn as images, the input, the class's weights and their elementwise
product (whose sum is the score) show where the evidence for each class comes from, and why
the winning dot product is the largest (the chapter's last figure, made real).

With hidden layers, a relu (or linear) network is still a dot product for one given input:
the units this input switches on pass it on linearly and the others pass nothing, so

    score_c = x . W_eff[:, c] + b_eff[c],   W_eff = W_0 G_0 W_1 G_1 ... W_last

with G_k the diagonal 0/1 matrix of layer k's active units (bias terms likewise). Those are the
weights this input sees, exactly (not an approximation). A sigmoid or tanh hidden layer bends
the sum itself, so no such exact picture exists: explaining it is refused.

A convolutional network (chapter 10) is explained by what its kernels see: the image, then
each kernel's feature map (its activation at every position, as the next layer reads it, after
pooling when there is pooling). When the output layer reads the maps directly (the book's
network), a class's score is exactly a sum over the kernels,

    score_c = sum_k  map_k . W_k[:, c] + b_c,

W_k the output weights from kernel k's positions: each map is titled with what its kernel adds to
the chosen class's score.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np

from gdcli.data.registry import IMAGE_SIDE
from gdcli.errors import UsageError, key
from gdcli.nn.model import Network

GATED = ("relu", "linear")
DEEP_NOTE = (
    "hidden layers: for this input the network is linear; the weights it sees are the first\n"
    "layer's weights through the hidden units it switches on, times the next layer's (exact)"
)  # hidden activations whose network is linear for a fixed input


def why_not(net: Network) -> str | None:
    """Why `net`'s scores cannot be drawn as dot products with the input, or None if they can
    (a conv network is drawn as its feature maps: always)."""
    if net.layers[0].conv is not None:
        return None
    bent = [layer.activation for layer in net.layers[:-1] if layer.activation not in GATED]
    if bent:
        return (
            f"{key('explain')} draws a score as a dot product with the input, which a network with "
            f"{bent[0]} hidden units does not compute (linear or relu hidden layers only)"
        )
    return None


def effective_weights(net: Network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weights and bias the input x (n_inputs,) sees: (n_inputs, n_outputs), (n_outputs,)
    with net.scores(x) == x @ weights + bias. For one layer, its own weights and bias."""
    reason = why_not(net)
    if reason:
        raise UsageError(reason)
    outputs = net.forward(x)
    weights, bias = np.eye(net.n_inputs), np.zeros(net.n_inputs)
    for k, layer in enumerate(net.layers):
        weights = weights @ layer.weights if k else layer.weights.copy()
        bias = bias @ layer.weights + (0.0 if layer.bias is None else layer.bias)
        if k < len(net.layers) - 1 and layer.activation == "relu":
            off = outputs[k + 1] <= 0  # a relu unit this input leaves at 0 passes nothing on
            weights[:, off] = 0.0
            bias[off] = 0.0
    return weights, bias


def explain_png(net: Network, x: np.ndarray, labels: list[str], top: int = 3) -> bytes:
    """A PNG: for the `top` highest-scoring classes, the input x (784,), the weights it meets
    and their elementwise product, titled with its sum (the score); below, all the scores.

    Raises UsageError for a network with sigmoid or tanh hidden layers (see why_not). A conv
    network: its feature maps instead (feature_maps_png).
    """
    if net.layers[0].conv is not None:
        return feature_maps_png(net, x, labels)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    weights, bias = effective_weights(net, x)
    scores = x @ weights + bias
    order = [int(c) for c in np.argsort(-scores, kind="stable")[: max(1, top)]]
    products = x[:, None] * weights[:, order]
    w_max = float(np.abs(weights[:, order]).max()) or 1.0
    p_max = float(np.abs(products).max()) or 1.0
    deep = len(net.layers) > 1

    head = 1.15 if deep else 0.75  # inches above the panels: title (and note)
    fig = Figure(figsize=(9.2, 2.45 * len(order) + 1.55 + head), dpi=100)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(len(order) + 1, 4, width_ratios=[1, 1, 1, 0.06],
                            height_ratios=[1] * len(order) + [0.95], hspace=0.55, wspace=0.25,
                            top=1 - head / fig.get_figheight(), bottom=0.04)  # fmt: skip
    fig.suptitle(
        f"why the network chose {_name(labels, order[0])}: "
        "each score is the sum of input \u00d7 weights",
        fontsize=13, fontweight="bold",
    )  # fmt: skip
    if deep:
        fig.text(0.5, 1 - 0.5 / fig.get_figheight(), DEEP_NOTE, ha="center", va="top",
                 fontsize=9)  # fmt: skip
    for row, c in enumerate(order):
        p = products[:, row]
        ax_in = fig.add_subplot(grid[row, 0])
        _panel(ax_in, x, "Greys", 0, 1, "input x")
        verdict = "chosen" if row == 0 else f"{scores[order[0]] - scores[c]:.3f} behind"
        ax_in.set_ylabel(f"{_name(labels, c)}\n{verdict}", fontsize=11,
                         fontweight="bold" if row == 0 else "normal")  # fmt: skip
        kind = "weights this input sees" if deep else "weights"
        w_img = _panel(fig.add_subplot(grid[row, 1]), weights[:, c], "RdBu_r", -w_max, w_max,
                       f"{kind} for {_name(labels, c)}")  # fmt: skip
        ax_p = fig.add_subplot(grid[row, 2])
        p_img = _panel(ax_p, p, "RdBu_r", -p_max, p_max, f"x \u00d7 w, summed: {scores[c]:.3f}")
        detail = f"red {p[p > 0].sum():+.2f}, blue {p[p < 0].sum():+.2f}"
        if bias[c]:
            detail += f", bias {bias[c]:+.2f}"
        ax_p.set_xlabel(detail, fontsize=9)
        if row < 2:  # the colour scales, shared by every row: weights, then products
            img, what = (w_img, "weights (middle)") if row == 0 else (p_img, "x \u00d7 w (right)")
            fig.colorbar(img, cax=fig.add_subplot(grid[row, 3])).set_label(what, fontsize=8)
    _bars(fig.add_subplot(grid[len(order), :3]), scores, labels, order)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def feature_maps(net: Network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """A conv network's first layer on the image x (784,): its K feature maps (K, q, q) as the
    next layer reads them (q: the pooled span), and, when that next layer is the output, what
    each kernel adds to each class's score, (K, n_classes), whose sum over the kernels plus the
    output bias is the scores; else None."""
    first = net.layers[0]
    assert first.conv is not None
    kernels, q = first.weights.shape[1], first.conv.pooled_span
    out = first.forward(x[None], net.dot, net.exp)[0]  # position-major: p * K + k
    maps = out.reshape(q, q, kernels).transpose(2, 0, 1)
    if len(net.layers) != 2:
        return maps, None
    w = net.layers[1].weights.reshape(q, q, kernels, -1)
    return maps, np.einsum("kij,ijkc->kc", maps, w)


def feature_maps_png(net: Network, x: np.ndarray, labels: list[str]) -> bytes:
    """A PNG: the image x (784,), each kernel and its feature map on the image (titled with
    what it adds to the chosen class's score when the output reads the maps), and all the
    scores."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    first = net.layers[0]
    assert first.conv is not None
    maps, adds = feature_maps(net, x)
    scores = np.asarray(net.scores(x), dtype=np.float64)
    chosen = int(np.argmax(scores))
    n = len(maps)
    cols = min(n, 8)
    rows = -(-n // cols)
    k = first.conv.kernel
    kernels = first.weights
    k_max = float(np.abs(kernels).max()) or 1.0
    m_max = float(np.abs(maps).max()) or 1.0  # one scale for every map
    fig = Figure(figsize=(1.45 * cols + 1.2, 2.3 + 2.5 * rows + 2.0), dpi=100)
    FigureCanvasAgg(fig)
    heights = [1.6] + [0.5, 1.4] * rows + [1.5]
    grid = fig.add_gridspec(len(heights), cols + 1, height_ratios=heights,
                            width_ratios=[1] * cols + [0.12], hspace=0.35, wspace=0.3,
                            top=1 - 0.75 / fig.get_figheight(), bottom=0.04)  # fmt: skip
    fig.suptitle(
        f"what the {n} kernels of {k}x{k} see: the network chose {_name(labels, chosen)}",
        fontsize=13, fontweight="bold",
    )  # fmt: skip
    _panel(fig.add_subplot(grid[0, : min(2, cols)]), x, "Greys", 0, 1, "input x")
    if cols > 2:
        ax = fig.add_subplot(grid[0, 2:cols])
        ax.axis("off")
        pooled = f", max-pooled {first.conv.pool}x{first.conv.pool}" if first.conv.pool > 1 else ""
        lines = [
            f"Each kernel slides over the image; its {first.activation} at every position is",
            f"its feature map ({first.conv.pooled_span}x{first.conv.pooled_span}{pooled}),"
            " what the next layer reads.",
        ]
        if adds is not None:
            lines += [
                "The score of a class is the sum over the kernels of map \u00d7 its output",
                "weights (plus the bias): under each map, what it adds to the score of "
                f"{_name(labels, chosen)}.",
            ]
        # about 14 characters of 9-point text to a column of 1.45 inches
        text = "\n".join(textwrap.wrap(" ".join(lines), width=14 * (cols - 2)))
        ax.text(0, 0.5, text, fontsize=9, va="center")
    order = np.argsort(-adds[:, chosen], kind="stable") if adds is not None else np.arange(n)
    for i, j in enumerate(order):
        r, c = divmod(i, cols)
        ax_k = fig.add_subplot(grid[1 + 2 * r, c])
        k_img = ax_k.imshow(kernels[:, j].reshape(k, k), cmap="RdBu_r", vmin=-k_max, vmax=k_max,
                            interpolation="nearest")  # fmt: skip
        ax_k.set_xticks([])
        ax_k.set_yticks([])
        ax_k.set_title(f"kernel {j}", fontsize=9)
        ax_m = fig.add_subplot(grid[2 + 2 * r, c])
        m_img = ax_m.imshow(maps[j], cmap="RdBu_r", vmin=-m_max, vmax=m_max,
                            interpolation="nearest")  # fmt: skip
        ax_m.set_xticks([])
        ax_m.set_yticks([])
        if adds is not None:
            ax_m.set_xlabel(f"adds {adds[j, chosen]:+.2f}", fontsize=9)
    fig.colorbar(k_img, cax=fig.add_subplot(grid[1, cols])).set_label("kernel", fontsize=8)
    fig.colorbar(m_img, cax=fig.add_subplot(grid[2, cols])).set_label("map", fontsize=8)
    _bars(fig.add_subplot(grid[len(heights) - 1, :cols]), scores, labels, [chosen])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _panel(ax, values: np.ndarray, cmap: str, lo: float, hi: float, title: str):
    img = ax.imshow(values.reshape(IMAGE_SIDE, IMAGE_SIDE), cmap=cmap, vmin=lo, vmax=hi,
                    interpolation="nearest")  # fmt: skip
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    return img


def _bars(ax, scores: np.ndarray, labels: list[str], order: list[int]) -> None:
    """All the scores, the explained ones coloured, the chosen one darkest."""
    colours = ["#bbbbbb"] * len(scores)
    for rank, c in enumerate(order):
        colours[c] = "#b2182b" if rank == 0 else "#ef8a62"
    ax.bar(range(len(scores)), scores, color=colours)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(scores)), [_short(labels[i]) for i in range(len(scores))],
                  fontsize=9)  # fmt: skip
    ax.set_title("the scores of every class (the largest wins)", fontsize=10)
    for i, s in enumerate(scores):
        up = s >= 0
        ax.annotate(f"{s:.2f}", (i, s), ha="center", va="bottom" if up else "top", fontsize=8,
                    xytext=(0, 2 if up else -2), textcoords="offset points")  # fmt: skip
    ax.margins(y=0.25)


def _name(labels: list[str], c: int) -> str:
    return f"'{labels[c]}'" if labels[c] == str(c) else f"{c} {labels[c]}"


def _short(label: str) -> str:
    return label if len(label) <= 8 else label[:7] + "."
