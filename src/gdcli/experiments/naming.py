"""A run folder's name: its number, then what sets the run apart from the defaults or the base
config (`3-alpha0.001`, `4-best-alpha0.1-hidden128_64`, `5-defaults`)."""

from __future__ import annotations

import re
from typing import Any

from gdcli.config import KEYS, TrainConfig

MAX_LABEL = 80  # characters of a folder's name after its number: file systems allow 255


def differences(cfg: TrainConfig, base: TrainConfig) -> dict[str, Any]:
    """The keys of `cfg` whose values differ from `base`'s, in the config's order."""
    theirs = base.to_dict()
    return {k: v for k, v in cfg.to_dict().items() if k in KEYS and v != theirs.get(k)}


def value_text(value: Any) -> str:
    """A config value as a name reads it: 0.001, 1e-05, true/false, 128_64 (a list), none."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # exact: 0.1 and 0.10000001 must not share a name
    if isinstance(value, (list, tuple)):
        return "_".join(value_text(v) for v in value) or "none"
    return str(value) if value != "" else "none"


def _safe(text: str) -> str:
    """`text` with only letters, digits and . _ + - left (a folder name every shell and file
    system takes as it is); anything else becomes _."""
    return re.sub(r"[^A-Za-z0-9._+-]", "_", text)


def run_label(diffs: dict[str, Any], base_name: str | None = None) -> str:
    """The name of a run after its number: the base config's name, then each differing key and
    its value (`best-alpha0.1`); "defaults" for the defaults themselves. At most MAX_LABEL
    characters, cut at the end."""
    parts = [_safe(base_name)] if base_name else []
    parts += [_safe(f"{k}{value_text(v)}") for k, v in diffs.items()]
    label = "-".join(parts) or "defaults"
    return label[:MAX_LABEL].rstrip("-.") or "run"
