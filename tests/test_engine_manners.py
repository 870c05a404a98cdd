"""The engine speaks of the engine: no command-line flags in core's messages, no global settings changed behind the caller's back.

Core names an option with :func:`neuralgae.core.host.errors.option`; the CLI
spells it as its flag (``--resume``), a Python caller reads its keyword
(``resume=True``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from neuralgae.core.host.errors import NeuralgaeError, option, spelling

CORE = Path(__file__).resolve().parent.parent / "core"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _message_strings(path: Path):
    """Every string constant of a core module that is not a docstring or the spec schema's documentation."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):  # docstrings, attribute docs
            skip.add(id(node.value))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Key":  # docs/spec.md's key table
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node.lineno, node.value


def test_no_core_message_names_a_command_line_flag():
    found = [
        f"{path.name}:{line}: {text[:80]!r}"
        for path in sorted(CORE.rglob("*.py"))
        for line, text in _message_strings(path)
        if FLAG.search(text)
    ]
    assert not found, "core messages name flags (use errors.option):\n" + "\n".join(found)


def test_an_option_is_spelt_by_the_front_end_that_shows_it():
    exc = NeuralgaeError(f"folder 'x' already holds a run; add {option('resume')} to continue it")
    assert exc.options == ("resume",)
    assert str(exc) == "folder 'x' already holds a run; add resume=True to continue it"
    with spelling({"resume": "--resume"}):
        assert str(exc) == "folder 'x' already holds a run; add --resume to continue it"
    assert "resume=True" in str(exc)  # the spelling ends with its context


def test_nd_spells_options_as_its_flags_and_a_command_its_own(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from neuralgae.core.runs.runfolder import prepare_output
    from neuralgae.core.runs.spec import validate_spec
    from neuralgae.core.host.plugins import PluginHost
    from neuralgae_cli.main import app

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "stray.txt").write_text("x")
    data = {"frames": 1, "source": {"noise": "40x32"}, "renderer": {"name": "dream"}}
    spec = validate_spec(data, host=PluginHost(entry_points=False), origin="t", name="t", base_dir=tmp_path, out=folder)
    with pytest.raises(NeuralgaeError) as info:
        prepare_output(spec)
    assert str(info.value).endswith("choose another with out=FOLDER or add overwrite=True")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "frames").mkdir()
    from neuralgae.core.media.images import save_image
    import numpy as np

    save_image(tmp_path / "frames" / "f_0.png", np.full((40, 40, 3), 0.5, np.float32))
    out = tmp_path / "out"
    out.mkdir()
    (out / "stray.txt").write_text("x")
    result = CliRunner().invoke(app, ["dream", "frames", "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.strip().endswith("choose another with -o or add --overwrite"), result.output


def test_no_core_module_sets_process_wide_settings():
    """The denormal flag is switched only by the tensors module's context (which restores it); log levels are the CLI's."""
    setters = {p.name for p in CORE.rglob("*.py") if "set_flush_denormal" in p.read_text(encoding="utf-8")}
    assert setters == {"tensors.py"}
    levels = [p.name for p in CORE.rglob("*.py") if ".setLevel(" in p.read_text(encoding="utf-8")]
    assert not levels


def _defaults(command_name: str) -> dict:
    """The default of every option of ``nd COMMAND``, as typer built it."""
    import typer.main

    from neuralgae_cli.main import app

    group = typer.main.get_command(app)
    return {p.name: p.default for p in group.commands[command_name].params}


def test_the_command_line_reads_its_defaults_from_the_engine():
    """One source for defaults: nd's options show the engine's settings, never restated numbers."""
    from dataclasses import fields

    from neuralgae.core.chain.book import DEFAULT_CHAPTER_SIZE
    from neuralgae.core.optvis.dream import DEFAULT_LAYERS, DreamSettings
    from neuralgae.core.runs.spec import DEFAULT_NETWORK
    from neuralgae.core.stream.stream import DEFAULT_HOLD, StreamSettings
    from neuralgae_cli import draw as draw_cli, dream as dream_cli

    dream = _defaults("dream")
    for f in fields(DreamSettings):
        assert dream[f.name] == getattr(DreamSettings, f.name), f.name
    assert dream["layers"] == DEFAULT_LAYERS
    for command in ("dream", "classify", "layers", "draw", "serve"):
        assert _defaults(command)["network"] == DEFAULT_NETWORK, command
    assert dream_cli.DEFAULT_NETWORK == draw_cli.DEFAULT_NETWORK == DEFAULT_NETWORK
    serve = _defaults("serve")
    assert serve["size"] == f"{StreamSettings.width}x{StreamSettings.height}"
    assert serve["steps"] == StreamSettings.steps and serve["hold"] == DEFAULT_HOLD
    assert _defaults("book")["chapter_size"] == DEFAULT_CHAPTER_SIZE
    from neuralgae.core.runs.spec_schema import DEFAULT_COHERENCE

    assert dream["coherence"] == DEFAULT_COHERENCE
    for module in (draw_cli, dream_cli):  # no restated numbers for the network or its size
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert '"efficientnet-lite0"' not in source and "224, 224" not in source, module.__name__


def test_nd_draw_draws_at_the_networks_own_size_by_default(tmp_path):
    import typer
    from typer.testing import CliRunner

    from neuralgae.core.media.images import load_image
    from neuralgae_cli.draw import register

    app = typer.Typer()
    register(app)
    out = tmp_path / "d.png"
    result = CliRunner().invoke(app, ["draw", "--classes", "goldfish", "--steps", "2", "--network", "efficientnet-lite1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_image(out).shape[:2] == (240, 240)


def test_the_dream_renderer_and_nd_dream_share_their_defaults():
    from neuralgae.core.host.plugins import PluginHost

    params = PluginHost(entry_points=False).get("renderer", "dream").params
    dream = _defaults("dream")
    for name, param in params.items():
        if name in dream:
            assert dream[name] == param.default, name
