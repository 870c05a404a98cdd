"""Registered components (transforms, samplers, renderers...) and the contexts passed to them.

A component is a plain function. Its keyword-only parameters, with their type
annotations and defaults, are its user-facing parameters: they are read once
at registration, used to validate spec values (with "did you mean" hints) and
to document the component.
"""

from __future__ import annotations

import inspect
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

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def type_name(self) -> str:
        return _tname(self.type)

    def describe(self) -> str:
        default = "required" if self.required else f"default {self.default!r}"
        return f"{self.name}: {self.type_name()} ({default})"


@dataclass(frozen=True)
class Component:
    """A registered function with its parameters and where it came from."""

    kind: str
    name: str
    function: Callable
    params: dict[str, Param]
    source: str
    doc: str = ""

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
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable annotations: fall back to the raw ones
        hints = {}
    out = {}
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            out[p.name] = Param(p.name, hints.get(p.name, p.annotation), p.default)
    return out


def make_component(kind: str, function: Callable, name: str | None, source: str) -> Component:
    if not callable(function):
        raise NeuralgaeError(f"plugin '{source}' registered a {kind} that is not a function: {function!r}")
    name = name or getattr(function, "__name__", None)
    if not name or not isinstance(name, str):
        raise NeuralgaeError(f"plugin '{source}' registered a {kind} without a name")
    return Component(kind, name, function, params_of(function), source, inspect.getdoc(function) or "")


def _coerce(value, param: Param, where: str):
    """Check a spec value against a parameter's annotation; ints become floats where floats are wanted."""
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
                return _coerce(value, Param(param.name, a, param.default), where)
            except NeuralgaeError as e:
                errors.append(e)
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
            return tuple(_coerce(v, Param(param.name, a), where) for v, a in zip(value, args))
        items = [_coerce(v, Param(param.name, inner), where) for v in value]
        return tuple(items) if (origin is tuple or t is tuple) else items
    if origin is dict or t is dict:
        if not isinstance(value, dict):
            raise NeuralgaeError(f"{label} must be a table; got {value!r}")
        return value
    if t is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NeuralgaeError(f"{label} must be a number; got {value!r}")
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
        out[key] = _coerce(value, component.params[key], where)
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
    (:class:`~neuralgae.core.schedule.FrameSignals`) when the spec has an
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
    frame (the engine never prints).
    """

    network: Any
    rng: np.random.Generator
    seed: int = 0
    index: int = 0
    classes: list[tuple[int, float]] | None = None
    progress: ProgressCallback = no_progress
