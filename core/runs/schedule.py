"""Parameters that move: keyframe schedules for any numeric parameter of any component.

Wherever a spec gives a renderer, transform or sampler parameter a number, it
may give a schedule instead, a TOML table of data (nothing is evaluated)::

    scale = { keys = [[0, 0.01], [60, 0.05], [120, 0.01]], ease = "smooth" }

``keys`` are ``[frame, value]`` pairs in frame order; between two keys the
value moves from one to the other along the ``ease`` curve (see
:data:`EASINGS`), before the first key it holds the first value and after the
last key the last one. A whole-number parameter (``steps``) takes the nearest
whole number. Every easing stays between the two values it joins (none
overshoots), so a value that each key satisfies is satisfied on every frame:
checking the keys checks the whole schedule.

A parameter may also follow music (``{ audio = "beat", min = ..., max = ... }``,
see :mod:`neuralgae.core.media.audio`): that schedule reads its per-frame values
from the :class:`FrameSignals` the run computes from its audio file.

:func:`split_schedules` takes the schedules out of a component's given
values before they are bound; :func:`resolve` gives the values one frame uses.
The pipeline records those values in each frame's manifest entry.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..host.errors import NeuralgaeError, did_you_mean

# Each easing maps the fraction t in [0, 1] of the way between two keys to the
# fraction of the way between their values, also in [0, 1] and never beyond.
EASINGS: dict[str, Callable[[float], float]] = {
    "linear": lambda t: t,
    "smooth": lambda t: t * t * (3.0 - 2.0 * t),
    "smoother": lambda t: t * t * t * (t * (6.0 * t - 15.0) + 10.0),
    "step": lambda t: 0.0,
    "ease-in": lambda t: t * t,
    "ease-out": lambda t: 1.0 - (1.0 - t) * (1.0 - t),
    "ease-in-out": lambda t: 4.0 * t * t * t if t < 0.5 else 1.0 - 4.0 * (1.0 - t) ** 3,
    "sine": lambda t: 0.5 - 0.5 * math.cos(math.pi * t),
}
"""``linear``; ``smooth`` (smoothstep: slow out of one key, slow into the next);
``smoother`` (Perlin's smootherstep, flatter still at the keys); ``step`` (hold
each key's value until the next key); ``ease-in`` (start slowly, arrive fast);
``ease-out`` (leave fast, arrive slowly); ``ease-in-out`` (cubic, slow at both
ends); ``sine`` (half a cosine wave)."""

DEFAULT_EASE = "linear"
KEYFRAME_KEYS = ("keys", "ease")
EXAMPLE = "{ keys = [[0, 0.01], [60, 0.05]], ease = \"smooth\" }"


# -- what can move ---------------------------------------------------------------------


def numeric_kind(annotation) -> type | None:
    """``int`` or ``float`` when a parameter annotation is a number (or a number or None); else None.

    ``bool`` is not a number here, and neither is a parameter without an annotation.
    """
    if annotation in (int, float):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        kinds = {numeric_kind(a) for a in typing.get_args(annotation) if a is not type(None)}
        if len(kinds) == 1 and None not in kinds:
            return kinds.pop()
    return None


def is_schedule_table(value) -> bool:
    """True for a table that asks for a schedule (it has ``keys`` or ``audio``)."""
    return isinstance(value, Mapping) and ("keys" in value or "audio" in value)


# -- keyframes ---------------------------------------------------------------------------


class Schedule:
    """What a parameter given as a schedule holds: ``at(frame, signals)`` is its value on a frame,
    ``probe_values()`` the values to check against the component's limits, ``as_table()`` the
    spec's table. :class:`Keyframes` and :class:`~neuralgae.core.media.audio.AudioFollow` are the two kinds."""


@dataclass(frozen=True)
class Keyframes(Schedule):
    """A keyframed parameter: ``keys`` ((frame, value), ...) in strictly increasing frame order.

    ``whole`` rounds the value to the nearest whole number (for ``int``
    parameters; halves round up).
    """

    keys: tuple[tuple[int, float], ...]
    ease: str = DEFAULT_EASE
    whole: bool = False

    def value(self, frame: int) -> float:
        """The unrounded value at ``frame``."""
        keys = self.keys
        if frame <= keys[0][0]:
            return float(keys[0][1])
        if frame >= keys[-1][0]:
            return float(keys[-1][1])
        for (f0, v0), (f1, v1) in zip(keys, keys[1:]):
            if f0 <= frame < f1:
                t = (frame - f0) / (f1 - f0)
                return float(v0 + (v1 - v0) * EASINGS[self.ease](t))
        raise AssertionError("unreachable: keys are in order")  # pragma: no cover

    def at(self, frame: int, signals: FrameSignals | None = None) -> float | int:
        """The value frame ``frame`` uses (rounded for whole-number parameters)."""
        return _finish(self.value(frame), self.whole)

    def probe_values(self) -> list[float | int]:
        """The values to check against the component's limits: every key's (the extremes of the schedule)."""
        return sorted({_finish(v, self.whole) for _, v in self.keys})

    def as_table(self) -> dict:
        """The schedule as the spec writes it (``spec.toml`` reads back equal)."""
        return {"keys": [[f, _finish(v, self.whole)] for f, v in self.keys], "ease": self.ease}


def _finish(value: float, whole: bool) -> float | int:
    return int(math.floor(value + 0.5)) if whole else float(value)


def _number(value, *, whole: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return not whole or float(value).is_integer()


def parse_keyframes(table: Mapping, *, kind: type, label: str) -> Keyframes:
    """Check a ``{ keys = [[frame, value], ...], ease = "..." }`` table; ``label`` names the parameter in errors."""
    for key in table:
        if key not in KEYFRAME_KEYS:
            hint = did_you_mean(str(key), KEYFRAME_KEYS) or f" (a keyframe schedule takes: {', '.join(KEYFRAME_KEYS)})"
            raise NeuralgaeError(f"{label}: unknown key '{key}' in its schedule{hint}")
    whole = kind is int
    what = "whole number" if whole else "number"
    raw = table["keys"]
    if not isinstance(raw, list) or not raw:
        raise NeuralgaeError(f"{label}: keys must be a list of [frame, value] pairs, e.g. {EXAMPLE}; got {raw!r}")
    keys: list[tuple[int, float]] = []
    for i, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise NeuralgaeError(f"{label}: key {i} must be a pair [frame, value], e.g. [60, 0.05]; got {pair!r}")
        frame, value = pair
        if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
            raise NeuralgaeError(f"{label}: key {i} must start with a frame number (a whole number >= 0); got {frame!r}")
        if not _number(value, whole=whole):
            raise NeuralgaeError(f"{label}: key {i} (frame {frame}) must give a {what} as its value; got {value!r}")
        if keys and frame <= keys[-1][0]:
            raise NeuralgaeError(
                f"{label}: keys must be in frame order, each frame after the one before; "
                f"key {i} is at frame {frame}, after frame {keys[-1][0]}"
            )
        keys.append((frame, int(value) if whole else float(value)))
    ease = table.get("ease", DEFAULT_EASE)
    if ease not in EASINGS:
        raise NeuralgaeError(
            f"{label}: ease must be one of {', '.join(map(repr, EASINGS))}; got {ease!r}{did_you_mean(str(ease), EASINGS)}"
        )
    return Keyframes(tuple(keys), ease, whole)


# -- signals from audio (filled in by neuralgae.core.media.audio) ------------------------------


@dataclass(frozen=True, eq=False)
class FrameSignals:
    """Per-frame features of a run's audio, each an array with one value in [0, 1] per frame.

    ``features`` maps a feature name (``onset``, ``beat``, ``loudness``,
    ``bass``, ``treble``) to its array; frames past the end of the audio read 0.
    """

    features: Mapping[str, np.ndarray]
    fps: float
    duration: float


def is_schedule(value) -> bool:
    return isinstance(value, Schedule)


def parse_schedule(table: Mapping, *, kind: type, label: str) -> Schedule:
    """A keyframe or audio schedule from its table."""
    if "audio" in table:
        if "keys" in table:
            raise NeuralgaeError(f"{label}: a schedule takes either keys or audio, not both")
        from ..media.audio import parse_audio_follow

        return parse_audio_follow(table, kind=kind, label=label)
    return parse_keyframes(table, kind=kind, label=label)


# -- components with schedules -------------------------------------------------------------


def split_schedules(component, given: Mapping, *, where: str) -> tuple[dict, dict]:
    """Split a component's given values into (fixed values, schedules by parameter name).

    A schedule table given to a parameter that is not a number is refused
    here, naming the parameter and its type; unknown parameter names are
    left for :meth:`Component.bind` to report.
    """
    fixed: dict = {}
    schedules: dict = {}
    for name, value in given.items():
        param = component.params.get(name)
        if param is None or not is_schedule_table(value):
            fixed[name] = value
            continue
        kind = numeric_kind(param.type)
        label = f"{where}: parameter '{name}'"
        if kind is None:
            raise NeuralgaeError(
                f"{label} is {param.type_name()}, not a number, so it cannot follow a schedule; give it a single value"
            )
        schedules[name] = parse_schedule(value, kind=kind, label=label)
    return fixed, schedules


def resolve(params: Mapping, frame: int, signals: FrameSignals | None = None) -> dict:
    """The parameters frame ``frame`` uses: every schedule replaced by its value at that frame."""
    return {k: (v.at(frame, signals) if is_schedule(v) else v) for k, v in params.items()}


class ScheduledComponent:
    """A component called with each frame's values: ``(input, ctx, **params)`` with schedules resolved at ``ctx.index``.

    ``signals`` are the run's audio features (None without audio). Every
    other attribute (``source``, ``name``...) is the component's.
    """

    def __init__(self, component, signals: FrameSignals | None = None):
        self._component = component
        self._signals = signals

    def __call__(self, first, ctx, **params):
        return self._component(first, ctx, **resolve(params, ctx.index, self._signals))

    def __getattr__(self, name):
        if name in ("_component", "_signals"):  # not set yet (copy, pickle): no endless lookup
            raise AttributeError(name)
        return getattr(self._component, name)


def has_schedules(params: Mapping) -> bool:
    return any(is_schedule(v) for v in params.values())


def as_table_value(value):
    """A parameter value as a spec writes it: schedules as their tables."""
    return value.as_table() if is_schedule(value) else value


def probe_limits(call: Callable[[dict], object], params: Mapping, *, where: str) -> None:
    """Check each schedule's key values against the component's own limits by calling it on a tiny input.

    ``call(values)`` runs the component with ``values`` (every schedule at its
    first key, one schedule at a time set to each of its values). Only a
    :class:`NeuralgaeError` (the component refusing a value) counts; any other
    failure on the tiny probe input is not the schedule's concern and is left
    for the real frames.
    """
    base = {k: (v.probe_values()[0] if is_schedule(v) else v) for k, v in params.items()}
    for name, schedule in params.items():
        if not is_schedule(schedule):
            continue
        for value in schedule.probe_values():
            try:
                call({**base, name: value})
            except NeuralgaeError as exc:
                raise NeuralgaeError(
                    f"{where}: parameter '{name}': its schedule reaches {value!r}, which the component refuses: {exc}"
                ) from None
            except Exception:  # noqa: BLE001 - the probe input is artificial; real frames report real failures
                pass



PROBE_SIZE = 16
"""Side in pixels of the grey image a transform's schedule values are checked on."""


CHECK_ATTRIBUTE = "check_params"
"""A component may carry ``function.check_params(**params)``: a cheap check of its limits across
parameters (raising NeuralgaeError), run on its fixed values when the spec loads, and the one a
renderer's schedules are tried against before any frame is rendered."""


def check_schedules(kind: str, component, params: Mapping, *, where: str, transforms: Mapping | None = None) -> None:
    """Check a stage's schedules against the component's limits before any frame is rendered.

    Transforms and samplers are cheap, so each schedule value is tried on a
    tiny grey image (or flat class probabilities). A renderer is too costly
    to run on a probe: its schedules are tried against its
    :data:`CHECK_ATTRIBUTE` function when it has one (the built-in ``dream``
    does), and its own limits speak when a frame reaches the value. Every
    kind first binds each value through the component, so the limits declared
    in its signature (``Annotated[float, Range(0, 1)]``) apply to every key value.
    """
    if not has_schedules(params):
        fixed_check = getattr(getattr(component, "function", None), CHECK_ATTRIBUTE, None)
        if fixed_check is not None:  # limits across parameters speak now, not on the frame that reaches them
            try:
                fixed_check(**params)
            except NeuralgaeError as exc:
                raise NeuralgaeError(f"{where}: {exc}") from None
        return
    from ..host.components import FrameContext, SamplerContext

    rng = np.random.default_rng(0)
    if kind == "renderer":
        check = getattr(component.function, CHECK_ATTRIBUTE, None)

        def call(values):
            if check is not None:
                check(**values)
    elif kind == "transform":
        image = np.full((PROBE_SIZE, PROBE_SIZE, 3), 0.5, np.float32)

        def call(values):
            component(image.copy(), FrameContext(index=0, total=1, rng=rng, transforms=dict(transforms or {})), **values)
    elif kind == "sampler":
        probs = np.full(1000, 1 / 1000)

        def call(values):
            component(probs.copy(), SamplerContext(index=0, rng=rng, history=[]), **values)
    else:
        def call(values):
            pass

    def checked(values):
        component.bind(values)  # the declared limits (Range, Choice...) first
        call(values)

    probe_limits(checked, params, where=where)
