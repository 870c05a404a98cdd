"""A hostile corpus: bad specs, bad command lines, garbage run folders and broken plugins.

Every case goes through the whole ``nd`` application (``neuralgae_cli.main.app``)
as a user would type it, and must end the way the README promises: a non-zero
exit status, exactly one ``nd: error:`` line naming the problem (engine notices,
``nd: note:``, may come before it), no traceback, and nothing half-written
where the error came before any work.

The cases are data (``SPEC_CASES``, ``COMMAND_CASES``...); the files they need
(a truncated PNG, a decompression bomb's header, a text file posing as an
image) are made by :func:`make_files` in each test's own folder.
"""

from __future__ import annotations

import struct
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import test_plugins_fakes as fakes
from neuralgae.core.host import plugins as plugins_module
from neuralgae.core.host.hookspecs import hookimpl
from neuralgae.core.host.plugins import PluginHost
from neuralgae_cli.main import app
from test_plugins_fakes import fake_distribution, site  # noqa: F401 - site is a fixture


# -- running nd and judging its answer ------------------------------------------------------------


@pytest.fixture(scope="module")
def builtin_host():
    """The built-in plugins only (no installed entry points), shared by the cases that never render."""
    return PluginHost(entry_points=False)


@pytest.fixture
def nd(tmp_path, monkeypatch, builtin_host):
    """``nd(*args, host=None)``: run nd in ``tmp_path`` with ``host`` (default: the built-ins) as its plugin host."""
    monkeypatch.chdir(tmp_path)
    make_files(tmp_path)

    def invoke(*args, host=None):
        monkeypatch.setattr(plugins_module, "_default_host", host or builtin_host)
        return CliRunner().invoke(app, [str(a) for a in args])

    return invoke


def refused(result, *fragments: str) -> str:
    """Assert ``result`` is one clean refusal naming every fragment; return its line."""
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip() and not line.startswith("nd: note:")]
    assert len(lines) == 1, result.output
    (line,) = lines
    assert line.startswith("nd: error: "), line
    for fragment in fragments:
        assert fragment in line, line
    return line


def untouched(folder: Path) -> None:
    """Nothing was written: ``folder`` does not exist or is empty."""
    assert not folder.exists() or not any(folder.iterdir()), sorted(p.name for p in folder.iterdir())


# -- files the cases use ----------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header announcing ``width x height`` pixels, with almost no data behind it."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b"")


def make_files(folder: Path) -> None:
    """The hostile inputs, in ``folder``: a good image, bad ones, a folder, a file where a folder goes."""
    from neuralgae.core.media.images import save_image

    rng = np.random.default_rng(0)
    save_image(folder / "good.png", rng.random((48, 64, 3), dtype=np.float32))
    data = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "bomb.png").write_bytes(bomb_png())
    (folder / "text.png").write_text("I am not a picture\n")
    (folder / "text.gif").write_text("GIF? no.\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "a_folder").mkdir()
    (folder / "folder.gif").mkdir()
    (folder / "a_file").write_text("not a folder\n")
    (folder / "latin1.toml").write_bytes('description = "caf\xe9"\n'.encode("latin-1"))


# -- specs ------------------------------------------------------------------------------------------


def spec(*, frames: str = "2", top: str = "", source: str = 'noise = "40x32"', renderer: str = "", transforms: str = "",
         output: str = "", extra: str = "") -> str:
    """A small valid spec with lines added (or replaced) where a case needs them."""
    text = f'frames = {frames}\n{top}\n[source]\n{source}\n[renderer]\nname = "dream"\nsteps = 1\noctaves = 1\n{renderer}\n'
    if transforms:
        text += f"{transforms}\n"
    text += f"[output]\n{output}\n{extra}"
    return text


DEEP_CHAIN = '[[transforms]]\nname = "chain"\ntransforms = [{name = "zoom"}, {name = "chain", transforms = [{name = "subregions", rows = 1, columns = 1, transforms = [%s]}]}]'

SPEC_CASES = [
    # wrong types
    ("frames-string", spec(frames='"ten"'), ["frames"]),
    ("frames-nan", spec(frames='nan'), ["frames"]),
    ("frames-negative", spec(frames='-3'), ["frames"]),
    ("frames-billion", spec(frames='1000000000'), ["ND_MAX_FRAMES"]),
    ("frames-beyond-64-bits", spec(frames='100000000000000000000000000'), ["frames"]),
    ("seed-inf", spec(top="seed = inf"), ["seed"]),
    ("seed-fraction", spec(top="seed = 1.5"), ["seed"]),
    ("network-number", spec(top="network = 7"), ["network"]),
    ("network-empty-member", spec(top='network = ["efficientnet-lite0", ""]'), ["network"]),
    ("network-close-match", spec(top='network = "efficientnet-lite9"'), ["efficientnet-lite9", "did you mean"]),
    ("renderer-a-string", 'frames = 2\nrenderer = "dream"\n[source]\nnoise = "40x32"\n', ["renderer"]),
    ("steps-nan", spec(renderer="steps = nan").replace("steps = 1\n", "", 1), ["steps"]),
    ("steps-negative", spec(renderer="steps = -5").replace("steps = 1\n", "", 1), ["steps"]),
    ("steps-billion", spec(renderer="steps = 1000000000").replace("steps = 1\n", "", 1), ["steps"]),
    ("step-size-inf", spec(renderer="step_size = inf"), ["step_size"]),
    ("octave-scale-hundred", spec(renderer="octave_scale = 100.0"), ["octave_scale"]),
    ("jitter-negative", spec(renderer="jitter = -1"), ["jitter"]),
    ("layers-a-number", spec(renderer="layers = 5"), ["layers"]),
    ("layers-megabyte", spec(renderer='layers = "' + "block1," * 3000 + '"'), ["layer"]),
    ("tiling-unknown-choice", spec(renderer='tiling = "sometimes"'), ["tiling"]),
    # transforms
    ("blur-negative", spec(transforms='[[transforms]]\nname = "blur"\nsigma = -1.0'), ["sigma"]),
    ("blur-inf", spec(transforms='[[transforms]]\nname = "blur"\nsigma = inf'), ["sigma"]),
    ("posterize-one-level", spec(transforms='[[transforms]]\nname = "posterize"\nlevels = 1'), ["levels"]),
    ("roll-group-zero", spec(transforms='[[transforms]]\nname = "roll"\ngroup = 0'), ["group"]),
    ("pixel-sort-fraction-two", spec(transforms='[[transforms]]\nname = "pixel_sort"\nfraction = 2.0'), ["fraction"]),
    ("affine-wrong-shape", spec(transforms='[[transforms]]\nname = "affine"\nmatrix = [[1.0, 0.0, 0.0, 1.0]]'), ["matrix"]),
    ("affine-nan", spec(transforms='[[transforms]]\nname = "affine"\nmatrix = [[1.0, nan], [0.0, 1.0]]'), ["matrix"]),
    ("transforms-a-number", spec(top="transforms = 5"), ["transforms"]),
    ("transforms-a-string-list", spec(top='transforms = ["zoom"]'), ["transforms"]),
    ("unknown-name-three-deep", spec(transforms=DEEP_CHAIN % '{name = "zooom"}'), ["unknown transform 'zooom'", "did you mean 'zoom'"]),
    ("nan-three-deep", spec(transforms=DEEP_CHAIN % '{name = "blur", sigma = nan}'), ["sigma"]),
    ("nameless-three-deep", spec(transforms=DEEP_CHAIN % "{sigma = 1.0}"), ["name"]),
    ("chain-of-a-string", spec(transforms='[[transforms]]\nname = "chain"\ntransforms = "zoom"'), ["transforms"]),
    ("subregions-zero-rows", spec(transforms='[[transforms]]\nname = "subregions"\nrows = 0'), ["rows"]),
    ("subregions-million-tiles", spec(transforms='[[transforms]]\nname = "subregions"\nrows = 1000000\ncolumns = 1000000'), ["rows"]),
    ("draw-unknown-class", spec().replace('name = "dream"\nsteps = 1\noctaves = 1', 'name = "draw"\nclasses = ["goldfish", "volcano:0.5", "goldfsh"]'), ["goldfsh", "did you mean 'goldfish'"]),
    ("sampler-nan", spec(extra='[sampler]\nname = "neuralgae"\nn = nan'), ["n"]),
    ("sampler-unknown-class", spec(extra='[sampler]\nname = "fixed"\nclasses = ["goldfsh"]'), ["goldfsh", "goldfish"]),
    # sizes
    ("noise-huge", spec(source='noise = "40000x40000"'), ["ND_MAX_SIDE"]),
    ("noise-zero", spec(source='noise = "0x0"'), ["0x0"]),
    ("noise-negative", spec(source='noise = "-5x3"'), ["-5x3"]),
    ("noise-thin", spec(source='noise = "99999999x2"'), ["99999999x2"]),
    ("resize-zero", spec(source='sample = "chelsea"\nresize = "0x0"'), ["0x0"]),
    # source files
    ("image-is-a-folder", spec(source='image = "a_folder"'), ["a_folder", "folder"]),
    ("image-is-text", spec(source='image = "text.png"'), ["text.png"]),
    ("image-truncated", spec(source='image = "truncated.png"'), ["truncated.png"]),
    ("image-bomb", spec(source='image = "bomb.png"'), ["bomb.png", "ND_MAX_SIDE"]),
    ("image-empty", spec(source='image = "empty.png"'), ["empty.png"]),
    ("audio-missing", spec(extra='[audio]\nfile = "nowhere.wav"'), ["nowhere.wav"]),
    # outputs
    ("fps-zero", spec(output="fps = 0"), ["fps"]),
    ("fps-nan", spec(output="fps = nan"), ["fps"]),
    ("fps-thousand", spec(output="fps = 1000"), ["fps"]),
    ("loop-negative", spec(output="gif = true\nloop = -1"), ["loop"]),
    ("loop-beyond-gif", spec(output="gif = true\nloop = 70000"), ["loop"]),
    ("gif-escapes", spec(output='gif = "../escape.gif"'), ["escape.gif"]),
    ("gif-absolute", spec(output='gif = "/tmp/nd-hostile-absolute.gif"'), ["nd-hostile-absolute.gif"]),
    ("gif-over-a-frame", spec(output='gif = "frame_00000.png"'), ["frame_00000.png"]),
    ("gif-over-the-manifest", spec(output='gif = "manifest.jsonl"'), ["manifest.jsonl"]),
    ("mp4-over-the-spec", spec(output='mp4 = "spec.toml"'), ["spec.toml"]),
    ("gif-and-mp4-same-file", spec(output='gif = "same.gif"\nmp4 = "same.gif"'), ["same.gif"]),
    ("frame-pattern-escapes", spec(output='frame_pattern = "../x{index}.png"'), ["frame_pattern"]),
    ("frame-pattern-into-a-folder", spec(output='frame_pattern = "sub/{index}.png"'), ["frame_pattern"]),
    ("frame-pattern-attribute", spec(output='frame_pattern = "{index.__class__}.png"'), ["frame_pattern"]),
    ("output-dir-under-a-file", spec(output='dir = "a_file/run"'), ["a_file"]),
    ("output-dir-in-proc", spec(output='dir = "/proc/nd-run"'), ["/proc"]),
    ("output-dir-nul", spec(output='dir = "run\\u0000x"'), ["NUL"]),
    ("unknown-output-key-nested", spec(output="[output.extra]\nfoo = 1"), ["extra"]),
    ("toml-deep", "frames = 2\nx = " + "[" * 2000 + "]" * 2000 + "\n", ["deep"]),
]


@pytest.mark.parametrize("text, fragments", [pytest.param(t, f, id=i) for i, t, f in SPEC_CASES])
def test_a_bad_spec_is_one_line_and_writes_nothing(nd, tmp_path, text, fragments):
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    out = [] if "\ndir = " in text else ["--out", "run"]  # --out would replace the spec's own output.dir
    refused(nd("run", "bad.toml", *out), *fragments)
    untouched(tmp_path / "run")
    assert not (tmp_path.parent / "escape.gif").exists() and not (tmp_path / "x0.png").exists()


SPEC_FILE_CASES = [
    ("not-utf-8", "latin1.toml", [], ["latin1.toml", "UTF-8"]),
    ("a-folder", "a_folder", [], ["a_folder"]),
    ("a-folder-named-toml", "spec-dir.toml", [], ["spec-dir.toml", "folder"]),
    ("dev-zero", "/dev/zero", [], ["/dev/zero"]),
    ("over-a-megabyte", "huge.toml", [], ["huge.toml"]),
    ("empty-file", "empty.toml", [], ["renderer"]),
    ("missing-close-match", "zom", [], ["zom", "did you mean 'zoom'"]),
    ("set-without-equals", "good.toml", ["--set", "renderer.steps"], ["renderer.steps"]),
    ("set-nan-frames", "good.toml", ["--set", "frames=nan"], ["frames"]),
    ("set-past-the-end", "good.toml", ["--set", "transforms.9.scale=1"], ["transforms"]),
    ("set-unknown-top", "good.toml", ["--set", "colour=red"], ["colour"]),
    ("frames-zero", "good.toml", ["--frames", "0"], ["--frames"]),
    ("frames-not-a-number", "good.toml", ["--frames", "many"], ["--frames"]),
    ("out-is-a-file", "good.toml", ["--out", "a_file"], ["a_file"]),
    ("resume-and-overwrite", "good.toml", ["--resume", "--overwrite"], ["--resume", "--overwrite"]),
    ("unknown-option", "good.toml", ["--colour", "red"], ["--colour"]),
    ("bad-device", "good.toml", ["--device", "quantum"], ["quantum"]),
    ("bad-precision", "good.toml", ["--precision", "fp8"], ["fp8"]),
]


@pytest.mark.parametrize("name, extra, fragments", [pytest.param(n, e, f, id=i) for i, n, e, f in SPEC_FILE_CASES])
def test_a_bad_spec_file_or_run_command_line_is_one_line(nd, tmp_path, name, extra, fragments):
    (tmp_path / "spec-dir.toml").mkdir()
    (tmp_path / "huge.toml").write_text("# padding\n" * 200_000)
    (tmp_path / "empty.toml").write_text("")
    (tmp_path / "good.toml").write_text(spec(transforms='[[transforms]]\nname = "zoom"'))
    args = [*extra] if "--out" in extra else [*extra, "--out", "run"]
    refused(nd("run", name, *args), *fragments)
    untouched(tmp_path / "run")


def test_a_folder_named_like_a_built_in_spec_does_not_shadow_it(nd, tmp_path, builtin_host):
    """`nd run zoom` in a folder that holds zoom/ (e.g. after `nd run zoom --out zoom`) still means the built-in."""
    from neuralgae.core.runs.spec import find_spec

    (tmp_path / "zoom").mkdir()
    (tmp_path / "zoom" / "frame_00000.png").write_bytes((tmp_path / "good.png").read_bytes())
    path, _, name = find_spec("zoom", builtin_host)
    assert name == "zoom" and path == Path(builtin_host.specs["zoom"].path)
    # and a typo still fails in one line, naming the built-in it resembles
    refused(nd("run", "zooom", "--out", "run"), "zooom", "zoom")


# -- run folders are untrusted: --resume and --overwrite on garbage --------------------------------


def _garbage_run(folder: Path, manifest: bytes | None, spec_text: bytes | None) -> None:
    folder.mkdir(exist_ok=True)
    if manifest is not None:
        (folder / "manifest.jsonl").write_bytes(manifest)
    if spec_text is not None:
        (folder / "spec.toml").write_bytes(spec_text)


RUN_FOLDER_CASES = [
    ("overwrite-deletes-outside-relative", "--overwrite", b'{"index": 0, "file": "../victim.txt"}\n', None, ["manifest.jsonl entry 0", "outside"]),
    ("overwrite-deletes-outside-absolute", "--overwrite", b'{"index": 0, "file": "VICTIM"}\n', None, ["manifest.jsonl entry 0", "outside"]),
    ("resume-binary-garbage", "--resume", b"\x00\xff\xfe garbage \x80\n", b"\xff\xfe\x00 not toml", ["spec.toml"]),
    ("resume-spec-not-toml", "--resume", b"", b"this is = = not toml [", ["spec.toml"]),
    ("resume-spec-deep", "--resume", b"", b"x = " + b"[" * 3000 + b"]" * 3000, ["spec.toml", "deep"]),
    ("resume-spec-missing", "--resume", b'{"index": 0, "file": "frame_00000.png"}\n', None, ["spec.toml"]),
    ("resume-spec-a-folder", "--resume", b"", "FOLDER", ["spec.toml"]),
    ("resume-other-spec", "--resume", b"", b'frames = 2\n[source]\nnoise = "64x64"\n[renderer]\nname = "dream"\n', ["changed"]),
    ("resume-manifest-entry-outside", "--resume", b'{"index": 0, "file": "/etc/passwd"}\n', "SAME", ["manifest.jsonl entry 0", "outside"]),
    ("resume-manifest-link-outside", "--resume", "LINK", "SAME", ["manifest.jsonl", "outside"]),
    ("no-flag-on-a-run", "", b"", b"frames = 2\n", ["--resume", "--overwrite"]),
    ("no-flag-on-other-files", "", None, None, ["not empty"]),
]


@pytest.mark.parametrize("flag, manifest, saved, fragments", [pytest.param(*c[1:], id=c[0]) for c in RUN_FOLDER_CASES])
def test_a_garbage_run_folder_is_one_line_and_nothing_outside_is_touched(nd, tmp_path, flag, manifest, saved, fragments):
    good = spec(transforms='[[transforms]]\nname = "zoom"')
    (tmp_path / "good.toml").write_text(good)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine\n")
    if manifest == "LINK":
        (run / "manifest.jsonl").symlink_to(victim)
        manifest = None
    elif manifest is not None:
        manifest = manifest.replace(b"VICTIM", str(victim).encode())
    if saved == "FOLDER":
        (run / "spec.toml").mkdir()
        saved = None
    elif saved == "SAME":
        from neuralgae.core.runs.spec import dumps_spec, load_spec

        saved = dumps_spec(load_spec(tmp_path / "good.toml", host=PluginHost(entry_points=False), out=run).to_dict()).encode()
    _garbage_run(run, manifest, saved)
    before = {p.name: p.read_bytes() if p.is_file() else None for p in run.iterdir()}
    refused(nd("run", "good.toml", "--out", run, *([flag] if flag else [])), *fragments)
    assert victim.read_text() == "precious\n"
    assert {p.name: p.read_bytes() if p.is_file() else None for p in run.iterdir()} == before


# -- nd book and nd batch ------------------------------------------------------------------------


BOOK_CASES = [
    ("missing-folder", "nowhere", [], ["nowhere"]),
    ("a-file", "a_file", [], ["a_file"]),
    ("no-manifest", "a_folder", [], ["manifest"]),
    ("garbage-manifest", "garbage", [], ["manifest"]),
    ("entry-outside", "outside", [], ["outside"]),
    ("text-posing-as-a-frame", "posing", [], ["frame_00000.png"]),
    ("bomb-posing-as-a-frame", "bomb", [], ["frame_00000.png", "ND_MAX_SIDE"]),
    ("out-is-a-file", "chain", ["--out", "a_file"], ["a_file"]),
    ("out-in-proc", "chain", ["--out", "/proc/nd-book"], ["/proc"]),
    ("text-close-match", "chain", ["--text", "vers"], ["vers", "did you mean 'verse'"]),
    ("param-without-equals", "chain", ["--param", "words"], ["words"]),
    ("param-unknown", "chain", ["--param", "colour=1"], ["colour"]),
    ("param-nan", "chain", ["--param", "words=nan"], ["words"]),
    ("chapter-size-zero", "chain", ["--chapter-size", "0"], ["--chapter-size"]),
    ("seed-negative", "chain", ["--seed", "-1"], ["--seed"]),
]


def _chain_run(folder: Path, frame: bytes, file: str = "frame_00000.png") -> None:
    import json

    folder.mkdir()
    (folder / "frame_00000.png").write_bytes(frame)
    entry = {"index": 0, "file": file, "classes": [[1, 1.0]], "class_names": ["goldfish"]}
    (folder / "manifest.jsonl").write_text(json.dumps(entry) + "\n")


@pytest.mark.parametrize("run_name, extra, fragments", [pytest.param(*c[1:], id=c[0]) for c in BOOK_CASES])
def test_a_bad_book_is_one_line_and_copies_nothing(nd, tmp_path, run_name, extra, fragments):
    good = (tmp_path / "good.png").read_bytes()
    secret = tmp_path / "secret.png"
    secret.write_bytes(good)
    _chain_run(tmp_path / "chain", good)
    _chain_run(tmp_path / "outside", good, file=str(secret))
    _chain_run(tmp_path / "posing", b"<html>not a frame</html>")
    _chain_run(tmp_path / "bomb", bomb_png())
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "manifest.jsonl").write_bytes(b"\x00\x01 garbage\n{not json\n")
    refused(nd("book", run_name, *extra), *fragments)
    for name in ("chain", "outside", "posing", "bomb", "garbage"):
        assert not (tmp_path / name / "book").exists()
        assert not (tmp_path / name / "classes.txt").exists()


BATCH_CASES = [
    ("grid-without-equals", ["--grid", "renderer.steps"], ["renderer.steps"]),
    ("grid-without-values", ["--grid", "renderer.steps="], ["renderer.steps"]),
    ("grid-of-millions", [a for k in ("steps", "octaves", "jitter", "tile_size") for a in ("--grid", f"renderer.{k}=" + ",".join(str(v) for v in range(1, 60)))], ["ND_MAX_VARIATIONS"]),
    ("grid-unknown-parameter", ["--grid", "renderer.stepz=1,2"], ["stepz"]),
    ("grid-nan", ["--grid", "renderer.steps=1,nan"], ["steps"]),
    ("images-a-file", ["--images", "a_file"], ["a_file"]),
    ("images-empty-folder", ["--images", "a_folder"], ["a_folder"]),
    ("classes-close-match", ["--classes", "goldfsh", "--set", "renderer.name=draw"], ["goldfsh", "goldfish"]),
    ("classes-with-dream", ["--classes", "goldfish"], ["--classes"]),
    ("out-is-a-file", ["--grid", "renderer.steps=1,2", "--out", "a_file"], ["a_file"]),
    ("workers-and-scheduler", ["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], ["--workers"]),
    ("workers-zero", ["--workers", "0"], ["--workers"]),
    ("bad-device", ["--device", "quantum"], ["quantum"]),
]


@pytest.mark.parametrize("extra, fragments", [pytest.param(*c[1:], id=c[0]) for c in BATCH_CASES])
def test_a_bad_batch_is_one_line_and_writes_nothing(nd, tmp_path, extra, fragments):
    (tmp_path / "good.toml").write_text(spec(transforms='[[transforms]]\nname = "zoom"'))
    args = extra if "--out" in extra else [*extra, "--out", "batch"]
    refused(nd("batch", "good.toml", *args), *fragments)
    untouched(tmp_path / "batch")


def test_a_batch_of_an_unknown_spec_suggests_the_built_in(nd, tmp_path):
    refused(nd("batch", "atls", "--classes", "goldfish", "--out", "batch"), "atls", "did you mean 'atlas'")
    untouched(tmp_path / "batch")


# -- bad command lines for the other commands -------------------------------------------------------


COMMAND_CASES = [
    # nd dream
    ("dream-noise-zero", ["dream", "noise:0x0", "-o", "out.png"], ["0x0"]),
    ("dream-noise-negative", ["dream", "noise:-5x3", "-o", "out.png"], ["-5x3"]),
    ("dream-noise-thin", ["dream", "noise:99999999x2", "-o", "out.png"], ["99999999x2"]),
    ("dream-noise-huge", ["dream", "noise:40000x40000", "-o", "out.png"], ["ND_MAX_SIDE"]),
    ("dream-noise-garbage", ["dream", "noise:big", "-o", "out.png"], ["'big'", "noise size"]),
    ("dream-missing-input", ["dream", "nowhere.png", "-o", "out.png"], ["nowhere.png"]),
    ("dream-text-image", ["dream", "text.png", "-o", "out.png"], ["text.png"]),
    ("dream-truncated-image", ["dream", "truncated.png", "-o", "out.png"], ["truncated.png"]),
    ("dream-bomb", ["dream", "bomb.png", "-o", "out.png"], ["bomb.png", "ND_MAX_SIDE"]),
    ("dream-empty-folder", ["dream", "a_folder", "-o", "out.mp4"], ["a_folder"]),
    ("dream-output-a-folder", ["dream", "good.png", "-o", "a_folder"], ["a_folder"]),
    ("dream-output-unknown-type", ["dream", "good.png", "-o", "out.xyz"], [".xyz"]),
    ("dream-output-under-a-file", ["dream", "good.png", "-o", "a_file/out.png"], ["a_file"]),
    ("dream-octaves-not-a-number", ["dream", "good.png", "-o", "out.png", "--octaves", "abc"], ["--octaves"]),
    ("dream-octaves-zero", ["dream", "good.png", "-o", "out.png", "--octaves", "0"], ["octaves"]),
    ("dream-steps-negative", ["dream", "good.png", "-o", "out.png", "--steps", "-1"], ["steps"]),
    ("dream-step-size-nan", ["dream", "good.png", "-o", "out.png", "--step-size", "nan"], ["step_size"]),
    ("dream-tiling-choice", ["dream", "good.png", "-o", "out.png", "--tiling", "sometimes"], ["tiling"]),
    ("dream-layer-close-match", ["dream", "good.png", "-o", "out.png", "--layers", "block99"], ["block99"]),
    ("dream-layers-megabyte", ["dream", "good.png", "-o", "out.png", "--layers", "block1," * 5000], ["10,000"]),
    ("dream-guide-not-an-image", ["dream", "good.png", "-o", "out.png", "--guide", "text.png"], ["text.png"]),
    ("dream-missing-output", ["dream", "good.png"], ["--output"]),
    ("dream-bad-device", ["dream", "good.png", "-o", "out.png", "--device", "quantum"], ["quantum"]),
    ("dream-absent-gpu", ["dream", "good.png", "-o", "out.png", "--device", "cuda:7"], ["cuda"]),
    ("dream-bad-precision", ["dream", "good.png", "-o", "out.png", "--precision", "fp8"], ["fp8"]),
    ("dream-network-close-match", ["dream", "good.png", "-o", "out.png", "--network", "efficientnet-lite9"], ["efficientnet-lite9", "did you mean"]),
    ("dream-video-resize-zero", ["dream", "frames", "-o", "out.mp4", "--resize", "0x0"], ["0x0"]),
    ("dream-video-coherence-two", ["dream", "frames", "-o", "out.mp4", "--coherence", "2"], ["coherence"]),
    ("dream-video-frames-zero", ["dream", "frames", "-o", "out.mp4", "--frames", "0"], ["frames"]),
    ("dream-video-fps-nan", ["dream", "frames", "-o", "out.mp4", "--fps", "nan"], ["fps"]),
    ("dream-video-text-frame", ["dream", "frames-with-text", "-o", "out.mp4"], ["frame_001.png"]),
    ("dream-video-output-type", ["dream", "frames", "-o", "out.png"], ["out.png"]),
    # nd draw
    ("draw-size-zero", ["draw", "-c", "goldfish", "-o", "out.png", "--size", "0x0"], ["0x0"]),
    ("draw-size-negative", ["draw", "-c", "goldfish", "-o", "out.png", "--size", "-5x3"], ["-5x3"]),
    ("draw-size-thin", ["draw", "-c", "goldfish", "-o", "out.png", "--size", "99999999x2"], ["99999999x2"]),
    ("draw-size-huge", ["draw", "-c", "goldfish", "-o", "out.png", "--size", "40000x40000"], ["ND_MAX_SIDE"]),
    ("draw-class-close-match", ["draw", "-c", "goldfsh", "-o", "out.png"], ["goldfsh", "goldfish"]),
    ("draw-class-empty", ["draw", "-c", " , ", "-o", "out.png"], ["class"]),
    ("draw-class-index-too-big", ["draw", "-c", "5000", "-o", "out.png"], ["5000"]),
    ("draw-image-truncated", ["draw", "-c", "goldfish", "-o", "out.png", "-i", "truncated.png"], ["truncated.png"]),
    ("draw-image-bomb", ["draw", "-c", "goldfish", "-o", "out.png", "-i", "bomb.png"], ["bomb.png"]),
    ("draw-image-a-folder", ["draw", "-c", "goldfish", "-o", "out.png", "-i", "a_folder"], ["a_folder"]),
    ("draw-mask-a-folder", ["draw", "-c", "goldfish", "-o", "out.png", "--mask", "a_folder"], ["a_folder"]),
    ("draw-focus-outside", ["draw", "-c", "goldfish", "-o", "out.png", "--focus", "2,2"], ["2,2"]),
    ("draw-focus-garbage", ["draw", "-c", "goldfish", "-o", "out.png", "--focus", "left"], ["left"]),
    ("draw-aim-unknown", ["draw", "-c", "goldfish", "-o", "out.png", "--aim", "sideways"], ["sideways"]),
    ("draw-preset-unknown", ["draw", "-c", "goldfish", "-o", "out.png", "--preset", "nope"], ["nope"]),
    ("draw-seed-negative", ["draw", "-c", "goldfish", "-o", "out.png", "--seed", "-1"], ["seed"]),
    ("draw-prior-nan", ["draw", "-c", "goldfish", "-o", "out.png", "--prior", "nan"], ["prior"]),
    ("draw-steps-negative", ["draw", "-c", "goldfish", "-o", "out.png", "--steps", "-3"], ["steps"]),
    ("draw-steps-billion", ["draw", "-c", "goldfish", "-o", "out.png", "--steps", "1000000000"], ["steps"]),
    ("draw-output-unknown-type", ["draw", "-c", "goldfish", "-o", "out.txt"], [".txt"]),
    ("draw-bad-precision", ["draw", "-c", "goldfish", "-o", "out.png", "--precision", "fp8"], ["fp8"]),
    # nd classify, nd classes and nd layers
    ("classify-text-image", ["classify", "text.png"], ["text.png"]),
    ("classify-a-folder", ["classify", "a_folder"], ["a_folder"]),
    ("classify-bomb", ["classify", "bomb.png"], ["bomb.png"]),
    ("classify-truncated", ["classify", "truncated.png"], ["truncated.png"]),
    ("classify-top-zero", ["classify", "good.png", "--top", "0"], ["--top"]),
    ("classify-network-close-match", ["classify", "good.png", "--network", "efficientnet-lite9"], ["did you mean"]),
    ("classify-bad-device", ["classify", "good.png", "--device", "quantum"], ["quantum"]),
    ("classes-no-match", ["classes", "zzzzqqq"], ["zzzzqqq"]),
    ("layers-network-close-match", ["layers", "--network", "efficientnet-lite9"], ["efficientnet-lite9", "did you mean"]),
    ("layers-network-empty", ["layers", "--network", ""], ["network"]),
    ("layers-ensemble-empty-part", ["layers", "--network", "efficientnet-lite0+"], ["efficientnet-lite0+"]),
    # nd gif
    ("gif-missing-source", ["gif", "nowhere", "-o", "out.gif"], ["nowhere"]),
    ("gif-empty-folder", ["gif", "a_folder", "-o", "out.gif"], ["a_folder"]),
    ("gif-text-posing-as-gif", ["gif", "text.gif", "-o", "out.gif"], ["text.gif"]),
    ("gif-text-frame", ["gif", "frames-with-text", "-o", "out.gif"], ["frame_001.png"]),
    ("gif-bomb-frame", ["gif", "frames-with-bomb", "-o", "out.gif"], ["ND_MAX_SIDE"]),
    ("gif-fps-zero", ["gif", "frames", "-o", "out.gif", "--fps", "0"], ["--fps"]),
    ("gif-fps-nan", ["gif", "frames", "-o", "out.gif", "--fps", "nan"], ["--fps"]),
    ("gif-loop-negative", ["gif", "frames", "-o", "out.gif", "--loop", "-1"], ["--loop"]),
    ("gif-output-type", ["gif", "frames", "-o", "out.xyz"], [".xyz"]),
    ("gif-output-a-folder", ["gif", "frames", "-o", "folder.gif"], ["folder.gif", "folder"]),
    ("gif-seamless-pingpong", ["gif", "frames", "-o", "out.gif", "--seamless", "--pingpong"], ["--seamless"]),
    # nd serve (refused before it listens)
    ("serve-port-too-big", ["serve", "--port", "70000"], ["--port"]),
    ("serve-size-zero", ["serve", "--size", "0x0"], ["0x0"]),
    ("serve-size-huge", ["serve", "--size", "99999x99999"], ["99999x99999"]),
    ("serve-class-close-match", ["serve", "--classes", "goldfsh"], ["goldfsh", "goldfish"]),
    ("serve-zoom-nan", ["serve", "--zoom", "nan"], ["zoom"]),
    ("serve-steps-zero", ["serve", "--steps", "0"], ["--steps"]),
    ("serve-hold-short", ["serve", "--hold", "0.5"], ["--hold"]),
    ("serve-record-a-file", ["serve", "--record", "a_file"], ["a_file"]),
    ("serve-bad-device", ["serve", "--device", "quantum"], ["quantum"]),
    # nd plugins, nd specs and the application itself
    ("plugins-close-match", ["plugins", "zom"], ["zom", "did you mean 'zoom'"]),
    ("unknown-command", ["drem"], ["drem"]),
    ("unknown-top-option", ["--colour"], ["--colour"]),
]


@pytest.mark.parametrize("args, fragments", [pytest.param(a, f, id=i) for i, a, f in COMMAND_CASES])
def test_a_bad_command_line_is_one_line_and_writes_nothing(nd, tmp_path, args, fragments):
    from neuralgae.core.media.images import save_image

    rng = np.random.default_rng(1)
    for name in ("frames", "frames-with-text", "frames-with-bomb"):
        (tmp_path / name).mkdir()
        for i in range(3):
            save_image(tmp_path / name / f"frame_{i:03d}.png", rng.random((40, 48, 3), dtype=np.float32))
    (tmp_path / "frames-with-text" / "frame_001.png").write_text("not a frame\n")
    (tmp_path / "frames-with-bomb" / "frame_001.png").write_bytes(bomb_png())
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    refused(nd(*args), *fragments)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


# -- video sources: refused from their header, before decoding --------------------------------------


@pytest.mark.parametrize("kind", ["folder", "gif", "mp4"])
def test_a_video_over_the_frame_limit_is_refused_from_its_header(nd, tmp_path, monkeypatch, kind):
    from neuralgae.core.media import video as video_module

    video = _small_video(tmp_path, kind, frames=5, size=(48, 40))
    monkeypatch.setenv("ND_MAX_FRAMES", "3")
    decoded = []
    real = video_module.iter_frames
    monkeypatch.setattr(video_module, "iter_frames", lambda *a, **k: decoded.append(1) or real(*a, **k))
    refused(nd("dream", video, "-o", "out.mp4"), "5 frames", "3", "ND_MAX_FRAMES")
    assert not decoded and not (tmp_path / "out.frames").exists() and not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("kind", ["folder", "gif", "mp4"])
def test_a_video_with_frames_over_the_side_limit_is_refused_from_its_header(nd, tmp_path, monkeypatch, kind):
    video = _small_video(tmp_path, kind, frames=2, size=(96, 48))
    monkeypatch.setenv("ND_MAX_SIDE", "64")
    refused(nd("dream", video, "-o", "out.mp4"), "96x48", "64", "ND_MAX_SIDE")
    assert not (tmp_path / "out.frames").exists() and not (tmp_path / "out.mp4").exists()


def _small_video(folder: Path, kind: str, *, frames: int, size: tuple[int, int]) -> Path:
    from neuralgae.core.media.images import save_image

    rng = np.random.default_rng(2)
    w, h = size
    images = [rng.random((h, w, 3), dtype=np.float32) for _ in range(frames)]
    if kind == "folder":
        path = folder / "clip"
        path.mkdir()
        for i, image in enumerate(images):
            save_image(path / f"frame_{i:03d}.png", image)
        return path
    from neuralgae.core.media.movie import write_animation

    path = folder / f"clip.{kind}"
    write_animation(images, path, fps=10)
    return path


# -- broken plugins, installed as distributions --------------------------------------------------

GOOD_LOOP = """\
network = "tiny"
frames = 3
[source]
noise = "40x32"
[renderer]
name = "dream"
[[transforms]]
name = "%s"
"""

PLUGIN_SOURCES = {
    "fails-to-import": ("nd_hostile_import", "import nd_no_such_module_at_all\n"),
    "duplicate": ("nd_hostile_dup", """\
from neuralgae.core.host.hookspecs import hookimpl

def zoom(image, ctx):
    return image

@hookimpl
def register_transforms(register):
    register(zoom)
"""),
    "misspelled-hook": ("nd_hostile_typo", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return image[:, ::-1]

@hookimpl
def register_transfroms(register):
    register(mirror)
"""),
    "forgot-hookimpl": ("nd_hostile_lazy", """\
def mirror(image, ctx):
    return image[:, ::-1]

def register_transforms(register):
    register(mirror)
"""),
    "raises-while-registering": ("nd_hostile_grumpy", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return image[:, ::-1]

@hookimpl
def register_transforms(register):
    register(mirror)
    raise RuntimeError("no transforms today")
"""),
    "registers-a-non-function": ("nd_hostile_junk", """\
from neuralgae.core.host.hookspecs import hookimpl

@hookimpl
def register_transforms(register):
    register(42)
"""),
    "uint8-frame": ("nd_hostile_bytes", """\
import numpy as np
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return (image * 255).astype(np.uint8)

@hookimpl
def register_transforms(register):
    register(mirror)
"""),
    "nan-frame": ("nd_hostile_nan", """\
import numpy as np
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return np.full_like(image, np.nan)

@hookimpl
def register_transforms(register):
    register(mirror)
"""),
    "wrong-shape": ("nd_hostile_shape", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return image[:, :, :2]

@hookimpl
def register_transforms(register):
    register(mirror)
"""),
    "not-an-array": ("nd_hostile_list", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return image.tolist()

@hookimpl
def register_transforms(register):
    register(mirror)
"""),
    "0-255-floats": ("nd_hostile_range", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return image * 255.0

@hookimpl
def register_transforms(register):
    register(mirror)
"""),
    "raises-inside": ("nd_hostile_raises", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    raise ZeroDivisionError("the mirror broke")

@hookimpl
def register_transforms(register):
    register(mirror)
"""),
    "frame-written-raises": ("nd_hostile_event", """\
from neuralgae.core.host.hookspecs import hookimpl

def mirror(image, ctx):
    return image[:, ::-1].copy()

@hookimpl
def register_transforms(register):
    register(mirror)

@hookimpl
def frame_written(run, frame):
    raise OSError("the upload failed")
"""),
}

PLUGIN_CASES = [
    # (case, transform the spec uses, fragments of the one error line, frames kept)
    ("fails-to-import", "mirror", ["unknown transform 'mirror'", "nd-hostile-fails-to-import", "failed to load"], 0),
    ("duplicate", "zoom", ["two plugins register the name 'zoom'"], 0),
    ("misspelled-hook", "mirror", ["unknown transform 'mirror'", "register_transfroms", "register_transforms"], 0),
    ("forgot-hookimpl", "mirror", ["unknown transform 'mirror'", "registered nothing", "nd-hostile-forgot-hookimpl"], 0),
    ("raises-while-registering", "mirror", ["unknown transform 'mirror'", "no transforms today"], 0),
    ("registers-a-non-function", "mirror", ["unknown transform 'mirror'", "register"], 0),
    ("uint8-frame", "mirror", ["transform 'mirror'", "uint8", "nd-hostile-uint8-frame", "--resume"], 1),
    ("nan-frame", "mirror", ["transform 'mirror'", "NaN", "nd-hostile-nan-frame", "--resume"], 1),
    ("wrong-shape", "mirror", ["transform 'mirror'", "shape", "nd-hostile-wrong-shape", "--resume"], 1),
    ("not-an-array", "mirror", ["transform 'mirror'", "list", "nd-hostile-not-an-array", "--resume"], 1),
    ("0-255-floats", "mirror", ["transform 'mirror'", "[0, 1]", "nd-hostile-0-255-floats", "--resume"], 1),
    ("raises-inside", "mirror", ["transform 'mirror'", "ZeroDivisionError", "the mirror broke", "--resume"], 1),
    ("frame-written-raises", "mirror", ["frame_written", "on frame 0", "the upload failed", "nd-hostile-frame-written-raises", "--resume"], 1),
]


@pytest.mark.parametrize("case, transform, fragments, kept", [pytest.param(*c, id=c[0]) for c in PLUGIN_CASES])
def test_a_broken_plugin_is_one_line_where_it_is_used(nd, site, tmp_path, case, transform, fragments, kept):
    module, source = PLUGIN_SOURCES[case]
    fake_distribution(site, f"nd-hostile-{case}", module, source)
    host = PluginHost(builtins=False, entry_points=True, extra=[fakes.fakes])
    (tmp_path / "loop.toml").write_text(GOOD_LOOP % transform)
    line = refused(nd("run", "loop.toml", "--out", "run", "-q", host=host), *fragments)
    assert "\n" not in line
    frames = sorted((tmp_path / "run").glob("frame_*.png")) if (tmp_path / "run").exists() else []
    assert len(frames) == kept, frames
    # a command that does not need the plugin still works
    listed = CliRunner().invoke(app, ["plugins"])
    assert listed.exit_code == 0 and "Traceback" not in listed.output


def test_a_plugin_renderer_returning_garbage_is_one_line(nd, tmp_path):
    plugin = types.ModuleType("nd_hostile_renderer")

    def smear(image, ctx):
        """Returns a number, not an image."""
        return 0.5

    plugin.register_renderers = hookimpl(lambda register: register(smear))
    (tmp_path / "loop.toml").write_text(GOOD_LOOP.replace('name = "dream"', 'name = "smear"') % "zoom")
    refused(nd("run", "loop.toml", "--out", "run", "-q", host=fakes.fake_host(plugin)), "renderer 'smear'", "float")
    untouched(tmp_path / "run")


def test_a_plugin_sampler_returning_a_class_that_does_not_exist_is_one_line(nd, tmp_path):
    plugin = types.ModuleType("nd_hostile_sampler")

    def nowhere(probs, ctx):
        """Chooses class 5000 of 1000."""
        return [(5000, 1.0)]

    plugin.register_samplers = hookimpl(lambda register: register(nowhere))
    (tmp_path / "loop.toml").write_text(GOOD_LOOP % "zoom" + '[sampler]\nname = "nowhere"\n')
    refused(nd("run", "loop.toml", "--out", "run", "-q", host=fakes.fake_host(plugin)), "sampler 'nowhere'", "5000")
