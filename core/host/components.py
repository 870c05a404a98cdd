"""Registered components (transforms, samplers, renderers...) and the contexts passed to them.

A component is a plain function. Its keyword-only parameters, with their type
annotations and defaults, are its user-facing parameters: they are read once
at registration, used to validate spec values (with "did you mean" hints) and
to document the component.
"""

from __future__ import annotations

import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import NeuralgaeError, did_you_mean

_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    """One user parameter of a component."""

    name: str
    type: Any
    default: Any = _REQUIRED
    limits: tuple = ()
    """The markers of ``Annotated[type, marker, ...]`` (:class:`Range`, :class:`Choice`, :class:`Shape`...)."""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    @property
    def finite(self) -> bool:
        """Numbers must be finite (NaN and inf refused) unless :data:`NonFinite` is declared."""
        return not any(m is NonFinite for m in self.limits)

    def type_name(self) -> str:
        return _tname(self.type)

    def limits_text(self) -> str:
        """The declared limits in words, e.g. ``0 <= value <= 1``; "" without any."""
        return ", ".join(t for t in (_limit_text(m) for m in self.limits) if t)

    def describe(self) -> str:
        default = "required" if self.required else f"default {self.default!r}"
        limits = self.limits_text()
        return f"{self.name}: {self.type_name()}{f' [{limits}]' if limits else ''} ({default})"


# -- limits a parameter declares in its annotation ------------------------------------
#
# ``scale: Annotated[float, Range(0, 1, high_open=True)] = 0.05``: the host checks
# every spec value (and every schedule key value) against the markers when the spec
# loads, with one line naming the component, the parameter and the value.
# A marker is any object with ``check(value) -> str | None`` (the complaint, or None)
# and ``describe() -> str``; it may take ``check(value, context)`` to see the
# component's registries (``context["transforms"]``), as nested steps do.


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (either may be None: unbounded); ``*_open`` excludes the bound.

    Applies to a number, or to each number of a list.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        lo_op, hi_op = ("<" if self.low_open else "<="), ("<" if self.high_open else "<=")
        if self.high is None:
            return "any number" if self.low is None else f"{'>' if self.low_open else '>='} {_num(self.low)}"
        if self.low is None:
            return f"{hi_op} {_num(self.high)}"
        if not (self.low_open or self.high_open):
            return f"from {_num(self.low)} to {_num(self.high)}"
        return f"{_num(self.low)} {lo_op} value {hi_op} {_num(self.high)}"

    def check(self, value) -> str | None:
        for v in _numbers(value):
            if not math.isfinite(v) and v != v:  # NaN: reported by the finiteness check
                continue
            low_bad = self.low is not None and (v < self.low or (self.low_open and v == self.low))
            high_bad = self.high is not None and (v > self.high or (self.high_open and v == self.high))
            if low_bad or high_bad:
                words = self.describe()
                return f"must {'satisfy' if 'value' in words else 'be'} {words}"
        return None


@dataclass(frozen=True)
class Choice:
    """One of the given values (for numbers or strings that are not a ``Literal``)."""

    values: tuple

    def __init__(self, *values):
        object.__setattr__(self, "values", tuple(values))

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def check(self, value) -> str | None:
        if value in self.values:
            return None
        return f"must be {self.describe()}{did_you_mean(str(value), [str(v) for v in self.values])}"


@dataclass(frozen=True)
class Shape:
    """A nested list of one of the given shapes; None in a shape is any length: ``Shape((2, 2), (2, 3))``."""

    shapes: tuple

    def __init__(self, *shapes):
        object.__setattr__(self, "shapes", tuple(tuple(s) for s in shapes))

    def describe(self) -> str:
        return "shape " + " or ".join("x".join("n" if d is None else str(d) for d in s) for s in self.shapes)

    def check(self, value) -> str | None:
        got = _shape(value)
        for s in self.shapes:
            if got is not None and len(got) == len(s) and all(d is None or d == g for d, g in zip(s, got)):
                return None
        return f"must have {self.describe()}; got {'a ragged list' if got is None else 'x'.join(map(str, got)) or 'a single value'}"


class _FiniteMarker:
    def __init__(self, finite: bool):
        self.finite = finite

    def __repr__(self) -> str:
        return "Finite" if self.finite else "NonFinite"

    def describe(self) -> str:
        return "finite" if self.finite else "inf and nan allowed"

    def check(self, value) -> str | None:
        return None  # the float coercion does the work; see Param.finite


Finite = _FiniteMarker(True)
"""Numbers must be finite: the default for every float, declared for clarity."""
NonFinite = _FiniteMarker(False)
"""Opt out of the finiteness check: ``Annotated[float, NonFinite]`` accepts inf and nan."""


def _num(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _numbers(value):
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)


def _shape(value):
    """The shape of a nested list (``()`` for a scalar); None when ragged."""
    if not isinstance(value, (list, tuple)):
        return ()
    inner = [_shape(v) for v in value]
    if any(s is None for s in inner) or len(set(inner)) > 1:
        return None
    return (len(value), *(inner[0] if inner else ()))


def _limit_text(marker) -> str:
    if marker is Finite:
        return ""  # the default; not worth a word
    describe = getattr(marker, "describe", None)
    return describe() if callable(describe) else ""


def _check_limits(value, param: Param, label: str, context: dict) -> None:
    for marker in param.limits:
        check = getattr(marker, "check", None)
        if check is None:
            continue
        try:
            takes_context = len(inspect.signature(check).parameters) >= 2
        except (TypeError, ValueError):
            takes_context = False
        problem = check(value, context) if takes_context else check(value)
        if problem:
            quote = getattr(marker, "quote_value", True) and "; got " not in problem
            got = f"; got {value!r}" if quote else ""
            raise NeuralgaeError(f"{label} {problem}{got}")


def _split_annotated(t) -> tuple[Any, tuple]:
    """``Annotated[T, m...]`` (also inside ``... | None``) -> (T, markers)."""
    if typing.get_origin(t) is typing.Annotated:
        return t.__origin__, tuple(t.__metadata__)
    origin = typing.get_origin(t)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts, limits = [], ()
        for a in typing.get_args(t):
            base, marks = _split_annotated(a)
            parts.append(base)
            limits += marks
        if limits:
            return typing.Union[tuple(parts)], limits
    return t, ()


@dataclass(frozen=True)
class Component:
    """A registered function with its parameters and where it came from."""

    kind: str
    name: str
    function: Callable
    params: dict[str, Param]
    source: str
    doc: str = ""
    context: dict = field(default_factory=dict, compare=False, repr=False)
    """What the host lends limit markers: ``{"transforms": registry}`` (filled in by the host)."""

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def bind(self, values: dict | None, *, where: str = "") -> dict:
        """Validate ``values`` against the parameters; return them with defaults filled in."""
        return bind_params(self, values or {}, where=where)

    def __call__(self, *inputs, **params):
        return self.function(*inputs, **params)


def params_of(function: Callable) -> dict[str, Param]:
    """The keyword-only parameters of ``function`` as :class:`Param` objects."""
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError):
        return {}
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:  # unresolvable annotations: fall back to the raw ones
        hints = {}
    out = {}
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            base, limits = _split_annotated(hints.get(p.name, p.annotation))
            out[p.name] = Param(p.name, base, p.default, limits)
    return out


def make_component(kind: str, function: Callable, name: str | None, source: str) -> Component:
    if not callable(function):
        raise NeuralgaeError(f"plugin '{source}' registered a {kind} that is not a function: {function!r}")
    name = name or getattr(function, "__name__", None)
    if not name or not isinstance(name, str):
        raise NeuralgaeError(f"plugin '{source}' registered a {kind} without a name")
    return Component(kind, name, function, params_of(function), source, inspect.getdoc(function) or "")


def _coerce(value, param: Param, where: str, context: dict | None = None):
    """Check a spec value against a parameter's annotation and declared limits; ints become floats where floats are wanted."""
    value = _coerce_type(value, param, where)
    if param.limits:
        _check_limits(value, param, f"{where}: parameter '{param.name}'", context or {})
    return value


def _coerce_type(value, param: Param, where: str):
    t = param.type
    label = f"{where}: parameter '{param.name}'"
    if t is inspect.Parameter.empty or t is Any:
        return value
    origin = typing.get_origin(t)
    args = typing.get_args(t)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce_type(value, _inner(param, a), where)
            except NeuralgaeError as e:
                errors.append(e)
        if len(errors) == 1:  # ``float | None``: the float's own complaint ("must be a finite number")
            raise errors[0]
        raise NeuralgaeError(f"{label} must be {' or '.join(_tname(a) for a in args if a is not type(None))}; got {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise NeuralgaeError(f"{label} must be one of {', '.join(repr(a) for a in args)}; got {value!r}{did_you_mean(str(value), [str(a) for a in args])}")
        return value
    if origin in (list, tuple) or t in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise NeuralgaeError(f"{label} must be a list; got {value!r}")
        inner = args[0] if args else Any
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            inner = args[0]
        elif origin is tuple and args:
            if len(args) != len(value):
                raise NeuralgaeError(f"{label} must be a list of {len(args)} values; got {len(value)}")
            return tuple(_coerce_type(v, _inner(param, a), where) for v, a in zip(value, args))
        items = [_coerce_type(v, _inner(param, inner), where) for v in value]
        return tuple(items) if (origin is tuple or t is tuple) else items
    if origin is dict or t is dict:
        if not isinstance(value, dict):
            raise NeuralgaeError(f"{label} must be a table; got {value!r}")
        return value
    if t is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NeuralgaeError(f"{label} must be a number; got {value!r}")
        if param.finite and not math.isfinite(value):
            raise NeuralgaeError(f"{label} must be a finite number; got {value!r}")
        return float(value)
    if t is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise NeuralgaeError(f"{label} must be a whole number; got {value!r}")
        return int(value)
    if t is bool:
        if not isinstance(value, bool):
            raise NeuralgaeError(f"{label} must be true or false; got {value!r}")
        return value
    if t is str:
        if not isinstance(value, str):
            raise NeuralgaeError(f"{label} must be a string; got {value!r}")
        return value
    return value


def _inner(param: Param, t) -> Param:
    """The parameter for one item of a list (or one branch of a union): same name and finiteness."""
    return Param(param.name, t, param.default, () if param.finite else (NonFinite,))


def _tname(t) -> str:
    """A readable name for a parameter annotation; Literal choices are listed."""
    if t is inspect.Parameter.empty or t is Any:
        return "any"
    if typing.get_origin(t) is typing.Literal:
        return " | ".join(repr(a) for a in typing.get_args(t))
    if typing.get_origin(t) is not None:
        return str(t).replace("typing.", "")
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


def bind_params(component: Component, values: dict, *, where: str = "") -> dict:
    """Validate user values for ``component``; unknown names get a "did you mean" hint."""
    where = where or f"{component.kind} '{component.name}'"
    out = {}
    for key, value in values.items():
        if key not in component.params:
            known = list(component.params)
            allowed = f" (its parameters: {', '.join(known)})" if known else " (it takes no parameters)"
            hint = did_you_mean(key, known)
            raise NeuralgaeError(f"{where}: unknown parameter '{key}'{hint or allowed}")
        out[key] = _coerce(value, component.params[key], where, component.context)
    for p in component.params.values():
        if p.name not in out:
            if p.required:
                raise NeuralgaeError(f"{where}: missing required parameter '{p.name}' ({p.type_name()})")
            out[p.name] = p.default
    return out


# -- contexts passed to components -------------------------------------------------


@dataclass
class FrameContext:
    """What a transform knows about the frame it is transforming.

    ``index`` counts frames from 0; ``total`` is the number of frames in the
    run; ``rng`` is this frame's own random generator (derived from the run
    seed and the frame index, so resumed runs see the same numbers).
    ``transforms`` maps names to every registered transform, so a composite
    transform (sub-region affines, chains) can apply others by name.
    ``signals`` holds the run's per-frame audio features
    (:class:`~neuralgae.core.runs.schedule.FrameSignals`) when the spec has an
    ``[audio]`` table, so nested steps can follow the music too (None otherwise).
    """

    index: int
    total: int
    rng: np.random.Generator
    transforms: dict = field(default_factory=dict)
    signals: Any = None


@dataclass
class SamplerContext:
    """What a sampler knows: the frame index, this frame's rng and the class sets used so far."""

    index: int
    rng: np.random.Generator
    history: list[list[tuple[int, float]]] = field(default_factory=list)


ProgressCallback = Callable[[float, int, str], None]
"""``progress(done, total, message)``: ``done`` of ``total`` units; a run's frames report fractions of a frame."""


def no_progress(done: float, total: int, message: str = "") -> None:
    """A progress callback that ignores progress."""


@dataclass
class RenderContext:
    """What a renderer gets besides the image.

    ``network`` is the loaded network; ``classes`` the frame's (class index,
    weight) pairs when classes feed back from a sampler (None otherwise);
    ``rng`` this frame's generator and ``seed`` an integer derived from it for
    torch; ``progress(done, total, message)`` reports progress within the
    frame (the engine never prints). ``network_name`` is the name the
    network was asked for; ``load_network(name)`` gives another installed
    network (placed like this one, loaded once), e.g. a judge that did not
    draw. ``notes`` is for the renderer to fill: what it adds there (plain
    JSON values) is recorded with the frame in the manifest and the PNG.
    """

    network: Any
    rng: np.random.Generator
    seed: int = 0
    index: int = 0
    classes: list[tuple[int, float]] | None = None
    progress: ProgressCallback = no_progress
    network_name: str = ""
    load_network: Callable[[str], Any] | None = None
    notes: dict = field(default_factory=dict)
