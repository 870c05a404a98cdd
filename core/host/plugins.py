"""The plugin host: one pluggy manager per host, built-ins and entry points, typed registries.

Built-in plugins are listed by module name in :data:`BUILTIN_PLUGINS` and
registered exactly like third-party plugins, which are found through the
``neuralgae`` entry-point group. Each entry point is loaded on its own, so a
broken one (it fails to import, implements a hook name that does not exist,
or fails while registering) is named in one warning and set aside
(:attr:`PluginHost.broken`) without taking the others or any command that
does not need it down. A name two plugins register is ambiguous
(:class:`Registry`): it fails, naming both, only where it is used.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pluggy

from . import hookspecs
from .components import Component, make_component
from ..nets.device import NOTICES
from .errors import NeuralgaeError, did_you_mean, option

ENTRY_POINT_GROUP = hookspecs.PROJECT

BUILTIN_PLUGINS = (
    "neuralgae.plugins.networks",
    "neuralgae.plugins.renderers",
    "neuralgae.plugins.draw",
    "neuralgae.plugins.transforms",
    "neuralgae.plugins.samplers",
    "neuralgae.plugins.specs",
    "neuralgae.plugins.text",
)

COMPONENT_KINDS = ("transform", "sampler", "renderer", "text_generator")

RUN_EVENTS = ("run_started", "frame_written", "run_finished")

FAMILY_SEPARATOR = ":"
"""Joins a network family and its member: ``torchvision:googlenet``."""


class PluginError(NeuralgaeError):
    """A plugin failed to load or registered something invalid."""


class Registry(dict):
    """Names to registered items; a name two plugins registered is *ambiguous*.

    An ambiguous name is ``in`` the registry (so a spec naming it is not told
    it is unknown) but looking it up raises :class:`PluginError` naming both
    plugins: the clash fails only where the name is used.
    """

    def __init__(self, items=(), ambiguous: dict[str, str] | None = None):
        super().__init__(items)
        self.ambiguous: dict[str, str] = dict(ambiguous or {})

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name) or name in self.ambiguous

    def __getitem__(self, name):
        if name in self.ambiguous:
            raise PluginError(self.ambiguous[name])
        return dict.__getitem__(self, name)

    def get(self, name, default=None):
        return self[name] if name in self else default


@dataclass(frozen=True)
class NetworkEntry:
    """A registered network, or a family of them (``family``: names ``NAME:MEMBER``).

    ``factory(**options)`` (a family's ``factory(member, **options)``) builds
    it; its keyword-only parameters are the options a spec or ``--weights``
    may give. ``members()`` lists a family's member names (None: any member
    is passed on); ``check`` is called like the factory before any work, to
    refuse what cannot load (a missing package or file) cheaply.
    """

    name: str
    factory: Callable
    source: str
    description: str = ""
    family: bool = False
    members: Callable[[], Sequence[str]] | None = None
    check: Callable | None = None

    @property
    def options(self) -> dict[str, inspect.Parameter]:
        """The options the factory takes: its keyword-only parameters, by name."""
        try:
            params = inspect.signature(self.factory, eval_str=True).parameters.values()
        except (TypeError, ValueError, NameError):
            return {}
        return {p.name: p for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}

    def known_members(self) -> list[str] | None:
        """A family's member names, or None when it takes any (raises what ``members()`` raises, e.g. a missing package)."""
        return None if self.members is None else list(self.members())


def _network_entry(label, name, factory, *, description="", family=False, members=None, check=None) -> NetworkEntry:
    """A :class:`NetworkEntry` from a ``register_networks`` call, its arguments checked."""
    if not isinstance(name, str) or not name.strip() or FAMILY_SEPARATOR in name or "+" in name:
        raise PluginError(
            f"plugin '{label}' registered the network name {name!r}; a name is non-empty text without ':' or '+' "
            "(':' joins a family and its member, '+' the members of an ensemble)"
        )
    if not callable(factory) or (members is not None and not callable(members)) or (check is not None and not callable(check)):
        raise PluginError(f"plugin '{label}' registered network '{name}' with a factory, members or check that is not callable")
    if not family and members is not None:
        raise PluginError(f"plugin '{label}' gave members for network '{name}', which is not a family (family=True)")
    return NetworkEntry(name, factory, label, description, bool(family), members, check)


@dataclass(frozen=True)
class SpecEntry:
    name: str
    path: object
    source: str
    description: str = ""


class PluginHost:
    """Loads plugins and collects what they register.

    ``PluginHost()`` loads the built-ins and every installed entry point;
    ``PluginHost(entry_points=False, extra=[module])`` gives a controlled set,
    which tests use.
    """

    def __init__(self, *, builtins: bool = True, entry_points: bool = True, extra: tuple = ()):
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.sources: dict[object, str] = {}
        self.versions: dict[str, str] = {"built-in": _own_version()}
        self.broken: dict[str, str] = {}  # plugin label -> why it is not used (one line)
        self.empty: dict[str, tuple[str, str]] = {}  # plugin name -> (who, why it registered nothing)
        if builtins:
            for modname in BUILTIN_PLUGINS:
                module = importlib.import_module(modname)
                self._register(module, "built-in", strict=True)
        if entry_points:
            self._load_entry_points()
        for plugin in extra:
            self._register(plugin, getattr(plugin, "__name__", repr(plugin)))
        self.pm.check_pending()  # every unknown hook was refused in _register: this cannot fail
        self._networks_cache: dict[str, object] = {}
        self.device: str | None = None
        self.precision: str | None = None

    def _label(self, name: str, source: str) -> str:
        if source in self.versions and source != "built-in":
            return f"plugin '{name}' from distribution '{source}'"
        return f"plugin '{name}'" if name == source else f"plugin '{name}' from '{source}'"

    def _fix(self, source: str) -> str:
        if source in self.versions and source != "built-in":
            return f"fix or uninstall it: pip uninstall {source}"
        return "fix it or leave it out"

    def _mark_broken(self, key: str, message: str) -> None:
        """Set a plugin aside with one warning line; commands that do not need it go on."""
        if key not in self.broken:
            self.broken[key] = message
            NOTICES.warning(f"{message}; going on without it")

    def _register(self, plugin, source: str, *, strict: bool = False, name: str | None = None) -> None:
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        if self.pm.is_registered(plugin) or self.pm.get_plugin(name) is not None:
            return
        label = self._label(name, source)
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            self._refuse(f"{label} is invalid: {_one_line(exc)} ({self._fix(source)})", name, strict)
            return
        unknown = [hc.name for hc in self.pm.get_hookcallers(plugin) or [] if not hc.has_spec()]
        if unknown:
            self.pm.unregister(plugin)
            for hook_name in unknown:  # pluggy keeps an empty caller for an unknown name: drop it
                if not getattr(self.pm.hook, hook_name).get_hookimpls():
                    delattr(self.pm.hook, hook_name)
            hook_names = [h for h in vars(self.pm.hook) if not h.startswith("_")]
            bad = unknown[0]
            self._refuse(
                f"{label} implements '{bad}', which is not a neuralgae hook{did_you_mean(bad, hook_names, n=1)} "
                f"(rename it, or {self._fix(source)}; docs/hooks.md lists the hooks)",
                name, strict,
            )
            return
        self.sources[plugin] = source
        for caller in self.pm.get_hookcallers(plugin) or []:
            if caller.name in RUN_EVENTS and source != "built-in":  # a built-in's errors are nd's own
                for impl in caller.get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function = _guarded(impl.function, caller.name, impl.argnames, label, self._fix(source))
        if source != "built-in" and not self.pm.get_hookcallers(plugin):
            self.empty[name] = (label, _why_empty(plugin))

    def _refuse(self, message: str, name: str, strict: bool) -> None:
        if strict:  # a built-in plugin is part of nd itself: a bug, not something to go on without
            raise PluginError(message)
        self._mark_broken(name, message)

    def _load_entry_points(self) -> None:
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            self.versions.setdefault(dist, (ep.dist.version if ep.dist is not None else None) or "unknown")
            try:
                plugin = ep.load()
            except Exception as exc:
                self._mark_broken(
                    ep.name,
                    f"plugin '{ep.name}' from distribution '{dist}' failed to load: {type(exc).__name__}: {_one_line(exc)} "
                    f"(fix or uninstall it: pip uninstall {dist})",
                )
                continue
            self._register(plugin, dist, name=getattr(plugin, "__name__", None) or ep.name)

    def provider(self, source: str) -> dict:
        """The distribution and version behind a component's ``source`` (``built-in`` is neuralgae itself)."""
        if source == "built-in":
            return {"distribution": "neuralgae", "version": self.versions["built-in"]}
        if source in self.versions:
            return {"distribution": source, "version": self.versions[source]}
        return {"distribution": None, "module": source}

    def provided_by(self, spec) -> dict:
        """Which distribution and version provided each component ``spec`` uses: what a manifest entry records."""
        from ..nets.ensemble import ensemble_members

        members = [m for name in spec.networks for m in ensemble_members(name)]
        out: dict[str, dict] = {"network": {name: self.provider(self.network_entry(name)[0].source) for name in members}}
        stages = [("renderer", spec.renderer)] + [("transform", t) for t in spec.transforms]
        if spec.sampler is not None:
            stages.append(("sampler", spec.sampler))
        for kind, stage in stages:
            out.setdefault(kind, {})[stage.name] = self.provider(self.registry(kind)[stage.name].source)
        return out

    def reinstall_hint(self, entries: list[dict]) -> str:
        """For an earlier run's manifest entries: what provided each component this host lacks, and how to get it back."""
        notes: list[str] = []
        seen: set[tuple[str, str]] = set()
        for entry in entries:
            for kind, table in (entry.get("provided_by") or {}).items():
                for name, who in table.items():
                    if (kind, name) in seen:
                        continue
                    seen.add((kind, name))
                    if kind == "network":
                        if self.has_network(name):
                            continue
                    elif name in (self.registry(kind) if kind in COMPONENT_KINDS else {}):
                        continue
                    dist, version = who.get("distribution"), who.get("version")
                    if dist:
                        notes.append(f"{kind} '{name}' came from {dist} {version} (pip install '{dist}=={version}')")
                    else:
                        notes.append(f"{kind} '{name}' came from the plugin module '{who.get('module')}', which is not loaded")
        return "; in this run, " + "; ".join(notes) if notes else ""

    def unknown(self, kind: str, name: str, known) -> str:
        """The message for an unknown ``name``: near misses, what is installed, and plugins that may have held it."""
        return (
            f"unknown {kind} '{name}'{did_you_mean(name, known)} "
            f"(installed: {', '.join(known) or 'none'}; `nd plugins` lists them){self.missing_notes()}"
        )

    def missing_notes(self) -> str:
        """``"; not loaded: ...; registered nothing: ..."`` for broken and empty plugins, or ``""``."""
        notes = ""
        if self.broken:
            notes += "; not loaded: " + "; ".join(self.broken.values())
        if self.empty:
            notes += "; registered nothing: " + ", ".join(who for who, _ in self.empty.values()) + f" ({option('hooks')} says why)"
        return notes

    # -- registries ---------------------------------------------------------

    def _collect(self, hook_name: str, build: Callable) -> Registry:
        """Call a registration hook on every plugin, recording who registered what.

        A plugin that fails while registering is set aside (one warning line)
        and the others' items are kept; a name two plugins register is
        ambiguous: it fails where a spec or command uses it.
        """
        found: dict[str, object] = {}
        ambiguous: dict[str, str] = {}
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            source = self.sources.get(impl.plugin, impl.plugin_name)
            label = source
            who = self._label(impl.plugin_name, source)
            mine: dict[str, object] = {}

            def register(*args, **kwargs):
                try:
                    item = build(label, *args, **kwargs)
                except TypeError as exc:
                    raise PluginError(f"plugin '{label}' called register() wrongly in {hook_name}: {exc}") from None
                mine[item.name] = item

            try:
                impl.function(register=register)
            except Exception as exc:
                detail = str(exc) if isinstance(exc, NeuralgaeError) else f"{who} failed in {hook_name}: {type(exc).__name__}: {_one_line(exc)}"
                self._mark_broken(impl.plugin_name, f"{detail} ({self._fix(source)})")
                continue
            for name, item in mine.items():
                if name in ambiguous:
                    ambiguous[name] = ambiguous[name].replace("; uninstall", f" and '{label}'; uninstall", 1)
                elif name in found:
                    ambiguous[name] = (
                        f"two plugins register the name '{name}' in {hook_name}: "
                        f"'{found.pop(name).source}' and '{label}'; uninstall or rename one"
                    )
                    NOTICES.warning(f"{ambiguous[name]} (nothing can use '{name}' until then)")
                else:
                    found[name] = item
        return Registry(sorted(found.items()), ambiguous)

    def _components(self, kind: str) -> dict[str, Component]:
        def build(label, function, *, name=None):
            return make_component(kind, function, name, label)

        return self._collect(f"register_{kind}s", build)

    @cached_property
    def transforms(self) -> dict[str, Component]:
        registry = self._components("transform")
        for component in registry.values():  # nested steps (chain, subregions) are checked against it
            component.context["transforms"] = registry
        return registry

    @cached_property
    def samplers(self) -> dict[str, Component]:
        return self._components("sampler")

    @cached_property
    def renderers(self) -> dict[str, Component]:
        return self._components("renderer")

    @cached_property
    def text_generators(self) -> dict[str, Component]:
        return self._components("text_generator")

    @cached_property
    def networks(self) -> dict[str, NetworkEntry]:
        return self._collect(
            "register_networks",
            _network_entry,
        )

    @cached_property
    def specs(self) -> dict[str, SpecEntry]:
        return self._collect(
            "register_specs",
            lambda label, name, path, *, description="": SpecEntry(name, path, label, description),
        )

    def registry(self, kind: str) -> dict[str, Component]:
        if kind not in COMPONENT_KINDS:
            raise ValueError(kind)
        return getattr(self, f"{kind}s")

    def get(self, kind: str, name: str) -> Component:
        """Look up a component by kind and name, suggesting near misses."""
        table = self.registry(kind)
        if name not in table:
            raise NeuralgaeError(self.unknown(kind, name, list(table)))
        return table[name]

    def use(self, *, device: str | None = None, precision: str | None = None) -> PluginHost:
        """Run this host's networks on ``device`` in ``precision`` (text; None: ``ND_DEVICE``/``ND_PRECISION`` or auto).

        Checked at once, so a device that is not there fails before any work.
        Networks already built are placed again.
        """
        from ..nets.device import resolve_device, resolve_precision

        resolve_precision(precision, resolve_device(device))  # an impossible pair fails here, before any work
        self.device, self.precision = device, precision
        self._networks_cache.clear()
        return self

    # -- networks -------------------------------------------------------------

    def network_names(self) -> list[str]:
        """Every network name this host knows: plain ones, and each family's members as ``FAMILY:MEMBER``."""
        names = []
        for name, entry in self.networks.items():
            if not entry.family:
                names.append(name)
                continue
            try:
                members = entry.known_members()
            except NeuralgaeError:
                members = None
            names += [f"{name}{FAMILY_SEPARATOR}{m}" for m in members] if members else [f"{name}{FAMILY_SEPARATOR}..."]
        return names

    def network_summary(self) -> list[str]:
        """The networks in short, for messages: plain names, and each family as ``FAMILY:NAME``."""
        return [f"{n}{FAMILY_SEPARATOR}NAME" if e.family else n for n, e in self.networks.items()]

    def _unknown_network(self, name: str) -> NeuralgaeError:
        return NeuralgaeError(
            f"unknown network '{name}'{did_you_mean(name, self.network_names())} "
            f"(installed: {', '.join(self.network_summary()) or 'none'}; {option('network_list')} lists them){self.missing_notes()}"
        )

    def network_entry(self, name: str) -> tuple[NetworkEntry, str | None]:
        """The registry entry behind network ``name`` and, for a family's ``FAMILY:MEMBER``, the member."""
        if name in self.networks:
            entry = self.networks[name]
            if entry.family:
                example = (entry.known_members() or ["NAME"])[0]
                raise NeuralgaeError(
                    f"'{name}' is a family of networks; name one of them, e.g. {name}{FAMILY_SEPARATOR}{example} "
                    f"(`nd plugins {name}` lists them)"
                )
            return entry, None
        family, sep, member = name.partition(FAMILY_SEPARATOR)
        if not sep or family not in self.networks or not self.networks[family].family:
            raise self._unknown_network(name)
        entry = self.networks[family]
        known = entry.known_members()
        if not member.strip():
            raise NeuralgaeError(f"network '{name}' names no member of '{family}'; write e.g. {family}{FAMILY_SEPARATOR}{(known or ['NAME'])[0]}")
        if known is not None and member not in known:
            hint = did_you_mean(member, known)
            raise NeuralgaeError(
                f"'{family}' has no network '{member}'{hint} (`nd plugins {family}` lists its {len(known)} networks)"
            )
        return entry, member

    def has_network(self, name: str) -> bool:
        """Whether ``name`` (a plain name, ``FAMILY:MEMBER`` or an ensemble) names networks this host has."""
        from ..nets.ensemble import ensemble_members

        try:
            for member in ensemble_members(name):
                self.network_entry(member)
        except NeuralgaeError:
            return False
        return True

    def check_network(self, name: str, options: Mapping | None = None, *, base_dir: Path | None = None, where: str = "") -> dict:
        """Check network ``name`` and its ``options`` before any work; return the options with files made absolute.

        Unknown names and options, options of the wrong type, missing files
        (an option annotated ``Path``, relative to ``base_dir``, default the
        current folder) and required options not given are each one error;
        then the network's own ``check`` runs (a missing package, weights not
        in the hub cache). ``where`` says how the user gave the options
        (``--weights``, a spec's key), for the messages.
        """
        from ..nets.ensemble import ensemble_members, is_ensemble

        options = dict(options or {})
        if is_ensemble(name):
            if options:
                given = ", ".join(options)
                raise NeuralgaeError(
                    f"the ensemble '{name}' takes no {given}: an option belongs to one network; "
                    "let each member find its weights (the torch hub cache) or use one network"
                )
            for member in ensemble_members(name):
                self.check_network(member)
            return {}
        entry, member = self.network_entry(name)
        accepted = entry.options
        out: dict = {}
        for key, value in options.items():
            if key not in accepted:
                takes = f"its options are {', '.join(accepted)}" if accepted else "it takes none"
                raise NeuralgaeError(f"network '{name}' has no option '{key}'{did_you_mean(key, accepted)} ({takes})")
            out[key] = _network_option(name, accepted[key], value, base_dir or Path.cwd(), where)
        for key, param in accepted.items():
            if param.default is inspect.Parameter.empty and key not in out:
                how = f"{option('weights')}FILE" if key == "weights" else f"the option '{key}'"
                raise NeuralgaeError(
                    f"network '{name}' needs {how} (in a spec: network = {{ name = \"{name}\", {key} = ... }})"
                )
        if entry.check is not None:
            entry.check(member, **out) if entry.family else entry.check(**out)
        return out

    def network(self, name: str = "efficientnet-lite0", **options):
        """The network ``name`` with ``options`` (e.g. ``weights``), built on first use, placed on this host's device and cached."""
        from ..nets.ensemble import EnsembleNetwork, ensemble_members, is_ensemble
        from ..nets.placement import place_network

        key = _cache_key(name, options)
        if key in self._networks_cache:
            return self._networks_cache[key]
        if is_ensemble(name):  # a+b: the members' mean logits, each member placed and cached as itself
            self.check_network(name, options)
            net = EnsembleNetwork([self.network(m) for m in ensemble_members(name)])
        else:
            options = self.check_network(name, options)
            checked = _cache_key(name, options)  # the same file named another way is the same network
            if checked not in self._networks_cache:
                entry, member = self.network_entry(name)
                built = entry.factory(member, **options) if entry.family else entry.factory(**options)
                self._networks_cache[checked] = place_network(built, self.device, self.precision)
            net = self._networks_cache[checked]
        self._networks_cache[key] = net
        return net

    def networks_of(self, spec) -> dict:
        """Every network ``spec`` uses, by name, each with the options the spec gives it (loaded once)."""
        options = getattr(spec, "network_options", {}) or {}
        return {name: self.network(name, **options.get(name, {})) for name in spec.networks}


def _cache_key(name: str, options: Mapping) -> tuple:
    return name, tuple(sorted((k, str(v)) for k, v in options.items()))


def _network_option(network: str, param: inspect.Parameter, value, base_dir: Path, where: str):
    """One option of a network checked against the factory's annotation: files exist, types match."""
    label = f"{where}: " if where else ""
    annotation = param.annotation
    kinds = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    if value is None:
        if type(None) in kinds or param.default is None:
            return None
        raise NeuralgaeError(f"{label}the option '{param.name}' of network '{network}' needs a value")
    if Path in kinds:
        if not isinstance(value, (str, Path)) or not str(value).strip():
            raise NeuralgaeError(f"{label}the option '{param.name}' of network '{network}' must be a file path; got {value!r}")
        path = (base_dir / Path(value).expanduser()).resolve()
        if not path.exists():
            raise NeuralgaeError(
                f"{label}the {param.name} file '{value}' of network '{network}' does not exist (looked for {path})"
            )
        if path.is_dir():
            raise NeuralgaeError(f"{label}the {param.name} '{value}' of network '{network}' is a folder; give the file in it")
        return path
    for kind in (bool, int, float, str):
        if kind in kinds:
            ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value, ok = float(value), True
            if ok:
                return value
    if annotation is inspect.Parameter.empty:
        return value
    wanted = " or ".join("a file path" if k is Path else getattr(k, "__name__", str(k)) for k in kinds if k is not type(None))
    raise NeuralgaeError(f"{label}the option '{param.name}' of network '{network}' must be {wanted}; got {value!r}")


def _guarded(function: Callable, hook_name: str, argnames: tuple, label: str, fix: str) -> Callable:
    """A run-event hook whose failure is a one-line PluginError naming the plugin, the hook and the frame."""

    def guarded(*args):
        try:
            return function(*args)
        except Exception as exc:
            values = dict(zip(argnames, args))
            frame = getattr(values.get("frame"), "index", None)
            when = f" on frame {frame}" if frame is not None else ""
            detail = str(exc) if isinstance(exc, NeuralgaeError) else f"{type(exc).__name__}: {_one_line(exc)}"
            raise PluginError(f"{label} failed in {hook_name}{when}: {detail} ({fix})") from exc

    return guarded


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line (pluggy's and import errors can span several)."""
    return " ".join(str(exc).split())


def _own_version() -> str:
    try:
        return md.version("neuralgae")
    except md.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _why_empty(plugin) -> str:
    """Why a plugin implements no hook: usually functions named like hooks without ``@hookimpl``."""
    hook_names = [n for n in dir(hookspecs) if n.startswith(("register_", "run_", "frame_"))]
    unmarked = [n for n in hook_names if callable(getattr(plugin, n, None))]
    if unmarked:
        return f"no hooks: {', '.join(unmarked)} not marked @hookimpl (from neuralgae.core import hookimpl)"
    return "no hooks: none of its functions is marked @hookimpl with a hook's name (docs/hooks.md lists them)"


_default_host: PluginHost | None = None


def default_host() -> PluginHost:
    """A process-wide host, created on first use (never at import)."""
    global _default_host
    if _default_host is None:
        _default_host = PluginHost()
    return _default_host


def load_network(name: str | None = None, *, host: PluginHost | None = None):
    """The network ``name`` (default: the spec default, EfficientNet-Lite0) from ``host`` (default: :func:`default_host`).

    Built once and placed on the host's device: the Python way to get any
    built-in, installed plugin's or ensemble (``a+b``) network by name.
    """
    from ..runs.spec import DEFAULT_NETWORK

    return (host or default_host()).network(name or DEFAULT_NETWORK)
