"""The plugin host: one pluggy manager per host, built-ins and entry points, typed registries.

Built-in plugins are listed by module name in :data:`BUILTIN_PLUGINS` and
registered exactly like third-party plugins, which are found through the
``neuralgae`` entry-point group. Each entry point is loaded on its own, so a
broken one is reported by name without taking the others down.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import pluggy

from . import hookspecs
from .components import Component, make_component
from .errors import NeuralgaeError, did_you_mean

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


class PluginError(NeuralgaeError):
    """A plugin failed to load or registered something invalid."""


@dataclass(frozen=True)
class NetworkEntry:
    name: str
    factory: Callable
    source: str
    description: str = ""


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
        if builtins:
            for modname in BUILTIN_PLUGINS:
                module = importlib.import_module(modname)
                self._register(module, "built-in")
        if entry_points:
            self._load_entry_points()
        for plugin in extra:
            self._register(plugin, getattr(plugin, "__name__", repr(plugin)))
        self.pm.check_pending()
        self._networks_cache: dict[str, object] = {}
        self.device: str | None = None
        self.precision: str | None = None

    def _register(self, plugin, source: str) -> None:
        name = getattr(plugin, "__name__", None) or repr(plugin)
        if self.pm.is_registered(plugin) or self.pm.get_plugin(name) is not None:
            return
        try:
            self.pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin '{name}' from {source} is invalid: {exc}") from None
        self.sources[plugin] = source

    def _load_entry_points(self) -> None:
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.name if ep.dist is not None else "unknown distribution"
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin '{ep.name}' from distribution '{dist}' failed to load: {type(exc).__name__}: {exc} "
                    f"(fix or uninstall it: pip uninstall {dist})"
                ) from None
            self._register(plugin, dist)

    # -- registries ---------------------------------------------------------

    def _collect(self, hook_name: str, build: Callable) -> dict:
        """Call a registration hook on every plugin, recording who registered what."""
        found: dict[str, object] = {}
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            source = self.sources.get(impl.plugin, impl.plugin_name)
            label = source

            def register(*args, **kwargs):
                try:
                    item = build(label, *args, **kwargs)
                except TypeError as exc:
                    raise PluginError(f"plugin '{label}' called register() wrongly in {hook_name}: {exc}") from None
                if item.name in found:
                    raise PluginError(
                        f"two plugins register the name '{item.name}' in {hook_name}: "
                        f"'{found[item.name].source}' and '{label}'; uninstall or rename one"
                    )
                found[item.name] = item

            try:
                impl.function(register=register)
            except NeuralgaeError:
                raise
            except Exception as exc:
                raise PluginError(f"plugin '{label}' failed in {hook_name}: {type(exc).__name__}: {exc}") from None
        return dict(sorted(found.items()))

    def _components(self, kind: str) -> dict[str, Component]:
        def build(label, function, *, name=None):
            return make_component(kind, function, name, label)

        return self._collect(f"register_{kind}s", build)

    @cached_property
    def transforms(self) -> dict[str, Component]:
        return self._components("transform")

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
            lambda label, name, factory, *, description="": NetworkEntry(name, factory, label, description),
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
            known = list(table)
            raise NeuralgaeError(
                f"unknown {kind} '{name}'{did_you_mean(name, known)} "
                f"(installed: {', '.join(known) or 'none'}; `nd plugins` lists them)"
            )
        return table[name]

    def use(self, *, device: str | None = None, precision: str | None = None) -> PluginHost:
        """Run this host's networks on ``device`` in ``precision`` (text; None: ``ND_DEVICE``/``ND_PRECISION`` or auto).

        Checked at once, so a device that is not there fails before any work.
        Networks already built are placed again.
        """
        from .device import resolve_device, resolve_precision

        resolve_precision(precision, resolve_device(device))  # an impossible pair fails here, before any work
        self.device, self.precision = device, precision
        self._networks_cache.clear()
        return self

    def network(self, name: str = "efficientnet-lite0"):
        """The network ``name``, built on first use, placed on this host's device and cached."""
        from .placement import place_network

        if name not in self.networks:
            raise NeuralgaeError(f"unknown network '{name}'{did_you_mean(name, list(self.networks))} (installed: {', '.join(self.networks)})")
        if name not in self._networks_cache:
            self._networks_cache[name] = place_network(self.networks[name].factory(), self.device, self.precision)
        return self._networks_cache[name]


_default_host: PluginHost | None = None


def default_host() -> PluginHost:
    """A process-wide host, created on first use (never at import)."""
    global _default_host
    if _default_host is None:
        _default_host = PluginHost()
    return _default_host
