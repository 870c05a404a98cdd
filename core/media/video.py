"""Videos and folders of frames as dream sources: probed once, streamed frame by frame, written back with audio.

* :func:`open_video` checks a video file (or GIF) or a folder of frames and
  returns a :class:`VideoSource`: frame count, frame rate, size, and whether
  there is an audio track. Unreadable files, empty sources and folders of
  mismatched frames give one clear :class:`NeuralgaeError`.
* :func:`iter_frames` yields the frames one at a time (float32 (H, W, 3) in
  [0, 1]) from any index, so memory never depends on the video's length.
* :func:`write_video` assembles frames into an MP4 (or GIF / WebM) at a given
  rate and, for MP4, copies the source's audio track in (re-encoded as AAC,
  cut to the video's length) with the ffmpeg binary of ``imageio-ffmpeg``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..host.components import ProgressCallback, no_progress
from ..host.errors import NeuralgaeError
from ..host.atomic import atomic_write
from .images import as_rgb_float, check_image_header, load_image, resize
from ..host.limits import max_frames
from .movie import (
    DEFAULT_FPS,
    READABLE_ANIMATIONS,
    ffmpeg_metadata,
    frame_files,
    image_size,
    last_line,
    list_frames,
    video_file_frames,
    write_animation,
)

DEFAULT_FOLDER_FPS = DEFAULT_FPS
"""Frame rate of a folder of frames (a folder does not say): the default of ``output.fps``."""


@dataclass(frozen=True)
class VideoSource:
    """A video file or folder of frames, probed: what the dream must keep.

    ``size`` is (width, height); ``fps`` is None for a folder; ``files``
    lists a folder's frames in natural order (empty for a video file).
    """

    path: Path
    frame_count: int
    size: tuple[int, int]
    fps: float | None
    has_audio: bool = False
    files: tuple[Path, ...] = ()

    @property
    def is_folder(self) -> bool:
        return bool(self.files)


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def check_length(path: Path, count: int, wanted: int | None = None) -> None:
    """Refuse a video whose frames a run would use number more than :func:`~neuralgae.core.host.limits.max_frames`.

    ``wanted`` is how many frames the run asks for (None: all of them); a run
    of the first few frames of a long video is fine.
    """
    limit = max_frames()
    used = count if wanted is None else min(count, wanted)
    if used > limit:
        raise NeuralgaeError(
            f"video '{path}' has {count:,} frames, more than the limit of {limit:,} frames per run; "
            f"dream only its first frames (frames = {limit} or fewer), or set ND_MAX_FRAMES to lift the limit"
        )


def _probe_file(path: Path, wanted: int | None) -> VideoSource:
    """A video file's metadata, with its exact frame count.

    Its size and its length (estimated from the header's duration and rate)
    are checked against the limits first; only then does ffmpeg decode the
    file once to count the frames exactly.
    """
    import imageio_ffmpeg

    meta = ffmpeg_metadata(path)
    size = tuple(meta["size"])
    check_image_header(path, size, "video")
    fps = float(meta.get("fps") or 0) or None
    duration = float(meta.get("duration") or 0)
    if fps and duration:
        check_length(path, int(round(fps * duration)), wanted)
    try:
        count, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (OSError, RuntimeError, ValueError) as exc:
        raise NeuralgaeError(f"cannot count the frames of video '{path}': {last_line(str(exc), type(exc).__name__)}") from None
    if count < 1:
        raise NeuralgaeError(f"video '{path}' holds no frames; give a video with at least one frame")
    check_length(path, int(count), wanted)
    return VideoSource(path, int(count), size, fps, has_audio="audio_codec" in meta)


def _probe_gif(path: Path, wanted: int | None) -> VideoSource:
    from .movie import read_animation

    anim = read_animation(path)  # its size is checked from the header; a GIF has no frame count there
    if not anim.frame_count:
        raise NeuralgaeError(f"GIF '{path}' holds no frames; give one with at least one frame")
    check_length(path, int(anim.frame_count), wanted)
    return VideoSource(path, int(anim.frame_count), tuple(anim.size), anim.fps)


def open_video(path: str | os.PathLike, *, frames: int | None = None) -> VideoSource:
    """Probe a video file, GIF or folder of frames without decoding it all.

    ``frames`` is how many frames the run will use (None: all). The frame
    size (against ``ND_MAX_SIDE``) and the number of frames used (against
    ``ND_MAX_FRAMES``) are checked from the header or the folder's listing,
    before any frame is decoded.

    Raises
    ------
    NeuralgaeError
        Missing path, unknown file type, a file ffmpeg cannot read, no
        frames, too many or too large frames, or (for a folder) frames of
        different sizes, naming the first odd file and both sizes.
    """
    path = Path(path)
    if not path.exists():
        raise NeuralgaeError(f"video '{path}' does not exist; give a video file or a folder of frames")
    if path.is_dir():
        check_length(path, len(frame_files(path)), frames)  # before a single header is read
        files = list_frames(path)
        width, height = image_size(files[0])
        return VideoSource(path, len(files), (width, height), None, files=tuple(files))
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return _probe_gif(path, frames)
    if suffix not in READABLE_ANIMATIONS:
        raise NeuralgaeError(
            f"cannot read '{path}' as a video: unknown type '{path.suffix}'; "
            f"use one of {', '.join(READABLE_ANIMATIONS)} or a folder of frames"
        )
    return _probe_file(path, frames)


def _decoded_file(source: VideoSource) -> Iterator[np.ndarray]:
    """Every frame of a video file or GIF, in order, as decoded (uint8 RGB), one at a time."""
    if source.path.suffix.lower() == ".gif":
        from .movie import read_animation

        yield from read_animation(source.path)
        return
    yield from video_file_frames(source.path)


def iter_frames(
    source: VideoSource, *, start: int = 0, size: tuple[int, int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, frame)`` from ``start`` on, one frame in memory at a time.

    Frames are float32 (H, W, 3) in [0, 1], resized to ``size`` (width,
    height) when given. A folder's frames before ``start`` are skipped without
    reading them; a video's are decoded and dropped (ffmpeg seeking is not
    frame-exact), which keeps resumed runs identical to uninterrupted ones.
    """
    if source.is_folder:
        frames: Iterable = (load_image(p) for p in source.files[start:])
        first = start
    else:
        frames, first = _decoded_file(source), 0
    for index, frame in enumerate(frames, first):
        if index < start:
            continue
        if index >= source.frame_count:
            return
        image = as_rgb_float(frame)
        if size is not None and (image.shape[1], image.shape[0]) != tuple(size):
            image = np.clip(resize(image, size[1], size[0]), 0.0, 1.0).astype(np.float32)
        yield index, image


# -- a video run: the spec's video streamed frame by frame ------------------------------------
#
# These take a validated :class:`~neuralgae.core.runs.spec.Spec` whose ``source.video`` is set.


def video_of(spec):
    """The spec's probed video source (:class:`~neuralgae.core.media.video.VideoSource`), or None."""
    src = spec.source
    if src.video is None:
        return None
    if src.video_info is not None:
        return src.video_info
    return open_video(src.video)


def video_frames(spec, *, start: int = 0):
    """Stream ``(index, frame)`` of the spec's video from ``start``, resized as the spec says."""
    return iter_frames(video_of(spec), start=start, size=spec.source.resize)


@dataclass
class VideoState:
    """What a video run carries from one frame to the next: the previous source frame only.

    (The previous output is the pipeline's ``previous``; nothing else is kept,
    so memory does not grow with the video's length.)
    """

    frames: object
    previous_source: np.ndarray | None = None

    def next_frame(self, index: int) -> np.ndarray:
        try:
            got, frame = next(self.frames)
        except StopIteration:
            raise NeuralgaeError(
                f"the video ended before frame {index}; it may be damaged: set frames to {index} or re-encode it"
            ) from None
        if got != index:  # pragma: no cover - iter_frames yields consecutive indices
            raise NeuralgaeError(f"the video gave frame {got} where frame {index} was expected")
        return frame


def start_video(spec, first: int) -> VideoState:
    """Open the video stream for a run whose first frame to render is ``first`` (re-reading frame first-1 on resume)."""
    if first == 0 or spec.source.coherence <= 0:
        return VideoState(video_frames(spec, start=first))
    state = VideoState(video_frames(spec, start=first - 1))
    state.previous_source = state.next_frame(first - 1)
    return state


def video_start(spec, state: VideoState, previous: np.ndarray | None, index: int, *, device=None):
    """Frame ``index``'s input and the motion from the previous frame (None when coherence is off or on frame 0).

    The optical flow runs on ``device`` (the network's): scikit-image on the
    CPU, a torch TV-L1 elsewhere (:mod:`neuralgae.core.media.flow_torch`).
    """
    from .flow import coherent_start, frame_motion

    frame = state.next_frame(index)
    weight = spec.source.coherence
    motion = None
    start = frame
    if weight > 0 and previous is not None and state.previous_source is not None:
        if previous.shape != frame.shape:
            raise NeuralgaeError(
                f"frame {index - 1} is {previous.shape[1]}x{previous.shape[0]} but the video is "
                f"{frame.shape[1]}x{frame.shape[0]}; coherence needs a renderer that keeps the frame size"
            )
        motion = frame_motion(frame, state.previous_source, device=device)
        start = coherent_start(frame, state.previous_source, previous, motion, weight=weight)
    state.previous_source = frame if weight > 0 else None
    return start, motion


def mux_audio(video: Path, audio_source: Path, out: Path, *, seconds: float) -> None:
    """Write ``out``: the video stream of ``video`` with the first audio track of ``audio_source`` (AAC, its first ``seconds``).

    The audio input is cut to the video's length rather than using ffmpeg's
    ``-shortest``, which can drop the last video frame.
    """
    command = [
        _ffmpeg(), "-y", "-v", "error",
        "-i", str(video), "-t", f"{seconds:.6f}", "-i", str(audio_source),
        "-map", "0:v:0", "-map", "1:a:0?",
        "-c:v", "copy", "-c:a", "aac", "-b:a", "192k",
        "-movflags", "+faststart", "-f", "mp4", str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        reason = last_line(done.stderr, f"exit status {done.returncode}")
        raise NeuralgaeError(f"cannot copy the audio of '{audio_source}' into '{out}': ffmpeg failed: {reason}")


def write_video(
    frames: Iterable[Path | np.ndarray],
    out: str | os.PathLike,
    *,
    fps: float,
    audio_from: str | os.PathLike | None = None,
    progress: ProgressCallback = no_progress,
) -> Path:
    """Write frames as an animation at ``fps``; an MP4 also gets the audio track of ``audio_from`` when it has one.

    Frames (paths or arrays) are read one at a time. The file appears
    atomically; nothing is left behind on failure.
    """
    out = Path(out)
    if audio_from is None or out.suffix.lower() != ".mp4":
        return write_animation(frames, out, fps=fps, progress=progress)
    silent = out.with_name(f".{out.name}.silent.mp4")
    counted = 0

    def counting(items):
        nonlocal counted
        for item in items:
            counted += 1
            yield item

    try:
        write_animation(frames if isinstance(frames, list) else counting(frames), silent, fps=fps, progress=progress)
        seconds = (len(frames) if isinstance(frames, list) else counted) / fps
        atomic_write(out, lambda tmp: mux_audio(silent, Path(audio_from), Path(tmp), seconds=seconds))
    finally:
        silent.unlink(missing_ok=True)
    return out


def has_audio(path: str | os.PathLike) -> bool:
    """Whether a media file has an audio track (False for folders, images and unreadable files)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() in (".gif",) or path.suffix.lower() not in READABLE_ANIMATIONS:
        return False
    try:
        return open_video(path).has_audio
    except NeuralgaeError:
        return False
