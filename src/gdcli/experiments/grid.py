"""A sweep's grid: `KEY=V1,V2,...` for each swept key, every combination of the values, each
checked as a whole configuration before anything runs.

A value that holds commas goes in brackets: `hidden=40,[128,64]` is two runs, one hidden layer
of 40 and two of 128 and 64; `freeze_inputs=[0-27,700-783],[]`. Values are read as the key's
type (a whole number, a number, true/false, a name, or a list of them).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdcli.config import (
    DEFAULTS,
    KEYS,
    LIST_ITEMS,
    TrainConfig,
    check_keys,
    find_config,
    load_config,
    validate,
)
from gdcli.errors import GdcliError, UsageError, shorten

MAX_RUNS = 1_000  # what one machine runs in a sweep; more: --print-commands and a scheduler
MAX_LISTED = 100_000  # commands printed for a scheduler: each combination is checked first
_TRUE, _FALSE = ("true", "on", "yes"), ("false", "off", "no")


@dataclass(frozen=True)
class Axis:
    """One swept key and its values, in the order given (typed as the key's values)."""

    key: str
    values: tuple[Any, ...]
    texts: tuple[str, ...]  # each value as it was written


def split_values(text: str) -> list[str]:
    """ "0.1,[128,64],x" -> ["0.1", "[128,64]", "x"]: commas outside brackets separate."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"{shorten(text)}: a ] without its [")
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if depth:
        raise UsageError(f"{shorten(text)}: a [ without its ]")
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _item(key: str, text: str, kind: type, where: str) -> Any:
    if kind is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise UsageError(f"{where}: {key} is true or false, got {shorten(text)}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{where}: {key} is a whole number, got {shorten(text)}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise UsageError(f"{where}: {key} is a number, got {shorten(text)}") from None
    return text


def parse_value(key: str, text: str, where: str = "") -> Any:
    """One value of `key` written as `text`, as the key's type. UsageError naming `where`."""
    where = where or f"{key}={shorten(text)}"
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else None
    item = LIST_ITEMS.get(key)
    if item is not None:
        parts = split_values(inner) if inner is not None else [text]
        parts = [p for p in parts if p] if inner is not None else parts
        value: Any = tuple(_item(key, p, item, where) for p in parts)
    else:
        default = getattr(DEFAULTS, key)
        value = _item(key, inner if inner is not None else text, type(default), where)
    try:
        return check_keys({key: value})[key]
    except GdcliError as exc:
        exc.prepend(f"{where}: ")
        raise


def parse_axis(text: str) -> Axis:
    """ "alpha=0.1,0.01" -> Axis("alpha", (0.1, 0.01)). UsageError for a text without "=", an
    unknown key, an empty value list or value, a value of the wrong type, a value twice."""
    key, eq, values_text = text.partition("=")
    key = key.strip()
    if not eq or not key:
        raise UsageError(
            f"{shorten(text)} is not KEY=VALUES", hint="e.g. alpha=0.001,0.01,0.1 (config keys)"
        )
    key = key.replace("-", "_")  # n-train as the option spells it is n_train
    if key not in KEYS:
        raise UsageError(
            f"unknown key {shorten(key)} in {shorten(text)}", hint=f"known keys: {', '.join(KEYS)}"
        )
    if not values_text.strip():
        raise UsageError(f"{key}= has no values", hint=f"e.g. {key}=V1,V2")
    texts = split_values(values_text)
    if "" in texts:
        raise UsageError(
            f"{shorten(text)}: an empty value (two commas, or one at an end)",
            hint="an empty list or text is written [] ",
        )
    values = tuple(parse_value(key, t) for t in texts)
    for i, v in enumerate(values):
        if v in values[:i]:
            raise UsageError(f"{shorten(text)}: {shorten(texts[i])} is given twice")
    return Axis(key, values, tuple(texts))


def parse_axes(texts: Sequence[str]) -> list[Axis]:
    """Every KEY=VALUES of a sweep; a key given twice is a UsageError."""
    axes = [parse_axis(t) for t in texts]
    keys = [a.key for a in axes]
    for i, k in enumerate(keys):
        if k in keys[:i]:
            raise UsageError(f"key {k} is swept twice", hint=f"give all its values in one {k}=...")
    return axes


def grid_size(axes: Sequence[Axis]) -> int:
    """How many combinations `axes` make (counted, not made)."""
    return math.prod(len(a.values) for a in axes)


def combinations(axes: Sequence[Axis]) -> Iterator[dict[str, Any]]:
    """Every combination, the first axis varying slowest: {key: value, ...}."""
    keys = [a.key for a in axes]
    for values in itertools.product(*(a.values for a in axes)):
        yield dict(zip(keys, values, strict=True))


def describe(combo: dict[str, Any]) -> str:
    """ "alpha=0.1 hidden=128,64": a combination as a person reads it."""
    from gdcli.experiments.naming import value_text

    return " ".join(f"{k}={value_text(v).replace('_', ',')}" for k, v in combo.items())


def base_values(config: str | Path | None) -> dict[str, Any]:
    """The keys a base config file (a path or a shipped config's name) sets."""
    return load_config(find_config(config)) if config else {}


def check_grid(
    config: str | Path | None, axes: Sequence[Axis], limit: int = MAX_RUNS, hint: str | None = None
) -> list[TrainConfig]:
    """The validated configuration of every combination, base config first then the
    combination. UsageError, before any is returned, for a grid over `limit` runs (with
    `hint`) or any combination that is not a valid configuration (naming it)."""
    size = grid_size(axes)
    if size > limit:
        raise UsageError(f"the grid has {size:,} runs, more than {limit:,}", hint=hint)
    base = base_values(config)
    out = []
    for combo in combinations(axes):
        try:
            out.append(validate(TrainConfig(**{**base, **combo})))
        except GdcliError as exc:
            exc.prepend(f"the run {describe(combo)}: ")
            raise
    return out
