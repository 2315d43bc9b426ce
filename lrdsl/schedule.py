"""The compiled schedule users hold: ``sched(i)``, ``sched(epoch=e)``, ``sched.values(array)``."""

from __future__ import annotations

import bisect
import functools
import math
from collections import OrderedDict
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from . import amend, ast, resume, templates
from .clock import FACTORS, make_clock, real, shown
from .compiler import compile_phases
from .context import Context
from .counters import EXACT_INTS, counter, counters
from .errors import EvaluationError, LRDSLError, UnitError
from .exact import to_clock
from .options import CompileOptions
from .parser import parse, pointed
from .plugins import default_registry
from .registry import Registry
from .scalarmath import SCALAR
from .schema import restoring
from .text import describe
from .variables import table as variable_table
from .vocabulary import UNIT_WORDS

_INF = math.inf
_phase_of = bisect.bisect_right
COUNTERS = {"it": "iteration", "ep": "epoch", "tok": "tokens", "sp": "samples"}  # a counter's name, by unit


class Schedule:
    """A learning-rate schedule compiled from an lrdsl expression.

    ``sched(i)`` is the value for the update at global iteration ``i`` (the k-th update uses
    ``sched(k)``); ``sched(epoch=e)``, ``sched(tokens=n)`` and ``sched(samples=n)`` evaluate by
    the epoch, or the cumulative count of tokens or samples seen; given several counters, the
    schedule reads the one it runs on (and they must agree where the clock can convert them).
    Values are never NaN, infinite or negative: such a value raises :class:`EvaluationError`
    naming the phase and the time.
    """

    def __init__(
        self, tree: ast.Expr, curve, clock, options: CompileOptions, registry: Registry, on_change: str, notes=()
    ):
        self.tree = tree
        self.notes = tuple(notes)  # warnings found while compiling, e.g. a nested phase never reached
        self.clock = clock
        self.options = options  # what it was compiled with besides its text, saved with its state
        self.base = options.base
        self.registry = registry
        self.on_change = on_change  # what load_state_dict does with a checkpoint of another schedule
        self.history: Tuple[Mapping[str, Any], ...] = ()  # amendments: text, at, total, time
        self.position: Optional[float] = None  # clock time of the last sched(...) call
        self._curve = curve
        self._at = curve.at
        # a sequence of phases is dispatched in __call__ itself (one call fewer per value); the lists
        # are the curve's, built once per compiled curve, so a warm compile stays O(1) in the length
        self._starts = curve.starts
        self._phases = curve.phase_ats
        # clock units per unit of each counter; None where it cannot convert, except that a
        # timeless schedule (a constant, a lone plateau) takes any counter as it is
        self._ratios = {unit: clock.ratio(unit) or ((1.0, 1.0) if curve.timeless else None) for unit in UNIT_WORDS}
        # sched(i) takes a plain int or float below these without the counter checks (0: never)
        self._fast_ints = EXACT_INTS if self._ratios["it"] == (1.0, 1.0) else 0
        self._fast_floats = float(self._fast_ints)

    @property
    def curve(self):
        """The compiled curve: one object for every schedule compiled from the same text, options and
        registry (the compile cache), so hosts can evaluate it once for all of them."""
        return self._curve

    @functools.cached_property
    def expression(self) -> str:
        """The canonical text of the schedule."""
        return str(self.tree)

    # -- evaluation ------------------------------------------------------------------------------
    def __call__(self, iteration=None, epoch=None, *, tokens=None, samples=None) -> float:
        if (
            epoch is None
            and tokens is None
            and samples is None
            and (
                0 <= iteration < self._fast_ints  # an int compared with an int: no conversion
                if type(iteration) is int
                else type(iteration) is float and 0.0 <= iteration < self._fast_floats
            )
        ):
            t = float(iteration)  # the training loop's case, without the checks' cost
        else:
            t = self._time({"it": iteration, "ep": epoch, "tok": tokens, "sp": samples})
        try:
            starts = self._starts
            if starts is None:
                value = self._at(t)
            else:  # curve.at's own dispatch: the phase whose start is the last one <= t, at its local time
                index = _phase_of(starts, t) - 1
                value = self._phases[index](t - starts[index])
        except LRDSLError:
            raise
        except (ArithmeticError, ValueError):  # the float path stops where IEEE arithmetic goes on
            value = self._ieee(t)
        if type(value) is float and 0.0 <= value < _INF:
            self.position = t
            return value
        return self._checked(t, value)

    def _checked(self, t: float, value) -> float:
        """``value`` at ``t`` as a float, or the EvaluationError saying why it is not a learning rate."""
        if value >= 0.0 and value < _INF:
            self.position = t
            return float(value)
        raise self._failure(t, f"gives {value!r}{' (too large for a float)' if value == _INF else ''}")

    def _time(self, points: Dict[str, Any]) -> float:
        """The clock time of the counters given (by unit): each checked and converted; the one the
        schedule runs on is read, and the others must agree with it where the clock converts them."""
        given = {unit: counter(point, COUNTERS[unit]) for unit, point in points.items() if point is not None}
        if not given:
            raise LRDSLError(
                "a schedule is evaluated at an iteration, sched(i), an epoch, sched(epoch=e), or a count of "
                "tokens or samples, sched(tokens=n), sched(samples=n)"
            )
        chosen = self.clock.unit if self.clock.unit in given else next(iter(given))
        ratio = self._ratios[chosen]
        if ratio is None:
            raise self._unit_error(chosen)
        t = self._clock_time(given[chosen], ratio, chosen)
        clock = UNIT_WORDS[self.clock.unit]
        for unit, point in given.items():
            other = self.clock.ratio(unit)
            seen = self._clock_time(point, other, unit) if unit != chosen and other is not None else t
            if not math.isclose(seen, t, rel_tol=1e-9, abs_tol=1e-9):
                raise LRDSLError(
                    f"the counters disagree: {COUNTERS[chosen]} {given[chosen]:g} is {t:g} {clock}, but "
                    f"{COUNTERS[unit]} {point:g} is {seen:g} {clock} with the factors this schedule was compiled "
                    "with; give one of them"
                )
        return t

    @staticmethod
    def _clock_time(point: float, ratio: Tuple[float, float], unit: str) -> float:
        """``point`` of a counter in clock units."""
        if ratio == (1.0, 1.0):
            return point
        if not point * ratio[0] / ratio[1] < _INF:
            raise _too_large(unit, point)
        return to_clock(SCALAR, point, *ratio)

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

    def values(self, iterations=None, *, epochs=None, tokens=None, samples=None) -> np.ndarray:
        """The schedule at every point of ``iterations`` (or ``epochs``, ``tokens``, ``samples``), as
        float64, vectorised."""
        given = {
            unit: p
            for unit, p in (("it", iterations), ("ep", epochs), ("tok", tokens), ("sp", samples))
            if p is not None
        }
        if len(given) != 1:
            raise LRDSLError("values() takes one array: iterations, or epochs=, tokens= or samples=")
        ((unit, points),) = given.items()
        counter_name = COUNTERS[unit]
        t = counters(points, counter_name)
        ratio = self._ratios[unit]
        if ratio is None:
            raise self._unit_error(unit)
        if ratio != (1.0, 1.0):
            given_points = t
            with np.errstate(over="ignore", invalid="ignore"):
                t = to_clock(np, t, *ratio)
            if t.size and not t.max() < _INF:
                raise _too_large(unit, float(given_points.reshape(-1)[np.argmax(t.reshape(-1))]))
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
            values, times = out.reshape(-1), t.reshape(-1)
            bad = np.flatnonzero(~((values >= 0) & (values < _INF)))[0]
            raise self._failure(float(times[bad]), f"gives {float(values[bad])!r}")
        return out

    def phase_starts(self, counter: str = "it") -> list:
        """Where each top-level phase starts, counted in ``counter`` ("it", "ep", "tok" or "sp");
        [0.0] for one phase."""
        num, den = self._ratio(counter)
        return [start * den / num for start, _ in self._curve.parts] or [0.0]

    def phase_spans(self, counter: str = "it") -> list:
        """``(start, end)`` of each top-level phase, counted in ``counter``; the last ends at
        ``total`` (inf without one, or where its ``for`` ends)."""
        num, den = self._ratio(counter)
        starts = [start for start, _ in self._curve.parts] or [0.0]
        ends = [*starts[1:], self._curve.end]
        return [(start * den / num, end * den / num) for start, end in zip(starts, ends)]

    def array_function(self, xp, counter: str = "it"):
        """``f(points) -> values`` in the array namespace ``xp`` (numpy, jax.numpy), for jit and vmap.

        ``points`` are iterations (``counter="it"``), epochs (``"ep"``), or cumulative tokens or
        samples (``"tok"``, ``"sp"``). Unlike :meth:`values` it does no checks, so it can be traced;
        the values are those of :meth:`values`.
        """
        ratio = self._ratio(counter)
        over = self._curve.over
        if self._curve.constant is not None:
            value = self._curve.constant
            return lambda points: xp.zeros_like(xp.asarray(points) * 1.0) + value
        if ratio == (1.0, 1.0):
            return lambda points: over(xp.asarray(points) * 1.0, xp)
        return lambda points: over(to_clock(xp, xp.asarray(points), *ratio), xp)

    # -- metric-driven nodes -----------------------------------------------------------------------
    def report(self, metric: float) -> None:
        """Feed a metric (e.g. validation loss) to the metric-driven nodes (``plateau``).

        A schedule without such nodes ignores it, so a training loop may always report. A failed
        report changes no node (:func:`report_to`).
        """
        report_to([self], metric)

    @property
    def stateful(self) -> tuple:
        """The metric-driven nodes (``plateau``), in the order of the text."""
        return self._curve.stateful

    # -- checkpoints and changes -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to resume, as plain data: the canonical expression, the compile options,
        the position, the state of metric-driven nodes and the history of amendments."""
        return resume.state_of(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`. A state saved from another expression or other options is
        handled by this schedule's ``on_change`` policy (:mod:`lrdsl.resume`); a failed load changes
        nothing."""
        resume.load(self, state)

    def amend(self, text, at=None, total=None) -> Schedule:
        """The schedule that follows this one up to ``at`` (default: its position) and ``text`` after
        it, from the value there: ``(this) for <at> then text`` (:mod:`lrdsl.amend`); ``total``
        replaces the training length."""
        return amend.amend(self, text, at=at, total=total)

    def variant(self, text_or_node, options: Optional[CompileOptions] = None) -> Schedule:
        """Another schedule compiled like this one: its registry and ``on_change`` policy, and its
        options unless others are given."""
        return compile_schedule(
            text_or_node, registry=self.registry, on_change=self.on_change, **(options or self.options).as_dict()
        )

    def _install(self, other: Schedule) -> None:
        """Become ``other`` (a resume that keeps this object), keeping the ``on_change`` policy."""
        on_change = self.on_change
        self.__dict__.clear()
        self.__dict__.update(other.__dict__)
        self.on_change = on_change

    def __repr__(self) -> str:
        return f"Schedule({self.expression!r}, base={self.base!r}, clock={UNIT_WORDS[self.clock.unit]!r})"

    # -- errors ----------------------------------------------------------------------------------
    def _ratio(self, counter: str) -> Tuple[float, float]:
        """Clock units per unit of ``counter`` ("it", "ep", "tok", "sp"), or the UnitError saying what to pass."""
        if counter not in UNIT_WORDS:
            raise LRDSLError(f"counter={counter!r}: expected one of {', '.join(map(repr, UNIT_WORDS))}")
        ratio = self._ratios[counter]
        if ratio is None:
            raise self._unit_error(counter)
        return ratio

    def _unit_error(self, unit: str) -> UnitError:
        clock = self.clock.unit
        factor = FACTORS.get(unit if unit != "it" else clock, "steps_per_epoch")
        call = {"it": "sched(i)", "ep": "sched(epoch=e)", "tok": "sched(tokens=n)", "sp": "sched(samples=n)"}[clock]
        return UnitError(
            f"this schedule counts {UNIT_WORDS[clock]} (its durations are in {UNIT_WORDS[clock]}); evaluating it by "
            f"{COUNTERS[unit]} needs {factor}= when compiling, or call it by {COUNTERS[clock]}: {call}"
        )

    def _failure(self, t: float, what: str) -> EvaluationError:
        number, local, curve = self._curve.locate(t)
        unit = UNIT_WORDS[self.clock.unit][:-1]
        phase = f" in phase {number} ({curve.describe()})" if self._curve.parts and len(self._curve.parts) > 1 else ""
        return EvaluationError(
            f"schedule {self.expression!r} {what} at {unit} {t:g}{phase}, local time "
            f"{local:g}; a learning rate must be finite and >= 0"
        )


def report_to(schedules: Sequence[Schedule], metric: Any) -> None:
    """Feed ``metric`` to every metric-driven node of ``schedules``, in order, as one change: if a
    node's report fails (a plugin's raises), every node is put back as it was (its ``state_dict``
    from before, loaded back), so a failed report changes nothing."""
    try:
        metric = float(metric)
    except OverflowError:
        raise EvaluationError(f"report(): the metric, {describe(metric)}, is too large for a float") from None
    except Exception:  # no __float__, or one that raises: a metric must be a number
        raise LRDSLError(f"report(): the metric must be a number, got {describe(metric)}") from None
    if not math.isfinite(metric):
        raise EvaluationError(f"report(): the metric is {metric!r}; a metric must be finite")
    nodes = [node for schedule in schedules for node in schedule.stateful]
    if not nodes:
        return
    with restoring(list({id(node): node for node in nodes}.values())):
        for node in nodes:
            node.report(metric)


def _unquoted(text: str) -> str:
    """How a number written as a string is written as a number (``'3e-4'`` -> ``3e-4``), or ``<a number>``."""
    try:
        return repr(float(text)) if math.isfinite(float(text)) else "<a number>"
    except ValueError:
        return "<a number>"


def _too_large(unit: str, point: float) -> EvaluationError:
    return EvaluationError(f"the {COUNTERS[unit]} {point!r} is too large for this schedule's clock")


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
    base: Any = 1.0,
    steps_per_epoch=None,
    total=None,
    variables=None,
    registry: Optional[Registry] = None,
    *,
    tokens_per_step=None,
    samples_per_step=None,
    on_change: str = "error",
) -> Schedule:
    """Compile an lrdsl expression into a :class:`Schedule` (``lrdsl.compile``, docs/language.md §13).

    ``steps_per_epoch``, ``tokens_per_step`` and ``samples_per_step`` convert epochs, tokens and
    samples to iterations, where a schedule mixes them (docs/language.md §4); ``total`` is the
    training length (iterations, or a duration such as ``"90ep"`` or ``"3e11tok"``).

    ``on_change`` says what ``load_state_dict`` does with a checkpoint of another schedule:
    "error", "continue", "smooth" or "checkpoint" (:mod:`lrdsl.resume`).

    A repeated compile (same text, options, variables and registry) is served from a cache
    without parsing; a schedule with metric-driven state (``plateau``) is compiled every time,
    since every Schedule owns its state.
    """
    if not isinstance(text_or_node, (str, ast.Expr)):
        raise LRDSLError(
            f"compile() takes an lrdsl expression (a string or a parsed node), not {type(text_or_node).__name__}"
        )
    if isinstance(base, str):
        raise LRDSLError(f"base={base!r} is a string; the base learning rate is a number: base={_unquoted(base)}")
    number = real(base)
    if number is None or not 0 <= number < _INF:
        raise LRDSLError(f"base={shown(base)}: the base learning rate must be a finite number >= 0")
    variables = variable_table(variables)
    on_change = resume.policy(on_change)
    registry = registry or default_registry()
    clock = {
        "steps_per_epoch": steps_per_epoch,
        "total": total,
        "tokens_per_step": tokens_per_step,
        "samples_per_step": samples_per_step,
    }
    key = _cache_key(text_or_node, float(base), clock, variables, registry)
    compiled = _CACHE.get(key) if key is not None else None
    if compiled is None:
        tree = parse(text_or_node) if isinstance(text_or_node, str) else text_or_node
        try:
            compiled = _compile(tree, float(base), clock, variables, registry)
        except LRDSLError as error:
            raise pointed(error, text_or_node) if isinstance(text_or_node, str) else error from None
        if key is not None and not compiled[1].stateful:
            _CACHE.put(key, compiled)
    tree, curve, clock, notes = compiled
    return Schedule(tree, curve, clock, CompileOptions.of(base, clock, variables), registry, on_change, notes)


def _compile(tree, base, clock_options, variables, registry):
    """``(tree, curve, clock, notes)``."""
    templates.refuse(tree, variables)  # a string with distributions is sampled first (lrdsl.search)
    clock = make_clock(_trees(tree, variables), **clock_options)
    total_length = clock.convert(*clock.total, "total") if clock.total else None
    ctx = Context(registry=registry, clock=clock, variables=variables, lr0=base, base=base, phase_length=total_length)
    return tree, compile_phases(ast.phases_of(tree), ctx, tree), clock, tuple(ctx.notes)


def _cache_key(text_or_node, base, clock_options, variables, registry):
    """What a compile depends on, hashable; None when a variable's value cannot be hashed.

    Types are part of it (``True`` and ``1`` are equal but compile differently), and so is the
    registry's version (a node added or removed invalidates the entry).
    """
    key = (
        text_or_node,
        base,
        tuple((name, type(value), value) for name, value in clock_options.items()),
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


__all__ = ["Schedule", "compile_schedule", "report_to"]
