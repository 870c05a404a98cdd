"""`nd gif`: assemble a folder of frames, a GIF or a video into a GIF, MP4 or WebM; reverse; ping-pong; seamless loops."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console

from neuralgae.core.media.audio import run_soundtrack
from neuralgae.core.host.errors import NeuralgaeError
from neuralgae.core.media.images import check_output_folder
from neuralgae.core.host.limits import check_fps, check_loop
from neuralgae.core.runs.loop import SEAM_LIMIT
from neuralgae.core.media.movie import (
    ANIMATION_SUFFIXES,
    DEFAULT_FPS,
    image_size,
    list_frames,
    plan_loop,
    played_fps,
    read_animation,
    write_animation,
)
from neuralgae.core.media.video import write_video

from .common import progress_bar, user_errors

console = Console()


def spill_frames(frames: Iterable[np.ndarray], folder: Path) -> list[Path]:
    """Save decoded frames as .npy files in ``folder`` so they can be replayed in any order with bounded memory."""
    paths = []
    for i, frame in enumerate(frames):
        path = folder / f"{i:06d}.npy"
        np.save(path, frame)
        paths.append(path)
    return paths


def _human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def gif_command(
    source: Annotated[Path, typer.Argument(help="A folder of frames (natural order: frame_2 before frame_10), a GIF, or a video.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write: .gif, .mp4 or .webm.")],
    fps: Annotated[Optional[float], typer.Option(help="Frames per second (default: the source's rate; for a folder 12, or its run's rate when it dreamed to music).")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", help="Play backwards.")] = False,
    pingpong: Annotated[bool, typer.Option("--pingpong", help="Play forward then back, for a seamless loop.")] = False,
    loop: Annotated[int, typer.Option(help="GIF: how many times it plays; 0 means forever.")] = 0,
    seamless: Annotated[bool, typer.Option("--seamless", help="Dissolve the last frames into the first so the loop has no jump (measured).")] = False,
) -> None:
    """Make a GIF or MP4 from frames; reverse or ping-pong an existing GIF or video."""
    with user_errors():
        suffix = output.suffix.lower()
        if suffix not in ANIMATION_SUFFIXES:
            raise NeuralgaeError(
                f"cannot write '{output}': unknown animation type '{output.suffix}'; use one of {', '.join(ANIMATION_SUFFIXES)}"
            )
        if "\0" in str(output):
            raise NeuralgaeError("-o contains a NUL byte, which no file system allows; choose another name")
        check_output_folder(output.parent, what="the folder of -o", fix="choose another place with -o")
        if output.is_dir():
            raise NeuralgaeError(f"output '{output}' is a folder; give a file name such as out{suffix}")
        if fps is not None:
            check_fps(fps, "--fps")
        check_loop(loop, "--loop")
        if not source.exists():
            raise NeuralgaeError(f"source '{source}' does not exist; give a folder of frames, a GIF or a video")

        written = 0

        def counting(progress):
            def update(done: int, total: int, message: str = "") -> None:
                nonlocal written
                written = max(written, done)
                progress(done, total, message)

            return update

        with tempfile.TemporaryDirectory(prefix="nd-gif-") as scratch, progress_bar("writing " + output.name) as progress:
            soundtrack = None
            if source.is_dir():
                frames = list_frames(source)
                size = image_size(frames[0])
                soundtrack = run_soundtrack(source)
                rate = fps if fps is not None else (soundtrack[1] if soundtrack else DEFAULT_FPS)
            else:
                animation = read_animation(source)
                size = animation.size
                rate = fps if fps is not None else (animation.fps or DEFAULT_FPS)
                frames = spill_frames(animation, Path(scratch)) if (reverse or pingpong or seamless) else animation
            plan = False
            if seamless:
                if pingpong:
                    raise NeuralgaeError("--seamless and --pingpong both make the animation loop; choose one of them")
                plan = plan_loop(list(reversed(frames)) if reverse else list(frames))
            audio_note = ""
            if soundtrack and suffix == ".mp4":
                audio_note = _audio_note(soundtrack, rate, reverse=reverse, pingpong=pingpong, seamless=seamless)
            if soundtrack and suffix == ".mp4" and not audio_note:
                write_video(frames, output, fps=rate, audio_from=soundtrack[0], progress=counting(progress))
                audio_note = f"with the run's audio, {soundtrack[0].name}"
            else:
                write_animation(frames, output, fps=rate, reverse=reverse, pingpong=pingpong, loop=loop,
                                seamless=plan, progress=counting(progress))

        shown = played_fps(rate, suffix)
        seconds = written / shown
        console.print(f"wrote {output}", highlight=False)
        console.print(
            f"{written} frames at {shown:g} fps ({seconds:.1f} s), {size[0]}x{size[1]}, {_human_bytes(output.stat().st_size)}",
            highlight=False,
        )
        if plan:
            console.print(seam_summary(plan), highlight=False)
        if audio_note:
            console.print(audio_note, highlight=False)


def _audio_note(soundtrack, rate: float, *, reverse: bool, pingpong: bool, seamless: bool) -> str:
    """Why the run's audio is left out of the MP4, or "" when it goes in (it must stay in sync)."""
    path, run_fps = soundtrack
    if reverse or pingpong or seamless:
        return f"audio left out: the run's {path.name} would not match frames played out of order"
    if abs(rate - run_fps) > 1e-9:
        return f"audio left out: the run played at {run_fps:g} fps, so {path.name} would drift at {rate:g} fps (leave out --fps to keep it)"
    return ""


def seam_summary(plan) -> str:
    """One line on what --seamless did, with the seam measured before and after."""
    what = (
        f"the last {plan.overlap} frames dissolve into the first" if plan.overlap
        else "it loops seamlessly already, nothing dissolved"
    )
    return (
        f"seamless: {what}; the wrap changes {plan.before:.2f}x the median frame change before, "
        f"{plan.after:.2f}x after (seamless: at most {SEAM_LIMIT:g}x)"
    )


def register(app: typer.Typer) -> None:
    """Add `nd gif` to the application."""
    app.command("gif")(gif_command)
