"""AST -> Curve: binding arguments, validating them against the registry, resolving phases.

Semantics are SPEC §4: phases restart their clock, a phase's length is its ``for``, else its
natural length (the node's horizon), else for the last phase the rest of the enclosing length
(``total`` at the top); a horizon left unset takes its phase's length; phase k+1's incoming
base is phase k's value at its end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional

from . import ast, curves
from .authoring import BASE, KIND_NAMES, REQUIRED, NodeSpec, Param
from .clock import Clock
from .errors import (EvaluationError, LRDSLError, ParameterError, PhaseError, UnitError, UnknownNameError,
                     did_you_mean)
from .exact import fraction
from .parser import parse
from .printer import to_text
from .registry import Registry
from .scalarmath import SCALAR
from .text import shorten
from .vocabulary import IDENTIFIERS, UNIT_WORDS

@dataclass(frozen=True, kw_only=True)
class Context:
    """What an expression is compiled against."""

    registry: Registry
    clock: Clock
    variables: Mapping[str, Any]
    lr0: float  # the top-level base
    base: float  # the incoming base b of this expression
    phase_length: Optional[float]  # length of the enclosing phase (clock units), None if unbounded
    enclosing: Optional[object] = None  # the phase whose length that is (printable); None at the top level
    notes: List[str] = field(default_factory=list)  # warnings found while compiling (shared, appended to)

    def where(self, node: ast.Expr) -> str:
        """' (line L, column C)' for nodes that carry a position."""
        pos = getattr(node, "pos", None)
        return f" (line {pos[0]}, column {pos[1]})" if pos else ""


def _label(node: ast.Expr) -> str:
    return shorten(to_text(node))


class _Lazy:
    """A node's short text (in ``template``), printed only if an error message uses it."""

    def __init__(self, node: ast.Expr, template: str = "{}"):
        self.node, self.template = node, template

    def __str__(self) -> str:
        return self.template.format(_label(self.node))


# -- variables ---------------------------------------------------------------------------------

def variable_value(node: ast.Variable, ctx: Context):
    if node.name not in ctx.variables:
        known = ", ".join("$" + k for k in sorted(ctx.variables)) or "none were given"
        raise UnknownNameError(f"unknown variable ${node.name}{ctx.where(node)}"
                               f"{did_you_mean(node.name, ctx.variables)}; known variables: {known}")
    return ctx.variables[node.name]


def variable_tree(node: ast.Variable, ctx: Context) -> ast.Expr:
    """A variable's value as an AST: numbers and booleans as literals, strings parsed as lrdsl."""
    value = variable_value(node, ctx)
    if isinstance(value, bool):
        return ast.Boolean(value)
    if isinstance(value, (int, float)):
        if not _finite_number(value):
            raise ParameterError(f"variable ${node.name} = {repr(value):.40}: expected a finite number")
        return ast.Number(value)
    if isinstance(value, str):
        tree = parse(value)
        if any(isinstance(n, ast.Variable) for n in ast.walk(tree)):
            raise ParameterError(f"variable ${node.name} = {value!r} must not refer to other variables")
        return tree
    if isinstance(value, SequenceABC):
        return ast.ListExpr(tuple(variable_tree(ast.Variable(f"{node.name}[{i}]"), replace(
            ctx, variables={f"{node.name}[{i}]": item})) for i, item in enumerate(value)))
    raise ParameterError(f"variable ${node.name} has a {type(value).__name__}; expected a number, "
                         "a boolean, a string or a list")


def _finite_number(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


# -- arguments ---------------------------------------------------------------------------------

def bind(call: ast.Call, spec: NodeSpec, ctx: Context) -> Dict[str, ast.Expr]:
    """Arguments of ``call`` by parameter name (positional ones in the table's order)."""
    where = f"{call.name}(){ctx.where(call)}: "
    if spec.variadic:
        if call.kwargs or not call.args:
            raise ParameterError(f"{where}expects one or more positional arguments: {spec.signature()}")
        return {f"{spec.params[0].name}[{i}]": arg for i, arg in enumerate(call.args)}
    if len(call.args) > len(spec.params):
        raise ParameterError(f"{where}takes at most {len(spec.params)} positional arguments "
                             f"({spec.signature()}), got {len(call.args)}")
    bound = {param.name: arg for param, arg in zip(spec.params, call.args)}
    names = [p.name for p in spec.params]
    for key, value in call.kwargs:
        if key not in names:
            raise UnknownNameError(f"{where}unknown parameter {key!r}{did_you_mean(key, names)}; "
                                   f"parameters: {spec.signature()}")
        if key in bound:
            raise ParameterError(f"{where}{key} is given both by position and by name")
        bound[key] = value
    for param in spec.params:
        if param.default is REQUIRED and param.name not in bound and param.name != spec.horizon:
            raise ParameterError(f"{where}missing required parameter {param.name!r}: {spec.signature()}")
    return bound


def _kind_of(node: ast.Expr) -> str:
    if isinstance(node, ast.Call):
        return f"{node.name}(...)"
    return {ast.String: "a string", ast.Boolean: "a boolean", ast.ListExpr: "a list",
            ast.TupleExpr: "a tuple", ast.Duration: "a duration"}.get(type(node), "an expression")


def _type_error(where: str, param: Param, node: ast.Expr) -> ParameterError:
    return ParameterError(f"{where}parameter {param.name} expects {KIND_NAMES[param.kind]}, "
                          f"got {_kind_of(node)}: {_label(node)}")


def constant_number(node: ast.Expr, ctx: Context, where: str, param: Param) -> float:
    """A number fixed in time (literals, variables, pi, base, lr0 and arithmetic of them)."""
    if isinstance(node, (ast.String, ast.Boolean, ast.ListExpr, ast.TupleExpr, ast.Duration)):
        raise _type_error(where, param, node)
    curve = compile_expr(node, ctx)
    if curve.constant is None:
        raise ParameterError(f"{where}parameter {param.name} must be a number fixed in time, "
                             f"not a schedule: {_label(node)}")
    return float(curve.constant)


def duration(node: ast.Expr, ctx: Context, what: str) -> float:
    """A duration in clock units: ``5ep``, ``10%``, ``500it``, or a number of iterations."""
    if isinstance(node, ast.Variable):
        node = variable_tree(node, ctx)
    if isinstance(node, ast.Duration):
        return ctx.clock.convert(node.value, node.unit, what)
    if isinstance(node, ast.Neg) and isinstance(node.operand, ast.Duration):
        return -duration(node.operand, ctx, what)
    if isinstance(node, (ast.Number, ast.BinOp, ast.Neg, ast.Name)) and not _is_inf(node):
        curve = compile_expr(node, replace(ctx, phase_length=None))
        if curve.constant is not None:
            return ctx.clock.convert(curve.constant, "it", what)
    raise ParameterError(f"{what} expects a duration (500, 500it, 5ep or 10%), got {_kind_of(node)}: "
                         f"{_label(node)}")


def _is_inf(node: ast.Expr) -> bool:
    return isinstance(node, ast.Name) and node.name == "inf"


def resolve(param: Param, node: Optional[ast.Expr], spec: NodeSpec, ctx: Context, where: str):
    """The value of ``param`` given ``node`` (None: not given), checked against its declaration."""
    if node is None:
        value = _default(param, spec, ctx, where)
    else:
        value = _value(param, node, ctx, where)
    if param.check is not None and value is not None:
        items = value if param.kind in ("durations", "numbers", "numbers_tuple") else (value,)
        for item in items:
            if not param.check(item):
                given = "[" + ", ".join(f"{v:g}" for v in value) + "]" if items is value else _show(node, item)
                raise ParameterError(f"{where}{param.name}={given} is out of range; allowed: {param.check.text}")
    return value


def _show(node: Optional[ast.Expr], value) -> str:
    if node is not None and not isinstance(node, (ast.Number, ast.String, ast.Boolean)):
        return f"{_label(node)} (= {value:g})" if isinstance(value, float) else _label(node)
    return repr(value) if isinstance(value, str) else (f"{value:g}" if isinstance(value, float) else str(value))


def _default(param: Param, spec: NodeSpec, ctx: Context, where: str):
    if param.default is BASE:
        return ctx.base
    if param.default is not REQUIRED:
        value = param.default
        if param.kind == "duration" and isinstance(value, (int, float)):  # else: derived from another parameter
            return ctx.clock.convert(value, "it", f"{where}{param.name}")
        return value
    # An unset horizon takes the length of its phase (SPEC §4.3).
    if ctx.phase_length is None or math.isinf(ctx.phase_length):
        raise PhaseError(f"{where}{param.name} is not given and the phase has no known length; give "
                         f"{param.name}=..., add 'for <duration>' to the phase, or pass total= "
                         "(the last phase then runs to the end of training)")
    return ctx.phase_length


def _value(param: Param, node: ast.Expr, ctx: Context, where: str):
    kind = param.kind
    if isinstance(node, ast.Variable) and kind != "schedule":
        value = variable_value(node, ctx)
        if kind == "string" and isinstance(value, str):
            return value
        node = variable_tree(node, ctx)
    if kind == "number":
        return constant_number(node, ctx, where, param)
    if kind == "integer":
        value = constant_number(node, ctx, where, param)
        if not value.is_integer():
            raise ParameterError(f"{where}parameter {param.name} expects a whole number, got {value:g}")
        return int(value)
    if kind == "count":
        if _is_inf(node):
            return math.inf
        value = constant_number(node, ctx, where, param)
        if not value.is_integer() or value < 0:
            raise ParameterError(f"{where}parameter {param.name} expects a whole number >= 0 or inf, got {value:g}")
        return value
    if kind == "duration":
        return duration(node, ctx, f"{where}parameter {param.name}")
    if kind == "bool":
        if not isinstance(node, ast.Boolean):
            raise _type_error(where, param, node)
        return node.value
    if kind == "string":
        if not isinstance(node, ast.String):
            raise _type_error(where, param, node)
        return node.value
    if kind in ("durations", "numbers", "numbers_tuple"):
        accepted = (ast.ListExpr, ast.TupleExpr) if kind == "numbers_tuple" else (ast.ListExpr,)
        if not isinstance(node, accepted):
            raise _type_error(where, param, node)
        if kind == "durations":
            return tuple(duration(item, ctx, f"{where}parameter {param.name}") for item in node.items)
        item_param = replace(param, kind="number", check=None)
        return tuple(constant_number(item, ctx, where, item_param) for item in node.items)
    if kind in ("schedule", "any"):
        return compile_sub(node, ctx)
    raise LRDSLError(f"{where}parameter {param.name} has an unknown kind {kind!r}")  # a malformed plugin


@dataclass(frozen=True)
class SubSchedule:
    """A schedule given as a parameter (``repeat``'s ``x``): its curve and natural length."""

    curve: curves.Curve
    length: Optional[float]
    source: ast.Expr


def compile_sub(node: ast.Expr, ctx: Context) -> SubSchedule:
    length = natural_length(node, ctx)
    sub_ctx = replace(ctx, phase_length=length)
    curve = compile_phases(ast.phases_of(node), sub_ctx, node)
    return SubSchedule(curve, length, node)


# -- lengths -----------------------------------------------------------------------------------

def natural_length(node: ast.Expr, ctx: Context) -> Optional[float]:
    """The length an expression has on its own (SPEC §4.3), or None."""
    if isinstance(node, ast.Phases):
        total = 0.0
        for phase in node.phases:
            length = (duration(phase.length, ctx, "for") if phase.length is not None
                      else natural_length(phase.body, ctx))
            if length is None:
                return None
            total += length
        return total
    if isinstance(node, ast.Call):
        spec = ctx.registry.get(node.name, where="")
        if spec.kind == "schedule":
            bound = bind(node, spec, ctx)
            if spec.horizon and spec.horizon in bound:
                return duration(bound[spec.horizon], ctx, f"{node.name}(): {spec.horizon}")
            return None
    if isinstance(node, ast.Variable):
        return natural_length(variable_tree(node, ctx), ctx)
    lengths = [natural_length(child, ctx) for child in node.children()]
    lengths = [length for length in lengths if length is not None]
    return max(lengths) if lengths else None


# -- expressions -------------------------------------------------------------------------------

def compile_phases(phases, ctx: Context, label) -> curves.Curve:
    """A sequence of phases in an enclosing phase of length ``ctx.phase_length``."""
    compiled, start, base = [], 0.0, ctx.base
    count = len(phases)
    for number, phase in enumerate(phases, start=1):
        last = number == count
        phase_label = _Lazy(phase.body)
        if number > 1 and ctx.phase_length is not None and start >= ctx.phase_length:
            _unreachable(phases, number, start, ctx)
            break
        if phase.length is not None:
            length = duration(phase.length, ctx, f"phase {number} ({phase_label}): for")
            if length <= 0:
                raise PhaseError(f"phase {number} ({phase_label}): 'for' must be a positive duration")
        elif not last:
            length = natural_length(phase.body, ctx)
            if length is None:
                raise PhaseError(f"phase {number} ({phase_label}) is followed by another phase but has no "
                                 f"length; write '{phase_label} for <duration>' (e.g. 'for 10ep'), or give "
                                 "its horizon parameter")
        elif ctx.phase_length is not None:
            length = ctx.phase_length - start
        else:
            length = math.inf
        curve = compile_expr(phase.body, replace(ctx, base=base, phase_length=length,
                                                 enclosing=_Lazy(phase.body, f"phase {number} ({{}})")))
        compiled.append((start, length, curve))
        next_reached = ctx.phase_length is None or start + length < ctx.phase_length
        if not last and next_reached:
            if curve.stateful:
                raise PhaseError(f"phase {number} ({phase_label}) is driven by reported metrics, so its end "
                                 "value is unknown at compile time; make it the last phase")
            base = _end_value(curve, length, number, phase_label)
        start += length
    return curves.sequence(compiled, label)


def _unreachable(phases, number: int, start: float, ctx: Context) -> None:
    """Phase ``number`` (and every later one) starts at or after the end of its enclosing length.

    At the top level that length is the training length, so the phase is an error; inside a
    phase (``(a for 20 then b) for 20``) the phase is simply never reached: a warning, and the
    phases before it hold their end value.
    """
    label = _Lazy(phases[number - 1].body)
    unit = UNIT_WORDS[ctx.clock.unit]
    if ctx.enclosing is None:
        raise PhaseError(f"phase {number} ({label}) starts at {start:g} {unit}, at or after the end of training "
                         f"(total = {ctx.phase_length:g} {unit}); shorten the phases before it or pass a "
                         "larger total=")
    later = f" (and the {len(phases) - number} after it)" if number < len(phases) else ""
    ctx.notes.append(f"phase {number} ({label}){later} is never reached: it starts at {start:g} {unit}, at or "
                     f"after the end of {ctx.enclosing}, which lasts {ctx.phase_length:g} {unit}")


def _end_value(curve: curves.Curve, length: float, number: int, label: str) -> float:
    try:
        value = curve.at(length)
    except (ArithmeticError, ValueError) as error:
        raise EvaluationError(f"phase {number} ({label}) cannot be evaluated at its end {length:g}: {error}")
    if not (0 <= value < math.inf):
        raise EvaluationError(f"phase {number} ({label}) ends at {value!r}, which cannot be the next "
                              "phase's base (it must be finite and >= 0)")
    return value


def _identifier(node: ast.Name, ctx: Context) -> curves.Curve:
    name = node.name
    if name in ("pi", "e"):
        return curves.constant(math.pi if name == "pi" else math.e, name)
    if name == "base":
        return curves.constant(ctx.base, name)
    if name == "lr0":
        return curves.constant(ctx.lr0, name)
    if name in UNIT_WORDS:
        scale = ctx.clock.scale(name)
        if scale is None:
            raise UnitError(f"identifier {name!r}{ctx.where(node)} counts {UNIT_WORDS[name]}, but this schedule "
                            f"runs on {UNIT_WORDS[ctx.clock.unit]}; pass steps_per_epoch=")
        if scale == 1:
            return curves.of_time(lambda t: t, lambda t, xp: t, name)
        return curves.of_time(lambda t: t / scale, lambda t, xp: t / scale, name)
    if name == "progress":
        length = ctx.phase_length
        if length is None or math.isinf(length):
            raise PhaseError(f"'progress'{ctx.where(node)} needs a known phase length; add 'for <duration>' "
                             "to the phase, or pass total=")
        return curves.of_time(lambda t: fraction(SCALAR, t, length), lambda t, xp: fraction(xp, t, length), name)
    if name == "inf":
        raise ParameterError(f"'inf'{ctx.where(node)} is only allowed where a count may be unbounded "
                             "(e.g. repeat(x, times=inf))")
    raise UnknownNameError(f"unknown identifier {name!r}{ctx.where(node)}"
                           f"{did_you_mean(name, IDENTIFIERS + tuple(ctx.registry.names()))}; "
                           f"identifiers: {', '.join(IDENTIFIERS)}")


def _quotient(spec: NodeSpec, node: ast.Call, ctx: Context):
    """``[a, b]`` compiled, when ``node`` is ``f(a / b)`` with ``b`` a positive constant and ``f``
    declares an exact form of a quotient (``floor``, ``ceil``); else None."""
    argument = node.args[0] if spec.of_quotient is not None and len(node.args) == 1 else None
    if not (isinstance(argument, ast.BinOp) and argument.op == "/"):
        return None
    denominator = compile_expr(argument.right, ctx)  # stateless: it is constant, or compiled again below
    if denominator.constant is None or not denominator.constant > 0:
        return None
    return [compile_expr(argument.left, ctx), denominator]


def compile_call(node: ast.Call, ctx: Context) -> curves.Curve:
    spec = ctx.registry.get(node.name, kinds=("schedule", "function"), where=f"at {ctx.where(node)[2:-1]}: "
                            if node.pos else "")
    where = f"{node.name}(){ctx.where(node)}: "
    bound = bind(node, spec, ctx)
    label = node
    if spec.kind == "function":
        if not spec.variadic and len(bound) != len(spec.params):
            raise ParameterError(f"{where}expects {len(spec.params)} arguments: {spec.signature()}")
        quotient = _quotient(spec, node, ctx)
        if quotient is not None:
            return curves.function(spec.of_quotient, quotient, label)
        return curves.function(spec.evaluate, [compile_expr(arg, ctx) for arg in bound.values()], label)
    values = [resolve(param, bound.get(param.name), spec, ctx, where) for param in spec.params]
    if spec.build is not None:
        return spec.build(ctx, *values)
    return curves.node(spec.evaluate, values, label)


def compile_expr(node: ast.Expr, ctx: Context) -> curves.Curve:
    """A numeric expression as a Curve of local time."""
    if isinstance(node, ast.Number):
        return curves.constant(float(node.value), node)
    if isinstance(node, ast.Call):
        return compile_call(node, ctx)
    if isinstance(node, ast.BinOp):
        return curves.binary(node.op, compile_expr(node.left, ctx), compile_expr(node.right, ctx), node)
    if isinstance(node, ast.Neg):
        return curves.negate(compile_expr(node.operand, ctx), node)
    if isinstance(node, ast.Name):
        return _identifier(node, ctx)
    if isinstance(node, ast.Variable):
        return compile_expr(variable_tree(node, ctx), ctx)
    if isinstance(node, ast.Phases):
        return compile_phases(node.phases, ctx, node)
    if isinstance(node, ast.Duration):
        raise ParameterError(f"a duration ({to_text(node)}) is only allowed as a length: a node's duration "
                             "parameter or after 'for'")
    raise ParameterError(f"{_kind_of(node)} ({_label(node)}) is only allowed as a parameter value")
