"""Changing a running schedule on the record (README "Resuming and changing a schedule").

``sched.amend(text, at=...)`` is the schedule that follows ``sched`` up to ``at`` and ``text``
after it, continuing from the old value there -- in the language::

    (old) for <at> then text

with ``old`` pinned (:mod:`lrdsl.pinning`) so it keeps its values inside the new one. The
result is one canonical string that compiles to the same values, and it records the amendment
in its ``history``. Warmup-stable-decay from any checkpoint is::

    sched = lrdsl.compile("warmup(1%) then constant()", base=3e-4, total=100_000)
    ...                                                      # train, checkpoint at 80 000
    sched = sched.amend("linear(end=0)", at=80_000, total=90_000)

:func:`smoothed` is the same construction for resuming with a changed schedule
(``on_change="smooth"``): the new schedule's remaining phases continue from the old value.
"""

from __future__ import annotations

import datetime
import math
from typing import Optional, Tuple

import numpy as np

from . import ast
from .errors import LRDSLError
from .options import CompileOptions, whole
from .parser import parse
from .pinning import clock_duration, pinned
from .text import describe
from .vocabulary import UNIT_WORDS

_SAMPLES = 257  # points of the old schedule checked before the amendment point


def amend(schedule, text, at=None, total=None):
    """``schedule`` up to ``at`` (default: its position), ``text`` after it (see the module)."""
    at_node, at_time = _amendment_point(schedule, at)
    if not isinstance(text, (str, ast.Expr)):
        raise LRDSLError(f"amend(): the new schedule is an lrdsl expression (a string), not {type(text).__name__}")
    new = parse(text) if isinstance(text, str) else text
    options = schedule.options if total is None else schedule.options.replaced(total=total)
    entry = {"text": str(new), "at": str(at_node)}
    return joined(schedule, at_node, at_time, ast.phases_of(new), options, entry, "amend()")


def smoothed(old, new, position: Tuple[str, float]):
    """``old`` up to ``position`` (a unit and a time), then ``new`` from the same point on, its
    phase there re-run over the rest of that phase from the old value (an unset horizon takes
    the rest), the phases after it as written: ``(old) for <at> then <phase> for <rest> then ...``."""
    unit, time = position
    at = old.clock.convert(time, unit, "the saved position")
    at_new = new.clock.convert(time, unit, "the saved position")
    phases = remaining_phases(new, at_new)
    at_node = clock_duration(at, old.clock.unit)
    entry = {"text": str(new.tree), "at": str(at_node), "policy": "smooth"}
    return joined(old, at_node, at, phases, new.options, entry, 'on_change="smooth"')


def remaining_phases(schedule, at: float) -> Tuple[ast.Phase, ...]:
    """The top-level phases of ``schedule`` from ``at`` (clock units) on, the first cut to what is
    left of it: at a phase boundary the phases as written."""
    phases = ast.phases_of(schedule.tree)
    spans = schedule.phase_spans(schedule.clock.unit)
    if at >= spans[-1][1]:
        raise LRDSLError(
            f"{schedule.expression!r} ends at {_point(spans[-1][1], schedule.clock.unit)}, before the position "
            f"{_point(at, schedule.clock.unit)}: give it a longer total="
        )
    index = max(k for k, (start, _) in enumerate(spans) if start <= at)
    start, end = spans[index]
    if start == at:
        return phases[index:]
    phase = phases[index]
    last_fills_total = index == len(phases) - 1 and phase.length is None
    first = (
        ast.Phase(phase.body)
        if last_fills_total
        else ast.Phase(phase.body, clock_duration(end - at, schedule.clock.unit))
    )
    return (first, *phases[index + 1 :])


def joined(old, at_node: ast.Expr, at_time: float, phases, options: CompileOptions, entry: dict, what: str):
    """``(pinned old) for at_node then phases``, compiled with ``options``; ``old``'s values before
    ``at_time`` are checked to be kept, and ``entry`` (with the total and the time) is added to the
    history."""
    if old.stateful:
        raise LRDSLError(
            f"{what}: {old.expression!r} is driven by reported metrics (plateau): its value at the position "
            "depends on the reports, not on its text, so nothing can continue from it; amend a schedule "
            "without metric-driven nodes, or resume with on_change='continue' or 'checkpoint'"
        )
    tree = ast.Phases((ast.Phase(pinned(old), at_node), *phases))
    try:
        result = old.variant(tree, options)
    except LRDSLError as error:
        raise type(error)(f"{what}: the schedule {str(tree)!r:.300} does not compile: {error}") from None
    _check_kept(old, result, at_time, what)
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    policy = {"policy": entry["policy"]} if "policy" in entry else {}
    stamped = {"text": entry["text"], "at": entry["at"], "total": result.options.total, "time": now, **policy}
    # ^ in the order a loaded state has (resume.HISTORY_ENTRY), so a save and a load change nothing
    result.history = (*old.history, stamped)
    result.position = old.position  # the same run, at the same point
    return result


def _finite(number) -> bool:
    """Whether ``number`` is a finite float (an int beyond the float range, or one whose ``__float__``
    fails, is not)."""
    try:
        return math.isfinite(float(number))
    except (OverflowError, ValueError, TypeError):
        return False


def _amendment_point(schedule, at) -> Tuple[ast.Expr, float]:
    """``at`` as a duration node for the text and as a time on ``schedule``'s clock."""
    clock = schedule.clock
    if at is None:
        if not schedule.position:
            raise LRDSLError(
                "amend(): this schedule has no position yet (it has not been evaluated past 0); pass at= "
                "(an iteration count, or a duration such as '50ep' or '2e9tok')"
            )
        return clock_duration(schedule.position, clock.unit), schedule.position
    shown = f"{at!r:.40}" if type(at) in (str, float) or (type(at) is int and at.bit_length() <= 64) else describe(at)
    refusal = f"amend(): at={shown} must be an iteration count or a duration such as '50ep'"
    if isinstance(at, bool) or not isinstance(at, (int, float, str)):
        raise LRDSLError(refusal)
    node = parse(at) if isinstance(at, str) else ast.Number(at) if _finite(at) else None
    if not isinstance(node, (ast.Number, ast.Duration)):
        raise LRDSLError(refusal)
    value, unit = (node.value, "it") if isinstance(node, ast.Number) else (node.value, node.unit)
    if (
        unit == "%" and clock.total is not None
    ):  # a share of the old total, written absolutely: a new total does not move it
        value, unit = clock.total[0] * value / 100, clock.total[1]
        node = ast.Duration(whole(value), unit)
    time = clock.convert(value, unit, f"amend(): at={at!r}")
    if not 0 < time < math.inf:
        raise LRDSLError(f"amend(): at={at!r} must be after the start of the schedule")
    return node, time


def _check_kept(old, new, at: float, what: str) -> None:
    """``new`` must give ``old``'s values before ``at``: a variable holding a ``%`` of ``total`` is
    not pinned, and would move with a new ``total``."""
    unit = old.clock.unit
    starts = np.array(old.phase_starts(unit))
    points = np.unique(np.concatenate([np.linspace(0.0, at, _SAMPLES), starts, np.maximum(starts - 1, 0)]))
    points = points[points < at]
    before = old.array_function(np, unit)(points)
    after = new.array_function(np, unit)(points)
    changed = ~np.isclose(before, after, rtol=1e-12, atol=0.0)
    if changed.any():
        where = int(np.flatnonzero(changed)[0])
        raise LRDSLError(
            f"{what}: the new schedule does not keep the old one before {_point(at, unit)}: at "
            f"{_point(points[where], unit)} the old gives {before[where]!r} and the new {after[where]!r} "
            "(a variable whose value holds a % of total moves with a new total; write it in "
            f"{UNIT_WORDS[unit]} instead)"
        )


def _point(time: float, unit: str) -> str:
    """``iteration 5000``, ``epoch 2.5``."""
    return f"{UNIT_WORDS[unit][:-1]} {time:g}"


def position_text(schedule) -> Optional[str]:
    """The schedule's position in words, or None before it was evaluated."""
    return None if schedule.position is None else _point(schedule.position, schedule.clock.unit)
