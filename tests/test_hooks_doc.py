"""docs/hooks.md is checked against core/host/hookspecs.py: every hook with its exact signature, every :param:, every register() call."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from neuralgae.core.host import hookspecs

DOC = (Path(__file__).resolve().parent.parent / "docs" / "hooks.md").read_text(encoding="utf-8")
HEADING = re.compile(r"^## `(\w+)\(([^)]*)\)`$", re.M)


def _specs() -> dict:
    """Every function in hookspecs.py marked as a hook specification."""
    marker = f"{hookspecs.PROJECT}_spec"
    return {n: f for n, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, marker)}


def _sections() -> dict[str, tuple[str, str]]:
    """hook name -> (its documented argument list, the text of its section)."""
    heads = list(HEADING.finditer(DOC))
    out = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(DOC)
        body = DOC[m.end() : end].split("\n## ", 1)[0]
        out[m.group(1)] = (m.group(2), body)
    return out


def _words(text: str) -> str:
    return " ".join(text.replace("``", "`").split())


def test_every_hookspec_is_documented_with_its_exact_signature():
    specs, sections = _specs(), _sections()
    assert "register_transforms" in specs and "frame_written" in specs
    for name, function in specs.items():
        assert name in sections, f"docs/hooks.md has no '## `{name}(...)`' section"
        documented, _ = sections[name]
        assert documented == ", ".join(inspect.signature(function).parameters), f"{name}: documented as ({documented})"
    assert set(sections) <= set(specs), f"docs/hooks.md documents hooks that do not exist: {set(sections) - set(specs)}"


@pytest.mark.parametrize("name", sorted(_specs()))
def test_every_param_of_a_hookspec_is_described(name):
    doc = inspect.getdoc(_specs()[name]) or ""
    params = re.findall(r":param (\w+):", doc)
    assert params == list(inspect.signature(_specs()[name]).parameters), f"{name}: its docstring's :param:s"
    _, body = _sections()[name]
    for param in params:
        assert f"`{param}" in body, f"docs/hooks.md's {name} section does not describe `{param}`"
    for call in re.findall(r"``(register\([^`]*\))``", doc):  # the register callback's own signature
        assert _words(call) in _words(body), f"{name}: docs/hooks.md does not show `{call}`"
