"""Specs: schema, validation messages (the malformed corpus), overrides, TOML round trip, docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.runs.spec import (
    SCHEMA,
    apply_overrides,
    dumps_spec,
    first_difference,
    load_spec,
    parse_value,
    schema_markdown,
    validate_spec,
)
from test_plugins_fakes import fake_host

HERE = Path(__file__).parent
CORPUS = HERE / "malformed_specs"
DOCS = HERE.parent / "docs"

MINIMAL = 'network = "tiny"\n[renderer]\nname = "dream"\n'


@pytest.fixture(scope="module")
def host():
    return fake_host()


def write(tmp_path: Path, text: str, name: str = "spec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def expected_message(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: MESSAGE'"
    return first[len("# expect: "):]


@pytest.mark.usefixtures("cli_spelling")
@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.toml")), ids=lambda p: p.stem)
def test_malformed_spec_gives_its_message(path, host, monkeypatch):
    monkeypatch.chdir(CORPUS)
    with pytest.raises(NeuralgaeError) as info:
        load_spec(path.name, host=host)
    message = str(info.value)
    assert message.startswith(expected_message(path)), message
    assert "\n" not in message


def test_corpus_is_large_enough():
    assert len(list(CORPUS.glob("*.toml"))) >= 25


def test_minimal_spec_gets_documented_defaults(tmp_path, host, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = load_spec(write(tmp_path, MINIMAL), host=host)
    assert (spec.seed, spec.frames, spec.network) == (0, 10, "tiny")
    assert spec.source.noise == (512, 512) and spec.source.image is None
    assert spec.output.dir == tmp_path / "runs" / "spec"
    assert spec.output.frame_name(7) == "frame_00007.png"
    assert spec.output.animation_path("gif", spec.name) is None
    assert spec.renderer.params == {"layers": "block10", "steps": 10, "step_size": 0.01, "tiling": "auto"}
    assert spec.transforms == () and spec.sampler is None


def test_image_paths_are_relative_to_the_spec_file(tmp_path, host, monkeypatch):
    import numpy as np

    from neuralgae.core.media.images import save_image

    (tmp_path / "pics").mkdir()
    save_image(tmp_path / "pics" / "a.png", np.zeros((40, 40, 3), np.float32))
    (tmp_path / "specs").mkdir()
    path = write(tmp_path / "specs", MINIMAL + '[source]\nimage = "../pics/a.png"\nresize = "48x32"\n')
    monkeypatch.chdir(HERE)  # somewhere else entirely
    spec = load_spec(path, host=host)
    assert spec.source.image == (tmp_path / "pics" / "a.png").resolve()
    assert spec.source.resize == (48, 32)


def test_path_parameters_are_relative_to_the_spec_file(tmp_path):
    import types

    from neuralgae.core.host.hookspecs import hookimpl

    def guided(image, ctx, *, guide: Path | None = None):
        """Renderer with a path parameter."""
        return image

    plugin = types.ModuleType("path_plugin")
    plugin.register_renderers = hookimpl(lambda register: register(guided))
    host = fake_host(plugin)
    path = write(tmp_path, 'network = "tiny"\n[renderer]\nname = "guided"\nguide = "g.png"\n')
    spec = load_spec(path, host=host)
    assert spec.renderer.params["guide"] == str((tmp_path / "g.png").resolve())


# -- overrides -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [
        ("5", 5),
        ("0.02", 0.02),
        ("-3", -3),
        ("true", True),
        ("[1, 2]", [1, 2]),
        ('"a b"', "a b"),
        ("128x128", "128x128"),
        ("block10", "block10"),
        ("goldfish, volcano", "goldfish, volcano"),
        ("1\nb = 2", "1\nb = 2"),
        ('__import__("os").system("false")', '__import__("os").system("false")'),
    ],
)
def test_override_values_are_toml_or_bare_strings(text, value):
    assert parse_value(text) == value


def test_overrides_set_nested_keys_and_array_items(tmp_path, host):
    data = tomllib.loads(MINIMAL + '[source]\nsample = "chelsea"\n[[transforms]]\nname = "zoom"\n')
    out = apply_overrides(
        data,
        ["renderer.steps=5", "transforms.0.scale=0.02", "source.noise=128x128", "transforms.1.name=blur", "output.gif=true", "sampler.name=top"],
    )
    assert out["renderer"] == {"name": "dream", "steps": 5}
    assert out["transforms"] == [{"name": "zoom", "scale": 0.02}, {"name": "blur"}]
    assert out["source"] == {"noise": "128x128"}  # a new start replaces the sample
    assert out["output"] == {"gif": True} and out["sampler"] == {"name": "top"}
    assert data["renderer"] == {"name": "dream"}  # the input is not changed
    spec = validate_spec(out, host=host, origin="spec.toml", name="spec", base_dir=tmp_path)
    assert spec.renderer.params["steps"] == 5 and spec.transforms[0].params["scale"] == 0.02
    assert spec.source.noise == (128, 128) and spec.sampler.params == {"k": 3}


def test_override_of_source_image_is_relative_to_the_current_folder(tmp_path):
    out = apply_overrides({}, ["source.image=photo.png"], cwd=tmp_path)
    assert out["source"]["image"] == str(tmp_path / "photo.png")


@pytest.mark.usefixtures("cli_spelling")
@pytest.mark.parametrize(
    "override, message",
    [
        ("renderer.steps", "--set renderer.steps: write KEY.PATH=VALUE, e.g. --set renderer.steps=5"),
        ("=5", "--set =5: write KEY.PATH=VALUE"),
        ("transforms.3.scale=1", "--set transforms.3.scale=1: 'transforms' has 1 entries (indices 0 to 0); use an index up to 1 (which adds one)"),
        ("transforms.x.scale=1", "--set transforms.x.scale=1: 'transforms' is a list; index it with a number, e.g. transforms.0"),
        ("frames.x=1", "--set frames.x=1: 'frames' is a single value, not a table; it has no key 'x'"),
        ("renderer..steps=1", "--set renderer..steps=1: 'renderer..steps' is not a key path"),
    ],
)
def test_bad_overrides_are_explained(override, message):
    data = tomllib.loads('frames = 2\n' + MINIMAL + '[[transforms]]\nname = "zoom"\n')
    with pytest.raises(NeuralgaeError) as info:
        apply_overrides(data, [override])
    assert str(info.value).startswith(message)


def test_load_spec_applies_overrides_frames_and_out(tmp_path, host):
    path = write(tmp_path, MINIMAL)
    spec = load_spec(path, host=host, overrides=["renderer.steps=2", "seed=7"], frames=3, out=tmp_path / "elsewhere")
    assert (spec.frames, spec.seed, spec.renderer.params["steps"]) == (3, 7, 2)
    assert spec.output.dir == tmp_path / "elsewhere"


@pytest.mark.usefixtures("cli_spelling")
def test_overrides_are_validated_like_the_file(tmp_path, host):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(NeuralgaeError, match=r"renderer \(dream\): parameter 'steps' must be a whole number; got 'many'"):
        load_spec(path, host=host, overrides=["renderer.steps=many"])
    with pytest.raises(NeuralgaeError, match="--frames must be at least 1"):
        load_spec(path, host=host, frames=0)


# -- finding specs ---------------------------------------------------------------------


def test_unknown_spec_name_suggests_built_in_specs(tmp_path, monkeypatch):
    import types

    from neuralgae.core.host.hookspecs import hookimpl

    plugin = types.ModuleType("spec_plugin")
    spec_file = write(tmp_path, MINIMAL, "zoom.toml")
    plugin.register_specs = hookimpl(lambda register: register("zoom", spec_file, description="z"))
    host = fake_host(plugin)
    monkeypatch.chdir(tmp_path / "..")
    assert load_spec("zoom", host=host).name == "zoom"
    with pytest.raises(NeuralgaeError, match=r"no spec file or built-in spec called 'zom'; did you mean 'zoom'\?"):
        load_spec("zom", host=host)
    with pytest.raises(NeuralgaeError, match=r"spec file 'missing/x.toml' does not exist"):
        load_spec("missing/x.toml", host=host)


def test_built_in_spec_errors_name_the_spec(tmp_path):
    import types

    from neuralgae.core.host.hookspecs import hookimpl

    plugin = types.ModuleType("spec_plugin2")
    spec_file = write(tmp_path, MINIMAL, "loop.toml")
    plugin.register_specs = hookimpl(lambda register: register("loop", spec_file))
    with pytest.raises(NeuralgaeError) as info:
        load_spec("loop", host=fake_host(plugin), overrides=["renderer.stpes=1"])
    assert str(info.value) == "loop (spec from spec_plugin2): renderer (dream): unknown parameter 'stpes'; did you mean 'steps'?"


def _zoom_host(tmp_path):
    import types

    from neuralgae.core.host.hookspecs import hookimpl

    plugin = types.ModuleType("spec_plugin3")
    (tmp_path / "specs").mkdir()
    spec_file = write(tmp_path / "specs", MINIMAL, "zoom.toml")
    plugin.register_specs = hookimpl(lambda register: register("zoom", spec_file, description="z"))
    return fake_host(plugin), spec_file


def test_a_folder_never_shadows_a_spec_name(tmp_path, monkeypatch):
    from neuralgae.core.runs.batch import resolve_spec_argument
    from neuralgae.core.runs.spec import find_spec

    host, spec_file = _zoom_host(tmp_path)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "zoom").mkdir()  # as `nd run zoom --out zoom` leaves it
    assert find_spec("zoom", host) == (spec_file, "zoom (spec from spec_plugin3)", "zoom")
    assert load_spec("zoom", host=host, out=tmp_path / "zoom").name == "zoom"
    assert resolve_spec_argument("zoom", host=host) == "zoom"  # workers look the name up too
    with pytest.raises(NeuralgaeError, match=r"^'zoom/' is a folder, not a spec file; give the TOML file in it"):
        find_spec("zoom/", host)
    with pytest.raises(NeuralgaeError, match=r"^'specs' is a folder, not a spec file"):
        find_spec("specs", host)


def test_a_file_named_like_a_spec_gets_a_notice_saying_which_was_taken(tmp_path, monkeypatch, caplog):
    import logging

    from neuralgae.core.runs.spec import find_spec

    host, spec_file = _zoom_host(tmp_path)
    monkeypatch.chdir(tmp_path)
    write(tmp_path, MINIMAL.replace("dream", "deepdraw"), "zoom")
    with caplog.at_level(logging.INFO, logger="neuralgae"):
        assert find_spec("zoom", host)[0] == spec_file
    assert "'zoom' names a file here and a spec from spec_plugin3; using the spec from spec_plugin3, write ./zoom to run the file" in caplog.text
    assert find_spec("./zoom", host) == (Path("./zoom"), "./zoom", "zoom")


# -- the resolved spec -----------------------------------------------------------------------


def test_resolved_spec_round_trips_through_toml(tmp_path, host):
    text = (
        'network = "tiny"\nseed = 3\nframes = 4\ndescription = "a \\"quoted\\" ünïcode line"\n'
        '[source]\nsample = "coffee"\nresize = "64x48"\n'
        '[renderer]\nname = "dream"\nsteps = 2\n'
        '[[transforms]]\nname = "zoom"\nscale = 0.1\n[[transforms]]\nname = "blur"\n'
        '[sampler]\nname = "top"\nk = 5\n[output]\ngif = "loop.gif"\nfps = 8\npingpong = true\n'
    )
    spec = load_spec(write(tmp_path, text), host=host)
    saved = write(tmp_path, dumps_spec(spec.to_dict()), "resolved.toml")
    again = load_spec(saved, host=host)
    assert again.to_dict() == spec.to_dict()
    assert first_difference(again.to_dict(), spec.to_dict()) is None


def test_first_difference_names_the_key_path():
    assert first_difference({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 3}]}}) == ("a.b[1].c", 2, 3)
    assert first_difference({"a": 1}, {"a": 1, "b": 2}) == ("b", "(absent)", 2)
    assert first_difference({"t": [1]}, {"t": [1, 2]}) == ("t", "1 entries", "2 entries")


# -- docs ---------------------------------------------------------------------------------


def test_docs_spec_md_contains_the_generated_key_table():
    text = (DOCS / "spec.md").read_text(encoding="utf-8")
    assert schema_markdown() in text, (
        "docs/spec.md is out of date with neuralgae.core.runs.spec.SCHEMA; paste in the output of "
        "python -c 'from neuralgae.core.runs.spec import schema_markdown; print(schema_markdown())'"
    )


def test_every_documented_key_exists():
    text = (DOCS / "spec.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9_.\[\]]+)` \|", text, flags=re.M))
    assert documented == {k.path for k in SCHEMA}


def test_every_schema_key_has_a_check_and_a_doc():
    for key in SCHEMA:
        assert key.check is not None and key.doc.endswith((".", ")")), key.path
