"""The public API: ``neuralgae.core`` re-exports what plugins and programs use, and the docs and the example import only it."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import neuralgae.core as core

ROOT = Path(__file__).resolve().parent.parent
PRIVATE_IMPORT = re.compile(r"^\s*(?:from\s+(neuralgae\.(?:core|plugins)\.[\w.]+)\s+import|import\s+(neuralgae\.(?:core|plugins)\.[\w.]+))", re.M)
PUBLIC_IMPORT = re.compile(r"^\s*from\s+neuralgae\.core\s+import\s+(\([^)]*\)|[^\n]+)", re.M)

REQUIRED = {
    "hookimpl", "NeuralgaeError", "FrameContext", "SamplerContext", "RenderContext", "TextContext", "PluginHost",
    "Network", "LayerInfo", "dream", "render_draw", "load_network", "classify", "load_spec", "run_spec",
    "Range", "Choice", "Shape", "Finite", "NonFinite",
}


def test_every_public_name_imports():
    assert sorted(core.__all__) == sorted(set(core.__all__)), "a name is listed twice"
    for name in core.__all__:
        namespace: dict = {}
        exec(f"from neuralgae.core import {name}", namespace)  # noqa: S102 - a fixed, listed name
        assert namespace[name] is getattr(core, name)


def test_the_api_holds_what_plugins_and_programs_need():
    assert REQUIRED <= set(core.__all__)
    assert callable(core.dream) and callable(core.classify)  # the functions, not their modules


def _documents() -> list[Path]:
    return [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md", *sorted((ROOT / "examples").rglob("*.py")),
            *sorted((ROOT / "examples").rglob("*.md"))]


@pytest.mark.parametrize("path", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_and_examples_import_only_the_public_api(path):
    text = path.read_text(encoding="utf-8")
    private = [m.group(1) or m.group(2) for m in PRIVATE_IMPORT.finditer(text)]
    assert not private, f"{path.name} imports from private modules: {private}; import from neuralgae.core"
    for m in PUBLIC_IMPORT.finditer(text):
        listed = re.sub(r"#[^\n]*", "", m.group(1)).strip("()")
        names = {n.strip().split(" as ")[0] for n in listed.replace("\n", ",").split(",") if n.strip()}
        missing = names - set(core.__all__)
        assert not missing, f"{path.name} imports {sorted(missing)} from neuralgae.core, which does not export them"


def test_the_public_modules_are_still_reachable_as_modules():
    """``neuralgae.core.dream`` is the function; its module is one import_module away."""
    module = importlib.import_module("neuralgae.core.optvis.dream")
    assert module.dream is core.dream and module.DreamSettings is core.DreamSettings
