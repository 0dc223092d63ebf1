"""Learning curves: train and test error and accuracy against the epoch, several runs overlaid.

A run is a weights file (its history) or a metrics file (the JSON lines `gdcli train --metrics`
writes). The legend names what differs between the runs' configurations ("alpha 0.01" vs
"alpha 0.001"), or their file names when nothing does. matplotlib is imported only when drawing.
"""

from __future__ import annotations

import io
import json
import math
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdcli.errors import GdcliError, UsageError, shorten
from gdcli.io import weights_file
from gdcli.io.paths import MAX_INPUT_BYTES, check_input

FORMATS = ("png", "svg")
# One colour per run, in order (matplotlib's tab10); the report's run headings use them too.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip
METRIC_KEYS = ("train_error", "train_accuracy", "test_error", "test_accuracy", "val_error",
               "val_accuracy")  # fmt: skip
METRICS_HINT = "expected one JSON object per line, as `gdcli train --metrics FILE` writes them"


@dataclass
class Run:
    """One training run: where it came from, its configuration and its per-epoch history.

    config: the weights file's config, or what a metrics file tells (alpha, epochs); history:
    one dict per epoch (epoch, alpha, train_error, ...; None where not measured or not finite);
    weights: the whole weights file, None for a metrics file.
    """

    path: Path
    config: dict[str, Any]
    history: list[dict[str, Any]]
    weights: weights_file.WeightsFile | None = field(default=None, repr=False)


def load_run(path: Path) -> Run:
    """A weights file (.npz, told by its zip signature) or a metrics file (JSON lines)."""
    path = Path(path)
    check_input(path, "run", MAX_INPUT_BYTES["weights file"])
    if zipfile.is_zipfile(path):
        wf = weights_file.load(path)
        for h in wf.history:
            check_range(h, f"{path}: history of epoch {h['epoch']}")
        return Run(path, dict(wf.meta.get("config", {})), list(wf.history), wf)
    history = read_metrics(path)
    config = {"alpha": history[0].get("alpha"), "epochs": history[-1]["epoch"]} if history else {}
    return Run(path, {k: v for k, v in config.items() if v is not None}, history)


def why_no_history(run: Run) -> str:
    """Why `run` holds no epochs, in words: what is actually missing."""
    if run.weights is None:
        return "an empty metrics file"
    if run.weights.meta.get("format") == 1:
        return "a file from gdcli 0.1, written before it was kept"
    return "a weights file whose history is empty"


def why_no_snapshots(run: Run) -> str:
    """Why `run` holds no snapshots, in words."""
    if run.weights is not None and run.weights.meta.get("format") == 1:
        return "a gdcli 0.1 file"
    return "trained with snapshots = none"


# A metric beyond this is no training's figure (the divergence check stops a run long before)
# and would overflow the plot's axis arithmetic.
MAX_METRIC = 1e100


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The epochs of a metrics file, checked: each line an object with an epoch >= 1 and numbers
    (or null) for the metrics. Anything else is a GdcliError naming the line."""
    check_input(path, "metrics file")
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise GdcliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise GdcliError(f"{path}: not a metrics file (not text)", hint=METRICS_HINT) from None
    history = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            history.append(_epoch_record(line, f"{path}: line {number}"))
    return history


def _epoch_record(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise GdcliError(f"{where}: not JSON ({exc.msg})", hint=METRICS_HINT) from None
    except RecursionError:
        raise GdcliError(f"{where}: JSON nested too deeply", hint=METRICS_HINT) from None
    if not isinstance(record, dict):
        raise GdcliError(f"{where}: not a JSON object", hint=METRICS_HINT)
    epoch = record.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise GdcliError(f"{where}: no epoch number (got {epoch!r})", hint=METRICS_HINT)
    for key in ("alpha", *METRIC_KEYS):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise GdcliError(
                f"{where}: {key} is not a number (got {shorten(value)})", hint=METRICS_HINT
            )
    check_range(record, where)
    return record


def check_range(record: dict[str, Any], where: str) -> None:
    """A GdcliError naming `where` when a metric of `record` is beyond MAX_METRIC."""
    for key in ("alpha", *METRIC_KEYS):
        value = record.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value) and abs(value) > MAX_METRIC:
            raise GdcliError(f"{where}: {key} {value:g} is out of range (more than {MAX_METRIC:g})")


def format_value(value: Any) -> str:
    """A config value for a legend or a table: 0.01, on/off, none, 128,64."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value) or "none"
    if value is None or value == "":
        return "none"
    return str(value)


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """The keys every config has whose values are not all the same, in the first's order."""
    if len(configs) < 2:
        return []
    common = [k for k in configs[0] if all(k in c for c in configs[1:])]
    return [k for k in common if any(c[k] != configs[0][k] for c in configs[1:])]


def file_names(paths: list[Path]) -> list[str]:
    """Each path's file name, or the paths as given when two names are the same."""
    names = [p.name for p in paths]
    return names if len(set(names)) == len(names) else [str(p) for p in paths]


# Which differing settings name a run first: what the network is, then how it was trained;
# any other key after these, in the config's order.
LABEL_ORDER = ("dataset", "hidden", "conv", "loss", "activation", "hidden_activation", "alpha",
               "epochs", "batch_size", "n_train", "dropout")  # fmt: skip
LABEL_KEYS = 3  # settings per legend label (more only when the runs need them to differ)
LABEL_WRAP = 40  # characters per line of a legend label


def label_keys(configs: list[dict[str, Any]], limit: int = LABEL_KEYS) -> list[str]:
    """The few differing settings that name the runs: up to `limit` of them in LABEL_ORDER
    (then the config's order), more only when fewer leave two runs with one label."""
    keys = differing_keys(configs)
    rank = {k: i for i, k in enumerate(LABEL_ORDER)}
    keys.sort(key=lambda k: rank.get(k, len(rank)))  # stable: the others keep their order
    chosen: list[str] = []
    for k in keys:
        labels = {tuple(format_value(c[k2]) for k2 in chosen) for c in configs}
        if len(chosen) >= limit and len(labels) == len(configs):
            break
        chosen.append(k)
    return chosen


def run_labels(runs: list[Run]) -> list[str]:
    """What tells the runs apart: "alpha 0.01" vs "alpha 0.001" (the few settings of
    label_keys), else their file names."""
    keys = label_keys([r.config for r in runs])
    labels = [", ".join(f"{k} {format_value(r.config[k])}" for k in keys) for r in runs]
    if not keys or len(set(labels)) < len(labels):
        return file_names([r.path for r in runs])
    return labels


def other_differences(runs: list[Run]) -> str:
    """The differing settings the labels leave out, with each run's value in order:
    "also different: l2 (0, 0.001), deskew (off, on)", or "" when the labels name them all."""
    configs = [r.config for r in runs]
    shown = set(label_keys(configs))
    rest = [k for k in differing_keys(configs) if k not in shown]
    if not rest:
        return ""
    # a no-break space inside the brackets: the figure wraps the line between settings only
    apart = ",\u00a0"
    return "also different: " + ", ".join(
        f"{k} ({apart.join(format_value(c[k]) for c in configs)})" for k in rest
    )


# The curves a history holds are its keys "<split>_<metric>": train, test, and any other split
# (val, ...) drawn alike. Splits are drawn and named in this order, then any other by name.
SPLITS = ("train", "val", "test")
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}
SPLIT_STYLES = {"train": ("-", None), "val": (":", "s"), "test": ("--", "o")}
OTHER_STYLE = ("-.", "^")
METRICS = (("error", 1.0), ("accuracy", 100.0))  # (metric, scale to draw it in)


def splits(histories: list[list[dict[str, Any]]]) -> list[str]:
    """The splits whose error or accuracy any epoch of `histories` records (a number),
    in SPLITS order, then any other by name."""
    found = {
        k.rsplit("_", 1)[0]
        for h in histories
        for e in h
        for k, v in e.items()
        if v is not None and k.endswith(tuple(f"_{m}" for m, _ in METRICS))
    }
    return [s for s in SPLITS if s in found] + sorted(found - set(SPLITS))


def _series(history: list[dict[str, Any]], key: str, scale: float) -> tuple[list, list]:
    """(epochs, values) of `key`. The train figures are measured every epoch, so a null there
    (not finite) leaves a gap; the others (test, val) only at some epochs, so their nulls (not
    measured) are left out and the line joins the epochs that were measured."""
    every_epoch = key.startswith("train_")
    points = [(h["epoch"], h.get(key)) for h in history]
    points = [(e, v) for e, v in points if v is not None or every_epoch]
    if all(v is None for _, v in points):
        return [], []
    return [e for e, _ in points], [math.nan if v is None else v * scale for _, v in points]


def wants_log(histories: list[list[dict[str, Any]]]) -> bool:
    """Whether the error axis is better logarithmic: its positive figures span more than a
    decade (the largest over ten times the smallest)."""
    values = [
        v
        for h in histories
        for e in h
        for k, v in e.items()
        if k.endswith("_error") and isinstance(v, (int, float)) and math.isfinite(v) and v > 0
    ]
    return bool(values) and max(values) > 10 * min(values)


def legend_columns(labels: list[str], width_inches: float) -> int:
    """The most columns (up to 4) whose labels fit side by side in the width, filled column by
    column as matplotlib does (a label's width estimated from its longest line at 10 pt)."""

    def length(label: str) -> int:
        return max(map(len, label.split("\n")), default=0)

    for ncol in range(min(len(labels), 4), 1, -1):
        rows = -(-len(labels) // ncol)
        columns = [labels[c * rows : (c + 1) * rows] for c in range(ncol)]
        width = sum(0.9 + 0.085 * max(map(length, col), default=0) for col in columns)
        if width <= width_inches:
            return ncol
    return 1


def wrap(label: str, width: int = LABEL_WRAP) -> str:
    """`label` broken after commas into lines of at most about `width` characters."""
    lines: list[str] = []
    for part in label.split(", "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += ", " + part
        else:
            lines.append(part)
    return ",\n".join(lines)


def no_history_message(run: Run) -> str:
    """Why `run` has nothing to plot, as it is: an old file, an empty file or history."""
    return f"{run.path} has no training history ({why_no_history(run)})"


def drawable(runs: list[Run]) -> list[Run]:
    """The runs that have a history to draw; UsageError, saying what each lacks, when none has."""
    kept = [r for r in runs if r.history]
    if not kept:
        names = ", ".join(f"{r.path} ({why_no_history(r)})" for r in runs)
        many = f"none of {names} has a training history"
        what = no_history_message(runs[0]) if len(runs) == 1 else many
        raise UsageError(
            f"{what}: nothing to plot",
            hint="retrain with this gdcli (or pass the run's metrics file)",
        )
    return kept


def curves_png(
    runs: list[tuple[str, list[dict[str, Any]]]],
    fmt: str = "png",
    log_y: bool | None = None,
    note: str = "",
    width: int | None = None,
) -> bytes:
    """The learning curves of `runs` (label, history), overlaid, as PNG or SVG bytes (see
    _figure); SVG text stays text. width: the PNG's pixels across (default 1500), the text
    scaled with it."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {FORMATS}")
    import matplotlib

    fig = _figure(runs, log_y, note)
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "gdcli"}):
        dpi = width / FIG_WIDTH if width else None
        fig.savefig(buf, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def curves_figure(runs: list[Run], log_y: bool | None = None) -> Any:
    """The learning curves of `runs`, labelled by what differs between them, as a matplotlib
    Figure that Jupyter shows inline (it has _repr_png_)."""
    labels = run_labels(runs)
    drawn = [(lab, r.history) for lab, r in zip(labels, runs, strict=True)]
    return _figure(drawn, log_y, other_differences(runs))


FIG_WIDTH, PLOTS_HEIGHT = 10.0, 3.7  # inches: the figure, and its plots with their titles
LINE_INCHES = 0.2  # a line of legend or note text at 10 pt


def _figure(
    runs: list[tuple[str, list[dict[str, Any]]]], log_y: bool | None = None, note: str = ""
) -> Any:
    """Left: error (the sum over the outputs of the squared error, mean over images), on a log
    axis when `log_y` (None: when the figures span more than a decade, wants_log); right:
    accuracy in %. One line style per split the histories hold (solid: train, each image's
    prediction just before its step; dashed with dots: test; dotted with squares: validation;
    those two at the epochs they were measured), named in the key at the top right. One colour
    per run (PALETTE, in order), named in the legend under the plots (labels wrapped); `note`
    (what else differs) under it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    class CurvesFigure(Figure):
        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png")
            return buf.getvalue()

    histories = [h for _, h in runs]
    log = wants_log(histories) if log_y is None else log_y
    found = splits(histories)
    labels = [wrap(lab) for lab, _ in runs] if len(runs) > 1 else []
    ncol = legend_columns(labels, width_inches=FIG_WIDTH - 0.4) if labels else 1
    rows = -(-len(labels) // ncol)
    lines = sum(
        max((lab.count("\n") + 1 for lab in labels[r::rows]), default=0) for r in range(rows)
    )
    note_lines = textwrap.wrap(note, 150, break_long_words=False)
    legend_h = (lines * LINE_INCHES + 0.08 * rows + 0.1) if labels else 0.0
    note_h = len(note_lines) * 0.17 + (0.05 if note else 0.0)
    below = 0.5 + legend_h + note_h  # the x axis' ticks and label, the legend, the note
    height = max(4.2, PLOTS_HEIGHT + below)  # fixed margins: a layout engine costs 0.2 s
    fig = CurvesFigure(figsize=(FIG_WIDTH, height), dpi=150)
    FigureCanvasAgg(fig)
    ax_err, ax_acc = fig.subplots(1, 2)
    colours = [PALETTE[i % len(PALETTE)] for i in range(len(runs))]

    def style(split: str) -> tuple[str, str | None]:
        return SPLIT_STYLES.get(split, OTHER_STYLE)

    for history, colour in zip(histories, colours, strict=True):
        for ax, (metric, scale) in zip((ax_err, ax_acc), METRICS, strict=True):
            for split in found:
                epochs, values = _series(history, f"{split}_{metric}", scale)
                ls, marker = style(split)
                if marker and len(epochs) > 60:
                    marker = None
                lw = 1.6 if split == "train" else 1.4
                ax.plot(epochs, values, color=colour, lw=lw, ls=ls, marker=marker, ms=3.5)
    ax_err.set_title(
        "error (squared, mean per image" + ("; log scale)" if log else ")"), loc="left",
        fontsize=11,
    )  # fmt: skip
    ax_acc.set_title("accuracy (%)", loc="left", fontsize=11)
    ax_acc.set_ylim(top=min(ax_acc.get_ylim()[1], 101))  # room for a line at 100%
    if log:
        ax_err.set_yscale("log")
    else:
        ax_err.set_ylim(bottom=0)
    for ax in (ax_err, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(True, color="#dddddd", lw=0.6)
        ax.grid(True, which="minor", axis="y", color="#eeeeee", lw=0.4)
        ax.spines[["top", "right"]].set_visible(False)
    key = []
    for split in found:
        ls, marker = style(split)
        name = SPLIT_NAMES.get(split, split)
        key.append(Line2D([], [], color="#555555", lw=1.5, ls=ls, marker=marker, ms=3.5,
                          label=name))  # fmt: skip
    top = 1 - 0.42 / height
    # the key of the line styles in the top right, above the accuracy plot: always in sight
    fig.legend(handles=key, loc="upper right", bbox_to_anchor=(0.985, 1.0), ncol=len(key),
               frameon=False, fontsize=9.5, handlelength=2.6)  # fmt: skip
    if labels:
        handles = [Line2D([], [], color=c, lw=2.5, label=lab)
                   for lab, c in zip(labels, colours, strict=True)]  # fmt: skip
        fig.legend(handles=handles, loc="lower center", ncol=ncol, frameon=False,
                   bbox_to_anchor=(0.5, (note_h + 0.02) / height), fontsize=10)  # fmt: skip
    if note:
        fig.text(0.01, 0.02 / height, "\n".join(note_lines), fontsize=8.5, color="#444444",
                 va="bottom", ha="left")  # fmt: skip
    fig.subplots_adjust(left=0.06, right=0.985, top=top, wspace=0.16, bottom=below / height)
    return fig
