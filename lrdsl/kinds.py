"""Parameter kinds: what a node parameter accepts, and how a written argument becomes its value.

Every parameter of every node (schedules, functions and optimizers, built-in or plugin) has
one of the kinds below, chosen by its annotation in :mod:`lrdsl.authoring`. A kind has one
:meth:`Kind.coerce` (the argument as written, an AST node, to a value) and one
:meth:`Kind.accepts` (whether a Python value, such as a declared default, is of the kind).
Coercion asks a :class:`Resolver` for what needs compiling (a constant, a duration in clock
units, a sub-schedule), so the kinds know the language but not the compiler; the resolver is
:class:`lrdsl.binding.Binder`. Ranges (``> 0``, ``in [0, 1]``) are not the kind's business:
they are the parameter's :class:`~lrdsl.specs.Check`, applied by the binder to the value.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Protocol, Tuple

from . import ast
from .errors import ParameterError

_NOT_NUMBERS = (ast.String, ast.Boolean, ast.ListExpr, ast.TupleExpr, ast.Duration)


class Resolver(Protocol):
    """What coercion needs from the compiler, for the parameter being bound."""

    @property
    def allows_schedules(self) -> bool:
        """Whether a number may be a schedule (an optimizer's hyperparameters)."""

    def number(self, node: ast.Expr, label: str) -> Any:
        """A number fixed in time (a float), or a schedule where the node allows one (optimizers)."""

    def constant(self, node: ast.Expr, label: str) -> float:
        """A number fixed in time; anything that varies is an error."""

    def length(self, node: ast.Expr, label: str) -> float:
        """A duration (``500``, ``500it``, ``5ep``, ``10%``) in the schedule's clock units."""

    def sub_schedule(self, node: ast.Expr) -> Any:
        """A schedule argument, compiled with its own natural length."""

    def type_error(self, node: ast.Expr, label: str, expected: str) -> ParameterError:
        """ "parameter <label> expects <expected>, got <what node is>"."""

    def error(self, message: str) -> ParameterError:
        """``message`` about the argument, located at the call being bound."""


def _real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Kind:
    """A kind of parameter value. ``text`` names it in messages (``"a duration (500, 5ep or 10%)"``);
    ``items`` kinds hold sequences whose items are range-checked one by one."""

    name = ""
    text = ""
    items = False

    def coerce(self, node: ast.Expr, label: str, resolver: Resolver) -> Any:
        """The value of argument ``node`` for the parameter called ``label``; raises ParameterError."""
        raise NotImplementedError

    def accepts(self, value: Any) -> bool:
        """Whether the Python value ``value`` (a declared default) is of this kind."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<kind {self.name}>"


class Number(Kind):
    name, text = "number", "a number"

    def coerce(self, node, label, resolver):
        if isinstance(node, _NOT_NUMBERS):
            raise resolver.type_error(node, label, "a number or a schedule" if resolver.allows_schedules else self.text)
        return resolver.number(node, label)

    def accepts(self, value):
        return _real(value)


class Integer(Kind):
    name, text = "integer", "a whole number"

    def coerce(self, node, label, resolver):
        if isinstance(node, _NOT_NUMBERS):
            raise resolver.type_error(node, label, self.text)
        value = resolver.constant(node, label)
        if not value.is_integer():
            raise resolver.error(f"parameter {label} expects a whole number, got {value:g}")
        return int(value)

    def accepts(self, value):
        return isinstance(value, int) and not isinstance(value, bool)


class Count(Kind):
    name, text = "count", "a whole number or inf"

    def coerce(self, node, label, resolver):
        if isinstance(node, ast.Name) and node.name == "inf":
            return math.inf
        if isinstance(node, _NOT_NUMBERS):
            raise resolver.type_error(node, label, self.text)
        value = resolver.constant(node, label)
        if not value.is_integer() or value < 0:
            raise resolver.error(f"parameter {label} expects a whole number >= 0 or inf, got {value:g}")
        return value

    def accepts(self, value):
        return _real(value) and (value == math.inf or (value >= 0 and float(value).is_integer()))


class Bool(Kind):
    name, text = "bool", "true or false"

    def coerce(self, node, label, resolver):
        if not isinstance(node, ast.Boolean):
            raise resolver.type_error(node, label, self.text)
        return node.value

    def accepts(self, value):
        return isinstance(value, bool)


class String(Kind):
    name, text = "string", "a string"

    def coerce(self, node, label, resolver):
        if not isinstance(node, ast.String):
            raise resolver.type_error(node, label, self.text)
        return node.value

    def accepts(self, value):
        return isinstance(value, str)


class Duration(Kind):
    name, text = "duration", "a duration (500, 500it, 5ep or 10%)"

    def coerce(self, node, label, resolver):
        return resolver.length(node, label)

    def accepts(self, value):
        return _real(value)


class Durations(Kind):
    name, text, items = "durations", "a list of durations", True

    def coerce(self, node, label, resolver):
        if not isinstance(node, ast.ListExpr):
            raise resolver.type_error(node, label, self.text)
        return tuple(resolver.length(item, label) for item in node.items)

    def accepts(self, value):
        return isinstance(value, (list, tuple)) and all(map(_real, value))


class Numbers(Kind):
    name, text, items = "numbers", "a list of numbers", True

    def coerce(self, node, label, resolver):
        if not isinstance(node, ast.ListExpr):
            raise resolver.type_error(node, label, self.text)
        return tuple(_item(item, f"{label}[{i}]", resolver) for i, item in enumerate(node.items))

    def accepts(self, value):
        return isinstance(value, (list, tuple)) and all(map(_real, value))


class NumbersTuple(Kind):
    """A tuple of numbers (``betas=(0.9, 0.999)``); an optimizer's items may each be a schedule."""

    name, text, items = "numbers_tuple", "a tuple of numbers", True

    def coerce(self, node, label, resolver):
        if not isinstance(node, (ast.TupleExpr, ast.ListExpr)):
            raise resolver.type_error(node, label, f"{self.text} such as (0.9, 0.999)")
        return tuple(_item(item, f"{label}[{i}]", resolver, schedules=True) for i, item in enumerate(node.items))

    def accepts(self, value):
        return isinstance(value, tuple) and all(map(_real, value))


def _item(node: ast.Expr, label: str, resolver: Resolver, schedules: bool = False):
    if isinstance(node, _NOT_NUMBERS):
        raise resolver.type_error(node, label, "a number")
    return resolver.number(node, label) if schedules else resolver.constant(node, label)


class Schedule(Kind):
    name, text = "schedule", "a schedule"

    def coerce(self, node, label, resolver):
        return resolver.sub_schedule(node)

    def accepts(self, value):
        return False  # a schedule argument has no default


class NumberOrSchedule(Schedule):
    name, text = "any", "a number or a schedule"


KINDS: Dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Number(),
        Integer(),
        Count(),
        Bool(),
        String(),
        Duration(),
        Durations(),
        Numbers(),
        NumbersTuple(),
        Schedule(),
        NumberOrSchedule(),
    )
}
"""Every kind, by name."""

FORMULA_KINDS: Tuple[str, ...] = tuple(name for name, kind in KINDS.items() if not isinstance(kind, Schedule))
"""Kinds a pure formula ``f(xp, t, ...)`` can take; schedule arguments need ``build()``."""
