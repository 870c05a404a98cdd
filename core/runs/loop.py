"""Loops without a seam: dissolve the last frames of an animation into its first, measured.

A dream loop rarely ends where it began: a zoom has travelled far, a roll
has moved on, so when a GIF wraps from its last frame to its first the whole
picture jumps. :func:`plan_seamless` removes the jump by a crossfade: with an
overlap of *K* frames out of *N*, the loop plays frames *K* .. *N-K-1* as they
are, then frames *N-K* .. *N-1*, each dissolved into frame 0 .. *K-1* with a
weight rising linearly from 1/(K+1) to K/(K+1); after the last of them comes
frame *K* again, which is where the dissolve was heading. The loop is *N-K*
frames long and every one of its frames is a frame of the run or a mix of two.

The jump is measured: the **seam ratio** of a loop is the change across the
wrap (mean absolute difference, last frame to first) divided by the median
change between consecutive frames. A loop counts as seamless at a ratio of
at most :data:`SEAM_LIMIT` (1.5). :func:`plan_seamless` picks the smallest
overlap that brings the ratio to :data:`SEAM_TARGET` on frames reduced to at
most :data:`MEASURE_SIDE` pixels (a little under the limit, so the
full-size frames, and the GIF or MP4 made of them, pass too); a loop that is
seamless already gets no overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..host.errors import NeuralgaeError

SEAM_LIMIT = 1.5
"""A loop whose wrap changes at most this many times the median frame-to-frame change is seamless."""

SEAM_TARGET = 1.2
"""What :func:`plan_seamless` aims for on the reduced frames, leaving room under :data:`SEAM_LIMIT`."""

MEASURE_SIDE = 128
"""Frames are measured at most this many pixels on their longer side (area-averaged)."""

MIN_FRAMES = 3


def frame_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two frames, in units of the full range (0: identical, 1: black to white)."""
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32)))) / scale


def seam_ratio(frames: Sequence[np.ndarray]) -> float:
    """The change across the wrap (last frame to first) over the median change between consecutive frames.

    Above :data:`SEAM_LIMIT` the loop visibly jumps. Infinite when the frames
    do not move at all but the wrap does; 1 when nothing moves anywhere.
    """
    if len(frames) < 2:
        raise NeuralgaeError("a loop needs at least 2 frames to measure its seam")
    steps = [frame_change(a, b) for a, b in zip(frames, frames[1:])]
    wrap = frame_change(frames[-1], frames[0])
    median = float(np.median(steps))
    if median == 0:
        return 1.0 if wrap == 0 else float("inf")
    return wrap / median


@dataclass(frozen=True)
class Seamless:
    """How a loop is made seamless: ``overlap`` frames dissolved, and the seam ratio before and after.

    ``items`` lists the loop's frames in play order: ``(i, j, w)`` is
    ``(1 - w) * frame i + w * frame j`` (``w == 0`` for a plain frame ``i``),
    with indices into the frames as given.
    """

    overlap: int
    before: float
    after: float
    items: tuple[tuple[int, int, float], ...]


def loop_items(count: int, overlap: int) -> tuple[tuple[int, int, float], ...]:
    """The play order of a ``count``-frame loop with ``overlap`` frames dissolved into its start."""
    if overlap == 0:
        return tuple((i, i, 0.0) for i in range(count))
    plain = [(i, i, 0.0) for i in range(overlap, count - overlap)]
    mixed = [(count - overlap + k, k, (k + 1) / (overlap + 1)) for k in range(overlap)]
    return tuple(plain + mixed)


def mix(frames: Sequence[np.ndarray], item: tuple[int, int, float]) -> np.ndarray:
    """One frame of the loop, as float32 in [0, 1] (uint8 frames are scaled)."""
    i, j, w = item
    a = _float(frames[i])
    return a if w == 0 else ((1.0 - w) * a + w * _float(frames[j])).astype(np.float32)


def _float(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) / 255.0 if frame.dtype == np.uint8 else frame.astype(np.float32, copy=False)


def reduce_for_measure(frame: np.ndarray, side: int = MEASURE_SIDE) -> np.ndarray:
    """The frame area-averaged so its longer side is at most ``side`` pixels (float32)."""
    f = _float(np.asarray(frame))
    factor = int(np.ceil(max(f.shape[:2]) / side))
    if factor <= 1:
        return f
    h, w = (f.shape[0] // factor) * factor, (f.shape[1] // factor) * factor
    return f[:h, :w].reshape(h // factor, factor, w // factor, factor, -1).mean(axis=(1, 3))


def plan_seamless(frames: Sequence[np.ndarray], *, target: float = SEAM_TARGET) -> Seamless:
    """The smallest dissolve that makes these frames loop seamlessly (frames: arrays, in play order).

    Tries overlaps from 0 to (N-1)//2 and takes the first whose loop has a
    seam ratio of at most ``target``; when none does, the overlap that gives
    the lowest ratio. Pass frames already reduced (:func:`reduce_for_measure`)
    for speed.
    """
    count = len(frames)
    if count < MIN_FRAMES:
        raise NeuralgaeError(f"a seamless loop needs at least {MIN_FRAMES} frames; got {count}")
    steps = [frame_change(a, b) for a, b in zip(frames, frames[1:])]
    before = seam_ratio(frames)
    best: tuple[float, int] | None = None
    for overlap in range(0, (count - 1) // 2 + 1):
        ratio = _ratio_with(frames, steps, overlap)
        if best is None or ratio < best[0] - 1e-12:
            best = (ratio, overlap)
        if ratio <= target:
            break
    ratio, overlap = best
    return Seamless(overlap, before, ratio, loop_items(count, overlap))


def _ratio_with(frames: Sequence[np.ndarray], steps: list[float], overlap: int) -> float:
    """The seam ratio of the loop with ``overlap``, reusing the plain frames' steps."""
    count = len(frames)
    items = loop_items(count, overlap)
    plain_steps = steps[overlap : count - overlap - 1]  # between consecutive plain frames
    tail = [mix(frames, it) for it in items[len(items) - overlap - 1 :]] if overlap else []
    mixed_steps = [frame_change(a, b) for a, b in zip(tail, tail[1:])]
    loop_steps = plain_steps + mixed_steps
    last = tail[-1] if overlap else _float(frames[-1])
    wrap = frame_change(last, mix(frames, items[0]))
    median = float(np.median(loop_steps)) if loop_steps else 0.0
    if median == 0:
        return 1.0 if wrap == 0 else float("inf")
    return wrap / median


def seamless_frames(load: Callable[[int], np.ndarray], plan: Seamless):
    """Yield the loop's frames (float32) in play order, decoding each source frame with ``load(i)`` when needed.

    Only the two frames a dissolve needs are held at once.
    """
    for i, j, w in plan.items:
        a = _float(load(i))
        yield a if w == 0 else ((1.0 - w) * a + w * _float(load(j))).astype(np.float32)
