"""The registry: every node name (and alias) the language knows, and who provided it.

It raises on duplicates: a name clash between two sources is an error naming both, never a
silent override. Every listing (CLI, docs, error suggestions) is read from here.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Optional

from .authoring import NodeSpec
from .errors import PluginError, UnknownNameError, did_you_mean

KINDS = ("schedule", "optimizer", "function")


def validate_spec(spec: NodeSpec) -> None:
    """Raise PluginError if ``spec`` is malformed."""
    if not isinstance(spec, NodeSpec):
        raise PluginError(f"expected a NodeSpec, got {type(spec).__name__}")
    if not spec.name.isidentifier() or not all(a.isidentifier() for a in spec.aliases):
        raise PluginError(f"node name {spec.name!r} (aliases {list(spec.aliases)}) must be identifiers")
    if spec.kind not in KINDS:
        raise PluginError(f"node {spec.name!r}: kind must be one of {KINDS}, not {spec.kind!r}")
    if (spec.evaluate is None) == (spec.build is None):
        raise PluginError(f"node {spec.name!r} needs exactly one of evaluate or build")


class Registry:
    """Node specs by name and alias."""

    def __init__(self) -> None:
        self._by_name: Dict[str, NodeSpec] = {}

    def add(self, spec: NodeSpec, source: str) -> NodeSpec:
        """Register ``spec`` as provided by ``source`` (a distribution name, or 'lrdsl')."""
        validate_spec(spec)
        spec = spec.with_source(source)
        for name in (spec.name, *spec.aliases):
            if name in self._by_name:
                other = self._by_name[name]
                raise PluginError(f"node name {name!r} from {source!r} clashes with "
                                  f"{other.name!r} from {other.source!r}; rename one of them")
        for name in (spec.name, *spec.aliases):
            self._by_name[name] = spec
        return spec

    def remove(self, name: str) -> None:
        """Unregister the node called ``name`` (and its aliases)."""
        spec = self._by_name[name]
        for key in (spec.name, *spec.aliases):
            del self._by_name[key]

    def find(self, name: str) -> Optional[NodeSpec]:
        return self._by_name.get(name)

    def get(self, name: str, kinds=KINDS, where: str = "") -> NodeSpec:
        """The spec for ``name``, or an UnknownNameError suggesting the closest names."""
        spec = self._by_name.get(name)
        if spec is not None and spec.kind in kinds:
            return spec
        candidates = [n for n, s in self._by_name.items() if s.kind in kinds]
        what = " or ".join(kinds)
        if spec is not None:
            raise UnknownNameError(f"{where}{name!r} is a {spec.kind} node; expected a {what} here")
        raise UnknownNameError(f"{where}unknown {what} node {name!r}{did_you_mean(name, candidates)}")

    def names(self, kind: Optional[str] = None) -> List[str]:
        """Sorted names (aliases included) of the given kind, or of every kind."""
        return sorted(n for n, s in self._by_name.items() if kind is None or s.kind == kind)

    def __iter__(self) -> Iterator[NodeSpec]:
        """Each spec once, by name."""
        unique = {spec.name: spec for spec in self._by_name.values()}
        return iter(unique[name] for name in sorted(unique))

    def __contains__(self, name: str) -> bool:
        return name in self._by_name
