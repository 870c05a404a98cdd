"""Dreams driven by music: an audio file decoded by ffmpeg, analysed per frame, parameters that follow it.

A spec's ``[audio]`` table names a sound file (WAV, MP3, FLAC, OGG, M4A, or
anything else the ffmpeg binary of ``imageio-ffmpeg`` decodes). The file is
decoded once to mono at :data:`SAMPLE_RATE` (:func:`read_audio`), and
:func:`analyse` turns it into one value in [0, 1] per video frame for each of
the :data:`FEATURES`, frame *i* covering the sound from *i/fps* to
*(i+1)/fps*:

``onset``
    onset strength (librosa's spectral flux): how sharply new sound starts,
    the frame's peak, over the track's peak.
``beat``
    1 on the frames where librosa's beat tracker places a beat (each beat
    moved to the nearest detected onset within 70 ms, so a drum hit and its
    frame agree; the grid moved half a beat when the tracker locked onto the
    off-beats; beats in silence dropped), 0 elsewhere.
``loudness``
    RMS level in decibels below the track's loudest moment, 0 dB -> 1 and
    :data:`LOUDNESS_RANGE_DB` below it -> 0.
``bass``, ``treble``
    spectral magnitude in :data:`BASS_HZ` and :data:`TREBLE_HZ`, over that
    band's own peak in the track.

A parameter follows one of them through an :class:`AudioFollow` schedule,
``{ audio = "beat", min = 0.01, max = 0.08, smooth = 0.25 }``: the value is
``min + (max - min) * feature``, where ``smooth`` (seconds) lets the feature
rise at once and fall back with that time constant (a beat becomes a jolt
that eases off). librosa is an optional dependency (``pip install
'neuralgae[audio]'``); a spec that needs it without it installed is refused
before any work starts.
"""

from __future__ import annotations

import math
import subprocess
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..host.errors import NeuralgaeError, did_you_mean
from .movie import DEFAULT_FPS
from ..runs.schedule import FrameSignals, Schedule

SAMPLE_RATE = 22050
"""Audio is analysed at this rate, mono (librosa's default; enough for 11 kHz of treble)."""

HOP = 512
"""Analysis hop in samples: about 43 feature values a second, several per video frame."""

N_FFT = 2048
FEATURES = ("onset", "beat", "loudness", "bass", "treble")
BASS_HZ = (20.0, 250.0)
TREBLE_HZ = (4000.0, SAMPLE_RATE / 2)
LOUDNESS_RANGE_DB = 48.0
BEAT_SNAP_SECONDS = 0.07
FOLLOW_KEYS = ("audio", "min", "max", "smooth")
INSTALL_HINT = "pip install 'neuralgae[audio]' (it installs librosa)"


# -- decoding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioTrack:
    """A decoded sound file: mono float32 ``samples`` at ``sample_rate``, ``duration`` in seconds."""

    path: Path
    duration: float
    sample_rate: int = SAMPLE_RATE
    samples: np.ndarray = field(default=None, compare=False, repr=False)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def read_audio(path: str | Path, *, sample_rate: int = SAMPLE_RATE) -> AudioTrack:
    """Decode an audio (or video) file to mono float32 with ffmpeg.

    Raises NeuralgaeError naming the file and ffmpeg's last word when it is
    missing, not sound, or silent of samples.
    """
    path = Path(path)
    if not path.is_file():
        raise NeuralgaeError(f"audio file '{path}' does not exist; give a WAV, MP3, FLAC, OGG or M4A file")
    command = [_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    done = subprocess.run(command, capture_output=True)
    if done.returncode != 0:
        from .movie import last_line

        reason = last_line(done.stderr.decode("utf-8", "replace"), f"exit status {done.returncode}")
        raise NeuralgaeError(f"cannot read audio '{path}': ffmpeg failed: {reason}; give a sound file ffmpeg can play")
    samples = np.frombuffer(done.stdout, dtype="<f4").astype(np.float32)
    if samples.size == 0:
        raise NeuralgaeError(f"audio '{path}' holds no sound (ffmpeg found no audio stream); give a file with an audio track")
    return AudioTrack(path, samples.size / sample_rate, sample_rate, samples)


def frames_for(duration: float, fps: float) -> int:
    """How many frames at ``fps`` cover ``duration`` seconds (at least 1)."""
    return max(1, math.ceil(duration * fps - 1e-9))


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono float samples in [-1, 1] as a 16-bit WAV file."""
    path = Path(path)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return path


def synthetic_beat(
    seconds: float = 8.0, *, bpm: float = 120.0, sample_rate: int = SAMPLE_RATE, sweep: bool = True
) -> tuple[np.ndarray, list[float]]:
    """A generated beat: a kick drum on every beat, a hi-hat between, and a bass line.

    Returns (samples, beat times in seconds). With ``sweep``, a soft tone
    glides from low to high over the whole piece, so the ``bass`` and
    ``treble`` features move too. Deterministic: no randomness but a seeded
    noise for the hi-hat.
    """
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n, np.float64)
    period = 60.0 / bpm
    beats = [float(b) for b in np.arange(0.25, seconds - 0.1, period)]
    kick_len = int(0.25 * sample_rate)
    k = np.arange(kick_len) / sample_rate
    kick = np.sin(2 * np.pi * (50 * k + 60 * (1 - np.exp(-k * 30)) / 30)) * np.exp(-k * 14)
    kick[: int(0.004 * sample_rate)] += 0.5  # the beater's click: a sharp attack the onset detector hears
    hat_len = int(0.05 * sample_rate)
    hat = np.random.default_rng(0).uniform(-1, 1, hat_len) * np.exp(-np.arange(hat_len) / (0.008 * sample_rate))
    hat = np.diff(hat, prepend=0.0)  # brighter: mostly treble
    for b in beats:
        i = int(b * sample_rate)
        out[i : i + kick_len] += 0.9 * kick[: n - i]
        j = int((b + period / 2) * sample_rate)
        if j < n:
            out[j : j + hat_len] += 0.04 * hat[: n - j]
    if sweep:
        freq = 80 * (6000 / 80) ** (t / seconds)
        out += 0.12 * np.sin(2 * np.pi * np.cumsum(freq) / sample_rate)
    return (out / max(1.0, np.abs(out).max())).astype(np.float32), beats


# -- analysis --------------------------------------------------------------------------------


def require_librosa():
    """The librosa module, or a NeuralgaeError saying how to install it."""
    try:
        import librosa
    except ImportError:
        raise NeuralgaeError(f"dreaming to music needs librosa, which is not installed; {INSTALL_HINT}") from None
    return librosa


def _per_frame(values: np.ndarray, times: np.ndarray, fps: float, frames: int, how) -> np.ndarray:
    """Feature values at analysis times -> one value per video frame (``how`` of those in its time span)."""
    out = np.zeros(frames, np.float64)
    edges = np.arange(frames + 1) / fps
    slots = np.searchsorted(times, edges)
    for i in range(frames):
        chunk = values[slots[i] : slots[i + 1]]
        out[i] = how(chunk) if chunk.size else np.interp((i + 0.5) / fps, times, values)
    return out


def _unit(values: np.ndarray) -> np.ndarray:
    peak = float(np.max(values)) if values.size else 0.0
    return np.clip(values / peak, 0.0, 1.0) if peak > 0 else np.zeros_like(values)


def analyse(track: AudioTrack, *, fps: float, frames: int) -> FrameSignals:
    """Every feature of :data:`FEATURES`, one value in [0, 1] per frame (frames past the sound read 0)."""
    librosa = require_librosa()
    y, sr = track.samples, track.sample_rate
    onset = librosa.onset.onset_strength(y=y, sr=sr, hop_length=HOP)
    times = librosa.times_like(onset, sr=sr, hop_length=HOP)
    audible = frames_for(track.duration, fps)  # the whole track, whatever ``frames``: values never depend on the run's length
    features = {
        "onset": _per_frame(_unit(onset), times, fps, audible, np.max),
        "beat": _beat_frames(librosa, onset, sr, fps, audible),
        "loudness": _loudness(librosa, y, sr, fps, audible),
    }
    spectrum = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    stimes = librosa.times_like(spectrum, sr=sr, hop_length=HOP)
    for name, (lo, hi) in (("bass", BASS_HZ), ("treble", TREBLE_HZ)):
        band = np.sqrt(np.sum(spectrum[(freqs >= lo) & (freqs <= hi)] ** 2, axis=0))
        features[name] = _unit(_per_frame(band, stimes, fps, audible, np.mean))
    fitted = {k: np.pad(v, (0, max(0, frames - audible)))[:frames].astype(np.float32) for k, v in features.items()}
    return FrameSignals(fitted, fps, track.duration)


def follows_audio(spec) -> list[tuple[str, str, AudioFollow]]:
    """(stage label, parameter, schedule) for every parameter of the spec that follows the audio."""
    stages = [("renderer", spec.renderer), *((f"transforms[{i}]", t) for i, t in enumerate(spec.transforms))]
    if spec.sampler is not None:
        stages.append(("sampler", spec.sampler))
    return [(where, k, v) for where, stage in stages for k, v in stage.params.items() if isinstance(v, AudioFollow)]


def spec_signals(spec) -> FrameSignals | None:
    """The per-frame features a run follows: None when no parameter follows its audio (or it has none)."""
    track = getattr(spec, "audio", None)
    if track is None or not follows_audio(spec):
        return None
    if track.samples is None:
        track = read_audio(track.path)
    return analyse(track, fps=spec.output.fps, frames=spec.frames)


def beat_times(librosa, onset: np.ndarray, sr: int) -> np.ndarray:
    """librosa's beats (seconds), each moved to the nearest detected onset within :data:`BEAT_SNAP_SECONDS`."""
    _, beats = librosa.beat.beat_track(onset_envelope=onset, sr=sr, hop_length=HOP, units="time", trim=False)
    onsets = librosa.onset.onset_detect(onset_envelope=onset, sr=sr, hop_length=HOP, units="time")
    times = librosa.times_like(onset, sr=sr, hop_length=HOP)
    beats = _snap(np.asarray(beats, float), onsets)
    if beats.size > 1:
        # On a few seconds of music the tracker can lock onto the off-beats (the hi-hat between two kicks):
        # take the grid half a beat later when the onsets there are clearly the stronger ones.
        half = float(np.median(np.diff(beats))) / 2
        later = _snap(beats[beats + half <= times[-1]] + half, onsets)
        if later.size and _strength(later, onset, times).mean() > 1.25 * _strength(beats, onset, times).mean():
            beats = later
    if not beats.size:
        return beats
    # The tracker continues its grid into silence (before the music starts, after it ends): drop beats
    # where nothing sounds, i.e. whose onset strength is under a fifth of the typical beat's.
    strength = _strength(beats, onset, times)
    return np.unique(beats[strength >= 0.2 * np.median(strength)])


def _snap(beats: np.ndarray, onsets: np.ndarray) -> np.ndarray:
    """Each beat moved to the nearest onset within :data:`BEAT_SNAP_SECONDS` (left alone when there is none)."""
    if not onsets.size or not beats.size:
        return beats
    nearest = onsets[np.abs(onsets[None, :] - beats[:, None]).argmin(axis=1)]
    return np.where(np.abs(nearest - beats) <= BEAT_SNAP_SECONDS, nearest, beats)


def _strength(beats: np.ndarray, onset: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The strongest onset within :data:`BEAT_SNAP_SECONDS` of each beat."""
    near = np.abs(times[None, :] - beats[:, None]) <= BEAT_SNAP_SECONDS
    return np.where(near, onset[None, :], 0.0).max(axis=1)


def _beat_frames(librosa, onset, sr, fps, frames) -> np.ndarray:
    out = np.zeros(frames, np.float64)
    for b in beat_times(librosa, onset, sr):
        i = int(math.floor(b * fps + 1e-6))
        if 0 <= i < frames:
            out[i] = 1.0
    return out


def _loudness(librosa, y, sr, fps, frames) -> np.ndarray:
    rms = librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP)[0]
    times = librosa.times_like(rms, sr=sr, hop_length=HOP)
    per = _per_frame(rms, times, fps, frames, lambda c: float(np.sqrt(np.mean(c**2))))
    peak = float(per.max()) if per.size else 0.0
    if peak <= 0:
        return np.zeros(frames)
    db = 20 * np.log10(np.maximum(per / peak, 1e-12))
    return np.clip(1 + db / LOUDNESS_RANGE_DB, 0.0, 1.0)


def release(curve: np.ndarray, *, fps: float, seconds: float) -> np.ndarray:
    """Rise at once, fall back exponentially with time constant ``seconds`` (0: the curve itself)."""
    if seconds <= 0:
        return np.asarray(curve, np.float64)
    keep = math.exp(-1.0 / (seconds * fps))
    out = np.empty(len(curve), np.float64)
    level = 0.0
    for i, v in enumerate(curve):
        level = max(float(v), level * keep)
        out[i] = level
    return out


# -- parameters that follow the music ------------------------------------------------------


@dataclass(frozen=True)
class AudioFollow(Schedule):
    """A parameter that follows a feature of the run's audio: ``min + (max - min) * feature`` on each frame."""

    feature: str
    low: float
    high: float
    smooth: float = 0.0
    whole: bool = False
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def curve(self, signals: FrameSignals) -> np.ndarray:
        """The feature's per-frame curve with ``smooth`` applied, computed once per run's signals."""
        cached = self._cache.get("signals")
        if cached is None or cached[0] is not signals:  # the signals are held, so their identity stays theirs
            self._cache["signals"] = (signals, release(signals.features[self.feature], fps=signals.fps, seconds=self.smooth))
        return self._cache["signals"][1]

    def value(self, frame: int, signals: FrameSignals | None) -> float:
        if signals is None:
            raise NeuralgaeError(f"a parameter follows the audio's '{self.feature}' but the run has no [audio]; add [audio] file = \"song.mp3\"")
        curve = self.curve(signals)
        level = float(curve[frame]) if 0 <= frame < len(curve) else 0.0
        return self.low + (self.high - self.low) * level

    def at(self, frame: int, signals: FrameSignals | None = None) -> float | int:
        value = self.value(frame, signals)
        return int(math.floor(value + 0.5)) if self.whole else float(value)

    def probe_values(self) -> list[float | int]:
        """``min`` and ``max``: every value lies between them."""
        ends = sorted({self.low, self.high})
        return [int(math.floor(v + 0.5)) if self.whole else float(v) for v in ends]

    def as_table(self) -> dict:
        fmt = (lambda v: int(v)) if self.whole else float
        return {"audio": self.feature, "min": fmt(self.low), "max": fmt(self.high), "smooth": float(self.smooth)}


def parse_audio_follow(table: Mapping, *, kind: type, label: str) -> AudioFollow:
    """Check ``{ audio = "beat", min = ..., max = ..., smooth = ... }``; ``label`` names the parameter in errors."""
    for key in table:
        if key not in FOLLOW_KEYS:
            hint = did_you_mean(str(key), FOLLOW_KEYS) or f" (an audio schedule takes: {', '.join(FOLLOW_KEYS)})"
            raise NeuralgaeError(f"{label}: unknown key '{key}' in its audio schedule{hint}")
    feature = table["audio"]
    if feature not in FEATURES:
        raise NeuralgaeError(
            f"{label}: audio must be one of {', '.join(map(repr, FEATURES))}; got {feature!r}{did_you_mean(str(feature), FEATURES)}"
        )
    whole = kind is int
    ends = []
    for key in ("min", "max"):
        if key not in table:
            raise NeuralgaeError(f"{label}: an audio schedule needs min and max (the values at silence and at the peak), e.g. {{ audio = \"{feature}\", min = 0.01, max = 0.05 }}")
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (whole and not float(value).is_integer()):
            raise NeuralgaeError(f"{label}: audio schedule {key} must be a {'whole number' if whole else 'number'}; got {value!r}")
        ends.append(float(value))
    smooth = table.get("smooth", 0.0)
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or not math.isfinite(smooth) or smooth < 0:
        raise NeuralgaeError(f"{label}: audio schedule smooth must be a number of seconds >= 0 (0.25 eases a beat off in a quarter second); got {smooth!r}")
    return AudioFollow(feature, ends[0], ends[1], float(smooth), whole)


# -- the sound of a finished run -------------------------------------------------------------


def run_soundtrack(folder: str | Path) -> tuple[Path, float] | None:
    """(audio file, fps) of the run in ``folder`` when its resolved spec has an [audio] file that still exists."""
    from ..runs.spec import read_toml

    spec_file = Path(folder) / "spec.toml"
    if not spec_file.is_file():
        return None
    try:
        data = read_toml(spec_file, origin=str(spec_file))
    except NeuralgaeError:
        return None
    audio = data.get("audio")
    output = data.get("output") if isinstance(data.get("output"), dict) else {}
    if not isinstance(audio, dict) or not isinstance(audio.get("file"), str):
        return None
    path = Path(audio["file"])
    fps = output.get("fps", DEFAULT_FPS)
    if not path.is_file() or isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0:
        return None
    return path, float(fps)
