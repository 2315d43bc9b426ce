"""From a call's arguments to its node's parameter values: binding, coercion and range checks.

Binding is the one place where an argument as written becomes a value a node receives
(docs/language.md §3.3): positional and keyword arguments are matched to the node's
parameters, defaults filled in (``b``, a parameter's ``SameAs``, an unset horizon taking its
phase's length), each argument coerced by its parameter's :class:`~lrdsl.kinds.Kind` and
range-checked against its :class:`~lrdsl.specs.Check`. Schedule nodes and optimizer
hyperparameters go through the same :class:`Binder`; an optimizer's binder also lets a number
be a schedule.

Binding sits below compiling: an argument such as ``T=2 * $warmup`` is an expression the
compiler must fold, so the :class:`Binder` is given the compiler's functions.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import ast
from .context import Context, located
from .errors import ParameterError, PhaseError, UnknownNameError, did_you_mean
from .kinds import Kind
from .parser import parse
from .printer import to_text
from .specs import BASE, REQUIRED, FunctionSpec, NodeSpec, Param, SameAsDefault, ScheduleSpec
from .text import shorten, show_value


def label(node: ast.Expr) -> str:
    """The short text of ``node`` for a message."""
    return shorten(to_text(node))


def out_of_range(where: str, name: str, given: str, allowed: str) -> ParameterError:
    """The one message for a value outside its parameter's range."""
    return ParameterError(f"{where}{name}={given} is out of range; allowed: {allowed}")


# -- variables ---------------------------------------------------------------------------------


def variable_value(node: ast.Variable, ctx: Context):
    """The host's value of ``$name``, or an UnknownNameError listing the known variables."""
    if node.name not in ctx.variables:
        known = ", ".join("$" + k for k in sorted(ctx.variables)) or "none were given"
        raise UnknownNameError(
            f"unknown variable ${node.name}{located(node)}"
            f"{did_you_mean(node.name, ctx.variables)}; known variables: {known}"
        )
    return ctx.variables[node.name]


def variable_tree(node: ast.Variable, ctx: Context) -> ast.Expr:
    """A variable's value as an AST: numbers and booleans as literals, strings parsed as lrdsl,
    lists (and tuples) as lists. The value is plain, bounded data: :func:`lrdsl.variables.table`
    checked the whole table where it came in (its size, depth, numbers, self-reference)."""
    return _value_tree(variable_value(node, ctx), f"${node.name}")


def _value_tree(value, name: str) -> ast.Expr:
    if isinstance(value, bool):
        return ast.Boolean(value)
    if isinstance(value, (int, float)):
        return ast.Number(value)
    if isinstance(value, str):
        tree = parse(value)
        if any(isinstance(n, ast.Variable) for n in ast.walk(tree)):
            raise ParameterError(f"variable {name} = {shorten(repr(value))} must not refer to other variables")
        return tree
    return ast.ListExpr(tuple(_value_tree(item, f"{name}[{i}]") for i, item in enumerate(value)))


def _kind_of(node: ast.Expr) -> str:
    if isinstance(node, ast.Call):
        return f"{node.name}(...)"
    return {
        ast.String: "a string",
        ast.Boolean: "a boolean",
        ast.ListExpr: "a list",
        ast.TupleExpr: "a tuple",
        ast.Duration: "a duration",
    }.get(type(node), "an expression")


def _is_inf(node: ast.Expr) -> bool:
    return isinstance(node, ast.Name) and node.name == "inf"


# -- the binder --------------------------------------------------------------------------------


def by_name(call: ast.Call, names: Sequence[str], where: str, signature: str) -> Dict[str, ast.Expr]:
    """``call``'s arguments by parameter name: positional ones in the order of ``names`` (the caller
    has checked there are not more), then keyword ones; an unknown name or one given twice is an
    error that starts with ``where`` and shows ``signature``."""
    bound = dict(zip(names, call.args))
    for key, value in call.kwargs:
        if key not in names:
            suggestion = did_you_mean(key, names)
            raise UnknownNameError(f"{where}unknown parameter {key!r}{suggestion}; parameters: {signature}")
        if key in bound:
            raise ParameterError(f"{where}{key} is given both by position and by name")
        bound[key] = value
    return bound


class Binder:
    """Binds calls to nodes. ``expression(node, ctx) -> Curve`` and ``sub_schedule(node, ctx)``
    are the compiler's; ``schedule(node, label)``, when given, turns a number that varies in
    time into a schedule (optimizer hyperparameters) instead of refusing it."""

    def __init__(self, expression: Callable, sub_schedule: Callable, schedule: Optional[Callable] = None):
        self.expression, self.sub_schedule, self.schedule = expression, sub_schedule, schedule

    def arguments(self, call: ast.Call, spec: NodeSpec) -> Dict[str, ast.Expr]:
        """Arguments of ``call`` by parameter name (positional ones in the table's order)."""
        where = f"{call.name}(){located(call)}: "
        if isinstance(spec, FunctionSpec) and spec.variadic:
            if call.kwargs or not call.args:
                raise ParameterError(f"{where}expects one or more positional arguments: {spec.signature()}")
            return {f"{spec.params[0].name}[{i}]": arg for i, arg in enumerate(call.args)}
        if len(call.args) > len(spec.params):
            raise ParameterError(
                f"{where}takes at most {len(spec.params)} positional arguments "
                f"({spec.signature()}), got {len(call.args)}"
            )
        bound = by_name(call, [p.name for p in spec.params], where, spec.signature())
        horizon = spec.horizon if isinstance(spec, ScheduleSpec) else None
        for param in spec.params:
            if param.default is REQUIRED and param.name not in bound and param.name != horizon:
                raise ParameterError(f"{where}missing required parameter {param.name!r}: {spec.signature()}")
        if isinstance(spec, FunctionSpec) and len(bound) != len(spec.params):
            raise ParameterError(f"{where}expects {len(spec.params)} arguments: {spec.signature()}")
        return bound

    def values(
        self, call: ast.Call, spec: NodeSpec, ctx: Context, bound: Optional[Dict[str, ast.Expr]] = None
    ) -> List[Any]:
        """Every parameter's value for ``call``, in the node's order, checked against its declaration."""
        bound = self.arguments(call, spec) if bound is None else bound
        arguments = _Arguments(self, ctx, f"{spec.name}(){located(call)}: ")
        values: Dict[str, Any] = {}
        for param in spec.params:
            node = bound.get(param.name)
            values[param.name] = arguments.value(param, node) if node is not None else arguments.default(param, values)
        return list(values.values())

    def length(self, node: ast.Expr, ctx: Context, what: str) -> float:
        """A duration in clock units: ``5ep``, ``10%``, ``500it``, or a number of iterations."""
        if isinstance(node, ast.Variable):
            node = variable_tree(node, ctx)
        if isinstance(node, ast.Duration):
            return ctx.clock.convert(node.value, node.unit, what)
        if isinstance(node, ast.Neg) and isinstance(node.operand, ast.Duration):
            return -self.length(node.operand, ctx, what)
        if isinstance(node, (ast.Number, ast.BinOp, ast.Neg, ast.Name)) and not _is_inf(node):
            curve = self.expression(node, ctx.but(phase_length=None))
            if curve.constant is not None:
                return ctx.clock.convert(curve.constant, "it", what)
        raise ParameterError(f"{what} expects a duration (500, 500it, 5ep or 10%), got {_kind_of(node)}: {label(node)}")


class _Arguments:
    """The arguments of one call as the kinds see them (:class:`lrdsl.kinds.Resolver`)."""

    def __init__(self, binder: Binder, ctx: Context, where: str):
        self.binder, self.ctx, self.where = binder, ctx, where

    # -- one parameter -----------------------------------------------------------------------------
    def value(self, param: Param, node: ast.Expr):
        kind: Kind = param.kind
        if isinstance(node, ast.Variable) and kind.name not in ("schedule", "any"):
            value = variable_value(node, self.ctx)
            if kind.name == "string" and isinstance(value, str):
                return self.checked(param, value, node)
            node = variable_tree(node, self.ctx)
        value = kind.coerce(node, param.name, self)
        if isinstance(param.default, tuple) and len(value) != len(param.default):  # betas=(0.9, 0.999)
            raise self.error(
                f"parameter {param.name} expects {len(param.default)} items, such as "
                f"{param.default_text()}, got {len(value)}: {label(node)}"
            )
        return self.checked(param, value, node)

    def default(self, param: Param, earlier: Dict[str, Any]):
        default = param.default
        if default is BASE:
            return self.ctx.base
        if isinstance(default, SameAsDefault):
            return earlier[default.name]
        if default is not REQUIRED:
            if param.kind.name == "duration":  # a default duration is a number of iterations
                return self.ctx.clock.convert(default, "it", f"{self.where}{param.name}")
            return default
        # An unset horizon takes the length of its phase (docs/language.md §6.3).
        length = self.ctx.phase_length
        if length is None or math.isinf(length):
            raise PhaseError(
                f"{self.where}{param.name} is not given and the phase has no known length; give "
                f"{param.name}=..., add 'for <duration>' to the phase, or pass total= "
                "(the last phase then runs to the end of training)"
            )
        return length

    def checked(self, param: Param, value, node: Optional[ast.Expr]):
        """``value`` if it passes ``param``'s range check (each item of a sequence); else ParameterError."""
        check = param.check
        if check is None or value is None:
            return value
        if not param.kind.items:
            if not callable(value) and not check(value):  # a schedule (optimizers) is checked at every step
                raise out_of_range(self.where, param.name, self.given(node, value), check.text)
            return value
        for index, item in enumerate(value):
            if not callable(item) and not check(item):
                raise out_of_range(self.where, f"{param.name}[{index}]", show_value(item), check.text)
        return value

    @staticmethod
    def given(node: Optional[ast.Expr], value) -> str:
        if node is not None and not isinstance(node, (ast.Number, ast.String, ast.Boolean)):
            return f"{label(node)} (= {show_value(value)})" if isinstance(value, float) else label(node)
        return show_value(value)

    # -- the kinds' resolver -----------------------------------------------------------------------
    @property
    def allows_schedules(self) -> bool:
        return self.binder.schedule is not None

    def constant(self, node: ast.Expr, name: str) -> float:
        curve = self.binder.expression(node, self.ctx)
        if curve.constant is None:
            raise ParameterError(
                f"{self.where}parameter {name} must be a number fixed in time, not a schedule: {label(node)}"
            )
        return float(curve.constant)

    def number(self, node: ast.Expr, name: str):
        if isinstance(node, ast.Variable):
            node = variable_tree(node, self.ctx)
        if self.binder.schedule is None:
            return self.constant(node, name)
        curve = self.binder.expression(node, self.ctx)
        return float(curve.constant) if curve.constant is not None else self.binder.schedule(node, name)

    def length(self, node: ast.Expr, name: str) -> float:
        return self.binder.length(node, self.ctx, f"{self.where}parameter {name}")

    def sub_schedule(self, node: ast.Expr):
        return self.binder.sub_schedule(node, self.ctx)

    def type_error(self, node: ast.Expr, name: str, expected: str) -> ParameterError:
        return ParameterError(f"{self.where}parameter {name} expects {expected}, got {_kind_of(node)}: {label(node)}")

    def error(self, message: str) -> ParameterError:
        return ParameterError(f"{self.where}{message}")
