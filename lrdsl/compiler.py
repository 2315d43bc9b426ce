"""AST -> Curve: expressions, phases and lengths (docs/language.md §6–§8).

Phases restart their clock; a phase's length is its ``for``, else its natural length (the
node's horizon) when another phase follows, else the rest of the enclosing length (``total``
at the top); a horizon left unset takes its phase's length; phase k+1's incoming base is
phase k's value at its end. Arguments are bound by :mod:`lrdsl.binding`, which calls back into
:func:`compile_expr` and :func:`compile_sub` for the expressions they contain.
"""

from __future__ import annotations

import math
from typing import Optional

from . import ast, curves
from .binding import Binder, label, variable_tree
from .built import Built, SubSchedule
from .clock import FACTORS
from .conditions import compile_where
from .context import Context, located, positioned
from .errors import EvaluationError, ParameterError, PhaseError, UnitError, UnknownNameError, did_you_mean
from .exact import fraction
from .printer import to_text
from .recurrence import compile_recur
from .recurrence import identifier as recurrence_identifier
from .scalarmath import HOLDS, SCALAR
from .specs import FunctionSpec, ScheduleSpec
from .vocabulary import IDENTIFIERS, RECURRENCE_IDENTIFIERS, UNIT_WORDS


class _Lazy:
    """A node's short text (in ``template``), printed only if an error message uses it."""

    def __init__(self, node: ast.Expr, template: str = "{}"):
        self.node, self.template = node, template

    def __str__(self) -> str:
        return self.template.format(label(self.node))


# -- expressions -------------------------------------------------------------------------------


def compile_expr(node: ast.Expr, ctx: Context) -> curves.Curve:
    """A numeric expression as a Curve of local time; an error is placed at the innermost node
    with a position."""
    if type(node) is ast.Number:  # the commonest node, which cannot fail: no error to place
        return curves.constant(float(node.value), node)
    with positioned(node, inside=isinstance(node, ast.Variable)):
        return _compile_expr(node, ctx)


def _compile_expr(node: ast.Expr, ctx: Context) -> curves.Curve:
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
        raise ParameterError(
            f"a duration ({to_text(node)}) is only allowed as a length: a node's duration parameter or after 'for'"
        )
    if isinstance(node, (ast.Compare, ast.Logic, ast.Not)):
        raise ParameterError(
            f"a condition ({label(node)}) is not a number; it is only allowed as the first argument of "
            "where(condition, a, b)"
        )
    raise ParameterError(f"{_what(node)} ({label(node)}) is only allowed as a parameter value")


def _what(node: ast.Expr) -> str:
    return {ast.String: "a string", ast.Boolean: "a boolean", ast.ListExpr: "a list", ast.TupleExpr: "a tuple"}.get(
        type(node), "an expression"
    )


def compile_call(node: ast.Call, ctx: Context) -> curves.Curve:
    """A call of a schedule node or a function, or of the forms ``where`` and ``recur``."""
    if node.name == "where":
        return compile_where(node, ctx, compile_expr)
    if node.name == "recur":
        return compile_recur(node, ctx, compile_expr, BINDER.length)
    spec = ctx.registry.find(node.name)
    if spec is None or spec.kind not in ("schedule", "function"):  # the error (and its message) only when there is one
        spec = ctx.registry.get(
            node.name, kinds=("schedule", "function"), where=f"at {located(node)[2:-1]}: " if node.pos else ""
        )
    bound = BINDER.arguments(node, spec)
    if isinstance(spec, FunctionSpec):
        if spec.of_quotient is not None:
            quotient = _quotient(node, ctx)
            if quotient is not None:
                return curves.function(spec.of_quotient, quotient, node)
        return curves.function(spec.evaluate, [compile_expr(arg, ctx) for arg in bound.values()], node)
    assert isinstance(spec, ScheduleSpec)  # get() was asked for a schedule or a function node
    values = BINDER.values(node, spec, ctx, bound)
    if spec.build is not None:
        return _from_built(spec.build(ctx.node_context(), *values))
    assert spec.formula is not None  # a schedule node has a build function or a formula
    holds = HOLDS.get(spec.formula)
    settles = values[[param.name for param in spec.params].index(holds)] if holds else math.inf
    return curves.node(spec.formula, values, node, settles)


def _from_built(built: Built) -> curves.Curve:
    formula = built.formula
    scalar = built.scalar or (lambda t: formula(SCALAR, t))
    return curves.Curve(
        scalar, lambda t, xp: formula(xp, t), built.label, stateful=tuple(built.states), timeless=built.timeless
    )


def _quotient(node: ast.Call, ctx: Context):
    """``[a, b]`` compiled, when ``node`` is ``f(a / b)`` with ``b`` a positive constant (for an ``f``
    that declares an exact form of a quotient: ``floor``, ``ceil``); else None."""
    argument = node.args[0] if len(node.args) == 1 else None
    if not (isinstance(argument, ast.BinOp) and argument.op == "/"):
        return None
    denominator = compile_expr(argument.right, ctx)  # stateless: it is constant, or compiled again below
    if denominator.constant is None or not denominator.constant > 0:
        return None
    return [compile_expr(argument.left, ctx), denominator]


def _identifier(node: ast.Name, ctx: Context) -> curves.Curve:
    name = node.name
    if name in ("pi", "e"):
        return curves.constant(math.pi if name == "pi" else math.e, name)
    if name == "base":
        return curves.constant(ctx.base, name)
    if name == "lr0":
        return curves.constant(ctx.lr0, name)
    if name in UNIT_WORDS:
        ratio = ctx.clock.ratio(name)  # clock units per one of the identifier's unit
        if ratio is None:
            factor = FACTORS[name if name != "it" else ctx.clock.unit]
            raise UnitError(
                f"identifier {name!r}{located(node)} counts {UNIT_WORDS[name]}, but this schedule "
                f"runs on {UNIT_WORDS[ctx.clock.unit]}; pass {factor}="
            )
        if ratio == (1.0, 1.0):
            return curves.of_time(lambda t: t, lambda t, xp: t, name)
        num, den = ratio
        return curves.of_time(lambda t: t * den / num, lambda t, xp: t * den / num, name)
    if name == "progress":
        length = ctx.phase_length
        if length is None or math.isinf(length):
            raise PhaseError(
                f"'progress'{located(node)} needs a known phase length; add 'for <duration>' "
                "to the phase, or pass total="
            )
        return curves.of_time(lambda t: fraction(SCALAR, t, length), lambda t, xp: fraction(xp, t, length), name)
    if name in RECURRENCE_IDENTIFIERS:
        return recurrence_identifier(node, ctx)
    if name == "inf":
        raise ParameterError(
            f"'inf'{located(node)} is only allowed where a count may be unbounded (e.g. repeat(x, times=inf))"
        )
    if name.lower() == "nan":
        raise ParameterError(
            f"'{name}'{located(node)}: there is no NaN in the language, since a learning rate must be a number; "
            "write the value meant"
        )
    raise UnknownNameError(
        f"unknown identifier {name!r}{located(node)}"
        f"{did_you_mean(name, IDENTIFIERS + tuple(ctx.registry.names()))}; "
        f"identifiers: {', '.join(IDENTIFIERS)}"
    )


# -- schedule arguments --------------------------------------------------------------------------


def compile_sub(node: ast.Expr, ctx: Context) -> SubSchedule:
    """A schedule given as an argument (``repeat``'s ``x``), compiled over its own natural length."""
    length = natural_length(node, ctx)
    curve = compile_phases(ast.phases_of(node), ctx.but(phase_length=length), node)
    return SubSchedule(
        formula=lambda xp, t: curve.over(t, xp),
        scalar=curve.at,
        length=length,
        text=to_text(node),
        states=curve.stateful,
    )


BINDER = Binder(compile_expr, compile_sub)


# -- lengths -----------------------------------------------------------------------------------


def natural_length(node: ast.Expr, ctx: Context) -> Optional[float]:
    """The length an expression has on its own (docs/language.md §6.3), or None."""
    with positioned(node, inside=isinstance(node, ast.Variable)):
        return _natural_length(node, ctx)


def _natural_length(node: ast.Expr, ctx: Context) -> Optional[float]:
    if isinstance(node, ast.Phases):
        total = 0.0
        for phase in node.phases:
            length = (
                BINDER.length(phase.length, ctx, "for") if phase.length is not None else natural_length(phase.body, ctx)
            )
            if length is None:
                return None
            total += length
        return total
    if isinstance(node, ast.Call) and node.name == "recur":
        return None  # a recurrence goes on while its phase lasts
    if isinstance(node, ast.Call) and node.name != "where":
        spec = ctx.registry.get(node.name, kinds=("schedule", "function"))
        if isinstance(spec, ScheduleSpec):
            bound = BINDER.arguments(node, spec)
            if spec.horizon and spec.horizon in bound:
                return BINDER.length(bound[spec.horizon], ctx, f"{node.name}(): {spec.horizon}")
            return None
    if isinstance(node, ast.Variable):
        return natural_length(variable_tree(node, ctx), ctx)
    lengths = [natural_length(child, ctx) for child in node.children()]
    known = [length for length in lengths if length is not None]
    return max(known) if known else None


# -- phases ------------------------------------------------------------------------------------


def compile_phases(phases, ctx: Context, source) -> curves.Curve:
    """A sequence of phases in an enclosing phase of length ``ctx.phase_length``."""
    compiled, start, base = [], 0.0, ctx.base
    count = len(phases)
    for number, phase in enumerate(phases, start=1):
        with positioned(phase.body):  # an error about the phase points at it
            last = number == count
            phase_label = _Lazy(phase.body)
            if number > 1 and ctx.phase_length is not None and start >= ctx.phase_length:
                _unreachable(phases, number, start, ctx)
                break
            if phase.length is not None:
                length = BINDER.length(phase.length, ctx, f"phase {number} ({phase_label}): for")
                if length <= 0:
                    raise PhaseError(f"phase {number} ({phase_label}): 'for' must be a positive duration")
            elif not last:
                natural = natural_length(phase.body, ctx)
                if natural is None:
                    raise PhaseError(
                        f"phase {number} ({phase_label}) is followed by another phase but has no "
                        f"length; write '{phase_label} for <duration>' (e.g. 'for 10ep'), or give "
                        "its horizon parameter"
                    )
                length = natural
            elif ctx.phase_length is not None:
                length = ctx.phase_length - start
                if ctx.enclosing is None and number > 1:
                    _check_fits(phases, start, length, ctx, ctx.phase_length)
            else:
                length = math.inf
            curve = compile_expr(
                phase.body,
                ctx.but(base=base, phase_length=length, enclosing=_Lazy(phase.body, f"phase {number} ({{}})")),
            )
            compiled.append((start, length, curve))
            next_reached = ctx.phase_length is None or start + length < ctx.phase_length
            if not last and next_reached:
                if curve.stateful:
                    raise PhaseError(
                        f"phase {number} ({phase_label}) is driven by reported metrics, so its end "
                        "value is unknown at compile time; make it the last phase"
                    )
                base = _end_value(curve, length, number, phase_label)
            start += length
    return curves.sequence(compiled, source)


def _unreachable(phases, number: int, start: float, ctx: Context) -> None:
    """Phase ``number`` (and every later one) starts at or after the end of its enclosing length.

    At the top level that length is the training length, so the phase is an error; inside a
    phase (``(a for 20 then b) for 20``) the phase is simply never reached: a note, and the
    phases before it hold their end value (docs/language.md §6.7).
    """
    phase_label = _Lazy(phases[number - 1].body)
    unit = UNIT_WORDS[ctx.clock.unit]
    if ctx.enclosing is None:
        raise PhaseError(
            f"phase {number} ({phase_label}) starts at {start:g} {unit}, at or after the end of "
            f"training (total = {ctx.phase_length:g} {unit}); shorten the phases before it or pass a "
            "larger total="
        )
    later = f" (and the {len(phases) - number} after it)" if number < len(phases) else ""
    ctx.notes.append(
        f"phase {number} ({phase_label}){later} is never reached: it starts at {start:g} {unit}, at or "
        f"after the end of {ctx.enclosing}, which lasts {ctx.phase_length:g} {unit}"
    )


def _check_fits(phases, start: float, left: float, ctx: Context, total: float) -> None:
    """The last top-level phase must fit in what is left of the training length when the phases are
    written in shares of it: ``warmup(60%) then cosine(T=60%)`` adds up to 120% of ``total``."""
    if not any(isinstance(n, ast.Duration) and n.unit == "%" for p in phases for n in ast.walk(p.body)):
        return
    last = phases[-1].body
    natural = natural_length(last, ctx)
    if natural is not None and natural > left * (1 + 1e-9):
        unit = UNIT_WORDS[ctx.clock.unit]
        raise PhaseError(
            f"phase {len(phases)} ({_Lazy(last)}) starts at {start:g} {unit} ({start / total:.0%} of total) and "
            f"lasts {natural:g} {unit}: the phases add up to {(start + natural) / total:.0%} of total = "
            f"{total:g} {unit}; shorten them, or write the last one without its horizon so it takes the rest"
        )


def _end_value(curve: curves.Curve, length: float, number: int, phase_label) -> float:
    try:
        value = curve.at(length)
    except (ArithmeticError, ValueError) as error:
        raise EvaluationError(
            f"phase {number} ({phase_label}) cannot be evaluated at its end {length:g}: {error}"
        ) from error
    if not (0 <= value < math.inf):
        raise EvaluationError(
            f"phase {number} ({phase_label}) ends at {value!r}, which cannot be the next "
            "phase's base (it must be finite and >= 0)"
        )
    return value
