"""A sweep's plot: validation (when the runs have it) and test accuracy against each swept
numeric key, one panel per key, a line per combination of the other swept keys.

The x-axis is logarithmic when the key's values are positive and span two decades or more (as
alphas do: 0.001, 0.01, 0.1), so that they are evenly spread. A run with no accuracy (diverged,
failed) is a cross at the foot of its panel. matplotlib is imported only when drawing.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from gdcli.viz.plot import PALETTE, format_value, legend_columns

LOG_SPAN = 100.0  # max / min at which the axis turns logarithmic


def numeric_keys(combos: Sequence[dict[str, Any]]) -> list[str]:
    """The keys of `combos` with numbers for values (not true/false, not lists) and at least
    two of them: what a plot can put on an x-axis."""
    if not combos:
        return []
    out = []
    for k in combos[0]:
        values = [c[k] for c in combos]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numbers and len(set(values)) >= 2:
            out.append(k)
    return out


def log_axis(values: Sequence[float]) -> bool:
    """Whether `values` call for a log axis: all positive, spanning LOG_SPAN or more."""
    return min(values) > 0 and max(values) / min(values) >= LOG_SPAN


def _series(
    combos: Sequence[dict[str, Any]], results: Sequence[dict[str, float | None]], key: str
) -> dict[str, list[tuple[float, dict[str, float | None]]]]:
    """Label of the other keys' values -> [(x, result)] sorted by x."""
    groups: dict[str, list[tuple[float, dict[str, float | None]]]] = {}
    for combo, result in zip(combos, results, strict=True):
        label = ", ".join(f"{k} {format_value(v)}" for k, v in combo.items() if k != key)
        groups.setdefault(label, []).append((float(combo[key]), result))
    return {label: sorted(points, key=lambda p: p[0]) for label, points in groups.items()}


def sweep_png(
    combos: Sequence[dict[str, Any]], results: Sequence[dict[str, float | None]]
) -> bytes | None:
    """The plot as PNG bytes, or None when no swept key is numeric. `results[i]` holds
    `val_accuracy` and `test_accuracy` (fractions, or None) of the run of `combos[i]`."""
    keys = numeric_keys(combos)
    if not keys:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(5.2 * len(keys), 4.4 + 0.25 * len(combos) ** 0.5), dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    has_val = any(r.get("val_accuracy") is not None for r in results)
    labels: list[str] = []
    for ax, key in zip(axes, keys, strict=True):
        groups = _series(combos, results, key)
        for i, (label, points) in enumerate(groups.items()):
            colour = PALETTE[i % len(PALETTE)]
            xs = [x for x, _ in points]
            for metric, style in (("test_accuracy", "-"), ("val_accuracy", "--")):
                ys = [100 * r[metric] if r.get(metric) is not None else math.nan for _, r in points]
                if not all(math.isnan(y) for y in ys):
                    ax.plot(xs, ys, ls=style, marker="o", ms=4, color=colour, lw=1.5)
            lost = [x for x, r in points if r.get("test_accuracy") is None]
            if lost:  # diverged or failed: a cross at the foot of the panel, where it was tried
                ax.scatter(lost, [0.03] * len(lost), transform=ax.get_xaxis_transform(),
                           marker="x", color=colour, s=30, clip_on=False)  # fmt: skip
            if label and label not in labels:
                labels.append(label)
        values = [float(c[key]) for c in combos]
        lo, hi = min(values), max(values)
        if log_axis(values):
            ax.set_xscale("log")
            ax.set_xlim(lo / 1.5, hi * 1.5)
        else:  # every value tried in view, also those without a result
            pad = 0.06 * (hi - lo)
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_xlabel(key)
        ax.set_ylabel("accuracy (%)")
        ax.grid(True, color="#dddddd", lw=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    handles = [Line2D([], [], color="#555555", lw=1.5, marker="o", ms=4, label="test")]
    if has_val:
        handles.append(Line2D([], [], color="#555555", lw=1.5, ls="--", marker="o", ms=4,
                              label="validation"))  # fmt: skip
    if any(r.get("test_accuracy") is None for r in results):
        handles.append(Line2D([], [], color="#555555", lw=0, marker="x", ms=5,
                              label="no result (diverged, failed)"))  # fmt: skip
    if len(labels) > 1:
        handles += [Line2D([], [], color=PALETTE[i % len(PALETTE)], lw=2.5, label=lab)
                    for i, lab in enumerate(labels[: len(PALETTE)])]  # fmt: skip
    width = 5.2 * len(keys)
    ncol = legend_columns([str(h.get_label()) for h in handles], width - 0.4)
    rows = -(-len(handles) // ncol)
    fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False)
    fig.subplots_adjust(left=0.7 / width, right=1 - 0.15 / width, top=0.95, wspace=0.3,
                        bottom=0.13 + 0.055 * rows)  # fmt: skip
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
