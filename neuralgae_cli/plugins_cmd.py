"""`nd plugins [NAME]`: what is installed, where it comes from, and its parameters."""

from __future__ import annotations

import inspect
import types
import typing

import typer

from neuralgae.core.host.components import Component
from neuralgae.core.host.errors import NeuralgaeError, did_you_mean
from neuralgae.core.host.plugins import PluginHost, default_host
from neuralgae_cli.common import user_errors

SECTIONS = (
    ("renderer", "renderers"),
    ("transform", "transforms"),
    ("sampler", "samplers"),
    ("network", "networks"),
    ("spec", "specs"),
    ("text_generator", "text generators"),
)


def _registry(host: PluginHost, kind: str) -> dict:
    if kind == "network":
        return host.networks
    if kind == "spec":
        return host.specs
    return host.registry(kind)


def _summary(item) -> str:
    return item.summary if isinstance(item, Component) else item.description


def type_name(annotation) -> str:
    """A readable type: ``float``, ``'auto' | 'always' | 'never'``, ``str | None``, ``list[str]``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is inspect.Parameter.empty or annotation is typing.Any:
        return "any"
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join("None" if a is type(None) else type_name(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]" if args else getattr(origin, "__name__", str(origin))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def describe_param(param) -> str:
    """``sigma: float [>= 0] (default 1.0)``: a parameter's type, declared limits and default."""
    default = "required" if param.required else f"default {param.default!r}"
    limits = param.limits_text() if hasattr(param, "limits_text") else ""
    return f"{param.name}: {type_name(param.type)}{f' [{limits}]' if limits else ''} ({default})"


def _params_line(component: Component) -> str:
    if not component.params:
        return "no parameters"
    return ", ".join(p.name if p.required else f"{p.name}={p.default!r}" for p in component.params.values())


def listing(host: PluginHost, kind: str | None = None) -> list[str]:
    """Every registered component, network and spec, grouped by kind, with source and parameters."""
    lines: list[str] = []
    for k, title in SECTIONS:
        if kind and k != kind:
            continue
        table = _registry(host, k)
        ambiguous = getattr(table, "ambiguous", {})
        if not table and not ambiguous:
            continue
        if lines:
            lines.append("")
        lines.append(f"{title}:")
        width = max((len(n) for n in table), default=0)
        for name, item in table.items():
            lines.append(f"  {name:<{width}}  [{item.source}]  {_summary(item)}".rstrip())
            if isinstance(item, Component):
                lines.append(f"  {'':<{width}}  {_params_line(item)}")
        for name, message in ambiguous.items():
            lines.append(f"  {name}  [AMBIGUOUS]  {message}")
    if not kind:
        lines += _problems(host)
    return lines


def _problems(host: PluginHost) -> list[str]:
    """Plugins set aside (they failed to load or register) and plugins that registered nothing."""
    lines: list[str] = []
    if host.broken:
        lines += ["", "broken plugins (not used):"]
        lines += [f"  {name}  BROKEN  {message}" for name, message in host.broken.items()]
    if host.empty:
        lines += ["", "plugins that registered nothing:"]
        lines += [f"  {name}  {why}" for name, (_, why) in host.empty.items()]
    return lines


def hooks_listing(host: PluginHost) -> list[str]:
    """Each loaded plugin, where it comes from, and the hooks it implements."""
    for k, _ in SECTIONS:  # registering is lazy: run it, so plugins that fail there show as broken
        _registry(host, k)
    lines = ["plugins:"]
    for name, plugin in sorted(host.pm.list_name_plugin(), key=lambda np_: np_[0]):
        if name in host.broken:
            lines.append(f"  {name}  [{host.sources.get(plugin, '?')}]  BROKEN  {host.broken[name]}")
            continue
        hooks = sorted(impl.name for impl in host.pm.get_hookcallers(plugin) or [])
        where = host.sources.get(plugin, "?")
        if not hooks:
            why = host.empty.get(name, (None, "no hooks"))[1]
            lines.append(f"  {name}  [{where}]  NO HOOKS, it registers nothing: {why.removeprefix('no hooks: ')}")
            continue
        lines.append(f"  {name}  [{where}]  {', '.join(hooks)}")
    for name, message in host.broken.items():
        if host.pm.get_plugin(name) is None:
            lines.append(f"  {name}  BROKEN  {message}")
    return lines


def describe(host: PluginHost, name: str, kind: str | None = None) -> list[str]:
    """The full documentation of every item called ``name`` (a transform and a spec may share a name)."""
    found = []
    for k, title in SECTIONS:
        if kind and k != kind:
            continue
        table = _registry(host, k)
        if name in getattr(table, "ambiguous", {}):
            raise NeuralgaeError(table.ambiguous[name])
        if name in table:
            found.append((k, table[name]))
    if not found and (kind in (None, "network")) and ":" in name:  # torchvision:googlenet: the family, for its member
        try:
            entry, _member = host.network_entry(name)
        except NeuralgaeError:
            entry = None
        if entry is not None:
            return [f"network '{name}'  [{entry.source}]", "", entry.description or "(no description)", *network_details(entry, entry.name)[:3]]
    if not found:
        known = sorted({n for k, _ in SECTIONS for n in _registry(host, k)})
        raise NeuralgaeError(
            f"no plugin component called '{name}'{did_you_mean(name, known)} (`nd plugins` lists them all){host.missing_notes()}"
        )
    lines: list[str] = []
    for k, item in found:
        if lines:
            lines += ["", "---", ""]
        lines.append(f"{k.replace('_', ' ')} '{name}'  [{item.source}]")
        if isinstance(item, Component):
            lines += ["", item.doc or "(no documentation)", "", "parameters:"]
            lines += [f"  {describe_param(p)}" for p in item.params.values()] or ["  none"]
        elif k == "spec":
            lines += ["", item.description or "(no description)", f"file: {item.path}", f"run it: nd run {name}"]
        elif k == "network":
            lines += ["", item.description or "(no description)", *network_details(item, name)]
        else:
            lines += ["", item.description or "(no description)"]
    return lines


def network_details(entry, name: str) -> list[str]:
    """A network's options and, for a family, its members."""
    lines = ["", "options:"]
    lines += [f"  {describe_param(_Option(p))}" for p in entry.options.values()] or ["  none"]
    if entry.family:
        try:
            members = entry.known_members()
        except NeuralgaeError as exc:
            return lines + ["", f"members: {exc}"]
        if members is not None:
            lines += ["", f"members ({len(members)}; use them as {name}:MEMBER):"]
            lines += ["  " + ", ".join(members[i : i + 8]) for i in range(0, len(members), 8)]
    return lines


class _Option:
    """A factory's keyword-only parameter, shaped like a component parameter for :func:`describe_param`."""

    def __init__(self, param: inspect.Parameter):
        self.name, self.type, self.default = param.name, param.annotation, param.default
        self.required = param.default is inspect.Parameter.empty


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_command(
        name: str | None = typer.Argument(None, help="Show one transform, sampler, renderer, network or spec in full."),
        kind: str | None = typer.Option(None, "--kind", "-k", help="Only this kind: renderer, transform, sampler, network, spec, text_generator."),
        hooks: bool = typer.Option(False, "--hooks", help="List the loaded plugins and the hooks each implements."),
    ) -> None:
        """List installed transforms, samplers, renderers, networks and specs with their sources and parameters."""
        with user_errors():
            kinds = [k for k, _ in SECTIONS]
            if kind is not None and kind not in kinds:
                raise NeuralgaeError(f"unknown kind '{kind}'{did_you_mean(kind, kinds)} (kinds: {', '.join(kinds)})")
            host = default_host()
            if hooks:
                lines = hooks_listing(host)
            elif name:
                lines = describe(host, name, kind)
            else:
                lines = listing(host, kind) or [f"no {dict(SECTIONS)[kind or 'renderer']} installed" if kind else "nothing installed"]
            typer.echo("\n".join(lines))

