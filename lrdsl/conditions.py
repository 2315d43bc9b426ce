"""Conditions and ``where(cond, a, b)`` (docs/language.md §7.3).

A condition is a comparison of two numeric expressions (``ep < 10``, with ``< <= > >= == !=``),
conditions joined by ``and``, ``or`` and ``not``, or ``true``/``false``. It compiles to a
:class:`~lrdsl.curves.Curve` whose values are booleans, and stands only as the first argument
of ``where``; a number where a condition is expected, or a condition where a number is
expected, is a :class:`~lrdsl.errors.ParameterError`.

``where(c, a, b)`` is ``a`` where ``c`` holds and ``b`` elsewhere. Both branches are compiled
(so both are validated), but the branch not taken never raises and never puts a NaN into the
result, on any backend:

- the scalar evaluator evaluates only the branch taken (``and``/``or`` short-circuit);
- NumPy evaluates each branch only at the points that take it (boolean masks);
- traced backends (``jax.jit``, Keras ops) evaluate both branches over the whole array and
  select with ``xp.where``; each branch first has its times substituted (safe substitution):
  points that take the other branch are evaluated at the first point that takes this one,
  so a branch computes only values it would give anyway.

A condition that does not depend on time is folded when compiling: ``where`` then compiles
to the branch it selects.
"""

from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from . import ast, curves
from .binding import label, variable_tree
from .context import Context, located
from .errors import ParameterError
from .scalarmath import SCALAR

_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

Compile = Callable[[ast.Expr, Context], curves.Curve]


def _fixed(value: bool, node: ast.Expr) -> curves.Curve:
    return curves.Curve(lambda t: value, lambda t, xp: value, node, constant=value)


def compile_condition(node: ast.Expr, ctx: Context, compile_expr: Compile, where: str) -> curves.Curve:
    """``node`` as a condition: a Curve of booleans (``constant`` set when it does not depend on time)."""
    if isinstance(node, ast.Variable):
        node = variable_tree(node, ctx)
    if isinstance(node, ast.Boolean):
        return _fixed(node.value, node)
    if isinstance(node, ast.Compare):
        return _compare(node, compile_expr(node.left, ctx), compile_expr(node.right, ctx))
    if isinstance(node, ast.Not):
        inner = compile_condition(node.operand, ctx, compile_expr, where)
        if inner.constant is not None:
            return _fixed(not inner.constant, node)
        f, F = inner.at, inner.over
        return curves.Curve(lambda t: not f(t), lambda t, xp: xp.logical_not(F(t, xp)), node, stateful=inner.stateful)
    if isinstance(node, ast.Logic):
        left = compile_condition(node.left, ctx, compile_expr, where)
        right = compile_condition(node.right, ctx, compile_expr, where)
        return _logic(node, left, right)
    raise ParameterError(
        f"{where}expects a condition (a comparison such as ep < 10, joined by and, or, not; or true, false), "
        f"got {label(node)}"
    )


def _compare(node: ast.Compare, left: curves.Curve, right: curves.Curve) -> curves.Curve:
    test = _COMPARE[node.op]
    if left.constant is not None and right.constant is not None:
        return _fixed(bool(test(left.constant, right.constant)), node)
    f, g, F, G = left.at, right.at, left.over, right.over
    return curves.Curve(
        lambda t: test(f(t), g(t)),
        lambda t, xp: test(F(t, xp), G(t, xp)),
        node,
        stateful=left.stateful + right.stateful,
        timeless=left.timeless and right.timeless,
    )


def _logic(node: ast.Logic, left: curves.Curve, right: curves.Curve) -> curves.Curve:
    is_and = node.op == "and"
    if left.constant is not None:  # true and x = x; false and x = false; the same for or
        return right if bool(left.constant) == is_and else _fixed(not is_and, node)
    if right.constant is not None:
        return left if bool(right.constant) == is_and else _fixed(not is_and, node)
    f, g, F, G = left.at, right.at, left.over, right.over
    if is_and:
        at = lambda t: f(t) and g(t)  # noqa: E731
        over = lambda t, xp: xp.logical_and(F(t, xp), G(t, xp))  # noqa: E731
    else:
        at = lambda t: f(t) or g(t)  # noqa: E731
        over = lambda t, xp: xp.logical_or(F(t, xp), G(t, xp))  # noqa: E731
    return curves.Curve(at, over, node, stateful=left.stateful + right.stateful)


def compile_where(node: ast.Call, ctx: Context, compile_expr: Compile) -> curves.Curve:
    """``where(condition, a, b)``: both branches compiled, the one not taken never evaluated where it could fail."""
    where = f"where(){located(node)}: "
    if node.kwargs or len(node.args) != 3:
        raise ParameterError(f"{where}takes three positional arguments: where(condition, a, b)")
    condition = compile_condition(node.args[0], ctx, compile_expr, where)
    taken, other = compile_expr(node.args[1], ctx), compile_expr(node.args[2], ctx)
    if condition.constant is not None:
        return taken if condition.constant else other
    return choice(condition, taken, other, node)


def choice(condition: curves.Curve, a: curves.Curve, b: curves.Curve, label) -> curves.Curve:
    """``a`` where ``condition`` holds, else ``b``."""
    c, f, g = condition.at, a.at, b.at
    C, F, G = condition.over, a.over, b.over

    def over(t, xp):
        if xp is SCALAR:
            return f(t) if c(t) else g(t)
        holds = C(t, xp)
        if xp is np:
            return _masked(np.asarray(t), holds, F, G)
        return xp.where(holds, F(_safe(xp, t, holds), xp), G(_safe(xp, t, xp.logical_not(holds)), xp))

    return curves.Curve(
        lambda t: f(t) if c(t) else g(t),
        over,
        label,
        stateful=condition.stateful + a.stateful + b.stateful,
        timeless=condition.timeless and a.timeless and b.timeless,
    )


def _masked(t: np.ndarray, holds, F, G) -> np.ndarray:
    """NumPy: ``F`` at the points where ``holds``, ``G`` at the others; neither sees the other's points."""
    holds = np.broadcast_to(np.asarray(holds, dtype=bool), t.shape)
    out = np.empty(t.shape, dtype=np.float64)
    for mask, branch in ((holds, F), (~holds, G)):
        if mask.any():
            out[mask] = branch(t[mask], np)
    return out


def _safe(xp, t, holds):
    """``t`` where ``holds``; elsewhere the first time of ``t`` at which ``holds`` (the first time when none does)."""
    shape = getattr(t, "shape", None)
    if not shape or getattr(holds, "shape", None) != shape:
        return t  # one point, or a condition of another shape: nothing to substitute with
    flat = xp.reshape(t, (-1,))
    first = xp.take(flat, xp.argmax(xp.reshape(xp.where(holds, 1, 0), (-1,))))
    return xp.where(holds, t, first)
