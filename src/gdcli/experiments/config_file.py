"""A resolved configuration as a TOML file that `gdcli train --config` loads back as it was."""

from __future__ import annotations

import math
from typing import Any

from gdcli.config import TrainConfig

# TOML's basic strings: these must be escaped (the spec: ", \ and the control characters but tab)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}


def toml_string(text: str) -> str:
    """`text` as a TOML basic string."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (ord(ch) < 0x20 and ch != "\t") or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """A config value as TOML: true/false, 42, 0.001 (repr: the float itself), "mse", [40, 20]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):  # validate() refuses these; TOML spells them so
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def config_toml(cfg: TrainConfig, comment: str | None = None) -> str:
    """Every key of `cfg`, one per line (`alpha = 0.01`), under an optional comment line: the
    whole configuration, so that the run is the same however gdcli's defaults change later."""
    lines = [f"# {line}" for line in (comment or "").splitlines()]
    lines += [f"{k} = {toml_value(v)}" for k, v in cfg.to_dict().items()]
    return "\n".join(lines) + "\n"
