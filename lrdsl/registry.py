"""The registry: every node name (and alias) the language knows, and who provided it.

It raises on duplicates: a name clash between two sources is a :class:`NameClashError` naming
both, never a silent override. A name two plugins both claim is *withdrawn*: using it is a
:class:`PluginError` naming every source (see :mod:`lrdsl.plugins` for the policy). Every
listing (CLI, docs, error suggestions) is read from here.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Tuple

from .errors import PluginError, UnknownNameError, did_you_mean
from .specs import NodeSpec, spec_of

KINDS = ("schedule", "optimizer", "function")


class NameClashError(PluginError):
    """Two sources provide the same node name; ``other`` is the registered spec (None if withdrawn)."""

    def __init__(self, name: str, source: str, other: Optional[NodeSpec], other_sources: Tuple[str, ...]):
        self.name, self.source, self.other, self.other_sources = name, source, other, other_sources
        provided = (
            f"{other.name!r} from {other.source!r}"
            if other
            else "a name already disabled because " + " and ".join(map(repr, other_sources)) + " claim it"
        )
        super().__init__(f"node name {name!r} from {source!r} clashes with {provided}; rename one of them")


class Registry:
    """Node specs by name and alias."""

    def __init__(self) -> None:
        self._by_name: Dict[str, NodeSpec] = {}
        self._withdrawn: Dict[str, Tuple[str, ...]] = {}  # name -> the sources that claimed it
        self.version = 0  # bumped by every change, so caches keyed on the registry can tell

    def add(self, node, source: str) -> NodeSpec:
        """Register ``node`` (a decorated node function, or its spec) as provided by ``source``
        (a distribution name, or 'lrdsl').

        Raises :class:`PluginError` if it is not a node and :class:`NameClashError` if any of its
        names is taken (or withdrawn); then nothing is registered.
        """
        spec = spec_of(node).with_source(source)
        for name in spec.names:
            if name in self._by_name:
                raise NameClashError(name, source, self._by_name[name], (self._by_name[name].source,))
            if name in self._withdrawn:
                raise NameClashError(name, source, None, self._withdrawn[name])
        for name in spec.names:
            self._by_name[name] = spec
        self.version += 1
        return spec

    def remove(self, name: str) -> NodeSpec:
        """Unregister the node called ``name`` (and its aliases); returns its spec."""
        spec = self.get(name)
        for key in spec.names:
            del self._by_name[key]
        self.version += 1
        return spec

    def withdraw(self, node, source: str) -> None:
        """Disable every name of ``node`` as claimed by ``source`` (a clash between plugins).

        The node is removed if it is registered; using any of its names then raises a
        :class:`PluginError` that names every source that claimed it.
        """
        spec = spec_of(node)
        if self._by_name.get(spec.name) is not None and self._by_name[spec.name].source == source:
            self.remove(spec.name)
        for name in spec.names:
            claimed = self._withdrawn.get(name, ())
            self._withdrawn[name] = claimed + (() if source in claimed else (source,))
        self.version += 1

    def withdrawn(self) -> Dict[str, Tuple[str, ...]]:
        """Withdrawn names and the sources that claimed each."""
        return dict(self._withdrawn)

    def find(self, name: str) -> Optional[NodeSpec]:
        return self._by_name.get(name)

    def get(self, name: str, kinds=KINDS, where: str = "") -> NodeSpec:
        """The spec for ``name``, or an UnknownNameError suggesting the closest names."""
        spec = self._by_name.get(name)
        if spec is not None and spec.kind in kinds:
            return spec
        if name in self._withdrawn:
            raise PluginError(f"{where}{withdrawn_reason(name, self._withdrawn[name])}")
        candidates = [n for n, s in self._by_name.items() if s.kind in kinds]
        what = " or ".join(kinds)
        if spec is not None:
            raise UnknownNameError(f"{where}{name!r} is {_a(spec.kind)} node; expected {_a(what)} node here")
        suggestion = did_you_mean(name, candidates)
        other_case = self._by_name.get(name.lower())
        if not suggestion and other_case is not None:  # ADAM where a schedule is expected: adam is an optimizer
            suggestion = f"; {other_case.name!r} is {_a(other_case.kind)} node, not {_a(what)} node"
        raise UnknownNameError(f"{where}unknown {what} node {name!r}{suggestion}")

    def names(self, kind: Optional[str] = None) -> List[str]:
        """Sorted names (aliases included) of the given kind, or of every kind."""
        return sorted(n for n, s in self._by_name.items() if kind is None or s.kind == kind)

    def copy(self) -> Registry:
        """An independent registry with the same nodes (to add test or notebook nodes to)."""
        other = Registry()
        other._by_name = dict(self._by_name)
        other._withdrawn = dict(self._withdrawn)
        other.version = self.version
        return other

    def __iter__(self) -> Iterator[NodeSpec]:
        """Each spec once, by name."""
        unique = {spec.name: spec for spec in self._by_name.values()}
        return iter(unique[name] for name in sorted(unique))

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        """The number of nodes (aliases not counted)."""
        return len({spec.name for spec in self._by_name.values()})

    def __bool__(self) -> bool:
        return True  # even when empty: callers write ``registry or default_registry()``


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def withdrawn_reason(name: str, sources: Tuple[str, ...]) -> str:
    """Why ``name`` cannot be used, and how to fix it."""
    if len(sources) > 1:
        listed = ", ".join(repr(s) for s in sources[:-1]) + f" and {sources[-1]!r}"
        return (
            f"node {name!r} is provided by {'both ' if len(sources) == 2 else ''}{listed}, so lrdsl uses "
            "none of them; block all but one "
            f"(LRDSL_BLOCK_PLUGINS={sources[-1]} or lrdsl.plugins.configure_plugins(block=[...])) "
            "or uninstall one"
        )
    return (
        f"node {name!r} from {sources[0]!r} is disabled because another name of the same node clashes "
        "with a node of another plugin (see the lrdsl plugin warning)"
    )
