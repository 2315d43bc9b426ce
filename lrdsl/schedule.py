"""The compiled schedule users hold: ``sched(i)``, ``sched(epoch=e)``, ``sched.values(array)``."""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional

import numpy as np

from . import ast
from .clock import make_clock
from .compiler import compile_phases
from .context import Context
from .counters import counter, counters
from .errors import EvaluationError, LRDSLError, UnitError
from .exact import to_iterations
from .parser import parse
from .plugins import default_registry
from .registry import Registry
from .scalarmath import SCALAR
from .schema import Anything, ListOf, Number, Record, Text, Where, restoring, validate
from .vocabulary import UNIT_WORDS

_INF = math.inf
_EXACT = 2.0**53  # counters below this are whole numbers exactly in a float


class Schedule:
    """A learning-rate schedule compiled from an lrdsl expression.

    ``sched(i)`` is the value for the update at global iteration ``i`` (the k-th update uses
    ``sched(k)``); ``sched(epoch=e)`` evaluates by epoch; ``sched(i, epoch=e)`` gives both and
    the schedule uses the counter it runs on. Values are never NaN, infinite or negative: such
    a value raises :class:`EvaluationError` naming the phase and the time.
    """

    def __init__(self, tree: ast.Expr, curve, clock, base: float, notes=()):
        self.tree = tree
        self.notes = tuple(notes)  # warnings found while compiling, e.g. a nested phase never reached
        self.clock = clock
        self.base = base
        self._curve = curve
        self._at = curve.at
        # clock units per iteration / per epoch; None where it cannot convert, except that a
        # timeless schedule (a constant, a lone plateau) takes either counter as it is
        scales = {counter: clock.scale(counter) or (1.0 if curve.timeless else None) for counter in UNIT_WORDS}
        self._per_iteration, self._per_epoch = scales["it"], scales["ep"]
        self._prefers_epoch = clock.unit == "ep"

    @functools.cached_property
    def expression(self) -> str:
        """The canonical text of the schedule."""
        return str(self.tree)

    # -- evaluation ------------------------------------------------------------------------------
    def __call__(self, iteration=None, epoch=None) -> float:
        t = self._time(iteration, epoch)
        try:
            value = self._at(t)
        except LRDSLError:
            raise
        except (ArithmeticError, ValueError):  # the float path stops where IEEE arithmetic goes on
            value = self._ieee(t)
        if value >= 0.0 and value < _INF:
            return float(value)
        raise self._failure(t, f"gives {value!r}{' (too large for a float)' if value == _INF else ''}")

    def _time(self, iteration, epoch) -> float:
        """The clock time of ``sched(iteration, epoch)``: counters checked, converted and reconciled."""
        if iteration is None and epoch is None:
            raise LRDSLError("a schedule is evaluated at an iteration, sched(i), or an epoch, sched(epoch=e)")
        if epoch is None and type(iteration) in (int, float) and self._per_iteration == 1.0 and 0 <= iteration < _EXACT:
            return float(iteration)  # the training loop's case, without the checks' cost
        times: Dict[str, float] = {}  # the clock time of each counter given that this clock can read
        for name, point, scale in (("iteration", iteration, self._per_iteration), ("epoch", epoch, self._per_epoch)):
            if point is not None:
                value = counter(point, name)
                if scale is not None:
                    times[name] = self._clock_time(value, scale, name)
        chosen = "epoch" if iteration is None or (epoch is not None and self._prefers_epoch) else "iteration"
        if chosen not in times:
            raise self._unit_error(chosen)
        spe = self.clock.steps_per_epoch
        if len(times) == 2 and spe is not None and not math.isclose(*times.values(), rel_tol=1e-9, abs_tol=1e-9):
            raise LRDSLError(
                f"sched({iteration!r}, epoch={epoch!r}): the iteration and the epoch disagree (with steps_per_epoch="
                f"{spe:g}, iteration {iteration!r} is epoch {times['iteration'] / spe:g}); give one of them"
            )
        return times[chosen]

    @staticmethod
    def _clock_time(point: float, scale: float, name: str) -> float:
        """``point`` of a counter in clock units."""
        t = point if scale == 1.0 else to_iterations(SCALAR, point, scale)
        if not t < _INF:
            raise EvaluationError(f"the {name} {point!r} is too large for this schedule's clock")
        return t

    def _ieee(self, t: float) -> float:
        """The value at ``t`` by the NumPy evaluator, where intermediate overflows are infinities and
        a division by zero is one, as IEEE arithmetic has it: ``sched(i)`` and ``values([i])`` then
        agree on whether a value exists."""
        with np.errstate(all="ignore"):
            try:
                return float(np.asarray(self._curve.over(np.array([t]), np), dtype=np.float64).flat[0])
            except LRDSLError:
                raise
            except (ArithmeticError, ValueError) as error:
                raise self._failure(t, f"cannot be computed ({_reason(error)})") from None

    def values(self, iterations=None, *, epochs=None) -> np.ndarray:
        """The schedule at every point of ``iterations`` (or ``epochs``), as float64, vectorised."""
        counter_name = "iteration" if epochs is None else "epoch"
        points = iterations if epochs is None else epochs
        scale = self._per_iteration if epochs is None else self._per_epoch
        if points is None:
            raise LRDSLError("values() needs iterations (an array of iteration numbers) or epochs=")
        t = counters(points, counter_name)
        if scale is None:
            raise self._unit_error(counter_name)
        if scale != 1.0:
            t = to_iterations(np, t, scale)
        with np.errstate(all="ignore"):
            try:
                out = self._curve.over(t, np)
            except LRDSLError:
                raise
            except (ArithmeticError, ValueError) as error:
                raise EvaluationError(
                    f"schedule {self.expression!r} cannot be evaluated over these {counter_name}s: {error}"
                ) from None
        out = np.asarray(out, dtype=np.float64)
        if out.shape != t.shape:
            out = np.broadcast_to(out, t.shape).copy()
        if out.size and not (out.min() >= 0 and out.max() < _INF):
            bad = np.flatnonzero(~((out >= 0) & (out < _INF)))[0]
            raise self._failure(float(t.flat[bad]), f"gives {float(out.flat[bad])!r}")
        return out

    def phase_starts(self, counter: str = "it") -> list:
        """Where each top-level phase starts, counted in ``counter`` ("it" or "ep"); [0.0] for one phase."""
        scale = self._scale(counter)
        return [start / scale for start, _ in self._curve.parts] or [0.0]

    def array_function(self, xp, counter: str = "it"):
        """``f(points) -> values`` in the array namespace ``xp`` (numpy, jax.numpy), for jit and vmap.

        ``points`` are iterations (``counter="it"``) or epochs (``"ep"``). Unlike :meth:`values`
        it does no checks, so it can be traced; the values are those of :meth:`values`.
        """
        scale = self._scale(counter)
        over = self._curve.over
        if self._curve.constant is not None:
            value = self._curve.constant
            return lambda points: xp.zeros_like(xp.asarray(points) * 1.0) + value
        if scale == 1.0:
            return lambda points: over(xp.asarray(points) * 1.0, xp)
        return lambda points: over(to_iterations(xp, xp.asarray(points), scale), xp)

    # -- metric-driven nodes -----------------------------------------------------------------------
    def report(self, metric: float) -> None:
        """Feed a metric (e.g. validation loss) to the metric-driven nodes (``plateau``).

        A schedule without such nodes ignores it, so a training loop may always report.
        """
        try:
            metric = float(metric)
        except (TypeError, ValueError):
            raise LRDSLError(f"report(): the metric must be a number, got {metric!r}") from None
        if not math.isfinite(metric):
            raise EvaluationError(f"report(): the metric is {metric!r}; a metric must be finite")
        for node in self._curve.stateful:
            node.report(metric)

    def state_dict(self) -> dict:
        """Everything needed to resume: the expression and the state of stateful nodes."""
        return {
            "expression": self.expression,
            "base": self.base,
            "nodes": [node.state_dict() for node in self._curve.stateful],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`; the state must be for the same expression and base.

        Everything is checked first, and a metric-driven node that refuses its part puts every
        node back as it was: a failed load changes nothing.
        """
        expression, base, stateful = self.expression, self.base, self._curve.stateful
        schema = Record(
            {
                "expression": Where(Text(), lambda text: text == expression, f"{expression!r}"),
                "nodes": ListOf(Anything(), len(stateful)),
            },
            optional={"base": Where(Number(), lambda value: value == base, f"{base!r}")},
        )
        checked = validate(schema, state, LRDSLError, "load_state_dict()")
        with restoring(stateful):
            for node, node_state in zip(stateful, checked["nodes"]):
                node.load_state_dict(node_state)

    def __repr__(self) -> str:
        return f"Schedule({self.expression!r}, base={self.base!r}, clock={UNIT_WORDS[self.clock.unit]!r})"

    # -- errors ----------------------------------------------------------------------------------
    def _scale(self, counter: str) -> float:
        """Clock units per unit of ``counter`` ("it" or "ep"), or the UnitError saying what to pass."""
        scale = self._per_iteration if counter == "it" else self._per_epoch
        if scale is None:
            raise self._unit_error(UNIT_WORDS[counter][:-1])
        return scale

    def _unit_error(self, counter: str) -> UnitError:
        clock = UNIT_WORDS[self.clock.unit]
        return UnitError(
            f"this schedule counts {clock} (its durations are in {clock}); evaluating it by "
            f"{counter} needs steps_per_epoch= when compiling, or call it by "
            f"{'epoch: sched(epoch=e)' if clock == 'epochs' else 'iteration: sched(i)'}"
        )

    def _failure(self, t: float, what: str) -> EvaluationError:
        number, local, curve = self._curve.locate(t)
        unit = UNIT_WORDS[self.clock.unit][:-1]
        phase = f" in phase {number} ({curve.describe()})" if self._curve.parts and len(self._curve.parts) > 1 else ""
        return EvaluationError(
            f"schedule {self.expression!r} {what} at {unit} {t:g}{phase}, local time "
            f"{local:g}; a learning rate must be finite and >= 0"
        )


def _reason(error: Exception) -> str:
    """A readable cause: OverflowError carries an errno tuple, the others a message."""
    if isinstance(error, OverflowError):
        return "a number too large for a float"
    return str(error) or type(error).__name__


def _trees(tree: ast.Expr, variables: Mapping[str, Any]):
    """The expression and every string variable's expression (for the clock's unit scan)."""
    yield tree
    for value in variables.values():
        if isinstance(value, str):
            try:
                yield parse(value)
            except LRDSLError:
                continue  # a plain string parameter such as mode="triangular2"


def compile_schedule(
    text_or_node,
    base: float = 1.0,
    steps_per_epoch=None,
    total=None,
    variables=None,
    registry: Optional[Registry] = None,
) -> Schedule:
    """Compile an lrdsl expression into a :class:`Schedule` (``lrdsl.compile``, docs/language.md §13).

    A repeated compile (same text, options, variables and registry) is served from a cache
    without parsing; a schedule with metric-driven state (``plateau``) is compiled every time,
    since every Schedule owns its state.
    """
    if not isinstance(text_or_node, (str, ast.Expr)):
        raise LRDSLError(
            f"compile() takes an lrdsl expression (a string or a parsed node), not {type(text_or_node).__name__}"
        )
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not 0 <= base < _INF:
        raise LRDSLError(f"base={base!r}: the base learning rate must be a finite number >= 0")
    variables = _variables(variables)
    registry = registry or default_registry()
    key = _cache_key(text_or_node, float(base), steps_per_epoch, total, variables, registry)
    compiled = _CACHE.get(key) if key is not None else None
    if compiled is None:
        tree = parse(text_or_node) if isinstance(text_or_node, str) else text_or_node
        compiled = _compile(tree, float(base), steps_per_epoch, total, variables, registry)
        if key is not None and not compiled[1].stateful:
            _CACHE.put(key, compiled)
    tree, curve, clock, notes = compiled
    return Schedule(tree, curve, clock, float(base), notes)


def _compile(tree, base, steps_per_epoch, total, variables, registry):
    """``(tree, curve, clock, notes)``."""
    clock = make_clock(_trees(tree, variables), steps_per_epoch, total)
    total_length = clock.convert(*clock.total, "total") if clock.total else None
    ctx = Context(registry=registry, clock=clock, variables=variables, lr0=base, base=base, phase_length=total_length)
    return tree, compile_phases(ast.phases_of(tree), ctx, tree), clock, tuple(ctx.notes)


def _cache_key(text_or_node, base, steps_per_epoch, total, variables, registry):
    """What a compile depends on, hashable; None when a variable's value cannot be hashed.

    Types are part of it (``True`` and ``1`` are equal but compile differently), and so is the
    registry's version (a node added or removed invalidates the entry).
    """
    key = (
        text_or_node,
        base,
        type(steps_per_epoch),
        steps_per_epoch,
        type(total),
        total,
        tuple(sorted((name, type(value), value) for name, value in variables.items())),
        registry,
        registry.version,
    )
    try:
        hash(key)
    except TypeError:
        return None
    return key


class _CompileCache:
    """The most recently used compiles, by :func:`_cache_key` (least recently used ones dropped)."""

    def __init__(self, size: int = 512):
        self.size = size
        self._entries: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key):
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key, entry) -> None:
        self._entries[key] = entry
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


_CACHE = _CompileCache()


def _variables(variables) -> dict:
    if variables is None:
        return {}
    if not isinstance(variables, Mapping) or not all(isinstance(name, str) for name in variables):
        raise LRDSLError(
            f"variables must be a mapping from names (strings) to values, e.g. "
            f'{{"peak_lr": 3e-4}}; got {variables!r:.80}'
        )
    return dict(variables)


__all__ = ["Schedule", "compile_schedule"]
