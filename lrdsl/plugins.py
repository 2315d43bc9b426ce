"""Plugin discovery: the built-in nodes and third-party entry points, through one pluggy manager."""

from __future__ import annotations

import functools
import importlib

import pluggy

from . import hookspecs
from .registry import Registry

hookimpl = pluggy.HookimplMarker("lrdsl")

BUILTIN_PLUGINS = ("lrdsl.builtin.functions", "lrdsl.builtin.schedules", "lrdsl.builtin.catalog",
                   "lrdsl.builtin.optimizers")
ENTRY_POINT_GROUP = "lrdsl"


def plugin_manager(entry_points: bool = True) -> pluggy.PluginManager:
    """A manager with the built-in plugins and (optionally) every ``lrdsl`` entry point."""
    manager = pluggy.PluginManager("lrdsl")
    manager.add_hookspecs(hookspecs)
    for module in BUILTIN_PLUGINS:
        manager.register(importlib.import_module(module), name=module)
    if entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


def _source(manager: pluggy.PluginManager, plugin) -> str:
    for registered, dist in manager.list_plugin_distinfo():
        if registered is plugin:
            return dist.project_name
    return "lrdsl"


def build_registry(entry_points: bool = True) -> Registry:
    """A registry filled from every plugin's ``lrdsl_nodes`` hook."""
    manager = plugin_manager(entry_points)
    registry = Registry()
    for impl in reversed(manager.hook.lrdsl_nodes.get_hookimpls()):
        for spec in impl.function():
            registry.add(spec, _source(manager, impl.plugin))
    return registry


@functools.lru_cache(maxsize=None)
def default_registry() -> Registry:
    """The registry used when none is given (built once per process)."""
    return build_registry()
