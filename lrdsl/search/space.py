"""The search space of a template: its dimensions, their names, and the schedule for chosen values.

**Names.** Each distribution gets a name from where it stands, stable under edits elsewhere in
the string and readable in a dashboard:

1. a distribution that is an argument of a node (or inside one, e.g. ``end=0.1 * uniform(0, 1)``)
   is ``node.param``, with the parameter a positional argument fills: ``warmup(uniform(1%, 10%))``
   gives ``warmup.T``; an item of a list argument adds its index: ``multistep.at[1]``;
2. one that stands for a whole phase is ``phase<k>`` and one after ``for`` is ``phase<k>.for``
   (``k`` counts the top-level phases from 1);
3. a ``$name`` given a distribution in ``variables=`` is ``$name``, one dimension however often
   ``$name`` is written (the way to tie two places to one value);
4. names that rule 1 gives more than once get their top-level phase in front: ``phase2.cosine.end``
   and ``phase3.cosine.end``; any still repeated (two in one phase) get ``#1``, ``#2`` ... at the
   end, in source order.

A distribution inside an option of a ``choice`` exists only when that option is chosen: its
:attr:`~lrdsl.search.dimensions.Dimension.parent` says which.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from .. import ast
from ..errors import LRDSLError, TemplateError
from ..parser import parse
from ..plugins import default_registry
from ..printer import to_text
from ..registry import Registry
from ..specs import FunctionSpec
from ..templates import variable_templates
from ..text import describe, shorten
from ..vocabulary import DISTRIBUTIONS
from .dimensions import Dimension, dimension

Pick = Callable[[Dimension], Any]  # a dimension's value, asked only for the dimensions a sample reaches


@dataclass(frozen=True)
class Space:
    """A parsed template: its tree, its dimensions (in source order) and the search variables."""

    template: str
    tree: ast.Expr = field(repr=False)
    dimensions: Tuple[Dimension, ...]
    variables: Mapping[str, Dimension] = field(default_factory=dict, repr=False)
    _by_call: Mapping[int, Dimension] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[Dimension]:
        return iter(self.dimensions)

    def __len__(self) -> int:
        return len(self.dimensions)

    def __getitem__(self, name: str) -> Dimension:
        for dim in self.dimensions:
            if dim.name == name:
                return dim
        raise KeyError(name)

    def names(self) -> List[str]:
        """The dimension names, in source order."""
        return [dim.name for dim in self.dimensions]

    def concrete(self, pick: Pick, snap: bool = False) -> str:
        """The canonical text of :meth:`build`'s tree."""
        return to_text(self.build(pick, snap))

    def build(self, pick: Pick, snap: bool = False) -> ast.Expr:
        """The concrete tree for the values ``pick(dimension)`` gives; only the dimensions the chosen
        options reach are asked (in source order), so an engine can sample them as it goes."""
        cache: Dict[str, ast.Expr] = {}

        def value(dim: Dimension) -> ast.Expr:
            if dim.name not in cache:
                literal = dim.literal(pick(dim), snap)
                cache[dim.name] = ast.transform(literal, change) if dim.kind == "choice" else literal
            return cache[dim.name]

        def change(node: ast.Expr) -> Optional[ast.Expr]:
            if isinstance(node, ast.Variable) and node.name in self.variables:
                return value(self.variables[node.name])
            dim = self._by_call.get(id(node))
            return value(dim) if dim is not None else None

        return ast.transform(self.tree, change)

    def sample(self, values: Mapping[str, Any], snap: bool = False) -> str:
        """The canonical text of the schedule for ``values`` (by dimension name); values of dimensions
        in options not chosen are ignored, and a value missing, or given for no dimension, is an error."""
        if not isinstance(values, Mapping):
            raise TemplateError(f"values must be a mapping from dimension names to values, not {describe(values)}")
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise TemplateError(f"no dimension {unknown[0]!r} in this template; dimensions: {', '.join(self.names())}")

        def pick(dim: Dimension):
            if dim.name not in values:
                raise TemplateError(f"no value for {dim.where}; give values[{dim.name!r}]")
            return values[dim.name]

        return self.concrete(pick, snap)


def space(text: str, variables: Optional[Mapping[str, str]] = None, registry: Optional[Registry] = None) -> Space:
    """The search space of the template ``text``: every distribution as a named :class:`Dimension`.

    ``variables`` may give distributions to ``$names`` of the template (``{"peak": "loguniform(1e-4,
    1e-2)"}``); its other entries, and ``$names`` it does not give, stay for the host to supply when
    compiling. Bad bounds, a choice
    of fewer than two options and a template without any distribution raise :class:`TemplateError`
    naming the distribution and its position; whether every schedule compiles is
    :func:`lrdsl.search.check`'s question.
    """
    if not isinstance(text, str):
        raise TemplateError(f"a template is an lrdsl string, not {describe(text)}")
    registry = registry or default_registry()
    return _space(text, tuple(sorted(_search_variables(variables).items())), registry, registry.version)


@functools.lru_cache(maxsize=256)
def _space(text: str, variables: Tuple[Tuple[str, str], ...], registry: Registry, version: int) -> Space:
    tree = parse(text)
    found: List[Found] = []
    _Namer(registry, found).phases(tree)
    names = _names([(item.base, item.phase) for item in found])
    by_call: Dict[int, Dimension] = {}
    dims: List[Dimension] = []
    for item, name in zip(found, names):
        owner = (dims[item.parent[0]].name, item.parent[1]) if item.parent is not None else None
        dims.append(dimension(item.call, name, owner, item.duration))
        by_call[id(item.call)] = dims[-1]
    searched: Dict[str, Dimension] = {}
    for name, value in variables:
        searched[name] = _variable_dimension(name, value)
    used = {node.name for node in ast.walk(tree) if isinstance(node, ast.Variable)}
    unused = sorted(set(searched) - used)
    if unused:
        raise TemplateError(f"variable ${unused[0]} is given a distribution but the template has no ${unused[0]}")
    ordered = [searched[name] for name in sorted(searched)]
    if not dims and not ordered:
        raise TemplateError(
            f"{shorten(text, 60)!r} has no distribution to search; write one of "
            f"{', '.join(f'{d}(...)' for d in DISTRIBUTIONS)} where a value should be searched"
        )
    return Space(to_text(tree), tree, tuple(ordered + dims), searched, by_call)


def _search_variables(variables) -> Dict[str, str]:
    """The entries of ``variables`` that are distributions (the others are the host's)."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping) or not all(isinstance(name, str) for name in variables):
        raise TemplateError(
            "variables must be a mapping from names to values, e.g. "
            f'{{"peak": "loguniform(1e-4, 1e-2)"}}; got {shorten(repr(variables), 80)}'
        )
    return {name: variables[name] for name, _ in variable_templates(variables)}


def _variable_dimension(name: str, text: str) -> Dimension:
    try:
        tree = parse(text)
    except LRDSLError as error:
        raise TemplateError(f"variable ${name} = {text!r}: {error}") from None
    if not (isinstance(tree, ast.Call) and tree.name in DISTRIBUTIONS) or any(
        isinstance(node, ast.Call) and node.name in DISTRIBUTIONS for node in tree.children()
    ):
        raise TemplateError(
            f"variable ${name} = {text!r}: a search variable is one distribution, such as 'uniform(1%, 10%)'"
        )
    return dimension(tree, f"${name}", None, True)


class _Namer:
    """Finds the distributions of a tree with their base names (rules 1 and 2 of the module doc) and
    whether each stands where a duration is expected (after ``for``, a duration parameter)."""

    def __init__(self, registry: Registry, found: list):
        self.registry, self.found = registry, found

    def phases(self, tree: ast.Expr) -> None:
        for number, phase in enumerate(ast.phases_of(tree), start=1):
            self.visit(phase.body, _Place(f"phase{number}", number, None, True, False))
            if phase.length is not None:
                self.visit(phase.length, _Place(f"phase{number}.for", number, None, True, True))

    def visit(self, node: ast.Expr, place: _Place) -> None:
        if isinstance(node, ast.Call) and node.name in DISTRIBUTIONS:
            index = len(self.found)
            self.found.append(
                Found(node, place.label, place.parent, 0 if place.whole_phase else place.phase, place.duration)
            )
            for number, child in enumerate(node.children()):
                inner = place.within((index, number)) if node.name == "choice" else place.inside()
                self.visit(child, inner)
        elif isinstance(node, ast.Call):
            for child, (name, duration) in zip(node.children(), self._parameters(node)):
                self.visit(child, _Place(f"{node.name}.{name}", place.phase, place.parent, False, duration))
        elif isinstance(node, ast.Phases):
            for phase_node in node.phases:
                self.visit(phase_node.body, place.inside())
                if phase_node.length is not None:
                    self.visit(
                        phase_node.length, _Place(f"phase{place.phase}.for", place.phase, place.parent, True, True)
                    )
        elif isinstance(node, (ast.ListExpr, ast.TupleExpr)):
            for number, item in enumerate(node.items):
                self.visit(
                    item,
                    _Place(f"{place.label}[{number}]", place.phase, place.parent, place.whole_phase, place.duration),
                )
        else:
            for child in node.children():
                self.visit(child, place.inside())

    def _parameters(self, call: ast.Call) -> List[Tuple[str, bool]]:
        """``(parameter, takes a duration)`` for each argument of ``call``, positional ones by the node's
        table (by index where the node is unknown, which the check reports)."""
        spec = self.registry.find(call.name)
        params = {p.name: p.kind.name in ("duration", "durations") for p in spec.params} if spec is not None else {}
        order = list(params)
        if isinstance(spec, FunctionSpec) and spec.variadic:
            positional = [(f"{order[0]}[{i}]", False) for i in range(len(call.args))]
        else:
            positional = [
                (order[i], params[order[i]]) if i < len(order) else (str(i), False) for i in range(len(call.args))
            ]
        return positional + [(key, params.get(key, False)) for key, _ in call.kwargs]


@dataclass(frozen=True)
class _Place:
    """Where the walk is: the base name, top-level phase, enclosing choice option, whether the name is a
    phase's own (``phase2``, ``phase2.for``) and whether a duration is expected right here."""

    label: str
    phase: int
    parent: Optional[Tuple[int, int]]
    whole_phase: bool
    duration: bool

    def inside(self) -> _Place:
        """The place of a sub-expression that is not itself the value (an operand, an argument)."""
        return _Place(self.label, self.phase, self.parent, self.whole_phase, False)

    def within(self, option: Tuple[int, int]) -> _Place:
        """The place of an option of a choice: the choice's own."""
        return _Place(self.label, self.phase, option, self.whole_phase, self.duration)


@dataclass(frozen=True)
class Found:
    """A distribution as the walk found it."""

    call: ast.Call
    base: str
    parent: Optional[Tuple[int, int]]
    phase: int  # 0 for names that hold their phase already
    duration: bool


def _names(bases: List[Tuple[str, int]]) -> List[str]:
    """Rule 4: a repeated base name gets its phase in front, then ``#n`` if still repeated."""
    counts = Counter(base for base, _ in bases)
    named = [f"phase{phase}.{base}" if counts[base] > 1 and phase else base for base, phase in bases]
    counts = Counter(named)
    seen: Counter = Counter()
    result = []
    for name in named:
        seen[name] += 1
        result.append(f"{name}#{seen[name]}" if counts[name] > 1 else name)
    return result
