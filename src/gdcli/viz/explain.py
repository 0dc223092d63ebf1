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
"""

from __future__ import annotations

import io

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
    """Why `net`'s scores cannot be drawn as dot products with the input, or None if they can."""
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

    Raises UsageError for a network with sigmoid or tanh hidden layers (see why_not).
    """
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
