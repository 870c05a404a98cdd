"""Writing a resolved spec as TOML that :func:`~neuralgae.core.runs.spec.load_spec` reads back, and comparing two resolved specs."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..host.errors import NeuralgaeError

# -- writing ----------------------------------------------------------------------------


_BARE_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None) + "}"
    raise NeuralgaeError(f"cannot write {value!r} ({type(value).__name__}) into a TOML spec")


def _toml_pairs(table: dict) -> list[str]:
    return [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items() if v is not None]


def dumps_spec(data: dict) -> str:
    """Write a resolved spec dict (as from :meth:`Spec.to_dict`) as TOML that :func:`load_spec` reads back."""
    lines = ["# Resolved spec written by nd run: every value, defaults filled in.", ""]
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and k != "transforms"}
    lines += _toml_pairs(scalars)
    for key in ("network", "source", "renderer", "transforms", "sampler", "audio", "output"):
        if key == "transforms":
            for t in data.get("transforms", []):
                lines += ["", "[[transforms]]", *_toml_pairs(t)]
        elif isinstance(data.get(key), dict):
            lines += ["", f"[{key}]", *_toml_pairs(data[key])]
    return "\n".join(lines) + "\n"


def first_difference(old, new, path: str = "") -> tuple[str, Any, Any] | None:
    """The first key path where two resolved specs differ, with both values, or None."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{k}" if path else k
            if k not in old or k not in new:
                return sub, old.get(k, "(absent)"), new.get(k, "(absent)")
            found = first_difference(old[k], new[k], sub)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return path, f"{len(old)} entries", f"{len(new)} entries"
        for i, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    return (path, old, new) if old != new else None
