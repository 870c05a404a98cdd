"""Dreams driven by music: decoding, features on generated signals, audio schedules, specs, the MP4's soundtrack."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

pytest.importorskip("librosa", reason="the audio features need librosa: pip install 'neuralgae[audio]'")

from neuralgae.core.media.audio import (  # noqa: E402
    SAMPLE_RATE,
    AudioFollow,
    analyse,
    frames_for,
    parse_audio_follow,
    read_audio,
    release,
    synthetic_beat,
    write_wav,
)
from neuralgae.core.host.errors import NeuralgaeError  # noqa: E402
from neuralgae.core.runs.pipeline import run_spec  # noqa: E402
from neuralgae.core.runs.runfolder import read_manifest
from neuralgae.core.host.plugins import PluginHost  # noqa: E402
from neuralgae.core.runs.spec import load_spec  # noqa: E402
from test_plugins_fakes import StopAfter, fake_host  # noqa: E402

FPS = 10.0


def clicks(times: list[float], seconds: float) -> np.ndarray:
    """Short 1 kHz clicks (5 ms attack-free bursts) at ``times``, silence elsewhere."""
    y = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    k = np.arange(400)
    click = (np.exp(-k / 60) * np.sin(2 * np.pi * 1000 * k / SAMPLE_RATE)).astype(np.float32)
    for t in times:
        i = int(t * SAMPLE_RATE)
        y[i : i + click.size] += click[: y.size - i]
    return y


def track_of(tmp_path: Path, samples: np.ndarray, name: str = "sound.wav"):
    return read_audio(write_wav(tmp_path / name, samples))


# -- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg", ".m4a"])
def test_ffmpeg_decodes_every_usual_format(tmp_path, suffix):
    wav = write_wav(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE))
    path = tmp_path / f"a{suffix}"
    if suffix != ".wav":
        import imageio_ffmpeg

        codec = {".flac": "flac", ".mp3": "libmp3lame", ".ogg": "libvorbis", ".m4a": "aac"}[suffix]
        done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(wav), "-c:a", codec, str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"this ffmpeg cannot encode {suffix}: {done.stderr.decode()[-200:]}")
    track = read_audio(path)
    assert track.duration == pytest.approx(1.0, abs=0.06)  # lossy codecs pad a little
    assert 0.3 < np.abs(track.samples).max() < 0.6


def test_unreadable_audio_is_one_clear_line(tmp_path):
    with pytest.raises(NeuralgaeError, match="audio file '.*nope.wav' does not exist"):
        read_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.mp3"
    bad.write_text("not sound")
    with pytest.raises(NeuralgaeError) as info:
        read_audio(bad)
    assert str(info.value).startswith(f"cannot read audio '{bad}': ffmpeg failed:") and "\n" not in str(info.value)


def test_frames_cover_the_audio():
    assert frames_for(4.0, 12) == 48 and frames_for(4.01, 12) == 49 and frames_for(0.01, 12) == 1


# -- features on generated signals ---------------------------------------------------------------


def test_clicks_at_known_times_give_beats_and_onsets_at_those_frames(tmp_path):
    expected = list(range(2, 50, 6))  # a click every 0.6 s (100 bpm), each in the middle of its frame
    y = clicks([(k + 0.5) / FPS for k in expected], seconds=5.2)
    signals = analyse(track_of(tmp_path, y), fps=FPS, frames=52)
    beat = signals.features["beat"]
    assert list(np.flatnonzero(beat)) == expected
    onset = signals.features["onset"]
    assert all(onset[k] > 0.5 for k in expected)
    assert np.median(np.delete(onset, expected)) < 0.05


def test_a_sine_sweep_moves_energy_from_bass_to_treble(tmp_path):
    seconds = 4.0
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    freq = 40 * (9000 / 40) ** (t / seconds)  # 40 Hz to 9 kHz, exponentially
    y = 0.5 * np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE)
    signals = analyse(track_of(tmp_path, y), fps=FPS, frames=40)
    bass, treble = signals.features["bass"], signals.features["treble"]
    assert bass[:8].mean() > 0.5 and bass[-12:].max() < 0.05
    assert treble[:20].max() < 0.05 and treble[-6:].mean() > 0.3
    assert np.argmax(bass) < 15 < np.argmax(treble)


def test_loudness_follows_the_level_in_decibels(tmp_path):
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    y = np.sin(2 * np.pi * 300 * t) * np.where(t < 1.0, 0.8, 0.08)  # 20 dB quieter after one second
    loud = analyse(track_of(tmp_path, y), fps=FPS, frames=20).features["loudness"]
    assert loud[1:8] == pytest.approx(1.0, abs=0.02)
    assert loud[12:19] == pytest.approx(1 - 20 / 48, abs=0.03)


def test_frames_past_the_sound_read_zero_and_values_do_not_depend_on_the_run_length(tmp_path):
    track = track_of(tmp_path, synthetic_beat(2.0)[0])
    short = analyse(track, fps=FPS, frames=8)
    long = analyse(track, fps=FPS, frames=30)
    for name, curve in long.features.items():
        np.testing.assert_array_equal(curve[:8], short.features[name])
        assert not curve[20:].any()


# -- parameters that follow the music ----------------------------------------------------------------


def test_an_audio_schedule_maps_the_feature_between_min_and_max():
    from neuralgae.core.runs.schedule import FrameSignals

    signals = FrameSignals({"beat": np.array([0, 1, 0, 0, 0, 1], np.float32)}, fps=10.0, duration=0.6)
    raw = AudioFollow("beat", 0.01, 0.05)
    assert [raw.at(i, signals) for i in range(6)] == pytest.approx([0.01, 0.05, 0.01, 0.01, 0.01, 0.05])
    eased = AudioFollow("beat", 0.0, 1.0, smooth=0.2)  # falls by exp(-1/2) a frame after each beat
    assert [eased.at(i, signals) for i in range(4)] == pytest.approx([0, 1, np.exp(-0.5), np.exp(-1.0)])
    whole = AudioFollow("beat", 2, 10, whole=True)
    assert whole.at(1, signals) == 10 and isinstance(whole.at(0, signals), int)
    assert raw.at(99, signals) == 0.01  # past the end: silence
    assert release(np.array([0.0, 1.0, 0.2]), fps=10, seconds=0) == pytest.approx([0.0, 1.0, 0.2])
    with pytest.raises(NeuralgaeError, match="has no \\[audio\\]"):
        raw.at(0, None)


@pytest.mark.parametrize(
    "table, message",
    [
        ({"audio": "beats", "min": 0, "max": 1}, "audio must be one of 'onset', 'beat', 'loudness', 'bass', 'treble'; got 'beats'; did you mean 'beat'"),
        ({"audio": "beat", "max": 1}, "an audio schedule needs min and max"),
        ({"audio": "beat", "min": 0, "max": "big"}, "audio schedule max must be a number; got 'big'"),
        ({"audio": "beat", "min": 0, "max": 1, "smooth": -1}, "audio schedule smooth must be a number of seconds >= 0"),
        ({"audio": "beat", "min": 0, "max": 1, "smoth": 1}, "unknown key 'smoth' in its audio schedule; did you mean 'smooth'?"),
    ],
)
def test_bad_audio_schedules_are_one_clear_line(table, message):
    with pytest.raises(NeuralgaeError) as info:
        parse_audio_follow(table, kind=float, label="p")
    assert message in str(info.value) and "\n" not in str(info.value)


SPEC = """\
network = "tiny"
seed = 2

[source]
noise = "40x32"

[renderer]
name = "dream"
step_size = { audio = "loudness", min = 0.01, max = 0.04 }

[[transforms]]
name = "zoom"
scale = { audio = "beat", min = 0.0, max = 0.2, smooth = 0.2 }

[audio]
file = "beat.wav"

[output]
fps = 10
mp4 = true
"""


@pytest.fixture
def beat_spec(tmp_path):
    samples, beats = synthetic_beat(2.0, bpm=120)
    write_wav(tmp_path / "beat.wav", samples)
    path = tmp_path / "spec.toml"
    path.write_text(SPEC, encoding="utf-8")
    return path, beats


def test_the_run_lasts_as_long_as_the_audio_and_records_what_it_heard(tmp_path, beat_spec):
    path, beats = beat_spec
    host = fake_host()
    spec = load_spec(path, host=host, out=tmp_path / "out")
    assert spec.frames == 20  # 2 s at 10 fps
    assert load_spec(path, host=host, frames=5, out=tmp_path / "x").frames == 5
    run = run_spec(spec, host=host)
    entries = read_manifest(run.dir)
    beat_frames = [e["index"] for e in entries if e["audio"]["beat"] == 1.0]
    assert beat_frames == [int(b * 10) for b in beats]
    for e in entries[1:]:
        if e["audio"]["beat"] == 1.0:
            assert e["transforms"][0]["scale"] == pytest.approx(0.2)  # the zoom jumps on the beat
        assert 0.01 <= e["renderer"]["step_size"] <= 0.04
        assert e["renderer"]["step_size"] == pytest.approx(0.01 + 0.03 * e["audio"]["loudness"], abs=1e-3)
    assert 'scale = {audio = "beat", min = 0.0, max = 0.2, smooth = 0.2}' in (run.dir / "spec.toml").read_text()


def mp4_streams(path: Path) -> str:
    import imageio_ffmpeg

    done = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return done.stderr


def first_sound(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    return float(np.flatnonzero(np.abs(samples) > 0.2)[0]) / sample_rate


def test_the_mp4_carries_the_audio_in_sync(tmp_path):
    y = clicks([0.45, 1.05, 1.65], seconds=2.0)
    write_wav(tmp_path / "beat.wav", y)
    path = tmp_path / "spec.toml"
    path.write_text(SPEC, encoding="utf-8")
    host = fake_host()
    run = run_spec(load_spec(path, host=host, frames=15, out=tmp_path / "out"), host=host)
    mp4 = run.dir / "spec.mp4"
    streams = mp4_streams(mp4)
    assert "Video: h264" in streams and "Audio: aac" in streams
    sound = read_audio(mp4)
    assert sound.duration == pytest.approx(15 / 10, abs=0.03)  # cut to the frames: 15 at 10 fps
    assert first_sound(sound.samples) == pytest.approx(0.45, abs=0.01)  # frame i plays at i/fps with its sound


def test_nd_gif_keeps_the_runs_audio_in_an_mp4(tmp_path, beat_spec):
    path, _ = beat_spec
    host = fake_host()
    run = run_spec(load_spec(path, host=host, frames=8, overrides=["output.mp4=false"], out=tmp_path / "out"), host=host)
    from neuralgae_cli.gif import register

    app = typer.Typer()
    register(app)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["gif", str(run.dir), "-o", str(tmp_path / "a.mp4")])
    assert result.exit_code == 0, result.output
    assert "with the run's audio, beat.wav" in result.output and "8 frames at 10 fps" in result.output
    assert "Audio: aac" in mp4_streams(tmp_path / "a.mp4")
    assert read_audio(tmp_path / "a.mp4").duration == pytest.approx(0.8, abs=0.03)
    result = CliRunner().invoke(app, ["gif", str(run.dir), "-o", str(tmp_path / "b.mp4"), "--reverse"])
    assert result.exit_code == 0 and "audio left out" in result.output
    assert "Audio:" not in mp4_streams(tmp_path / "b.mp4")


def test_resume_of_a_music_run_gives_identical_frames(tmp_path, beat_spec):
    path, _ = beat_spec
    host = fake_host()
    clean = run_spec(load_spec(path, host=host, frames=8, overrides=["output.mp4=false"], out=tmp_path / "clean"), host=host)
    killer = fake_host(StopAfter(3))
    with pytest.raises(KeyboardInterrupt):
        run_spec(load_spec(path, host=killer, frames=8, overrides=["output.mp4=false"], out=tmp_path / "re"), host=killer)
    resumed = run_spec(load_spec(path, host=host, frames=8, overrides=["output.mp4=false"], out=tmp_path / "re"), host=host, resume=True)
    assert resumed.start == 4
    for e in read_manifest(clean.dir):
        assert (resumed.dir / e["file"]).read_bytes() == (clean.dir / e["file"]).read_bytes()


def test_spec_errors_about_audio(tmp_path, beat_spec, monkeypatch):
    path, _ = beat_spec
    host = fake_host()
    no_audio = SPEC.split("[audio]")[0] + "[output]\nfps = 10\n"
    (tmp_path / "a.toml").write_text(no_audio)
    with pytest.raises(NeuralgaeError, match=r"a.toml: renderer.step_size follows the audio's 'loudness', but the spec has no \[audio\]"):
        load_spec(tmp_path / "a.toml", host=host)
    (tmp_path / "b.toml").write_text(SPEC.replace('file = "beat.wav"', 'file = "missing.mp3"'))
    with pytest.raises(NeuralgaeError, match=r"b.toml: audio.file 'missing.mp3' does not exist"):
        load_spec(tmp_path / "b.toml", host=host)
    (tmp_path / "c.toml").write_text(SPEC.replace('file = "beat.wav"', 'fil = "beat.wav"'))
    with pytest.raises(NeuralgaeError, match=r"c.toml: unknown key 'fil' in \[audio\]; did you mean 'file'\?"):
        load_spec(tmp_path / "c.toml", host=host)
    # --set audio.file is relative to the current folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_wav(elsewhere / "song.wav", synthetic_beat(1.0)[0])
    monkeypatch.chdir(elsewhere)
    spec = load_spec(path, host=host, overrides=["audio.file=song.wav"], out=tmp_path / "o")
    assert spec.audio.path == elsewhere / "song.wav" and spec.frames == 10


def test_the_built_in_music_spec_dances_to_its_own_beat(tmp_path):
    host = PluginHost(entry_points=False)
    spec = load_spec("music", host=host)
    assert spec.audio.path.name == "music-beat.flac" and spec.frames == 96  # 8 s at 12 fps
    scale = spec.transforms[0].params["scale"]
    assert isinstance(scale, AudioFollow) and scale.feature == "beat"
