"""The immutable AST of an lrdsl expression.

Every node is a frozen dataclass, hashable and comparable by value. ``str(node)`` is the
canonical text (see :mod:`lrdsl.printer`) and ``parse(str(node)) == node`` for every node.
Source positions ride along for error messages but never take part in equality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Iterator, Optional, Tuple, Union

from .errors import LRDSLError
from .text import shorten

Position = Optional[Tuple[int, int]]  # (line, column), both 1-based


class Expr:
    """Base of all AST nodes."""

    __slots__ = ()

    def __str__(self) -> str:
        from .printer import to_text

        return to_text(self)

    def children(self) -> Iterator[Expr]:
        """The direct sub-expressions, in source order."""
        return iter(())


def _check_literal(value, node: str) -> None:
    """A literal holds an int or a float that is finite as a float (what the parser can produce)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    try:
        ok = ok and math.isfinite(value)
    except OverflowError:  # an int beyond float range
        ok = False
    if not ok:
        shown = (
            f"an int of {value.bit_length()} bits" if isinstance(value, int) and value.bit_length() > 1000 else value
        )
        raise LRDSLError(f"{node}({shorten(repr(shown), 60)}): a literal is an int or float within float range")


@dataclass(frozen=True, repr=False)
class Number(Expr):
    """A numeric literal: ``0.1``, ``3e-4``, ``10`` (ints stay ints)."""

    value: Union[int, float]

    def __post_init__(self) -> None:
        _check_literal(self.value, "Number")

    def __repr__(self) -> str:
        return f"Number({self.value!r})"


@dataclass(frozen=True, repr=False)
class Duration(Expr):
    """A number with a unit: ``500it``, ``5ep``, ``10%``."""

    value: Union[int, float]
    unit: str  # "it", "ep" or "%"

    def __post_init__(self) -> None:
        _check_literal(self.value, "Duration")
        if self.unit not in ("it", "ep", "tok", "sp", "%") or self.value < 0:
            raise LRDSLError(
                f"Duration({self.value!r}, {self.unit!r}): a duration is a number >= 0 in it, ep, tok, sp or %"
            )

    def __repr__(self) -> str:
        return f"Duration({self.value!r}, {self.unit!r})"


@dataclass(frozen=True)
class String(Expr):
    """A double-quoted string (no escapes)."""

    value: str


@dataclass(frozen=True)
class Boolean(Expr):
    """``true`` or ``false``."""

    value: bool


@dataclass(frozen=True)
class ListExpr(Expr):
    """``[a, b, ...]``."""

    items: Tuple[Expr, ...]

    def children(self):
        return iter(self.items)


@dataclass(frozen=True)
class TupleExpr(Expr):
    """``(a, b, ...)`` (at least one comma)."""

    items: Tuple[Expr, ...]

    def children(self):
        return iter(self.items)


@dataclass(frozen=True)
class Name(Expr):
    """An identifier: ``it``, ``ep``, ``progress``, ``base``, ``lr0``, ``pi``, ``e``, ``inf``."""

    name: str
    pos: Position = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Variable(Expr):
    """``$name``: a value supplied by the host (``variables={...}``)."""

    name: str
    pos: Position = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Call(Expr):
    """``name(arg, ..., key=arg, ...)``: a schedule node, optimizer node or function."""

    name: str
    args: Tuple[Expr, ...] = ()
    kwargs: Tuple[Tuple[str, Expr], ...] = ()
    pos: Position = field(default=None, compare=False, repr=False)

    def children(self):
        yield from self.args
        for _, value in self.kwargs:
            yield value


@dataclass(frozen=True)
class Neg(Expr):
    """Unary minus."""

    operand: Expr

    def children(self):
        yield self.operand


@dataclass(frozen=True)
class BinOp(Expr):
    """``left op right`` with ``op`` one of ``+ - * / **``."""

    op: str
    left: Expr
    right: Expr

    def children(self):
        yield self.left
        yield self.right


COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


@dataclass(frozen=True)
class Compare(Expr):
    """``left op right`` with ``op`` one of ``< <= > >= == !=``: a condition (docs/language.md §7.3)."""

    op: str
    left: Expr
    right: Expr

    def children(self):
        yield self.left
        yield self.right


@dataclass(frozen=True)
class Logic(Expr):
    """``left and right``, ``left or right``: conditions combined."""

    op: str  # "and" or "or"
    left: Expr
    right: Expr

    def children(self):
        yield self.left
        yield self.right


@dataclass(frozen=True)
class Not(Expr):
    """``not operand``: a condition negated."""

    operand: Expr

    def children(self):
        yield self.operand


@dataclass(frozen=True)
class Phase(Expr):
    """One phase of a sequence: ``body`` or ``body for length``."""

    body: Expr
    length: Optional[Expr] = None

    def children(self):
        yield self.body
        if self.length is not None:
            yield self.length


@dataclass(frozen=True)
class Phases(Expr):
    """``phase then phase ...``; a single phase with ``for`` is a one-phase sequence."""

    phases: Tuple[Phase, ...]

    def children(self):
        return iter(self.phases)


def phases_of(node: Expr) -> Tuple[Phase, ...]:
    """The phases of ``node``: its own when it is a :class:`Phases`, else ``node`` as one phase."""
    return node.phases if isinstance(node, Phases) else (Phase(node),)


def _with_levels(node: Expr) -> Iterator[Tuple[Expr, int]]:
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        yield current, level
        stack.extend((child, level + 1) for child in current.children())


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree under ``node`` (itself included), without recursion (safe on any input)."""
    return (current for current, _ in _with_levels(node))


def depth(node: Expr) -> int:
    """Nesting depth of ``node`` (1 for a leaf), computed without recursion."""
    return max(level for _, level in _with_levels(node))


def transform(node: Expr, change: Callable[[Expr], Optional[Expr]]) -> Expr:
    """``node`` with sub-expressions replaced: where ``change(sub)`` returns a node it takes the place
    of ``sub`` (and is not visited further); where it returns None, ``sub``'s children are visited.
    Source positions are kept."""
    replaced = change(node)
    if replaced is not None:
        return replaced

    def rebuilt(value):
        if isinstance(value, Expr):
            return transform(value, change)
        if isinstance(value, tuple):
            return tuple(rebuilt(item) for item in value)
        return value  # names, operators, positions, literal values

    updates = {f.name: rebuilt(getattr(node, f.name)) for f in fields(node) if f.name != "pos"}  # type: ignore[arg-type]
    return replace(node, **updates)  # type: ignore[type-var]
