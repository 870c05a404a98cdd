"""GIF / MP4 assembly, frame ordering, reversal, ping-pong, and `nd gif`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import save_image
from neuralgae.core.media.movie import (
    frame_order,
    list_frames,
    natural_key,
    played_fps,
    read_animation,
    write_animation,
)
from neuralgae_cli.gif import register

SIDE = 32
STEP = 50  # marker brightness per frame index: far apart enough to survive palettes and H.264


def marked_frame(index: int, rng: np.random.Generator, *, side: int = SIDE) -> np.ndarray:
    """A noisy frame whose centre 8x8 block has grey level ``index * STEP``: the frame's marker."""
    frame = rng.uniform(0.0, 1.0, (side, side, 3)).astype(np.float32)
    c = side // 2
    frame[c - 4 : c + 4, c - 4 : c + 4] = index * STEP / 255.0
    return frame


def marker(frame: np.ndarray) -> int:
    """The frame index read back from the marker block (median resists dithering and compression)."""
    c = frame.shape[0] // 2
    return int(round(float(np.median(frame[c - 2 : c + 2, c - 2 : c + 2])) / STEP))


def frames_folder(folder: Path, count: int, rng: np.random.Generator, *, name="frame_{i}.png") -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [save_image(folder / name.format(i=i), marked_frame(i, rng)) for i in range(count)]


def markers_of(path: Path) -> list[int]:
    return [marker(f) for f in read_animation(path)]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- ordering


def test_natural_key_orders_numbers_by_value():
    names = ["frame_10.png", "frame_2.png", "frame_001.png", "frame_0.png", "frame_11.png", "frame_03.png"]
    assert sorted(names, key=natural_key) == [
        "frame_0.png", "frame_001.png", "frame_2.png", "frame_03.png", "frame_10.png", "frame_11.png",
    ]


@pytest.mark.parametrize(
    ("reverse", "pingpong", "expected"),
    [
        (False, False, [0, 1, 2, 3, 4]),
        (True, False, [4, 3, 2, 1, 0]),
        (False, True, [0, 1, 2, 3, 4, 3, 2, 1]),
        (True, True, [4, 3, 2, 1, 0, 1, 2, 3]),
    ],
)
def test_frame_order(reverse, pingpong, expected):
    assert frame_order(5, reverse=reverse, pingpong=pingpong) == expected


def test_pingpong_of_one_or_two_frames_repeats_nothing():
    assert frame_order(1, pingpong=True) == [0]
    assert frame_order(2, pingpong=True) == [0, 1]


def test_list_frames_natural_order_ignoring_hidden_partial_and_other_files(tmp_path, rng):
    for i in (10, 2, 1, 0, 11):
        save_image(tmp_path / f"frame_{i}.png", marked_frame(0, rng))
    save_image(tmp_path / ".frame_5.png", marked_frame(0, rng))
    (tmp_path / "frame_6.png.part").write_bytes(b"half a png")
    (tmp_path / ".frame_7.png.x1y2.part").write_bytes(b"half a png")
    (tmp_path / "manifest.jsonl").write_text("{}\n")
    (tmp_path / "sub").mkdir()
    names = [p.name for p in list_frames(tmp_path)]
    assert names == ["frame_0.png", "frame_1.png", "frame_2.png", "frame_10.png", "frame_11.png"]


def test_list_frames_mixes_padded_and_unpadded_names(tmp_path, rng):
    for name in ("f_010.png", "f_9.png", "f_0100.png", "f_11.png"):
        save_image(tmp_path / name, marked_frame(0, rng))
    assert [p.name for p in list_frames(tmp_path)] == ["f_9.png", "f_010.png", "f_11.png", "f_0100.png"]


def test_list_frames_errors(tmp_path, rng):
    with pytest.raises(NeuralgaeError, match="does not exist"):
        list_frames(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".hidden.png").write_bytes(b"")
    with pytest.raises(NeuralgaeError, match="no image frames"):
        list_frames(tmp_path / "empty")


def test_list_frames_mismatched_sizes_names_both_files(tmp_path, rng):
    save_image(tmp_path / "a_1.png", marked_frame(0, rng))
    save_image(tmp_path / "a_2.png", marked_frame(0, rng))
    save_image(tmp_path / "a_3.png", marked_frame(0, rng, side=40))
    with pytest.raises(NeuralgaeError) as info:
        list_frames(tmp_path)
    message = str(info.value)
    assert "'a_1.png' is 32x32" in message and "'a_3.png' is 40x40" in message


# --------------------------------------------------------------------------- GIF


def test_gif_has_frames_in_order_and_loops_forever(tmp_path, rng):
    frames = frames_folder(tmp_path / "frames", 5, rng)
    out = write_animation(list_frames(tmp_path / "frames"), tmp_path / "out.gif", fps=10)
    assert out == tmp_path / "out.gif"
    assert markers_of(out) == [0, 1, 2, 3, 4]
    with Image.open(out) as im:
        assert im.n_frames == len(frames)
        assert im.info["loop"] == 0
        assert im.info["duration"] == 100
    anim = read_animation(out)
    assert anim.fps == pytest.approx(10.0) and anim.loop == 0 and anim.frame_count == 5
    assert anim.size == (SIDE, SIDE)
    assert leftovers(tmp_path) == ["frames", "out.gif"]


def test_gif_colours_stay_close_to_the_frames(tmp_path, rng):
    frame = marked_frame(3, rng)
    out = write_animation([frame, marked_frame(1, rng)], tmp_path / "out.gif")
    first = next(iter(read_animation(out))).astype(np.float32) / 255.0
    # dithered palette image of random noise: each pixel may be off, the local average not much
    blur = lambda a: a.reshape(8, 4, 8, 4, 3).mean(axis=(1, 3))  # noqa: E731
    assert np.abs(blur(first) - blur(frame)).mean() < 0.05


@pytest.mark.parametrize(("loop", "stored"), [(0, 0), (3, 2)])
def test_gif_loop_counts_plays(tmp_path, rng, loop, stored):
    out = write_animation([marked_frame(i, rng) for i in range(2)], tmp_path / "o.gif", loop=loop)
    with Image.open(out) as im:
        assert im.info["loop"] == stored
    assert read_animation(out).loop == loop


def test_gif_played_once_has_no_loop_extension(tmp_path, rng):
    out = write_animation([marked_frame(i, rng) for i in range(2)], tmp_path / "o.gif", loop=1)
    with Image.open(out) as im:
        assert "loop" not in im.info


@pytest.mark.parametrize(
    ("reverse", "pingpong", "expected"),
    [(True, False, [4, 3, 2, 1, 0]), (False, True, [0, 1, 2, 3, 4, 3, 2, 1]), (True, True, [4, 3, 2, 1, 0, 1, 2, 3])],
)
def test_gif_reverse_and_pingpong(tmp_path, rng, reverse, pingpong, expected):
    frames = [marked_frame(i, rng) for i in range(5)]
    out = write_animation(frames, tmp_path / "o.gif", reverse=reverse, pingpong=pingpong)
    assert markers_of(out) == expected


def test_reversing_an_existing_gif_keeps_its_rate(tmp_path, rng):
    src = write_animation([marked_frame(i, rng) for i in range(4)], tmp_path / "in.gif", fps=20)
    anim = read_animation(src)
    out = write_animation(anim, tmp_path / "back.gif", fps=anim.fps, reverse=True)
    assert markers_of(out) == [3, 2, 1, 0]
    assert read_animation(out).fps == pytest.approx(20.0)


def test_gif_fps_rounds_to_hundredths():
    assert played_fps(12, ".gif") == pytest.approx(12.5)
    assert played_fps(12, ".mp4") == 12


def test_iterator_of_frames_is_streamed(tmp_path, rng):
    frames = (marked_frame(i, rng) for i in range(3))
    assert markers_of(write_animation(frames, tmp_path / "o.gif")) == [0, 1, 2]


# --------------------------------------------------------------------------- MP4


def test_mp4_frame_count_fps_and_order(tmp_path, rng):
    frames = frames_folder(tmp_path / "frames", 5, rng)
    out = write_animation(frames, tmp_path / "out.mp4", fps=15, pingpong=True)
    anim = read_animation(out)
    assert anim.fps == pytest.approx(15.0)
    decoded = list(anim)
    assert len(decoded) == 8
    assert [marker(f) for f in decoded] == [0, 1, 2, 3, 4, 3, 2, 1]
    assert leftovers(tmp_path) == ["frames", "out.mp4"]


def test_mp4_pads_odd_sizes_to_even(tmp_path, rng):
    frames = [rng.uniform(0, 1, (31, 33, 3)).astype(np.float32) for _ in range(2)]
    out = write_animation(frames, tmp_path / "odd.mp4", fps=5)
    anim = read_animation(out)
    assert anim.size == (34, 32)
    assert len(list(anim)) == 2


def test_gif_to_reversed_mp4(tmp_path, rng):
    src = write_animation([marked_frame(i, rng) for i in range(4)], tmp_path / "in.gif", fps=10)
    out = write_animation(read_animation(src), tmp_path / "out.mp4", fps=10, reverse=True)
    assert markers_of(out) == [3, 2, 1, 0]


# --------------------------------------------------------------------------- write errors


def test_unknown_suffix_lists_supported_ones(tmp_path, rng):
    with pytest.raises(NeuralgaeError, match=r"\.gif, \.mp4, \.webm"):
        write_animation([marked_frame(0, rng)], tmp_path / "out.avi")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_mismatched_arrays_leave_nothing_behind(tmp_path, rng, suffix):
    frames = [marked_frame(0, rng), marked_frame(1, rng, side=40)]
    with pytest.raises(NeuralgaeError, match="frame 0 is 32x32 but frame 1 is 40x40"):
        write_animation(frames, tmp_path / f"out{suffix}")
    assert leftovers(tmp_path) == []


def test_no_frames_and_bad_options(tmp_path, rng):
    with pytest.raises(NeuralgaeError, match="no frames"):
        write_animation([], tmp_path / "out.gif")
    with pytest.raises(NeuralgaeError, match="fps"):
        write_animation([marked_frame(0, rng)], tmp_path / "out.gif", fps=0)
    with pytest.raises(NeuralgaeError, match="50 fps"):
        write_animation([marked_frame(0, rng)], tmp_path / "out.gif", fps=60)
    with pytest.raises(NeuralgaeError, match="loop"):
        write_animation([marked_frame(0, rng)], tmp_path / "out.gif", loop=-1)
    assert leftovers(tmp_path) == []


def test_existing_output_survives_a_failed_write(tmp_path, rng):
    out = write_animation([marked_frame(i, rng) for i in range(2)], tmp_path / "o.gif")
    before = out.read_bytes()
    with pytest.raises(NeuralgaeError):
        write_animation([marked_frame(0, rng), marked_frame(0, rng, side=40)], out)
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == ["o.gif"]


def test_progress_reports_every_frame(tmp_path, rng):
    calls = []
    write_animation([marked_frame(i, rng) for i in range(3)], tmp_path / "o.gif", pingpong=True,
                    progress=lambda done, total, message="": calls.append((done, total)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_read_animation_errors(tmp_path):
    with pytest.raises(NeuralgaeError, match="does not exist"):
        read_animation(tmp_path / "missing.gif")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(NeuralgaeError, match="unknown type"):
        read_animation(tmp_path / "notes.txt")
    (tmp_path / "broken.gif").write_bytes(b"GIF89a not really")
    with pytest.raises(NeuralgaeError, match="cannot read GIF"):
        read_animation(tmp_path / "broken.gif")


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def invoke():
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep `gif` as a named subcommand
        pass

    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_cli_folder_to_gif(tmp_path, rng, invoke):
    frames_folder(tmp_path / "frames", 3, rng)
    out = tmp_path / "out.gif"
    result = invoke("gif", tmp_path / "frames", "-o", out, "--fps", 10, "--pingpong")
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert "4 frames at 10 fps" in result.output and "32x32" in result.output
    assert markers_of(out) == [0, 1, 2, 1]


def test_cli_reverses_an_existing_gif_keeping_its_fps(tmp_path, rng, invoke):
    src = write_animation([marked_frame(i, rng) for i in range(4)], tmp_path / "in.gif", fps=20)
    out = tmp_path / "out.gif"
    result = invoke("gif", src, "--reverse", "-o", out)
    assert result.exit_code == 0, result.output
    assert markers_of(out) == [3, 2, 1, 0]
    assert read_animation(out).fps == pytest.approx(20.0)
    assert "20 fps" in result.output


def test_cli_gif_to_mp4(tmp_path, rng, invoke):
    src = write_animation([marked_frame(i, rng) for i in range(3)], tmp_path / "in.gif", fps=10)
    result = invoke("gif", src, "-o", tmp_path / "out.mp4")
    assert result.exit_code == 0, result.output
    assert markers_of(tmp_path / "out.mp4") == [0, 1, 2]


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_cli_missing_folder(tmp_path, invoke):
    line = one_error_line(invoke("gif", tmp_path / "nope", "-o", tmp_path / "out.gif"))
    assert "does not exist" in line
    assert leftovers(tmp_path) == []


def test_cli_empty_folder(tmp_path, invoke):
    (tmp_path / "frames").mkdir()
    line = one_error_line(invoke("gif", tmp_path / "frames", "-o", tmp_path / "out.gif"))
    assert "no image frames" in line
    assert leftovers(tmp_path) == ["frames"]


def test_cli_bad_suffix(tmp_path, rng, invoke):
    frames_folder(tmp_path / "frames", 2, rng)
    line = one_error_line(invoke("gif", tmp_path / "frames", "-o", tmp_path / "out.avi"))
    assert ".gif, .mp4, .webm" in line
    assert leftovers(tmp_path) == ["frames"]


def test_cli_mismatched_frames_leave_no_output(tmp_path, rng, invoke):
    frames_folder(tmp_path / "frames", 2, rng)
    save_image(tmp_path / "frames" / "frame_9.png", marked_frame(0, rng, side=40))
    line = one_error_line(invoke("gif", tmp_path / "frames", "-o", tmp_path / "out.mp4"))
    assert "frame_0.png" in line and "frame_9.png" in line
    assert leftovers(tmp_path) == ["frames"]


def test_written_file_is_readable_by_others_like_any_new_file(tmp_path, rng):
    out = write_animation([marked_frame(0, rng)], tmp_path / "o.gif")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_webm_round_trip(tmp_path, rng):
    out = write_animation([marked_frame(i, rng) for i in range(3)], tmp_path / "o.webm", fps=8, reverse=True)
    assert markers_of(out) == [2, 1, 0]
    assert read_animation(out).fps == pytest.approx(8.0)


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_interrupted_write_leaves_nothing(tmp_path, rng, suffix):
    def interrupt(done, total, message=""):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_animation([marked_frame(i, rng) for i in range(4)], tmp_path / f"o{suffix}", progress=interrupt)
    assert leftovers(tmp_path) == []
