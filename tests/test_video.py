"""Dreaming a video: sources (file, folder), streaming, audio, the pipeline with coherence, resume, the CLI, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.flow import frame_motion, warp_error
from neuralgae.core.media.images import load_image, save_image
from neuralgae.core.media.movie import write_animation
from neuralgae.core.runs.pipeline import run_spec
from neuralgae.core.runs.runfolder import MANIFEST
from neuralgae.core.runs.spec import load_spec
from neuralgae.core.media.video import iter_frames, open_video, write_video
from test_plugins_fakes import StopAfter, fake_host

FRAMES, SIDE, SPEED, FPS = 6, 48, 3, 8.0


def shape_clip(count: int = FRAMES, side: int = SIDE, speed: int = SPEED, seed: int = 5) -> list[np.ndarray]:
    """A textured square crossing a still, textured background by ``speed`` pixels a frame."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    background = gaussian_filter(rng.random((side, side, 3)), (3, 3, 0)).astype(np.float32)
    background = 0.2 + 0.6 * (background - background.min()) / np.ptp(background)
    square = gaussian_filter(rng.random((18, 18, 3)), (1, 1, 0)).astype(np.float32)
    square = 0.5 + 0.5 * (square - square.min()) / np.ptp(square)
    frames = []
    for k in range(count):
        frame = background.copy()
        x = 4 + speed * k
        frame[14:32, x : x + 18] = square
        frames.append(frame)
    return frames


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    """The shape clip as a folder of PNGs, named so that only a natural sort orders them right."""
    folder = tmp_path_factory.mktemp("clip_frames")
    for k, frame in enumerate(shape_clip()):
        save_image(folder / f"f{k}.png", frame)
    return folder


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory) -> Path:
    """The shape clip as an MP4 at 8 fps with a 440 Hz tone as its audio track."""
    folder = tmp_path_factory.mktemp("clip_mp4")
    silent = write_animation(shape_clip(), folder / "silent.mp4", fps=FPS)
    out = folder / "clip.mp4"
    subprocess.run(
        [ffmpeg(), "-y", "-v", "error", "-i", str(silent), "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
         "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-shortest", str(out)],
        check=True,
    )
    return out


def video_spec(tmp_path: Path, host, source: Path, *, coherence: float = 0.8, extra: str = "", renderer: str = "", out="out", network="tiny"):
    text = (
        f'network = "{network}"\nseed = 3\n{extra}\n[source]\nvideo = "{source}"\ncoherence = {coherence}\n'
        f'[renderer]\nname = "dream"\n{renderer}\n[output]\nmp4 = true\n'
    )
    path = tmp_path / "video.toml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path, host=host, out=tmp_path / out)


# -- sources ------------------------------------------------------------------------


def test_a_video_file_is_probed_for_count_rate_size_and_audio(clip_mp4):
    info = open_video(clip_mp4)
    assert (info.frame_count, info.fps, info.size, info.has_audio) == (FRAMES, FPS, (SIDE, SIDE), True)
    silent = open_video(clip_mp4.with_name("silent.mp4"))
    assert silent.has_audio is False and silent.frame_count == FRAMES


def test_a_folder_is_read_in_natural_order(tmp_path):
    frames = shape_clip(count=12, speed=2)
    for k, frame in enumerate(frames):
        save_image(tmp_path / f"f{k}.png", frame)  # f10 sorts before f2 as text
    info = open_video(tmp_path)
    assert info.frame_count == 12 and info.fps is None and info.is_folder
    got = [frame for _, frame in iter_frames(info)]
    for k in (2, 10, 11):
        np.testing.assert_allclose(got[k], frames[k], atol=1 / 255)


def test_frames_stream_from_any_start_and_resize(clip_mp4, clip_dir):
    for source in (clip_mp4, clip_dir):
        info = open_video(source)
        got = list(iter_frames(info, start=4, size=(32, 24)))
        assert [i for i, _ in got] == [4, 5]
        assert got[0][1].shape == (24, 32, 3) and got[0][1].dtype == np.float32
    decoded = dict(iter_frames(open_video(clip_mp4)))
    assert np.abs(decoded[5] - shape_clip()[5]).mean() < 0.02  # H.264 is lossy, but the frame is there


def test_write_video_keeps_count_rate_and_audio(clip_mp4, tmp_path):
    frames = (frame for _, frame in iter_frames(open_video(clip_mp4)))
    out = write_video(frames, tmp_path / "copy.mp4", fps=FPS, audio_from=clip_mp4)
    info = open_video(out)
    assert (info.frame_count, info.fps, info.size, info.has_audio) == (FRAMES, FPS, (SIDE, SIDE), True)
    assert [p.name for p in tmp_path.iterdir()] == ["copy.mp4"]  # no temporaries left


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: _write(d / "bad.mp4", "not a video"), "cannot read video"),
        (lambda d: _write(d / "notes.txt", "hello"), "unknown type '.txt'"),
        (lambda d: _mkdir(d / "empty"), "no image frames"),
    ],
)
def test_bad_sources_get_one_clear_message(tmp_path, make, message):
    with pytest.raises(NeuralgaeError, match=message):
        open_video(make(tmp_path))


def test_a_folder_with_an_odd_sized_frame_names_it_and_both_sizes(tmp_path):
    for k, frame in enumerate(shape_clip(count=3)):
        save_image(tmp_path / f"frame_{k}.png", frame)
    save_image(tmp_path / "frame_3.png", np.zeros((40, 48, 3), np.float32))
    with pytest.raises(NeuralgaeError) as info:
        open_video(tmp_path)
    message = str(info.value)
    assert "'frame_3.png' is 48x40" in message and "48x48" in message and "\n" not in message


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


# -- the spec ----------------------------------------------------------------------


def test_spec_takes_count_and_rate_from_the_video(tmp_path, clip_mp4):
    host = fake_host()
    spec = video_spec(tmp_path, host, clip_mp4)
    assert spec.frames == FRAMES and spec.output.fps == FPS and spec.source.coherence == 0.8
    capped = video_spec(tmp_path, host, clip_mp4, extra="frames = 3")
    assert capped.frames == 3
    longer = video_spec(tmp_path, host, clip_mp4, extra="frames = 99")
    assert longer.frames == FRAMES


@pytest.mark.parametrize(
    "text, message",
    [
        ('[source]\ncoherence = 0.5\n', "source.coherence applies only to a video"),
        ('[source]\nvideo = "VIDEO"\ncoherence = 1.5\n', "source.coherence must be from 0"),
        ('[source]\nvideo = "VIDEO"\nsample = "chelsea"\n', "choose one of image, sample or noise (or video)"),
        ('[source]\nvideo = "nowhere.mp4"\n', "source.video 'nowhere.mp4' does not exist"),
        ('[source]\nvideo = "VIDEO"\n[[transforms]]\nname = "zoom"\n', "transforms cannot be used with source.video"),
    ],
)
def test_spec_errors_name_the_video_keys(tmp_path, clip_mp4, text, message):
    path = tmp_path / "bad.toml"
    path.write_text('network = "tiny"\n' + text.replace("VIDEO", str(clip_mp4)) + '[renderer]\nname = "dream"\n')
    with pytest.raises(NeuralgaeError) as info:
        load_spec(path, host=fake_host(), out=tmp_path / "o")
    assert message in str(info.value)


# -- the pipeline ------------------------------------------------------------------


def test_a_video_run_keeps_count_rate_size_and_audio(tmp_path, clip_mp4):
    host = fake_host()
    run = run_spec(video_spec(tmp_path, host, clip_mp4), host=host)
    assert len(run.entries) == FRAMES
    assert [e["source_frame"] for e in run.entries] == list(range(FRAMES))
    assert all("warp_error" in e for e in run.entries[1:])
    assert load_image(run.frame_paths[0]).shape == (SIDE, SIDE, 3)
    info = open_video(run.outputs[0])
    assert (info.frame_count, info.fps, info.size, info.has_audio) == (FRAMES, FPS, (SIDE, SIDE), True)
    assert run.records[-1].image is not None and run.records[0].image is None  # one frame held, not all


def test_each_frame_starts_from_its_own_video_frame_when_coherence_is_off(tmp_path, clip_dir):
    host = fake_host()
    run = run_spec(video_spec(tmp_path, host, clip_dir, coherence=0, renderer="steps = 0"), host=host)
    for k, frame in enumerate(shape_clip()):  # steps = 0: the fake dream returns its input
        np.testing.assert_allclose(load_image(run.frame_paths[k]), frame, atol=1 / 255)
    assert "warp_error" not in run.entries[1]


def test_a_folder_run_writes_its_mp4_at_the_default_rate_without_audio(tmp_path, clip_dir):
    host = fake_host()
    run = run_spec(video_spec(tmp_path, host, clip_dir), host=host)
    info = open_video(run.outputs[0])
    assert (info.frame_count, info.fps, info.has_audio) == (FRAMES, 12.0, False)


@pytest.mark.parametrize("source", ["mp4", "folder"])
def test_resume_gives_the_same_frames(tmp_path, clip_mp4, clip_dir, source):
    video = clip_mp4 if source == "mp4" else clip_dir
    host = fake_host()
    whole = run_spec(video_spec(tmp_path, host, video, out="whole"), host=host)
    stopping = fake_host(StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        run_spec(video_spec(tmp_path, stopping, video, out="cut"), host=stopping)
    assert len((tmp_path / "cut" / MANIFEST).read_text().splitlines()) == 3
    resumed = run_spec(video_spec(tmp_path, host, video, out="cut"), host=host, resume=True)
    assert resumed.start == 3 and resumed.resumed
    for a, b in zip(whole.frame_paths, resumed.frame_paths, strict=True):
        assert a.read_bytes() == b.read_bytes()


def test_resume_refuses_a_changed_coherence(tmp_path, clip_dir):
    host = fake_host()
    run_spec(video_spec(tmp_path, host, clip_dir, extra="frames = 2"), host=host)
    with pytest.raises(NeuralgaeError, match="source.coherence"):
        run_spec(video_spec(tmp_path, host, clip_dir, coherence=0.5), host=host, resume=True)


# -- coherence with the real network -----------------------------------------------------


@pytest.fixture(scope="module")
def real_host():
    from neuralgae.core.host.plugins import PluginHost

    return PluginHost(entry_points=False)


def flicker(frame_paths, clip) -> float:
    """Mean warp error of consecutive outputs along the source clip's motion."""
    outs = [load_image(p) for p in frame_paths]
    errors = [warp_error(outs[k - 1], outs[k], frame_motion(clip[k], clip[k - 1])) for k in range(1, len(outs))]
    return float(np.mean(errors))


def test_coherence_cuts_the_flicker_of_a_real_dream(tmp_path, clip_dir, real_host):
    renderer = 'layers = "block4"\noctaves = 1\nsteps = 2\nstep_size = 0.04\njitter = 4'
    settings = dict(renderer=renderer, network="efficientnet-lite0", extra="frames = 4")
    plain = run_spec(video_spec(tmp_path, real_host, clip_dir, coherence=0, out="plain", **settings), host=real_host)
    coherent = run_spec(video_spec(tmp_path, real_host, clip_dir, coherence=0.8, out="coherent", **settings), host=real_host)
    clip = shape_clip()[:4]
    plain_error, coherent_error = flicker(plain.frame_paths, clip), flicker(coherent.frame_paths, clip)
    assert coherent_error < 0.75 * plain_error, (plain_error, coherent_error)
    # still a dream: the coherent frames differ from the source as much as the plain ones do
    detail = lambda run: np.mean([np.abs(load_image(p) - f).mean() for p, f in zip(run.frame_paths, clip)])
    assert detail(coherent) > 0.7 * detail(plain)


# -- the CLI ----------------------------------------------------------------------------


def cli():
    from neuralgae_cli.dream import register

    app = typer.Typer()
    register(app)
    return app


def test_nd_dream_on_a_video_keeps_count_rate_and_audio_and_resumes(tmp_path, clip_mp4):
    out = tmp_path / "dream.mp4"
    args = ["dream", str(clip_mp4), "-o", str(out), "--octaves", "1", "--steps", "1", "--layers", "block4", "--frames", "4"]
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 0, result.output
    info = open_video(out)
    assert (info.frame_count, info.fps, info.size, info.has_audio) == (4, FPS, (SIDE, SIDE), True)
    assert (tmp_path / "dream.frames" / MANIFEST).is_file()
    again = CliRunner().invoke(cli(), args)
    assert again.exit_code == 1 and "--resume" in again.output
    resumed = CliRunner().invoke(cli(), [*args, "--resume"])
    assert resumed.exit_code == 0 and "resumed after 4" in resumed.output


def test_nd_dream_on_a_folder_writes_a_folder(tmp_path, clip_dir):
    out = tmp_path / "frames_out"
    result = CliRunner().invoke(cli(), ["dream", str(clip_dir), "-o", str(out), "--octaves", "1", "--steps", "1",
                                        "--layers", "block4", "--coherence", "0", "--frames", "2"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.glob("*.png")) == ["frame_00000.png", "frame_00001.png"]
    entries = [json.loads(line) for line in (out / MANIFEST).read_text().splitlines()]
    assert [e["source_frame"] for e in entries] == [0, 1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["{bad}", "-o", "{out}.mp4"], "cannot read video"),
        (["{clip}", "-o", "{out}.txt"], "give a .mp4, .gif or .webm file"),
        (["{clip}", "-o", "{out}.mp4", "--coherence", "2"], "coherence"),
    ],
)
def test_nd_dream_video_errors_are_one_line(tmp_path, clip_mp4, args, message):
    bad = _write(tmp_path / "bad.mp4", "nope")
    args = [a.format(bad=bad, clip=clip_mp4, out=tmp_path / "o") for a in args]
    result = CliRunner().invoke(cli(), ["dream", *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


# -- more sources and runs ------------------------------------------------------------


def test_a_gif_is_a_video_source(tmp_path):
    gif = write_animation(shape_clip(count=4), tmp_path / "clip.gif", fps=10)
    info = open_video(gif)
    assert (info.frame_count, info.fps, info.size, info.has_audio) == (4, 10.0, (SIDE, SIDE), False)
    assert [i for i, _ in iter_frames(info, start=1)] == [1, 2, 3]


def test_a_video_run_reports_progress_with_time_left(tmp_path, clip_dir):
    host = fake_host()
    calls = []
    run_spec(video_spec(tmp_path, host, clip_dir), host=host, progress=lambda d, t, m="": calls.append((d, t, m)))
    assert (FRAMES, FRAMES) in [(d, t) for d, t, _ in calls]
    assert any("left" in m for _, _, m in calls)


def test_a_video_run_with_a_sampler_feeds_classes_forward(tmp_path, clip_dir):
    host = fake_host()
    path = tmp_path / "sampled.toml"
    path.write_text(f'network = "tiny"\nframes = 3\n[source]\nvideo = "{clip_dir}"\n[renderer]\nname = "dream"\n[sampler]\nname = "top"\n')
    run = run_spec(load_spec(path, host=host, out=tmp_path / "s"), host=host)
    assert len(run.entries[0]["classes"]) == 8  # frame 0: random classes
    assert run.entries[1]["seen"] is not None and len(run.entries[1]["classes"]) == 3


def test_a_scene_cut_starts_the_dream_afresh(tmp_path):
    frames = shape_clip(count=4)
    frames[3] = np.where(frames[2] < 0.5, frames[2] + 0.4, frames[2] - 0.4).astype(np.float32)  # nothing carries over
    folder = tmp_path / "cut"
    for k, frame in enumerate(frames):
        save_image(folder / f"{k}.png", frame)
    host = fake_host()
    plain = run_spec(video_spec(tmp_path, host, folder, coherence=0, out="plain"), host=host)
    coherent = run_spec(video_spec(tmp_path, host, folder, coherence=0.8, out="coherent"), host=host)
    assert coherent.frame_paths[3].read_bytes() != coherent.frame_paths[2].read_bytes()
    np.testing.assert_array_equal(load_image(coherent.frame_paths[3]), load_image(plain.frame_paths[3]))
    assert not np.array_equal(load_image(coherent.frame_paths[2]), load_image(plain.frame_paths[2]))


def test_odd_sized_frames_keep_their_size_and_count(tmp_path):
    folder = tmp_path / "odd"
    for k, frame in enumerate(shape_clip(count=3)):
        save_image(folder / f"{k}.png", frame[:45, :41])
    host = fake_host()
    run = run_spec(video_spec(tmp_path, host, folder), host=host)
    assert load_image(run.frame_paths[2]).shape == (45, 41, 3)
    info = open_video(run.outputs[0])
    assert info.frame_count == 3 and info.size == (42, 46)  # H.264 needs even sides: one repeated row and column
