"""Plugins: the example package installed through real entry-point metadata, broken plugins,
`nd plugins`, `nd run`/`nd specs` on the command line, hook docs, and every built-in spec."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.host.plugins import PluginError, PluginHost
from neuralgae_cli import plugins_cmd
from neuralgae_cli import run as run_cmd
import test_plugins_fakes as fakes
from test_plugins_fakes import fake_distribution, fake_host, site  # noqa: F401 - site is a fixture

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "nd-example-plugin"

SPEC = """\
network = "tiny"
frames = 2
[source]
noise = "40x32"
[renderer]
name = "dream"
[[transforms]]
name = "zoom"
"""


def cli(host: PluginHost, monkeypatch) -> typer.Typer:
    monkeypatch.setattr(run_cmd, "default_host", lambda: host)
    monkeypatch.setattr(plugins_cmd, "default_host", lambda: host)
    app = typer.Typer()
    run_cmd.register(app)
    plugins_cmd.register(app)
    return app


# -- the example plugin, installed as a real distribution ---------------------------------


@pytest.fixture(scope="session")
def example_site(tmp_path_factory) -> Path:
    """Build the example plugin's wheel (from a copy, so the source tree stays clean) and unpack it."""
    work = tmp_path_factory.mktemp("example-plugin")
    source = work / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    dist = work / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = dist.glob("nd_example_plugin-*.whl")
    site = work / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


@pytest.fixture
def installed_example(example_site, monkeypatch):
    """The unpacked wheel on sys.path: importlib.metadata sees its entry points, as after pip install."""
    monkeypatch.syspath_prepend(str(example_site))
    importlib.invalidate_caches()
    yield example_site
    sys.modules.pop("nd_example_plugin", None)
    importlib.invalidate_caches()


def test_example_plugin_is_found_through_its_entry_point(installed_example):
    eps = [ep for ep in md.entry_points(group="neuralgae") if ep.name == "mirror"]
    assert len(eps) == 1 and eps[0].dist.name == "nd-example-plugin" and eps[0].value == "nd_example_plugin"
    host = PluginHost(builtins=False, entry_points=True, extra=[fakes.fakes])
    mirror = host.transforms["mirror"]
    assert mirror.source == "nd-example-plugin"
    assert list(mirror.params) == ["axis", "mix"]
    assert mirror.summary.startswith("Mirror half of each frame")


def test_example_plugin_runs_in_a_spec(installed_example, tmp_path):
    import numpy as np

    from neuralgae.core.runs.pipeline import run_spec
    from neuralgae.core.runs.spec import load_spec

    host = PluginHost(builtins=False, entry_points=True, extra=[fakes.fakes])
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.replace('name = "zoom"', 'name = "mirror"\naxis = "both"'))
    run = run_spec(load_spec(path, host=host, out=tmp_path / "out"), host=host)
    assert run.entries[1]["transforms"] == [{"name": "mirror", "axis": "both", "mix": 1.0}]
    with pytest.raises(NeuralgaeError, match=r"transforms\[0\] \(mirror\): parameter 'axis' must be one of 'horizontal', 'vertical', 'both'; got 'diagonal'"):
        load_spec(path, host=host, overrides=["transforms.0.axis=diagonal"])
    # the transform itself, applied through the host's registry
    image = np.random.default_rng(0).random((8, 10, 3), dtype=np.float32)
    out = host.transforms["mirror"](image, None, axis="horizontal", mix=1.0)
    np.testing.assert_array_equal(out, out[:, ::-1])


def test_nd_plugins_shows_the_distribution(installed_example, monkeypatch):
    host = PluginHost(builtins=False, entry_points=True, extra=[fakes.fakes])
    app = cli(host, monkeypatch)
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "mirror  [nd-example-plugin]  Mirror half of each frame onto the other half" in result.output
    assert "axis='horizontal', mix=1.0" in result.output
    one = CliRunner().invoke(app, ["plugins", "mirror"])
    assert one.exit_code == 0
    assert "transform 'mirror'  [nd-example-plugin]" in one.output
    assert "axis: 'horizontal' | 'vertical' | 'both' (default 'horizontal')" in one.output
    assert "mix: 1 replaces the frame by its mirrored version" in one.output  # the full docstring


def test_example_is_gone_after_the_fixture():
    assert not [ep for ep in md.entry_points(group="neuralgae") if ep.name == "mirror"]


# -- broken plugins --------------------------------------------------------------------------


def plugins_app(host, monkeypatch) -> typer.Typer:
    return cli(host, monkeypatch)


def entry_host() -> PluginHost:
    """The fakes plus every entry point on sys.path (the fake distributions), no built-ins."""
    return PluginHost(builtins=False, entry_points=True, extra=[fakes.fakes])


TYPO = """\
from neuralgae.core.host.hookspecs import hookimpl

def flip(image, ctx):
    return image[:, ::-1]

@hookimpl
def register_transform(register):
    register(flip)
"""


def test_a_misspelled_hook_is_one_line_naming_the_distribution_and_the_hook(site, monkeypatch, caplog):
    fake_distribution(site, "nd-typo-plugin", "nd_typo_plugin", TYPO)
    host = entry_host()  # no pluggy traceback: the plugin is set aside
    message = host.broken["nd_typo_plugin"]
    assert message == (
        "plugin 'nd_typo_plugin' from distribution 'nd-typo-plugin' implements 'register_transform', "
        "which is not a neuralgae hook; did you mean 'register_transforms'? "
        "(rename it, or fix or uninstall it: pip uninstall nd-typo-plugin; docs/hooks.md lists the hooks)"
    )
    assert [r.getMessage() for r in caplog.records] == [f"{message}; going on without it"]
    assert "flip" not in host.transforms and "zoom" in host.transforms
    result = CliRunner().invoke(plugins_app(host, monkeypatch), ["plugins"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert f"  nd_typo_plugin  BROKEN  {message}" in result.output.splitlines()
    # the same for a plugin given directly, and a hook with wrong arguments
    typo = types.ModuleType("typo_plugin")
    typo.register_sampler = hookimpl(lambda register: None)
    wrong = types.ModuleType("wrong_args")
    wrong.register_transforms = hookimpl(lambda reg: None)
    host = fake_host(typo, wrong)
    assert host.broken["typo_plugin"].startswith("plugin 'typo_plugin' implements 'register_sampler', which is not a neuralgae hook; did you mean 'register_samplers'?")
    assert host.broken["wrong_args"].startswith("plugin 'wrong_args' is invalid: ")
    assert "\n" not in host.broken["wrong_args"]
    assert set(host.transforms) == {"zoom", "blur", "shrink"}


def test_a_plugin_that_fails_to_import_is_named_and_the_rest_goes_on(site, tmp_path, monkeypatch, caplog):
    fake_distribution(site, "nd-broken-plugin", "nd_no_such_module_xyz")
    host = entry_host()
    message = host.broken["broken"]
    assert message.startswith("plugin 'broken' from distribution 'nd-broken-plugin' failed to load: ModuleNotFoundError")
    assert message.endswith("(fix or uninstall it: pip uninstall nd-broken-plugin)")
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [f"{message}; going on without it"]  # one line, once
    app = cli(host, monkeypatch)
    listed = CliRunner().invoke(app, ["plugins"])
    assert listed.exit_code == 0, listed.output
    assert "broken plugins (not used):" in listed.output
    assert f"  broken  BROKEN  {message}" in listed.output.splitlines()
    assert "BROKEN" in CliRunner().invoke(app, ["plugins", "--hooks"]).output
    # a run that does not need it works
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC)
    ran = CliRunner().invoke(app, ["run", str(spec), "--out", str(tmp_path / "out"), "-q"])
    assert ran.exit_code == 0, ran.output
    # one that names a missing component says the broken plugin may be why
    spec.write_text(SPEC.replace('name = "zoom"', 'name = "mirror"'))
    missing = CliRunner().invoke(app, ["run", str(spec), "--out", str(tmp_path / "out2")])
    assert missing.exit_code == 1
    lines = missing.output.strip().splitlines()
    assert len(lines) == 1 and "unknown transform 'mirror'" in lines[0]
    assert "; not loaded: plugin 'broken' from distribution 'nd-broken-plugin' failed to load" in lines[0]
    with pytest.raises(NeuralgaeError, match="unknown sampler 'nope'.*not loaded: plugin 'broken'"):
        host.get("sampler", "nope")


def test_a_plugin_that_raises_while_registering_is_named():
    plugin = types.ModuleType("grumpy_plugin")

    @hookimpl
    def register_transforms(register):
        register(fakes.zoom, name="grumpy-zoom")
        raise ValueError("no transforms today")

    plugin.register_transforms = register_transforms
    host = fake_host(plugin)
    assert set(host.transforms) == {"zoom", "blur", "shrink"}  # the rest still works; nothing half-registered
    assert host.broken["grumpy_plugin"] == (
        "plugin 'grumpy_plugin' failed in register_transforms: ValueError: no transforms today (fix it or leave it out)"
    )
    assert "dream" in host.renderers
    with pytest.raises(NeuralgaeError, match="unknown transform 'grumpy-zoom'.*not loaded: plugin 'grumpy_plugin' failed"):
        host.get("transform", "grumpy-zoom")
    hooks = plugins_cmd.hooks_listing(fake_host(plugin))
    assert "  grumpy_plugin  [grumpy_plugin]  BROKEN  plugin 'grumpy_plugin' failed in register_transforms: ValueError: no transforms today (fix it or leave it out)" in hooks


def test_duplicate_names_fail_only_where_used(tmp_path, monkeypatch, caplog):
    from neuralgae.core.runs.spec import load_spec

    plugin = types.ModuleType("copycat")
    plugin.register_transforms = hookimpl(lambda register: register(fakes.zoom))
    host = fake_host(plugin)
    clash = "two plugins register the name 'zoom' in register_transforms: '(fake_plugins|copycat)' and '(fake_plugins|copycat)'; uninstall or rename one"
    assert set(host.transforms) == {"blur", "shrink"} and "zoom" in host.transforms
    assert [r.getMessage() for r in caplog.records if "zoom" in r.getMessage()][0].endswith("(nothing can use 'zoom' until then)")
    with pytest.raises(PluginError, match=clash):
        host.get("transform", "zoom")
    with pytest.raises(PluginError, match=clash):
        host.transforms["zoom"]
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC)
    with pytest.raises(PluginError, match=clash):
        load_spec(spec, host=host)
    app = cli(host, monkeypatch)
    listed = CliRunner().invoke(app, ["plugins"])
    assert listed.exit_code == 0 and "zoom  [AMBIGUOUS]  two plugins register the name 'zoom'" in listed.output
    one = CliRunner().invoke(app, ["plugins", "zoom"])
    assert one.exit_code == 1 and len(one.output.strip().splitlines()) == 1
    spec.write_text(SPEC.replace('name = "zoom"', 'name = "blur"'))
    ran = CliRunner().invoke(app, ["run", str(spec), "--out", str(tmp_path / "out"), "-q"])
    assert ran.exit_code == 0, ran.output


LAZY = """\
def mirror(image, ctx):
    return image[:, ::-1]

def register_transforms(register):   # forgot @hookimpl
    register(mirror)
"""


@pytest.mark.usefixtures("cli_spelling")
def test_a_plugin_without_hookimpl_says_no_hooks_loudly(site, monkeypatch):
    fake_distribution(site, "nd-lazy-plugin", "nd_lazy_plugin", LAZY)
    host = entry_host()
    assert not host.broken
    app = cli(host, monkeypatch)
    hooks = CliRunner().invoke(app, ["plugins", "--hooks"])
    assert hooks.exit_code == 0
    assert (
        "  nd_lazy_plugin  [nd-lazy-plugin]  NO HOOKS, it registers nothing: register_transforms not marked @hookimpl "
        "(from neuralgae.core import hookimpl)"
    ) in hooks.output.splitlines()
    listed = CliRunner().invoke(app, ["plugins"])
    assert "plugins that registered nothing:" in listed.output
    with pytest.raises(NeuralgaeError) as info:
        host.get("transform", "mirror")
    assert str(info.value).endswith(
        "; registered nothing: plugin 'nd_lazy_plugin' from distribution 'nd-lazy-plugin' (`nd plugins --hooks` says why)"
    )
    one = CliRunner().invoke(app, ["plugins", "mirror"])
    assert one.exit_code == 1 and "registered nothing: plugin 'nd_lazy_plugin'" in one.output


# -- hooks are documented -------------------------------------------------------------------------


def test_every_hook_is_documented():
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    hooks = sorted(name for name in vars(PluginHost(builtins=False, entry_points=False).pm.hook) if not name.startswith("_"))
    assert "run_started" in hooks and "register_transforms" in hooks
    missing = [h for h in hooks if f"## `{h}" not in text]
    assert not missing, f"hooks missing from docs/hooks.md: {missing}"


# -- nd plugins, nd specs, nd run -------------------------------------------------------------------


def test_nd_plugins_lists_and_describes(monkeypatch):
    app = cli(fake_host(), monkeypatch)
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0
    for line in ("renderers:", "transforms:", "samplers:", "networks:", "[fake_plugins]  Fake zoom", "scale=0.05, order=1"):
        assert line in result.output
    assert "tiny  [fake_plugins]  a fixed random 1x1 convolution" in result.output
    kind = CliRunner().invoke(app, ["plugins", "--kind", "sampler"])
    assert "samplers:" in kind.output and "transforms:" not in kind.output
    hooks = CliRunner().invoke(app, ["plugins", "--hooks"])
    assert "fake_plugins  [fake_plugins]  register_networks, register_renderers, register_samplers, register_transforms" in hooks.output
    bad = CliRunner().invoke(app, ["plugins", "zom"])
    assert bad.exit_code == 1 and "no plugin component called 'zom'; did you mean 'zoom'?" in bad.output
    badkind = CliRunner().invoke(app, ["plugins", "--kind", "transfrom"])
    assert badkind.exit_code == 1 and "did you mean 'transform'?" in badkind.output


def test_nd_run_writes_a_run(tmp_path, monkeypatch):
    app = cli(fake_host(), monkeypatch)
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(out), "--set", "renderer.steps=2", "--frames", "3", "-q"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote 3 frames to {out}"
    assert len(list(out.glob("frame_*.png"))) == 3
    again = CliRunner().invoke(app, ["run", str(spec), "--out", str(out)])
    assert again.exit_code == 1 and "already holds a run" in again.output
    over = CliRunner().invoke(app, ["run", str(spec), "--out", str(out), "--overwrite"])
    assert over.exit_code == 0 and len(list(out.glob("frame_*.png"))) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "transforms.0.scael=0.1"], "loop.toml: transforms[0] (zoom): unknown parameter 'scael'; did you mean 'scale'?"),
        (["--set", "renderer.name=dreem"], "loop.toml: renderer: unknown renderer 'dreem'; did you mean 'dream'?"),
        (["--set", "renderer.steps"], "--set renderer.steps: write KEY.PATH=VALUE"),
        (["--set", "source.colour=1"], "loop.toml: unknown key 'colour' in [source]"),
    ],
)
def test_nd_run_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch, args, message):
    app = cli(fake_host(), monkeypatch)
    (tmp_path / "loop.toml").write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "loop.toml", "--out", "out", *args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nd: error: {message}"), result.output
    assert not (tmp_path / "out").exists()


def test_nd_run_unknown_spec_name(monkeypatch):
    app = cli(fake_host(), monkeypatch)
    result = CliRunner().invoke(app, ["run", "no-such-spec"])
    assert result.exit_code == 1
    assert "no spec file or built-in spec called 'no-such-spec'" in result.output


def test_nd_run_interrupted_then_resumed(tmp_path, monkeypatch):
    class Interrupt:
        __name__ = "interrupt"

        @hookimpl
        def frame_written(self, run, frame):
            if frame.index == 0:
                raise KeyboardInterrupt

    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    app = cli(fake_host(Interrupt()), monkeypatch)
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(out), "--set", "seed=4"])
    assert result.exit_code == 130
    assert f"nd: interrupted; continue with: nd run {spec} --set seed=4 --out {out} --resume" in result.output
    app = cli(fake_host(), monkeypatch)
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(out), "--set", "seed=4", "--resume"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"wrote 1 frame (resumed after 1) to {out}"


# -- the built-in specs -------------------------------------------------------------------------------

TINY = ["source.resize=64x48", "renderer.steps=1", "renderer.octaves=1"]


@pytest.fixture(scope="module")
def builtin_host():
    return PluginHost(entry_points=False)


def test_built_in_specs_include_one_per_seed_effect(builtin_host):
    assert {"zoom", "vertical-stretch", "sine-roll", "stochastic-shift", "sobel", "blur"} <= set(builtin_host.specs)
    for entry in builtin_host.specs.values():
        assert entry.source == "built-in" and entry.description


def test_nd_specs_lists_them(builtin_host, monkeypatch):
    app = cli(builtin_host, monkeypatch)
    result = CliRunner().invoke(app, ["specs"])
    assert result.exit_code == 0
    assert "zoom              The classic DeepDream zoom loop" in result.output


def _needs_librosa_for_music(host, name):
    """Skip a built-in spec that follows music where librosa (neuralgae[audio]) is not installed."""
    from neuralgae.core.runs.spec import read_toml

    data = read_toml(Path(host.specs[name].path), origin=name)
    if "audio" in data:
        pytest.importorskip("librosa", reason=f"built-in spec '{name}' follows music, which needs librosa (neuralgae[audio])")


BUILTIN_NAMES = sorted(PluginHost(entry_points=False).specs)


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_built_in_spec_validates(builtin_host, name):
    from neuralgae.core.runs.spec import load_spec

    _needs_librosa_for_music(builtin_host, name)
    spec = load_spec(name, host=builtin_host)
    assert spec.frames >= 1 and spec.renderer.name in builtin_host.renderers


@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_built_in_spec_runs_two_tiny_frames(builtin_host, name, tmp_path):
    from neuralgae.core.runs.pipeline import run_spec
    from neuralgae.core.runs.spec import load_spec

    _needs_librosa_for_music(builtin_host, name)
    full = load_spec(name, host=builtin_host)
    size = "source.noise=64x48" if full.source.noise else "source.resize=64x48"
    overrides = [size, *TINY[1:]] if full.renderer.name == "dream" else [size]
    spec = load_spec(name, host=builtin_host, overrides=overrides, frames=2, out=tmp_path / name)
    run = run_spec(spec, host=builtin_host)
    assert [r.image.shape for r in run.records] == [run.records[0].image.shape] * 2
    assert run.records[0].image.std() > 0.01
    for path in run.outputs:
        assert path.stat().st_size > 0


# -- what a plugin returns, and errors inside plugins -------------------------------------------------


def _bad_transforms():
    import numpy as np

    from neuralgae.core.host.errors import NeuralgaeError as UserError

    plugin = types.ModuleType("nd_bad_transforms")

    def bytes8(image, ctx):
        """Returns 8-bit pixels."""
        return (image * 255).astype(np.uint8)

    def nans(image, ctx):
        """Returns a NaN."""
        out = image.copy()
        out[0, 0, 0] = np.nan
        return out

    def bright(image, ctx):
        """Returns values above 1."""
        return image * 3 + 0.5

    def picky(image, ctx):
        """Raises a user error."""
        raise UserError("transform 'picky': the image is too plain")

    @hookimpl
    def register_transforms(register):
        for f in (bytes8, nans, bright, picky):
            register(f)

    plugin.register_transforms = register_transforms
    return plugin


@pytest.mark.parametrize(
    "name, problem",
    [
        ("bytes8", r"returned uint8 values \d+-\d+ on frame 1; it must return floats in \[0, 1\] \(an 8-bit image divided by 255\)"),
        ("nans", r"returned 1 NaN or infinite value on frame 1; it must return finite floats in \[0, 1\]"),
        ("bright", r"returned values from [\d.]+ to [\d.]+ on frame 1; a transform must keep them in \[0, 1\]"),
    ],
)
def test_a_transform_returning_a_bad_image_is_one_line_with_how_to_continue(tmp_path, monkeypatch, name, problem):
    import re
    import warnings

    app = cli(fake_host(_bad_transforms()), monkeypatch)
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC.replace('name = "zoom"', f'name = "{name}"'))
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no raw numpy warning on the way
        result = CliRunner().invoke(app, ["run", str(spec), "--out", str(out), "-q"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert re.search(
        rf"^nd: error: transform '{name}' \(transforms\[0\]\) {problem}.*\(from nd_bad_transforms\); "
        rf"fix or remove the plugin, then continue with: nd run {re.escape(str(spec))} --out {re.escape(str(out))} --resume$",
        lines[0],
    ), lines[0]
    # frame 0 is kept; once the spec is fixed, the printed command continues the run
    assert len(list(out.glob("frame_*.png"))) == 1


def test_a_user_error_inside_a_plugin_names_where_and_when(tmp_path, monkeypatch):
    app = cli(fake_host(_bad_transforms()), monkeypatch)
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC.replace('name = "zoom"', 'name = "picky"'))
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith(
        "nd: error: transform 'picky': the image is too plain "
        "(transform 'picky' (transforms[0]) on frame 1, from nd_bad_transforms); fix or remove the plugin, then continue with: nd run "
    ), line
    assert line.endswith("--resume")


def test_a_renderer_returning_nan_is_named(tmp_path):
    import numpy as np

    from neuralgae.core.runs.pipeline import run_spec
    from neuralgae.core.runs.spec import load_spec

    class NanRenderer:
        @staticmethod
        @hookimpl
        def register_renderers(register):
            def void(image, ctx):
                """Renders nothing but NaN."""
                return np.full_like(image, np.nan)

            register(void)

    host = fake_host(NanRenderer)
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC.replace('name = "dream"', 'name = "void"'))
    with pytest.raises(PluginError, match=r"renderer 'void' returned 3840 NaN or infinite values on frame 0; .* \(from NanRenderer\)"):
        run_spec(load_spec(spec, host=host, out=tmp_path / "out"), host=host)


# -- the manifest records who provided each component --------------------------------------------------

FANCY = """\
from neuralgae.core.host.hookspecs import hookimpl

def fancy(image, ctx, *, amount: float = 0.5):
    \"\"\"Fades towards grey.\"\"\"
    return (1 - amount) * image + amount * 0.5

@hookimpl
def register_transforms(register):
    register(fancy)
"""


def test_the_manifest_records_each_components_distribution_and_an_old_run_says_what_to_reinstall(site, tmp_path, monkeypatch):
    import json

    fake_distribution(site, "nd-fancy-plugin", "nd_fancy_plugin", FANCY, version="2.3")
    host = entry_host()
    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC.replace('name = "zoom"', 'name = "fancy"'))
    out = tmp_path / "out"
    ran = CliRunner().invoke(cli(host, monkeypatch), ["run", str(spec), "--out", str(out), "-q"])
    assert ran.exit_code == 0, ran.output
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert entries[1]["provided_by"] == {
        "network": {"tiny": {"distribution": None, "module": "fake_plugins"}},
        "renderer": {"dream": {"distribution": None, "module": "fake_plugins"}},
        "transform": {"fancy": {"distribution": "nd-fancy-plugin", "version": "2.3"}},
    }
    # the plugin is gone: resuming the old run says what to reinstall
    missing = CliRunner().invoke(cli(fake_host(), monkeypatch), ["run", str(out / "spec.toml"), "--resume"])
    assert missing.exit_code == 1
    (line,) = missing.output.strip().splitlines()
    assert "unknown transform 'fancy'" in line
    assert line.endswith("; in this run, transform 'fancy' came from nd-fancy-plugin 2.3 (pip install 'nd-fancy-plugin==2.3')")
    other = CliRunner().invoke(cli(fake_host(), monkeypatch), ["run", str(spec), "--out", str(out), "--resume"])
    assert other.output.strip().endswith("(pip install 'nd-fancy-plugin==2.3')")
    bare = PluginHost(builtins=False, entry_points=False)  # not even the network
    no_net = CliRunner().invoke(cli(bare, monkeypatch), ["run", str(out / "spec.toml"), "--resume"])
    (line,) = no_net.output.strip().splitlines()
    assert "'tiny' is not installed" in line
    assert "; in this run, network 'tiny' came from the plugin module 'fake_plugins', which is not loaded; " in line


def test_built_in_components_are_recorded_as_neuralgae(builtin_host):
    import importlib.metadata as md

    from neuralgae.core.runs.spec import load_spec

    spec = load_spec("zoom", host=builtin_host)
    provided = builtin_host.provided_by(spec)
    assert provided["renderer"] == {"dream": {"distribution": "neuralgae", "version": md.version("neuralgae")}}
    assert provided["transform"]["zoom"]["distribution"] == "neuralgae"


def test_a_run_event_hook_that_fails_is_one_line_with_how_to_continue(tmp_path, monkeypatch):
    class Uploader:
        @hookimpl
        def frame_written(self, run, frame):
            if frame.index == 1:
                raise ConnectionError("no network")

    spec = tmp_path / "loop.toml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli(fake_host(Uploader()), monkeypatch), ["run", str(spec), "--out", str(out), "--frames", "3"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("nd: error: plugin '")
    assert "failed in frame_written on frame 1: ConnectionError: no network (fix it or leave it out); " in line
    assert line.endswith(f"continue with: nd run {spec} --frames 3 --out {out} --resume")
    resumed = CliRunner().invoke(cli(fake_host(), monkeypatch), ["run", str(spec), "--out", str(out), "--frames", "3", "--resume"])
    assert resumed.exit_code == 0 and "resumed after 2" in resumed.output


@pytest.fixture
def notices():
    """nd's notice printer on the `neuralgae` logger, as `nd` sets it up, removed afterwards."""
    import logging

    from neuralgae_cli.common import show_notices

    log = logging.getLogger("neuralgae")
    saved = (list(log.handlers), log.level, log.propagate)
    show_notices()
    yield
    log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]


def test_a_broken_plugin_does_not_block_commands_that_do_not_need_it(site, monkeypatch, notices):
    from neuralgae.core.host import plugins as plugins_module
    from neuralgae_cli.main import app

    fake_distribution(site, "nd-broken-plugin", "nd_no_such_module_xyz")
    monkeypatch.setattr(plugins_module, "_default_host", None)
    layers = CliRunner().invoke(app, ["layers"])
    assert layers.exit_code == 0, layers.output
    assert "block10" in layers.output
    warning = [line for line in layers.output.splitlines() if "nd-broken-plugin" in line]
    assert len(warning) == 1 and warning[0].startswith("nd: note: plugin 'broken' from distribution 'nd-broken-plugin' failed to load")
    listed = CliRunner().invoke(app, ["plugins"])
    assert listed.exit_code == 0 and "  broken  BROKEN  plugin 'broken'" in listed.output


# -- a third-party component declares its limits in its signature ------------------------

from typing import Annotated  # noqa: E402

from neuralgae.core import Choice, NonFinite, Range, Shape  # noqa: E402 - the public place of the markers


def _speckle(
    image,
    ctx,
    *,
    amount: Annotated[float, Range(0, 1)] = 0.5,
    radius: Annotated[int, Range(1, 8)] = 2,
    levels: Annotated[int, Choice(2, 4, 8)] = 4,
    tint: Annotated[list[float], Shape((3,)), Range(0, 1)] = [1.0, 1.0, 1.0],  # noqa: B006
    bias: Annotated[float, NonFinite] = 0.0,
    sharp: Annotated[float, Range(0, low_open=True)] | None = None,
    gamma: float = 1.0,
):
    """A fake third-party transform with declared limits."""
    return image


_speckle.__name__ = "speckle"


def _speckle_module():
    module = types.ModuleType("nd_speckle")

    @hookimpl
    def register_transforms(register):
        register(_speckle)

    module.register_transforms = register_transforms
    return module


def test_third_party_limits_are_enforced_and_described():
    speckle = PluginHost(builtins=False, entry_points=False, extra=[_speckle_module()]).transforms["speckle"]
    bad = [
        ({"amount": 1.5}, "transform 'speckle': parameter 'amount' must be from 0 to 1; got 1.5"),
        ({"radius": 0}, "parameter 'radius' must be from 1 to 8; got 0"),
        ({"levels": 3}, "parameter 'levels' must be one of 2, 4, 8"),
        ({"tint": [1, 1]}, "parameter 'tint' must have shape 3; got 2"),
        ({"tint": [1, 2, 1]}, "parameter 'tint' must be from 0 to 1; got [1.0, 2.0, 1.0]"),
        ({"sharp": 0}, "parameter 'sharp' must be > 0; got 0"),
        ({"gamma": float("nan")}, "parameter 'gamma' must be a finite number; got nan"),
        ({"amount": float("inf")}, "parameter 'amount' must be a finite number; got inf"),
    ]
    for values, message in bad:
        with pytest.raises(NeuralgaeError) as info:
            speckle.bind(values)
        assert message in str(info.value) and "\n" not in str(info.value)
    ok = speckle.bind({"amount": 0, "radius": 8, "levels": 8, "tint": [0, 1, 0.5], "bias": float("-inf"), "sharp": None})
    assert ok["amount"] == 0.0 and ok["bias"] == float("-inf") and ok["sharp"] is None
    assert speckle.bind({"sharp": 0.1})["sharp"] == 0.1
    described = [p.describe() for p in speckle.params.values()]
    assert "amount: float [from 0 to 1] (default 0.5)" in described
    assert "levels: int [one of 2, 4, 8] (default 4)" in described
    assert "tint: list[float] [shape 3, from 0 to 1] (default [1.0, 1.0, 1.0])" in described
    assert "bias: float [inf and nan allowed] (default 0.0)" in described


def test_renderers_declare_their_ranges():
    renderers = PluginHost(entry_points=False).registry("renderer")
    draw, dream = renderers["draw"], renderers["dream"]
    for component, values, message in [
        (draw, {"steps": -1}, "renderer 'draw': parameter 'steps' must be >= 0; got -1"),
        (draw, {"prior_weight": -0.5}, "renderer 'draw': parameter 'prior_weight' must be >= 0; got -0.5"),
        (draw, {"others_weight": float("nan")}, "parameter 'others_weight' must be a finite number; got nan"),
        (dream, {"octave_scale": 1.0}, "renderer 'dream': parameter 'octave_scale' must satisfy 1 < value <= 4; got 1.0"),
        (dream, {"tile_size": 32}, "parameter 'tile_size' must be >= 64; got 32"),
        (dream, {"step_size": float("inf")}, "parameter 'step_size' must be a finite number; got inf"),
    ]:
        with pytest.raises(NeuralgaeError) as info:
            component.bind(values)
        assert message in str(info.value) and "\n" not in str(info.value)
    assert draw.bind({"steps": 0, "prior_weight": 0})["prior_weight"] == 0.0
    assert draw.bind({"prior_weight": None})["prior_weight"] is None
    assert dream.bind({"octave_scale": 4, "step_size": 1, "tile_size": 64, "jitter": 0})["octave_scale"] == 4.0
    assert "[>= 0]" in draw.params["prior_weight"].describe()


def test_nd_plugins_shows_each_parameters_declared_limits(monkeypatch):
    from neuralgae.core.host.plugins import PluginHost

    app = cli(PluginHost(entry_points=False), monkeypatch)  # (a bare pytest.MonkeyPatch() would never be undone)
    blur = CliRunner().invoke(app, ["plugins", "blur"])
    assert blur.exit_code == 0 and "sigma: float [>= 0] (default 1.0)" in blur.output
    sort = CliRunner().invoke(app, ["plugins", "pixel_sort"])
    assert "fraction: float [from 0 to 1] (default 1.0)" in sort.output
