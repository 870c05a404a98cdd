"""Limits (issue 15): work that cannot finish is refused at once, in one line naming the limit."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from neuralgae.core.host import limits
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import load_image, parse_size
from neuralgae.core.runs.spec import load_spec, read_toml
from test_plugins_fakes import fake_host

MINIMAL = 'network = "tiny"\n[renderer]\nname = "dream"\n'


@pytest.fixture(scope="module")
def host():
    return fake_host()


def one_line(info) -> str:
    message = str(info.value)
    assert "\n" not in message
    return message


def png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height (no pixel data: nothing may try to decode it)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


@pytest.mark.usefixtures("cli_spelling")
def test_a_billion_frames_is_refused(tmp_path, host):
    path = tmp_path / "spec.toml"
    path.write_text("frames = 1000000000\n" + MINIMAL)
    with pytest.raises(NeuralgaeError, match="limit of 1,000,000 frames.*ND_MAX_FRAMES") as info:
        load_spec(path, host=host)
    one_line(info)
    path.write_text(MINIMAL)
    with pytest.raises(NeuralgaeError, match="--frames = 1000000000 is more than"):
        load_spec(path, host=host, frames=10**9)
    assert load_spec(path, host=host, frames=limits.MAX_FRAMES).frames == limits.MAX_FRAMES


def test_nd_max_frames_lifts_the_limit(tmp_path, host, monkeypatch):
    path = tmp_path / "spec.toml"
    path.write_text("frames = 2000000\n" + MINIMAL)
    monkeypatch.setenv("ND_MAX_FRAMES", "3000000")
    assert load_spec(path, host=host).frames == 2_000_000
    monkeypatch.setenv("ND_MAX_FRAMES", "lots")
    with pytest.raises(NeuralgaeError, match="ND_MAX_FRAMES must be a whole number"):
        load_spec(path, host=host)


@pytest.mark.parametrize("key", ["noise", "resize"])
def test_huge_canvas_in_a_spec_is_refused(tmp_path, host, key):
    path = tmp_path / "spec.toml"
    source = f'[source]\nsample = "coffee"\nresize = "40000x40000"\n' if key == "resize" else '[source]\nnoise = "40000x40000"\n'
    path.write_text(MINIMAL + source)
    with pytest.raises(NeuralgaeError, match=f"source.{key}.*largest side allowed is 16384 pixels.*ND_MAX_SIDE") as info:
        load_spec(path, host=host)
    one_line(info)


def test_parse_size_limit_and_lifting(monkeypatch):
    assert parse_size("16384x64") == (16384, 64)
    with pytest.raises(NeuralgaeError, match="largest side allowed is 16384 pixels \\(set ND_MAX_SIDE"):
        parse_size("40000x40000")
    monkeypatch.setenv("ND_MAX_SIDE", "50000")
    assert parse_size("40000x40000") == (40000, 40000)
    with pytest.raises(NeuralgaeError, match="largest side allowed is 100 pixels$"):
        parse_size("200x200", max_side=100)


def test_spec_file_read_is_bounded(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * limits.MAX_SPEC_BYTES + "\n")
    with pytest.raises(NeuralgaeError, match="larger than the limit of 1024 KiB") as info:
        read_toml(big, origin="big.toml")
    one_line(info)


def test_dev_zero_as_a_spec_is_refused():
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(NeuralgaeError, match="larger than the limit"):
        read_toml(Path("/dev/zero"), origin="/dev/zero")


@pytest.mark.parametrize("text", [
    "a = " + "[" * 5000 + "]" * 5000,
    "a = " + "{b = " * 5000 + "1" + "}" * 5000,
    "[" + ".".join(["a"] * 5000) + "]\n",
    "a = " + "[" * 40 + "]" * 40,
])
def test_deeply_nested_toml_is_refused(tmp_path, text):
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(NeuralgaeError, match=f"nest more than {limits.MAX_TOML_DEPTH} deep") as info:
        read_toml(path, origin="deep.toml")
    one_line(info)


def test_huge_image_is_refused_from_its_header(tmp_path):
    path = png_header(tmp_path / "wide.png", 20000, 100)
    with pytest.raises(NeuralgaeError, match="is 20000x100 pixels; the largest side allowed is 16384.*ND_MAX_SIDE") as info:
        load_image(path)
    one_line(info)


def test_decompression_bomb_is_refused(tmp_path):
    path = png_header(tmp_path / "bomb.png", 60000, 60000)
    with pytest.raises(NeuralgaeError, match="decompression bomb.*ND_MAX_SIDE") as info:
        load_image(path)
    one_line(info)


def test_a_grid_of_millions_of_variations_is_refused(tmp_path, monkeypatch):
    from neuralgae.core.runs.batch_plan import grid_axes, plan_variations

    values = ",".join(str(i) for i in range(1, 1001))
    axes = grid_axes([f"renderer.steps={values}", f"seed={values}"])
    with pytest.raises(NeuralgaeError, match="1,000,000 runs \\(1000 x 1000\\), more than the limit of 10,000.*ND_MAX_VARIATIONS") as info:
        plan_variations(axes, out=tmp_path)
    one_line(info)
    assert not any(tmp_path.iterdir())
    monkeypatch.setenv("ND_MAX_VARIATIONS", "1000000")
    assert len(plan_variations(axes[:1], out=tmp_path)) == 1000


def test_a_megabyte_long_layer_list_is_refused():
    from neuralgae.core.nets.network import parse_layer_selection, parse_layer_selections

    with pytest.raises(NeuralgaeError, match="layer list is 1,200,000 characters long; the limit is 10,000") as info:
        parse_layer_selections("block " * 200_000)
    one_line(info)
    with pytest.raises(NeuralgaeError, match="names 300 layers; the limit is 256"):
        parse_layer_selections(["b"] * 300)
    with pytest.raises(NeuralgaeError, match="channel 999999999 in layer .* is above 65535"):
        parse_layer_selection("block10:0-999999999")
    with pytest.raises(NeuralgaeError, match="channel 70000 in layer"):
        parse_layer_selection("block10:70000")
    assert len(parse_layer_selections("block8:0-15@0.5, block10")) == 2


def test_absurd_steps_are_refused():
    from neuralgae.core.optvis.dream import DreamSettings
    from neuralgae.core.optvis.draw_schedule import PRESETS, preset, with_steps

    with pytest.raises(NeuralgaeError, match="steps must be at most 100,000 per octave; got 1,000,000,000"):
        DreamSettings(steps=10**9).validate()
    with pytest.raises(NeuralgaeError, match="steps must be at most 100,000; got 1,000,000,000"):
        with_steps(preset(next(iter(PRESETS))), 10**9)
    assert DreamSettings(steps=100).validate().steps == 100


@pytest.mark.parametrize("setting, message", [
    ("output.fps=0", "output.fps must be above 0 and at most 240 frames per second; got 0"),
    ("output.fps=1000", "output.fps must be above 0 and at most 240 frames per second; got 1000"),
    ("output.fps=nan", "output.fps must be a number above 0 and at most 240; got nan"),
    ("output.loop=-1", "output.loop must be from 0 (forever) to 65,535 plays"),
    ("output.loop=100000", "output.loop must be from 0 (forever) to 65,535 plays (a GIF stores no more); got 100,000"),
])
def test_fps_and_loop_out_of_range_in_a_spec(tmp_path, host, setting, message):
    path = tmp_path / "spec.toml"
    path.write_text(MINIMAL)
    with pytest.raises(NeuralgaeError) as info:
        load_spec(path, host=host, overrides=[setting])
    assert message in one_line(info)


@pytest.mark.parametrize("args, message", [
    (["--fps", "0"], "--fps must be above 0 and at most 240"),
    (["--fps", "nan"], "--fps must be a number above 0"),
    (["--fps", "500"], "--fps must be above 0 and at most 240"),
    (["--loop", "-3"], "--loop must be from 0 (forever) to 65,535"),
    (["--loop", "70000"], "--loop must be from 0 (forever) to 65,535"),
])
def test_nd_gif_refuses_fps_and_loop_before_writing(tmp_path, args, message):
    import numpy as np
    import typer
    from typer.testing import CliRunner

    from neuralgae.core.media.images import save_image
    from neuralgae_cli.gif import register

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        save_image(folder / f"frame_{i}.png", np.full((32, 32, 3), i / 2, dtype=np.float32))
    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["gif", str(folder), "-o", str(tmp_path / "a.gif"), *args])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "a.gif").exists()


def spec_at(tmp_path, host, out, *overrides):
    path = tmp_path / "spec.toml"
    path.write_text('frames = 2\n' + MINIMAL + '[source]\nnoise = "32x32"\n')
    return load_spec(path, host=host, overrides=list(overrides), out=out)


@pytest.mark.usefixtures("cli_spelling")
def test_output_folder_under_a_file_is_refused_before_rendering(tmp_path, host):
    from neuralgae.core.runs.pipeline import run_spec

    (tmp_path / "afile").write_text("x")
    spec = spec_at(tmp_path, host, tmp_path / "afile" / "run")
    with pytest.raises(NeuralgaeError, match="cannot be made: '.*afile' is a file, not a folder; choose another with --out") as info:
        run_spec(spec, host=host)
    one_line(info)


@pytest.mark.usefixtures("cli_spelling")
@pytest.mark.parametrize("folder", ["/proc/nd-run", "/sys/nd-run", "/dev/nd-run"])
def test_output_folder_in_proc_is_refused(tmp_path, host, folder):
    from neuralgae.core.runs.pipeline import run_spec

    with pytest.raises(NeuralgaeError, match="which holds no files; choose another with --out"):
        run_spec(spec_at(tmp_path, host, folder), host=host)
    assert not Path(folder).exists()


def test_unwritable_output_folder_is_refused(tmp_path, host):
    import os

    from neuralgae.core.runs.pipeline import run_spec

    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(NeuralgaeError, match="cannot be written: .* is not writable by you"):
            run_spec(spec_at(tmp_path, host, locked / "run"), host=host)
    finally:
        locked.chmod(0o700)


def test_output_folder_with_a_nul_byte_is_refused(tmp_path, host):
    with pytest.raises(NeuralgaeError, match="output.dir contains a NUL byte") as info:
        spec_at(tmp_path, host, str(tmp_path / "a\0b"))
    one_line(info)


@pytest.mark.parametrize("setting, message", [
    ('output.gif="manifest.jsonl"', "output.gif 'manifest.jsonl' would overwrite the run's own manifest.jsonl"),
    ('output.mp4="spec.toml"', "output.mp4 'spec.toml' would overwrite the run's own spec.toml"),
    ('output.gif="frame_00001.png"', "output.gif 'frame_00001.png' would overwrite a frame"),
    ('output.gif=".."', "output.gif must be a file name inside the output folder; got '..'"),
    ('output.gif="../up.gif"', "output.gif must be true, false or a file name inside the output folder"),
])
def test_animation_names_that_overwrite_or_escape_are_refused(tmp_path, host, setting, message):
    with pytest.raises(NeuralgaeError) as info:
        spec_at(tmp_path, host, tmp_path / "out", setting)
    assert message in one_line(info)


def test_gif_and_mp4_with_one_name_are_refused(tmp_path, host):
    with pytest.raises(NeuralgaeError, match="'same' is also the name of output.gif"):
        spec_at(tmp_path, host, tmp_path / "out", 'output.gif="same"', 'output.mp4="same"')
    assert spec_at(tmp_path, host, tmp_path / "out", "output.gif=true").output.gif is True


def test_nd_gif_refuses_an_output_under_a_file(tmp_path):
    import numpy as np
    import typer
    from typer.testing import CliRunner

    from neuralgae.core.media.images import save_image
    from neuralgae_cli.gif import register

    folder = tmp_path / "frames"
    folder.mkdir()
    save_image(folder / "frame_0.png", np.zeros((32, 32, 3), dtype=np.float32))
    (tmp_path / "afile").write_text("x")
    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["gif", str(folder), "-o", str(tmp_path / "afile" / "a.gif")])
    assert result.exit_code == 1, result.output
    assert "is a file, not a folder; choose another place with -o" in " ".join(result.output.split())


def test_a_folder_of_huge_frames_is_refused_from_the_headers(tmp_path):
    from neuralgae.core.media.movie import image_size

    with pytest.raises(NeuralgaeError, match="is 20000x100 pixels; the largest side allowed is 16384"):
        image_size(png_header(tmp_path / "f.png", 20000, 100))
    with pytest.raises(NeuralgaeError, match="decompression bomb.*ND_MAX_SIDE"):
        image_size(png_header(tmp_path / "b.png", 60000, 60000))
    assert image_size(png_header(tmp_path / "ok.png", 64, 32)) == (64, 32)


def test_frames_from_the_audio_length_are_limited_too(tmp_path, host, monkeypatch):
    import numpy as np

    from neuralgae.core.media.audio import SAMPLE_RATE, write_wav

    write_wav(tmp_path / "song.wav", np.zeros(SAMPLE_RATE, dtype=np.float32))
    path = tmp_path / "spec.toml"
    path.write_text(MINIMAL + '[audio]\nfile = "song.wav"\n[output]\nfps = 24\n')
    assert load_spec(path, host=host).frames == 24
    monkeypatch.setenv("ND_MAX_FRAMES", "10")
    with pytest.raises(NeuralgaeError, match="the audio's length at 24 fps, frames = 24 is more than the limit of 10 frames.*ND_MAX_FRAMES") as info:
        load_spec(path, host=host)
    one_line(info)


@pytest.mark.parametrize("width, height, words", [
    (20000, 100, "is 20000x100 pixels; the largest side allowed is 16384"),
    (60000, 60000, "decompression bomb"),
])
def test_a_gif_claiming_a_huge_screen_is_refused(tmp_path, width, height, words):
    from PIL import Image

    from neuralgae.core.media.movie import read_animation

    path = tmp_path / "a.gif"
    Image.new("RGB", (32, 32)).save(path)
    data = bytearray(path.read_bytes())
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen size
    path.write_bytes(bytes(data))
    with pytest.raises(NeuralgaeError, match=words) as info:
        read_animation(path)
    one_line(info)
