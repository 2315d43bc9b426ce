"""Plugin discovery: the built-in nodes and third-party entry points, through one pluggy manager.

The built-in modules (:data:`BUILTIN_PLUGINS`) and every entry point of the group ``lrdsl``
implement the same hooks (:mod:`lrdsl.hookspecs`) and are read by the same loop. A broken
built-in is a bug and raises; a broken third-party plugin never takes the library down:

- an entry point that fails to import or to register, a hook that raises or returns something
  other than node specs, and a malformed node each give an :class:`LRDSLPluginWarning` naming
  the distribution and the reason; that plugin (or just that node) is skipped;
- a plugin node whose name (or alias) is a built-in's is skipped with a warning: built-in
  names mean what docs/language.md §10 says and cannot be overridden;
- a name two plugins both provide is *withdrawn* with a warning: neither node is used, and
  using the name is a :class:`~lrdsl.errors.PluginError` naming both distributions, until
  the user blocks or uninstalls one. There is no silent override and no renaming.

Users turn entry-point loading off with ``LRDSL_NO_PLUGINS=1`` or block distributions with
``LRDSL_BLOCK_PLUGINS=dist1,dist2`` (distribution or entry-point names); in Python,
:func:`configure_plugins` does the same and overrides the environment.

pluggy and :mod:`importlib.metadata` are imported when plugins are loaded, not with lrdsl. Reading
the entry points means reading every installed distribution (10-20 ms); when there is none in
the group ``lrdsl``, the user cache (:mod:`lrdsl.usercache`) notes it with the modification
times of the folders of ``sys.path`` and of their distributions' ``entry_points.txt``, and the
next process that finds them unchanged skips the reading (:func:`_entry_points`).
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple, TypedDict

from . import usercache
from .errors import PluginError, did_you_mean
from .guard import FAILURES, failure, fenced
from .registry import NameClashError, Registry, withdrawn_reason
from .specs import spec_of

if TYPE_CHECKING:
    import importlib.metadata

    import pluggy

BUILTIN_PLUGINS = (
    "lrdsl.builtin.functions",
    "lrdsl.builtin.schedules",
    "lrdsl.builtin.catalog",
    "lrdsl.builtin.optimizers",
)
BUILTIN_SOURCE = "lrdsl"
ENTRY_POINT_GROUP = "lrdsl"
ENV_NO_PLUGINS = "LRDSL_NO_PLUGINS"
ENV_BLOCK_PLUGINS = "LRDSL_BLOCK_PLUGINS"
_FALSE = ("", "0", "false", "no", "off")
NO_ENTRY_POINTS = "no-entry-points"  # the user-cache files noting sys.path folders without any start so
SETTLED_SECONDS = 2.0  # a folder changed more recently may still be changing: never noted


class LRDSLPluginWarning(UserWarning):
    """A third-party plugin, or one of its nodes, was skipped; the message names the distribution and why."""


# -- policy ------------------------------------------------------------------------------------


def normalise(name: str) -> str:
    """A distribution name as packaging compares them (PEP 503): ``LRDSL_Extras`` -> ``lrdsl-extras``."""
    return re.sub(r"[-_.]+", "-", name).lower().strip()


@dataclass(frozen=True)
class PluginPolicy:
    """Whether entry points are loaded, and which distributions (or entry-point names) are blocked."""

    entry_points: bool = True
    block: FrozenSet[str] = frozenset()

    def blocks(self, *names: str) -> bool:
        return any(normalise(name) in self.block for name in names if name)


class _Overrides(TypedDict, total=False):
    entry_points: Optional[bool]
    block: Optional[Tuple[str, ...]]


_overrides: _Overrides = {}


def plugin_policy() -> PluginPolicy:
    """The policy in force: :func:`configure_plugins`' settings, else the environment."""
    entry_points = _overrides.get("entry_points")
    if entry_points is None:
        entry_points = os.environ.get(ENV_NO_PLUGINS, "").strip().lower() in _FALSE
    block: Optional[Iterable[str]] = _overrides.get("block")
    if block is None:
        block = os.environ.get(ENV_BLOCK_PLUGINS, "").split(",")
    return PluginPolicy(bool(entry_points), frozenset(normalise(b) for b in block if b.strip()))


def configure_plugins(*, entry_points: Optional[bool] = None, block: Optional[Iterable[str]] = None) -> None:
    """Set, for this process, whether entry points load and which plugins are blocked.

    ``None`` leaves a setting to the environment (``LRDSL_NO_PLUGINS``, ``LRDSL_BLOCK_PLUGINS``).
    The default registry is rebuilt on its next use.
    """
    if isinstance(block, str):
        raise PluginError("configure_plugins(block=...) takes a list of distribution names, not a string")
    _overrides["entry_points"] = entry_points
    _overrides["block"] = None if block is None else tuple(block)
    default_registry.cache_clear()


# -- loading -----------------------------------------------------------------------------------


def _warn(source: str, message: str) -> None:
    warnings.warn(f"lrdsl plugin {source!r}: {message}", LRDSLPluginWarning, stacklevel=3)


@dataclass
class LoadedPlugins:
    """The pluggy manager and, by registered plugin name, the source (distribution) of each plugin."""

    manager: pluggy.PluginManager
    sources: Dict[str, str] = field(default_factory=dict)

    def register(self, plugin, name: str, source: str) -> None:
        """Register ``plugin``; a third party's failure is a warning, a built-in's raises."""
        try:
            self.manager.register(plugin, name=name)
        except FAILURES as error:  # pluggy validates hook signatures here
            if source == BUILTIN_SOURCE:
                raise
            _warn(source, f"skipped: registering {name!r} failed: {failure(error)}")
            return
        self.sources[name] = source
        self._check_hooks(plugin, name, source)

    def _check_hooks(self, plugin, name: str, source: str) -> None:
        from . import hookspecs

        callers = self.manager.get_hookcallers(plugin) or []
        known = [n for n in dir(hookspecs) if n.startswith("lrdsl_")]
        for caller in callers:
            if caller.spec is None:
                _warn(
                    source,
                    f"{name!r} implements unknown hook {caller.name!r}{did_you_mean(caller.name, known)}; "
                    f"the hooks are {', '.join(known)}",
                )
        if not callers:
            _warn(source, f"{name!r} implements no hook: mark its functions with @lrdsl.hookimpl")


def _entry_points() -> List[importlib.metadata.EntryPoint]:
    """The entry points of the group ``lrdsl``, each once, sorted by distribution and name.

    Skipped (no entry point) when the user cache notes none for these ``sys.path`` folders as
    they are now (:func:`_path_folders`): installing or removing a distribution changes its
    folder's modification time (which is how :mod:`importlib.metadata` itself tells that its own
    cache is stale), and rewriting a distribution's entry points changes its ``entry_points.txt``'s."""
    folders = _path_folders()
    if folders is not None and usercache.read_text(_note_name()) == folders:
        return []
    import importlib.metadata

    seen, unique = set(), []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (_dist_name(ep), ep.name, ep.value)
        if key not in seen:  # the same distribution twice on sys.path
            seen.add(key)
            unique.append(ep)
    if not unique and folders is not None:
        usercache.write_text(_note_name(), folders)
    return sorted(unique, key=lambda ep: (normalise(_dist_name(ep)), ep.name))


def _note_name() -> str:
    """The note's file name: one per interpreter and ``sys.path`` after its first entry (the
    script's folder or the working folder, which is checked but would make a file per folder)."""
    import zlib

    key = "\n".join([sys.executable, *sys.path[1:]]).encode("utf-8", "surrogateescape")
    return f"{NO_ENTRY_POINTS}-{zlib.crc32(key):08x}"


def _path_folders() -> Optional[str]:
    """What the installed distributions' entry points depend on, one line each: every ``sys.path``
    folder and every distribution's metadata folder in it (:func:`_metadata`), with the modification time (ns) of
    the folder and of its ``entry_points.txt`` (-1: none). None when that cannot vouch for them:
    a finder other than the standard path finder reports distributions, or a file or folder
    changed in the last :data:`SETTLED_SECONDS` (it may change again within the same timestamp)."""
    import importlib.machinery

    if any(
        getattr(finder, "find_distributions", None) is not None and finder is not importlib.machinery.PathFinder
        for finder in sys.meta_path
    ):
        return None
    lines, settled = [sys.prefix], (time.time() - SETTLED_SECONDS) * 1e9
    for entry in sys.path:
        folder = os.path.abspath(entry or ".")
        stamps = [(folder, _modified(folder))]
        stamps += [(name, _modified(os.path.join(folder, name, "entry_points.txt"))) for name in _metadata(folder)]
        if any(modified > settled for _, modified in stamps):
            return None
        lines += [f"{modified} {name}" for name, modified in stamps]
    return "\n".join(lines)


def _metadata(folder: str) -> List[str]:
    """The names of the distributions' metadata folders in ``folder`` (none if it is not a folder),
    found as ``importlib.metadata`` finds them: ``*.dist-info`` and ``*.egg-info`` in any case,
    and the ``EGG-INFO`` of a folder that is an egg (``name.egg``)."""
    is_egg = folder.lower().endswith(".egg")
    try:
        with os.scandir(folder) as entries:
            return sorted(
                e.name
                for e in entries
                if e.name.lower().endswith((".dist-info", ".egg-info")) or (is_egg and e.name.lower() == "egg-info")
            )
    except OSError:
        return []


def _modified(path: str) -> int:
    """The modification time of ``path`` in ns, -1 when it is not there."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def _dist_name(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist is not None and dist.name else f"entry point {ep.name}"


def load_plugins(
    policy: Optional[PluginPolicy] = None,
    plugins: Optional[Mapping[str, object]] = None,
    entry_points: Optional[List[importlib.metadata.EntryPoint]] = None,
) -> LoadedPlugins:
    """The built-in plugins, then ``plugins`` (source name -> module or object), then entry points
    (``entry_points`` when the caller has read them already).

    The built-in modules' ``lrdsl_nodes`` are marked ``@lrdsl.hookimpl`` here, not where they are
    written, so that the built-in nodes load without pluggy when no plugin needs it
    (:func:`build_registry`)."""
    import pluggy

    from . import hookspecs

    policy = plugin_policy() if policy is None else policy
    manager = pluggy.PluginManager("lrdsl")
    manager.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(manager)
    for name in BUILTIN_PLUGINS:
        module = importlib.import_module(name)
        hookspecs.hookimpl(module.lrdsl_nodes)
        loaded.register(module, name, BUILTIN_SOURCE)
    for source, plugin in (plugins or {}).items():
        if not policy.blocks(source):
            loaded.register(plugin, source, source)
    if not policy.entry_points:
        return loaded
    for ep in _entry_points() if entry_points is None else entry_points:
        source = _dist_name(ep)
        if policy.blocks(source, ep.name):
            continue
        try:
            plugin = ep.load()
        except FAILURES as error:  # any failure in third-party code
            _warn(source, f"skipped: importing entry point '{ep.name} = {ep.value}' failed: {failure(error)}")
            continue
        loaded.register(plugin, f"{source}:{ep.name}", source)
    return loaded


def plugin_manager(entry_points: bool = True) -> pluggy.PluginManager:
    """A manager with the built-in plugins and (optionally) the ``lrdsl`` entry points."""
    policy = plugin_policy()
    return load_plugins(PluginPolicy(entry_points and policy.entry_points, policy.block)).manager


# -- the registry ------------------------------------------------------------------------------


def _hook_specs(function, plugin_name: str, source: str) -> Tuple:
    """What one plugin's ``lrdsl_nodes`` returned; a third party's failure is a warning and no nodes."""
    try:
        specs = function()
        if specs is None or isinstance(specs, (str, bytes)) or not hasattr(specs, "__iter__"):
            raise PluginError(f"its lrdsl_nodes hook returned {type(specs).__name__}, not a list of nodes")
        return tuple(specs)
    except FAILURES as error:  # any failure in third-party code
        if source == BUILTIN_SOURCE:
            raise
        reason = str(error) if isinstance(error, PluginError) else f"its lrdsl_nodes hook raised {failure(error)}"
        _warn(source, f"skipped {plugin_name!r}: {reason}")
        return ()


def _add(registry: Registry, node, source: str) -> None:
    """Add one node under the clash policy (see the module docstring)."""
    try:
        spec = spec_of(node).with_source(source)
        registry.add(spec if source == BUILTIN_SOURCE else fenced(spec), source)
    except NameClashError as clash:
        if source == BUILTIN_SOURCE:
            raise
        if clash.other is not None and clash.other.source == BUILTIN_SOURCE:
            _warn(
                source,
                f"node {spec.name!r} skipped: {clash.name!r} is the name of the built-in node "
                f"{clash.other.name!r}, which a plugin cannot override; rename the plugin's node",
            )
        elif source in clash.other_sources:
            _warn(source, f"node {spec.name!r} skipped: the plugin declares the name {clash.name!r} twice")
        else:
            if clash.other is not None:
                registry.withdraw(clash.other, clash.other.source)
            registry.withdraw(spec, source)
            _warn(source, withdrawn_reason(clash.name, registry.withdrawn()[clash.name]))
    except FAILURES as error:  # a malformed spec, whatever it trips over
        if source == BUILTIN_SOURCE:
            raise
        _warn(source, f"node skipped: {error if isinstance(error, PluginError) else failure(error)}")


def build_registry(
    entry_points: bool = True, block: Iterable[str] = (), plugins: Optional[Mapping[str, object]] = None
) -> Registry:
    """A registry filled from every plugin's ``lrdsl_nodes`` hook, built-ins first.

    ``entry_points=False`` loads no third-party distribution; ``block`` adds names to the
    blocked ones; ``plugins`` registers extra plugin objects (source name -> module or object)
    without installing them, e.g. in tests and notebooks. The environment applies too.
    """
    policy = plugin_policy()
    policy = PluginPolicy(entry_points and policy.entry_points, policy.block | {normalise(b) for b in block})
    installed = _entry_points() if policy.entry_points else []
    if plugins or installed:
        loaded = load_plugins(policy, plugins, installed)
        hooks = [  # in registration order
            (impl.function, impl.plugin_name, loaded.sources[impl.plugin_name])
            for impl in loaded.manager.hook.lrdsl_nodes.get_hookimpls()
        ]
    else:  # the built-ins alone: their hooks, in the same order, without loading pluggy (2-3 ms)
        hooks = [(importlib.import_module(name).lrdsl_nodes, name, BUILTIN_SOURCE) for name in BUILTIN_PLUGINS]
    registry = Registry()
    for function, plugin_name, source in hooks:
        for spec in _hook_specs(function, plugin_name, source):
            _add(registry, spec, source)
    return registry


def __getattr__(name: str) -> Any:
    """``lrdsl.plugins.hookimpl`` (the marker of :mod:`lrdsl.hookspecs`), as before pluggy was deferred."""
    if name != "hookimpl":
        raise AttributeError(f"module 'lrdsl.plugins' has no attribute {name!r}")
    from .hookspecs import hookimpl

    return hookimpl


@functools.cache
def default_registry() -> Registry:
    """The registry used when none is given (built once per process; see :func:`configure_plugins`)."""
    return build_registry()
