"""``--set key.path=value`` overrides: parsing values, paths relative to the current folder, and applying them to a parsed spec."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..host.errors import NeuralgaeError, option
from .spec_schema import DEFAULT_NETWORK, SOURCE_STARTS

# -- overrides ---------------------------------------------------------------------


_PATH_PART = re.compile(r"^[A-Za-z0-9_\-]+$")


def parse_value(text: str):
    """Parse an override value as a TOML value; anything else is taken as a bare string.

    ``5`` -> 5, ``0.02`` -> 0.02, ``true`` -> True, ``[1, 2]`` -> [1, 2],
    ``"a b"`` -> 'a b', ``128x128`` -> '128x128'. Never evaluated as code.
    """
    if "\n" in text or "\r" in text:
        return text
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    if set(parsed) != {"value"}:
        return text
    return parsed["value"]


def spec_relative(value: str | Path, base_dir: Path) -> Path:
    """A path written in a spec, made absolute: ``~`` expanded, relative to the spec's folder."""
    return (base_dir / Path(value).expanduser()).resolve()


CWD_RELATIVE_KEYS = ("source.image", "source.video", "audio.file", "network.weights")
"""Paths that ``--set`` takes relative to the current folder (in a spec file, to the spec's folder)."""


def cwd_relative(value: str, cwd: Path | None = None) -> str:
    """A path given with ``--set``, made absolute against ``cwd`` (default: the current folder)."""
    return str((cwd or Path.cwd()) / Path(value).expanduser())


def apply_overrides(data: dict, overrides: Sequence[str], *, cwd: Path | None = None) -> dict:
    """Apply ``key.path=value`` overrides to a parsed spec; returns a new dict.

    Numbers in the path index arrays (``transforms.0.scale``); an index one
    past the end appends a new table. ``source.image`` and ``source.video``
    given here are relative to the current folder.
    """
    data = _deep_copy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        label = f"{option('set')} {item}"
        if not sep or not key:
            raise NeuralgaeError(f"{label}: write KEY.PATH=VALUE, e.g. {option('set')} renderer.steps=5")
        parts = key.split(".")
        if any(not _PATH_PART.match(p) for p in parts):
            raise NeuralgaeError(f"{label}: '{key}' is not a key path; write names separated by dots, e.g. transforms.0.scale")
        value = parse_value(raw.strip())
        if key in CWD_RELATIVE_KEYS and isinstance(value, str):
            value = cwd_relative(value, cwd)
        if len(parts) == 2 and parts[0] == "network":
            _network_as_table(data, label)
        if len(parts) == 2 and parts[0] == "source" and parts[1] in SOURCE_STARTS:
            src = data.get("source")
            if isinstance(src, dict):  # a new start replaces the old one
                for other in SOURCE_STARTS:
                    src.pop(other, None)
        _set_path(data, parts, value, label)
    return data


def _network_as_table(data: dict, label: str) -> None:
    """``network = "x"`` as ``network = { name = "x" }``, so ``--set network.weights=...`` can give it an option."""
    network = data.get("network", DEFAULT_NETWORK)
    if isinstance(network, list):
        raise NeuralgaeError(
            f"{label}: the spec's network is a list; give each entry its options in the spec, "
            "e.g. network = [{ name = \"torchvision:googlenet\", weights = \"googlenet.pth\" }, \"efficientnet-lite0\"]"
        )
    if isinstance(network, str):
        data["network"] = {"name": network}


def _deep_copy(value):
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _set_path(data: dict, parts: list[str], value, label: str) -> None:
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[:i]) or "the spec"
        if isinstance(node, list):
            if not part.isdigit():
                raise NeuralgaeError(f"{label}: '{where}' is a list; index it with a number, e.g. {where}.0")
            idx = int(part)
            if idx > len(node):
                raise NeuralgaeError(
                    f"{label}: '{where}' has {len(node)} entries (indices 0 to {len(node) - 1}); "
                    f"use an index up to {len(node)} (which adds one)"
                )
            if last:
                if idx == len(node):
                    node.append(value)
                else:
                    node[idx] = value
                return
            if idx == len(node):
                node.append({})
            node = node[idx]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            if part not in node:
                node[part] = [] if part == "transforms" else {}
            node = node[part]
        else:
            raise NeuralgaeError(f"{label}: '{where}' is a single value, not a table; it has no key '{part}'")
