"""``recur(update, every=1, start=b)``: a value that each tick computes from the one before (docs/language.md §7.4).

The value is ``start`` until the first tick; at tick j (local time ``j·every``, j = 1, 2, ...) it
becomes ``update`` evaluated with ``lr`` bound to the value before the tick, ``it``/``ep`` to
the tick's local time and ``k`` to j::

    v_0 = start,    v_j = update(lr = v_{j-1}, k = j, t = j·every),    value(t) = v_{floor(t / every)}

It is still a pure function of the counters (``state_dict`` holds nothing new): the values at
the ticks are computed in float64 on the host, on demand, into a :class:`Tape` that every
evaluator reads:

- ``sched(i)``: the tape grows in blocks of 4096 ticks, so consecutive calls pay O(1) each and
  a random access O(ticks) once; past :data:`MAX_TICKS` ticks an :class:`EvaluationError`
  names the limit;
- ``values()``: the tape up to the largest requested tick, then one gather;
- an update of the form ``lr * g`` (``g`` without ``lr``; through ``*``, ``/`` and ``where``, as
  ``where(ep < 10, lr, lr * 0.9)``) grows by NumPy's sequential ``multiply.accumulate`` over
  ``[v, g_1, g_2, ...]`` (the same products, in the same order, as the loop would compute);
  ``lr + g`` (and ``lr - g``) by ``add.accumulate``; any other update by a Python loop;
- traced backends (``jax.jit``, Keras ops): in a phase of known length the tape of all its
  ticks is a constant of the program, gathered by tick (exact: the float64 values rounded
  once to the dtype); in an unbounded phase a ``while_loop`` runs the update in the
  backend's dtype up to the largest tick asked for.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace
from typing import Callable, Optional

import numpy as np

from . import ast, curves
from .binding import by_name, label, variable_tree
from .context import Context, located
from .errors import EvaluationError, LRDSLError, ParameterError, UnknownNameError
from .exact import floor_div
from .scalarmath import SCALAR

MAX_TICKS = 10**7
"""The most ticks one recurrence computes; asking past it is an EvaluationError naming it."""

_BLOCK = 4096  # ticks computed at once when the tape grows
PARAMS = ("update", "every", "start")  # recur's parameters, in order
_SIGNATURE = "recur(update, every=1, start=b)"

Compile = Callable[[ast.Expr, Context], curves.Curve]


class Binding:
    """What ``lr`` and ``k`` mean inside one recurrence's update: the value before the tick (set
    per thread while the update runs) and the tick's number, ``round(t / every)``."""

    def __init__(self, every: float):
        self.every = every
        self._local = threading.local()

    @property
    def lr(self):
        return self._local.lr

    @lr.setter
    def lr(self, value) -> None:
        self._local.lr = value

    def lr_curve(self, node: ast.Name) -> curves.Curve:
        return curves.of_time(lambda t: self._local.lr, lambda t, xp: self._local.lr, node)

    def k_curve(self, node: ast.Name) -> curves.Curve:
        every = self.every
        return curves.of_time(lambda t: math.floor(t / every + 0.5), lambda t, xp: xp.floor(t / every + 0.5), node)


def identifier(node: ast.Name, ctx: Context) -> curves.Curve:
    """``lr`` or ``k``: bound by the innermost recurrence whose update holds them, else an error."""
    binding = ctx.recurrence
    if binding is not None:
        return binding.lr_curve(node) if node.name == "lr" else binding.k_curve(node)
    meaning = "the value before the tick" if node.name == "lr" else "the tick's number"
    raise UnknownNameError(
        f"{node.name!r}{located(node)} is {meaning}, and exists only inside the update of recur(...), "
        "e.g. recur(lr * 0.95, every=1ep); for the base learning rate write base or lr0"
    )


# -- compiling ----------------------------------------------------------------------------------


def _arguments(node: ast.Call) -> dict:
    where = f"recur(){located(node)}: "
    if len(node.args) > len(PARAMS):
        raise ParameterError(f"{where}takes at most 3 arguments: {_SIGNATURE}")
    bound = by_name(node, PARAMS, where, _SIGNATURE)
    if "update" not in bound:
        raise ParameterError(f"{where}missing required parameter 'update': {_SIGNATURE}")
    return bound


def compile_recur(node: ast.Call, ctx: Context, compile_expr: Compile, length: Callable) -> curves.Curve:
    """``recur(update, every, start)`` as a Curve; ``length(node, ctx, what)`` converts a duration."""
    where = f"recur(){located(node)}: "
    bound = _arguments(node)
    every = length(bound["every"], ctx, f"{where}every") if "every" in bound else 1.0
    if not 0 < every < math.inf:
        raise ParameterError(f"{where}every={every:g} is out of range; allowed: > 0 and finite")
    start = ctx.base
    if "start" in bound:
        start_curve = compile_expr(bound["start"], ctx)
        if start_curve.constant is None:
            raise ParameterError(
                f"{where}start must be a number fixed in time, not a schedule: {label(bound['start'])}"
            )
        start = float(start_curve.constant)
    if not 0 <= start < math.inf:
        raise ParameterError(f"{where}start={start:g} is out of range; allowed: >= 0 and finite")
    binding = Binding(every)
    inner = replace(ctx, recurrence=binding)
    update = bound["update"]
    factor = split(update, ctx, "*")
    offset = None if factor is not None else split(update, ctx, "+")
    if factor is not None:
        g = compile_expr(factor, inner)
        step, accumulate = (lambda lr, t, xp: lr * g.over(t, xp)), np.multiply.accumulate
    elif offset is not None:
        g = compile_expr(offset, inner)
        step, accumulate = (lambda lr, t, xp: lr + g.over(t, xp)), np.add.accumulate
    else:
        g = compile_expr(update, inner)
        accumulate = None

        def step(lr, t, xp):
            binding.lr = lr
            return g.over(t, xp) + 0 * lr  # the carry's dtype and shape, whatever the update gives

    last = ctx.phase_length
    last_tick = math.inf if last is None or math.isinf(last) else floor_div(SCALAR, last, every)
    tape = Tape(start, every, last_tick, g, binding, accumulate, f"recur(){located(node)} ({label(node)})")
    return _curve(tape, step, node, g.stateful)


def _curve(tape: Tape, step, node: ast.Call, stateful) -> curves.Curve:
    every, last, start = tape.every, tape.last, tape.start

    def at(t):
        n = t // every
        return tape.value(int(min(max(n, 0.0), last)), t)

    def over(t, xp):
        if xp is SCALAR:
            return at(t)
        if xp is np:
            return tape.gather(np.clip(np.floor_divide(t, every), 0, last))
        if math.isfinite(last):
            values = tape.upto(int(last), last * every)
            times = np.arange(int(last) + 1) * every
            index = xp.clip(xp.searchsorted(xp.asarray(times), t, side="right") - 1, 0, int(last))
            return xp.take(xp.asarray(values[: int(last) + 1]), index)
        return _traced_loop(xp, t, every, start, step)

    return curves.Curve(at, over, node, stateful=stateful)


def _traced_loop(xp, t, every: float, start: float, step):
    """The unbounded case on a traced backend: the update run in the array's dtype, tick by tick,
    up to the largest tick in ``t``; each point keeps the value of its own tick."""
    n = xp.maximum(floor_div(xp, t, every), 0.0)
    n_max = xp.max(n)

    def body(state):
        j, lr, out = state
        j = j + 1
        lr = step(lr, j * every, xp)
        return j, lr, xp.where(n == j, lr, out)

    state = (0 * n_max, start + 0 * n_max, start + 0 * n)
    return _while(xp, lambda state: state[0] < n_max, body, state)[2]


def _while(xp, cond, body, state):
    """``while cond(state): state = body(state)`` as the backend's traceable loop."""
    if getattr(xp, "__name__", "") == "jax.numpy":
        import jax

        return jax.lax.while_loop(cond, body, state)
    loop = getattr(xp, "while_loop", None)  # keras.ops
    if loop is None:
        raise LRDSLError(
            "a recurrence in a phase of unknown length needs a traceable loop (jax.numpy or keras.ops); "
            "give the phase a length (total= or 'for')"
        )
    return tuple(loop(lambda *s: cond(s), lambda *s: tuple(body(s)), state))


# -- the cumulative forms ------------------------------------------------------------------------


def mentions_lr(node: ast.Expr, ctx: Context) -> bool:
    """Whether ``lr`` of this recurrence occurs in ``node`` (variables expanded; an inner
    ``recur``'s update binds its own ``lr``)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name) and current.name == "lr":
            return True
        if isinstance(current, ast.Variable):
            try:
                stack.append(variable_tree(current, ctx))
            except LRDSLError:
                return True  # compiled as written, which reports the error
        elif isinstance(current, ast.Call) and current.name == "recur":
            stack.extend(current.args[1:])
            stack.extend(value for key, value in current.kwargs if key != "update")
        else:
            stack.extend(current.children())
    return False


_UNITS = {"*": 1, "+": 0}  # lr * g and lr + g: the g of a bare lr
_THROUGH = {"*": ("*", "/"), "+": ("+", "-")}  # the operators an lr * g (lr + g) passes through


def split(node: ast.Expr, ctx: Context, op: str) -> Optional[ast.Expr]:
    """``g`` (an AST without ``lr``) when ``node`` is ``lr * g`` (``op="*"``, through ``*``, ``/`` and
    ``where``) or ``lr + g`` (``op="+"``, through ``+``, ``-`` and ``where``); else None."""
    if isinstance(node, ast.Name) and node.name == "lr":
        return ast.Number(_UNITS[op])
    if isinstance(node, ast.BinOp) and node.op in _THROUGH[op]:
        if not mentions_lr(node.right, ctx):
            inner = split(node.left, ctx, op)
            if inner is not None:
                return _join(node.op, inner, node.right, _UNITS[op])
        if node.op == op and not mentions_lr(node.left, ctx):
            inner = split(node.right, ctx, op)
            if inner is not None:
                return node.left if inner == ast.Number(_UNITS[op]) else ast.BinOp(op, node.left, inner)
    if isinstance(node, ast.Call) and node.name == "where" and len(node.args) == 3 and not node.kwargs:
        condition, a, b = node.args
        if not mentions_lr(condition, ctx):
            when, otherwise = split(a, ctx, op), split(b, ctx, op)
            if when is not None and otherwise is not None:
                return ast.Call("where", (condition, when, otherwise))
    return None


def _join(op: str, left: ast.Expr, right: ast.Expr, unit: int) -> ast.Expr:
    """``left op right``, leaving out a ``left`` that is the unit (``1 * g`` is ``g``, ``0 - g`` is ``-g``)."""
    if isinstance(left, ast.Number) and left.value == unit:
        return {"*": right, "+": right, "/": ast.BinOp("/", ast.Number(1), right), "-": ast.Neg(right)}[op]
    return ast.BinOp(op, left, right)


# -- the tape ------------------------------------------------------------------------------------


class Tape:
    """The values of one recurrence at ticks 0, 1, 2, ... (float64), grown on demand.

    ``g`` is the compiled update (or the factor ``g`` of ``lr * g``, the term of ``lr + g``, with
    ``accumulate`` then NumPy's ``multiply``/``add.accumulate``); ``last`` the last tick of the
    phase (inf when unbounded). An update that cannot be computed at a tick (a domain error, an
    overflow) leaves NaN there and at every later tick, and the reason in :attr:`failure`.
    """

    def __init__(self, start, every, last, g, binding, accumulate, text: str):
        self.start, self.every, self.last = start, every, last
        self.g, self.binding, self.accumulate, self.text = g, binding, accumulate, text
        self.buffer = np.full(1, start, dtype=np.float64)
        self.size = 1
        self.failure: Optional[tuple] = None  # (tick, reason)
        self.lock = threading.Lock()

    def value(self, n: int, t: float) -> float:
        """The value at tick ``n`` (asked for at local time ``t``)."""
        if n >= self.size:
            self.upto(n, t)
        if self.failure is not None and n >= self.failure[0]:
            raise self._failed()
        return float(self.buffer[n])

    def gather(self, ticks: np.ndarray) -> np.ndarray:
        """The values at ``ticks`` (a float array of whole numbers)."""
        if ticks.size == 0:
            return np.zeros(ticks.shape)
        largest = int(ticks.max())
        values = self.upto(largest, largest * self.every)
        out = values[ticks.astype(np.int64)]
        if self.failure is not None and largest >= self.failure[0]:
            raise self._failed()
        return out

    def upto(self, n: int, t: float) -> np.ndarray:
        """The tape, holding at least ticks 0..n."""
        if n >= self.size:
            if n > MAX_TICKS:
                raise EvaluationError(
                    f"{self.text} is asked for tick {n:,} (local time {t:g}), past the limit of {MAX_TICKS:,} "
                    "ticks a recurrence computes; use a larger every= or a closed form"
                )
            with self.lock:
                self._grow(n)
        return self.buffer

    def _grow(self, n: int) -> None:
        target = min(-(-(n + 1) // _BLOCK) * _BLOCK, MAX_TICKS + 1, self.last + 1)
        if target <= self.size:
            return
        buffer = np.empty(max(int(target), 2 * self.size), dtype=np.float64)
        buffer[: self.size] = self.buffer[: self.size]
        size = self.size
        while size < target:
            end = int(min(size - size % _BLOCK + _BLOCK, target))
            buffer[size:end] = self._block(float(buffer[size - 1]), np.arange(size, end, dtype=np.float64))
            size = end
        self.buffer, self.size = buffer, size

    def _block(self, before: float, ticks: np.ndarray) -> np.ndarray:
        times = ticks * self.every
        if self.failure is not None:
            return np.full(ticks.shape, np.nan)
        if self.accumulate is not None:
            with np.errstate(all="ignore"):
                terms = np.broadcast_to(np.asarray(self.g.over(times, np), dtype=np.float64), ticks.shape)
                return self.accumulate(np.concatenate(([before], terms)))[1:]
        out = np.full(ticks.shape, np.nan)
        lr, update, binding = before, self.g.at, self.binding
        for index, t in enumerate(times.tolist()):
            binding.lr = lr
            try:
                lr = float(update(t))
            except (ArithmeticError, ValueError) as error:
                self.failure = (int(ticks[index]), str(error) or type(error).__name__)
                break
            out[index] = lr
        return out

    def _failed(self) -> EvaluationError:
        assert self.failure is not None
        tick, reason = self.failure
        return EvaluationError(
            f"{self.text}: the update cannot be computed at tick {tick:,} (local time {tick * self.every:g}): {reason}"
        )
