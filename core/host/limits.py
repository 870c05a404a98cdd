"""Limits on work that cannot finish, in one place.

Every limit is generous for real use and exists so that a typo (a billion
frames, a 40000x40000 canvas, ``/dev/zero`` as a spec file) is refused at once
with one :class:`~neuralgae.core.host.errors.NeuralgaeError` line, before anything
is allocated or written, instead of running out of memory or for years.
Limits that a large machine may sensibly exceed can be lifted with an
environment variable; the refusal names it.
"""

from __future__ import annotations

import math
import os

from .errors import NeuralgaeError

MAX_SIDE = 16_384
"""Largest width or height of any canvas or image, in pixels (``ND_MAX_SIDE`` lifts it).

16384 px is a large print at 300 dpi (1.4 m); one float32 RGB image of that
size is already 3 GiB, and every renderer keeps several."""

MAX_FRAMES = 1_000_000
"""Most frames one run may render (``ND_MAX_FRAMES`` lifts it): 11.5 hours at 24 fps."""

MAX_STEPS = 100_000
"""Most gradient steps per octave (dream) or per drawing (draw); real renders use tens to a few thousand."""

MAX_VARIATIONS = 10_000
"""Most runs one ``nd batch`` may plan (``ND_MAX_VARIATIONS`` lifts it); each is a folder and at least a frame."""

MAX_LAYER_TEXT = 10_000
"""Longest layer list (``layers``, ``--layers``) in characters; a hundred layers with channels fit easily."""

MAX_LAYERS = 256
"""Most layer selections in one list; EfficientNet-Lite2 has fewer than 100 layers."""

MAX_CHANNEL = 65_535
"""Highest channel number a layer selection may name (the largest layers have a few thousand)."""

MAX_BEST_OF = 64
"""Most candidates a best-of drawing renders at once (each costs a drawing's time)."""

MAX_FPS = 240.0
"""Highest frame rate of a GIF or MP4: faster than any screen shows (and GIF delays stop at 1/100 s)."""

MAX_LOOP = 65_535
"""Most plays a GIF can record: its loop count is a 16-bit number."""

MAX_SPEC_BYTES = 1 << 20
"""Most bytes read from a spec file (1 MiB); real specs are under 10 KiB, so more is a wrong file."""

MAX_TOML_DEPTH = 32
"""Deepest nesting of tables and arrays in a spec; real specs nest at most 4 deep."""


def _from_env(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise NeuralgaeError(f"{name} must be a whole number; got {text!r}") from None
    if value < 1:
        raise NeuralgaeError(f"{name} must be at least 1; got {value}")
    return value


def max_side() -> int:
    """:data:`MAX_SIDE`, or ``ND_MAX_SIDE`` when set."""
    return _from_env("ND_MAX_SIDE", MAX_SIDE)


def max_frames() -> int:
    """:data:`MAX_FRAMES`, or ``ND_MAX_FRAMES`` when set."""
    return _from_env("ND_MAX_FRAMES", MAX_FRAMES)


def max_variations() -> int:
    """:data:`MAX_VARIATIONS`, or ``ND_MAX_VARIATIONS`` when set."""
    return _from_env("ND_MAX_VARIATIONS", MAX_VARIATIONS)


def check_frames(frames: int, what: str = "frames") -> int:
    """Refuse more frames than :func:`max_frames`."""
    limit = max_frames()
    if frames > limit:
        raise NeuralgaeError(
            f"{what} = {frames} is more than the limit of {limit:,} frames per run; "
            f"render fewer, or set ND_MAX_FRAMES to lift the limit"
        )
    return frames


def toml_depth(value) -> int:
    """How deeply tables and arrays nest in a parsed TOML value (iterative, so any depth is safe)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth <= MAX_TOML_DEPTH:
            stack.extend((c, depth) for c in children)
    return deepest


def check_fps(value, what: str = "fps") -> float:
    """A frame rate above 0 and at most :data:`MAX_FPS` (not NaN), as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise NeuralgaeError(f"{what} must be a number above 0 and at most {MAX_FPS:g}; got {value!r}")
    if not 0 < value <= MAX_FPS:
        raise NeuralgaeError(f"{what} must be above 0 and at most {MAX_FPS:g} frames per second; got {value:g}")
    return float(value)


def check_loop(value, what: str = "loop") -> int:
    """A GIF loop count from 0 (forever) to :data:`MAX_LOOP`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise NeuralgaeError(f"{what} must be a whole number; got {value!r}")
    if not 0 <= value <= MAX_LOOP:
        raise NeuralgaeError(f"{what} must be from 0 (forever) to {MAX_LOOP:,} plays (a GIF stores no more); got {value:,}")
    return value
