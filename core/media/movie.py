"""Animations: folders of frames in, GIF / MP4 / WebM out; reversal and ping-pong loops.

The one writer, :func:`write_animation`, serves both ``nd gif`` and the
``[output]`` section of ``nd run`` specs. Frames are read lazily, one at a time:

* MP4 / WebM are streamed to ffmpeg (the binary shipped by ``imageio-ffmpeg``),
  so memory stays at one frame however long the video.
* GIF frames are quantised to 256 colours as they arrive and kept as 1 byte per
  pixel until Pillow writes the file (the GIF encoder needs them all to merge
  duplicates and crop unchanged regions): about 0.26 MB per 512x512 frame,
  so 1000 such frames take roughly 260 MB (plus Pillow's working copies).

Every file is written atomically (a temporary file in the same folder, then a
rename), so an interrupted write leaves nothing half-written behind.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from ..host.components import ProgressCallback, no_progress
from ..host.errors import NeuralgaeError
from ..host.atomic import PART_SUFFIX, atomic_write
from .images import check_image_header, load_image, probe_image, to_uint8
from ..runs.loop import Seamless, plan_seamless, reduce_for_measure, seamless_frames

DEFAULT_FPS = 12.0
"""Frame rate of an animation when nothing says otherwise (a spec's ``output.fps``, a folder of frames for ``nd gif``)."""

FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
"""Image files :func:`list_frames` picks up from a folder."""

ANIMATION_SUFFIXES = (".gif", ".mp4", ".webm")
"""Files :func:`write_animation` can write (chosen by the output's suffix)."""

READABLE_ANIMATIONS = (".gif", ".mp4", ".webm", ".mov", ".mkv", ".avi")
"""Files :func:`read_animation` can read."""

GIF_MAX_FPS = 50.0
"""GIF delays are whole hundredths of a second and browsers slow down delays under 2/100 s."""

_MP4_SETTINGS = ("libx264", ["-crf", "18", "-preset", "medium", "-tune", "animation", "-movflags", "+faststart"])
_WEBM_SETTINGS = ("libvpx-vp9", ["-crf", "30", "-b:v", "0", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1"])


# --------------------------------------------------------------------------- ordering


def natural_key(name: str) -> tuple:
    """Sort key that orders the numbers inside names by value: frame_2 < frame_10 < frame_011."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple((0, int(p), len(p)) if p.isdigit() else (1, p, 0) for p in parts if p) + (name,)


def frame_order(count: int, *, reverse: bool = False, pingpong: bool = False) -> list[int]:
    """Indices in which to play ``count`` frames.

    ``reverse`` plays backwards. ``pingpong`` plays forward then back again
    without repeating either end frame, so the result loops seamlessly:
    five frames give 0 1 2 3 4 3 2 1 (then 0 again when the GIF loops).
    Both together play the reversed sequence forward then back: 4 3 2 1 0 1 2 3.
    """
    order = list(range(count))
    if reverse:
        order.reverse()
    if pingpong:
        order = order + order[-2:0:-1]
    return order


# --------------------------------------------------------------------------- folders of frames


def _is_frame_file(path: Path) -> bool:
    name = path.name
    if name.startswith(".") or name.endswith(PART_SUFFIX):
        return False
    return path.suffix.lower() in FRAME_SUFFIXES and path.is_file()


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of a frame from its file header, checked against the limits, without decoding the pixels."""
    return probe_image(path, "frame")[1]


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files in ``folder`` by name, in natural order, without opening any (see :func:`list_frames`)."""
    folder = Path(folder)
    if not folder.exists():
        raise NeuralgaeError(f"frames folder '{folder}' does not exist")
    if not folder.is_dir():
        raise NeuralgaeError(f"'{folder}' is not a folder; give a folder of frames, a GIF or a video")
    return sorted((p for p in folder.iterdir() if _is_frame_file(p)), key=lambda p: natural_key(p.name))


def list_frames(folder: str | os.PathLike) -> list[Path]:
    """The image files in ``folder``, in natural order, checked to be all the same size.

    Numbers in names sort by value whether zero-padded or not (``frame_2``
    before ``frame_10``). Hidden files (``.name``) and partial writes
    (``*.part``) are ignored, as are files that are not images.

    Raises
    ------
    NeuralgaeError
        When the folder is missing, holds no images, or holds images of
        different sizes (naming two of them and their sizes).
    """
    frames = frame_files(folder)
    if not frames:
        raise NeuralgaeError(
            f"no image frames in '{folder}'; expected files ending in {', '.join(FRAME_SUFFIXES)}"
        )
    first_size = image_size(frames[0])
    for path in frames[1:]:
        size = image_size(path)
        if size != first_size:
            raise NeuralgaeError(
                f"frames differ in size: '{frames[0].name}' is {first_size[0]}x{first_size[1]} but "
                f"'{path.name}' is {size[0]}x{size[1]}; resize them to one size or move the odd ones out of '{folder}'"
            )
    return frames


# --------------------------------------------------------------------------- reading animations


@dataclass(frozen=True)
class Animation:
    """An existing GIF or video; iterate over it for its frames (uint8 RGB, H x W x 3), decoded lazily.

    Each iteration decodes the file afresh, so an Animation can be read twice.
    ``fps``, ``duration`` (seconds) and ``frame_count`` are None when the file does not say.
    """

    path: Path
    size: tuple[int, int]
    fps: float | None
    duration: float | None
    frame_count: int | None
    loop: int | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.path.suffix.lower() == ".gif":
            return _gif_frames(self.path)
        return video_file_frames(self.path)


def _gif_frames(path: Path) -> Iterator[np.ndarray]:
    with Image.open(path) as im:
        for frame in ImageSequence.Iterator(im):
            yield np.asarray(frame.convert("RGB"))


def video_file_frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame of a video file, decoded by ffmpeg one at a time, as uint8 (H, W, 3)."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(reader)
        width, height = meta["size"]
        for buffer in reader:
            yield np.frombuffer(buffer, dtype=np.uint8).reshape(height, width, 3)
    finally:
        reader.close()


def _read_gif_info(path: Path) -> Animation:
    try:
        with Image.open(path) as im:
            if im.format != "GIF":
                raise NeuralgaeError(f"'{path}' is not a GIF (it holds {im.format} data)")
            check_image_header(path, im.size)
            size = im.size
            loop = im.info.get("loop")
            durations = []
            for frame in ImageSequence.Iterator(im):
                durations.append(frame.info.get("duration", 0) or 0)
    except Image.DecompressionBombError as exc:
        raise NeuralgaeError(f"GIF '{path}' is refused as a possible decompression bomb ({exc}); set ND_MAX_SIDE to lift the limit") from None
    except (UnidentifiedImageError, OSError, EOFError) as exc:
        raise NeuralgaeError(f"cannot read GIF '{path}': {exc}") from None
    known = [d for d in durations if d > 0]
    total_ms = sum(known) if len(known) == len(durations) else None
    fps = round(1000.0 * len(known) / sum(known), 3) if known else None
    # In the file, loop N means "repeat N more times"; we count plays (0 = forever).
    plays = 1 if loop is None else (0 if loop == 0 else loop + 1)
    return Animation(path, size, fps, total_ms / 1000.0 if total_ms else None, len(durations), plays)


def last_line(text: str, fallback: str) -> str:
    """The last non-blank line of ``text`` (ffmpeg's verdict at the end of its log), or ``fallback``."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else fallback


def ffmpeg_metadata(path: Path) -> dict:
    """What ffmpeg says of a video file (size, fps, duration, codecs), from its header and first frame.

    Raises NeuralgaeError naming the file and ffmpeg's last word when it cannot be read.
    """
    import imageio_ffmpeg

    try:
        reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(reader)
        reader.close()
    except (OSError, RuntimeError, StopIteration, IndexError, ValueError, AttributeError) as exc:
        reason = last_line(str(exc), type(exc).__name__)
        raise NeuralgaeError(f"cannot read video '{path}': {reason}; check that it is a video file ffmpeg can play") from None
    return meta


def _read_video_info(path: Path) -> Animation:
    meta = ffmpeg_metadata(path)
    fps = meta.get("fps") or None
    duration = meta.get("duration") or None
    count = int(round(fps * duration)) if fps and duration else None
    return Animation(path, tuple(meta["size"]), fps, duration, count)


def read_animation(path: str | os.PathLike) -> Animation:
    """Open an existing GIF or video for reading: its size, fps and duration when known, and lazy frames.

    >>> anim = read_animation("loop.gif")          # doctest: +SKIP
    >>> write_animation(anim, "back.gif", fps=anim.fps, reverse=True)   # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise NeuralgaeError(f"animation '{path}' does not exist")
    if path.is_dir():
        raise NeuralgaeError(f"'{path}' is a folder; use list_frames for a folder of frames")
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return _read_gif_info(path)
    if suffix in READABLE_ANIMATIONS:
        return _read_video_info(path)
    raise NeuralgaeError(
        f"cannot read '{path}' as an animation: unknown type '{path.suffix}'; use one of {', '.join(READABLE_ANIMATIONS)}"
    )


# --------------------------------------------------------------------------- seamless loops


def plan_loop(frames: Sequence[Path | np.ndarray]) -> Seamless:
    """Measure frames (paths or arrays, in play order) and plan the dissolve that makes them loop seamlessly.

    Each frame is decoded once and reduced for measuring; frames of different
    sizes are refused here, before anything is written.
    """
    reduced = []
    first = None
    for index, frame in enumerate(frames):
        array = _as_uint8_frame(frame, index)
        if first is None:
            first = (array.shape, _describe(index, frame))
        elif array.shape != first[0]:
            raise NeuralgaeError(
                f"frames differ in size: {first[1]} is {first[0][1]}x{first[0][0]} but "
                f"{_describe(index, frame)} is {array.shape[1]}x{array.shape[0]}; give frames of one size"
            )
        reduced.append(reduce_for_measure(array))
    return plan_seamless(reduced)


# --------------------------------------------------------------------------- writing


def _as_uint8_frame(frame, index: int) -> np.ndarray:
    """One frame (image path or array, float [0, 1] or uint8) as contiguous uint8 RGB."""
    if isinstance(frame, (str, os.PathLike)):
        return _load_uint8(Path(frame))
    array = np.asarray(frame)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise NeuralgaeError(f"frame {index} has shape {array.shape}; frames must be H x W x 3 images")
    array = array[..., :3]
    if array.dtype != np.uint8:
        array = to_uint8(array.astype(np.float32))
    return np.ascontiguousarray(array)


def _load_uint8(path: Path) -> np.ndarray:
    """Read an image file (or a ``.npy`` array) as uint8 RGB; plain 8-bit files skip the float round trip."""
    if path.suffix.lower() == ".npy":
        return _as_uint8_frame(np.load(path), 0)
    try:
        with Image.open(path) as im:
            check_image_header(path, im.size)
            if im.mode in ("RGB", "L") or (im.mode == "P" and "transparency" not in im.info):
                return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        pass  # load_image gives the clear error
    return to_uint8(load_image(path))


def _ordered_frames(frames, order: list[int] | None) -> Iterator[tuple[int, object]]:
    if order is None:
        yield from enumerate(frames)
    else:
        for i in order:
            yield i, frames[i]


def _checked(frames: Iterator[tuple[int, object]], describe) -> Iterator[np.ndarray]:
    """Decode frames one at a time, refusing any whose size differs from the first."""
    first_shape = None
    first_name = None
    for index, frame in frames:
        array = _as_uint8_frame(frame, index)
        if first_shape is None:
            first_shape, first_name = array.shape, describe(index, frame)
        elif array.shape != first_shape:
            raise NeuralgaeError(
                f"frames differ in size: {first_name} is {first_shape[1]}x{first_shape[0]} but "
                f"{describe(index, frame)} is {array.shape[1]}x{array.shape[0]}; give frames of one size"
            )
        yield array


def _describe(index: int, frame) -> str:
    return f"'{Path(frame).name}'" if isinstance(frame, (str, os.PathLike)) else f"frame {index}"


def _quantise(rgb: np.ndarray) -> Image.Image:
    """RGB frame -> 256-colour palette image, with its own palette and Floyd-Steinberg dithering.

    The palette comes from a fast octree on the frame itself; dithering against
    it hides the banding that nearest-colour mapping leaves in the smooth
    gradients of dreamed skies and blurred backgrounds. (Compared on a
    512x512 dream-like frame: octree + dithering looked best, at 0.04 s a frame;
    median cut took ten times longer and left bright speckles.)
    """
    image = Image.fromarray(rgb, "RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    return image.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)


def _write_gif(frames: Iterator[np.ndarray], tmp: Path, *, fps: float, loop: int, total: int, progress) -> int:
    images = []
    for array in frames:
        images.append(_quantise(array))
        progress(len(images), total, "quantising")
    if not images:
        return 0
    duration = round(1000.0 / played_fps(fps, ".gif"))  # milliseconds, whole hundredths of a second
    options = {"duration": duration, "optimize": False, "disposal": 1}
    if loop != 1:
        options["loop"] = 0 if loop == 0 else loop - 1
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], **options)
    return len(images)


def _even_pad(array: np.ndarray) -> np.ndarray:
    """Repeat the last row / column when a side is odd: H.264 with yuv420p needs even sizes."""
    pad_h, pad_w = array.shape[0] % 2, array.shape[1] % 2
    if pad_h or pad_w:
        array = np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return array


def _write_video(frames: Iterator[np.ndarray], tmp: Path, *, fps: float, container: str, total: int, progress) -> int:
    import imageio_ffmpeg

    codec, params = _MP4_SETTINGS if container == "mp4" else _WEBM_SETTINGS
    first = next(frames, None)
    if first is None:
        return 0
    first = _even_pad(first)
    writer = imageio_ffmpeg.write_frames(
        str(tmp),
        (first.shape[1], first.shape[0]),
        fps=fps,
        codec=codec,
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=None,
        bitrate=None,
        macro_block_size=1,
        output_params=[*params, "-f", container],
        ffmpeg_log_level="error",
    )
    writer.send(None)
    count = 0
    try:
        for array in _chain_one(first, frames):
            writer.send(_even_pad(array))
            count += 1
            progress(count, total, "encoding")
    finally:
        writer.close()
    return count


def _chain_one(first, rest):
    yield first
    yield from rest


def played_fps(fps: float, suffix: str) -> float:
    """The rate a file of type ``suffix`` actually plays at when written at ``fps``.

    GIF delays are whole hundredths of a second (at least 2), so 12 fps plays at 12.5.
    """
    if suffix.lower() == ".gif":
        return 100.0 / max(2, round(100.0 / fps))
    return float(fps)


def _file_mode() -> int:
    """Permissions a newly created file gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_animation(
    frames: Sequence[Path | np.ndarray] | Iterable[Path | np.ndarray],
    out: str | os.PathLike,
    *,
    fps: float = DEFAULT_FPS,
    reverse: bool = False,
    pingpong: bool = False,
    loop: int = 0,
    seamless: bool | Seamless = False,
    progress: ProgressCallback = no_progress,
) -> Path:
    """Write frames as a GIF, MP4 or WebM, chosen by the suffix of ``out``; return ``out``.

    Parameters
    ----------
    frames
        Image paths (e.g. from :func:`list_frames`) or arrays (H x W x 3,
        float in [0, 1] or uint8), all the same size. An :class:`Animation`
        works too. Frames are decoded one at a time; with ``reverse`` or
        ``pingpong`` a plain iterator is first gathered into a list (a list
        of paths costs nothing; pass paths for long sequences).
    out
        ``.gif``, ``.mp4`` (H.264, yuv420p, CRF 18; an odd side is padded by
        repeating its last pixel row/column) or ``.webm`` (VP9).
    fps
        Frames per second. GIF stores delays in hundredths of a second, so
        the played rate is 100 / round(100 / fps) (12 fps plays at 12.5),
        and at most 50 fps.
    reverse, pingpong
        Play order, see :func:`frame_order`.
    loop
        GIF only: how many times the animation plays; 0 means forever.
    seamless
        Dissolve the last frames into the first so the loop has no jump
        (:mod:`neuralgae.core.runs.loop`; the overlap is measured on the frames,
        after ``reverse``); or a :class:`~neuralgae.core.runs.loop.Seamless`
        plan from :func:`plan_loop` for these frames. Not with ``pingpong``,
        which loops by itself.
    progress
        ``progress(done, total, message)`` after each frame.

    Raises
    ------
    NeuralgaeError
        Unknown suffix, no frames, frames of different sizes, bad fps/loop,
        or an unwritable file. Nothing is left at ``out`` (or beside it) then.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise NeuralgaeError(
            f"cannot write '{out}': unknown animation type '{out.suffix}'; use one of {', '.join(ANIMATION_SUFFIXES)}"
        )
    if not fps > 0 or not np.isfinite(fps):
        raise NeuralgaeError(f"fps must be a positive number; got {fps}")
    if suffix == ".gif" and fps > GIF_MAX_FPS:
        raise NeuralgaeError(f"a GIF cannot play faster than {GIF_MAX_FPS:g} fps (got {fps:g}); lower fps or write .mp4")
    if isinstance(loop, bool) or not isinstance(loop, (int, np.integer)) or loop < 0:
        raise NeuralgaeError(f"loop must be a whole number of plays, 0 for forever; got {loop!r}")

    if seamless is not False and pingpong:
        raise NeuralgaeError("seamless and pingpong both make the animation loop; choose one of them")

    order = None
    if reverse or pingpong or seamless is not False:
        if not isinstance(frames, Sequence):
            frames = list(frames)
        order = frame_order(len(frames), reverse=reverse, pingpong=pingpong)
        total = len(order)
    elif isinstance(frames, Sequence):
        total = len(frames)
    else:
        total = getattr(frames, "frame_count", None) or 0
    if seamless is not False:
        played = [frames[i] for i in order]
        plan = seamless if isinstance(seamless, Seamless) else plan_loop(played)
        total = len(plan.items)
        mixed = seamless_frames(lambda i: _as_uint8_frame(played[i], i), plan)
        decoded = _checked(enumerate(mixed), _describe)
    else:
        decoded = _checked(_ordered_frames(frames, order), _describe)

    written = 0

    def write(tmp: Path) -> None:
        nonlocal written
        if suffix == ".gif":
            written = _write_gif(decoded, tmp, fps=fps, loop=int(loop), total=total, progress=progress)
        else:
            written = _write_video(decoded, tmp, fps=fps, container=suffix[1:], total=total, progress=progress)
        if written == 0:
            raise NeuralgaeError(f"no frames to write to '{out}'")
        os.chmod(tmp, _file_mode())  # the temporary file was private; give it the usual permissions

    try:
        atomic_write(out, write)
    except OSError as exc:
        raise NeuralgaeError(f"cannot write '{out}': {exc.strerror or exc}") from None
    except RuntimeError as exc:  # ffmpeg failures come back as RuntimeError with its log
        raise NeuralgaeError(f"cannot write '{out}': ffmpeg failed: {last_line(str(exc), str(exc))}") from None
    return out
