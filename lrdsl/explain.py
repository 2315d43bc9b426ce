"""A schedule in plain words: ``lrdsl explain`` and :func:`explain`.

:func:`explain` evaluates a schedule over its run (every update of an iteration clock up to
two million, else a fine grid, as :func:`lrdsl.lint` does) and returns an :class:`Explanation`:
one :class:`PhaseFacts` per top-level phase (what it does, where it starts and ends in every
counter the schedule can convert to, its first and last values, its lowest and highest value
and an interior peak), the restarts (the value jumps up after falling), the minimum and maximum
over the run, the peer schedulers it equals (:mod:`lrdsl.equivalents`) and, for a checkpoint,
its position and amendment history. ``str(explanation)`` is the text ``lrdsl explain`` prints;
``explanation.as_dict()`` is plain data (``lrdsl explain --json``).

The run is the schedule's ``total``; without one, the end of its last ``for``, else its last
phase's natural length, else its phases' starts plus 1000 clock units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from . import ast
from .equivalents import Equivalent, equivalents
from .errors import LRDSLError
from .lint import restarts, sample_points, window
from .resume import read
from .schedule import COUNTERS, Schedule, compile_schedule
from .specs import ScheduleSpec
from .text import shorten
from .vocabulary import UNIT_WORDS

Where = Dict[str, float]  # a point of the run in each counter that converts: {"iteration": 450, "epoch": 4.5}


@dataclass(frozen=True)
class Point:
    """A value and where it is."""

    value: float
    at: Where

    def as_dict(self) -> dict:
        return {"value": self.value, "at": dict(self.at)}


@dataclass(frozen=True)
class PhaseFacts:
    """One top-level phase over the run: ``start``/``end`` (``end`` is where the next phase or the
    run begins; None when the phase runs on past the run), ``first``/``last`` its values at its
    first and last points of the run, ``low``/``high`` its extremes, ``peak`` its highest value
    when that lies inside the phase (not at either end), ``shape`` one of "holds", "rises",
    "falls", "rises then falls", "varies"."""

    number: int
    text: str
    kind: str
    shape: str
    start: Where
    end: Optional[Where]
    first: float
    last: float
    low: Point
    high: Point
    peak: Optional[Point]

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "text": self.text,
            "kind": self.kind,
            "shape": self.shape,
            "start": dict(self.start),
            "end": None if self.end is None else dict(self.end),
            "first": self.first,
            "last": self.last,
            "low": self.low.as_dict(),
            "high": self.high.as_dict(),
            "peak": None if self.peak is None else self.peak.as_dict(),
        }


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found (see the module); ``str()`` gives the text, ``as_dict()`` the data."""

    expression: str
    base: float
    clock: str  # "iterations", "epochs", "tokens" or "samples"
    length: Where  # the run that was looked at
    bounded: bool  # whether the length is the schedule's total (else the window of the module's rule)
    phases: Tuple[PhaseFacts, ...]
    restarts: Tuple[Where, ...]
    minimum: Point
    maximum: Point
    equivalents: Tuple[Equivalent, ...]
    notes: Tuple[str, ...]
    position: Optional[Where] = None
    history: Tuple[Mapping[str, Any], ...] = ()

    def as_dict(self) -> dict:
        return {
            "expression": self.expression,
            "base": self.base,
            "clock": self.clock,
            "length": dict(self.length),
            "bounded": self.bounded,
            "phases": [phase.as_dict() for phase in self.phases],
            "restarts": [dict(r) for r in self.restarts],
            "min": self.minimum.as_dict(),
            "max": self.maximum.as_dict(),
            "equivalents": [e.as_dict() for e in self.equivalents],
            "notes": list(self.notes),
            "position": None if self.position is None else dict(self.position),
            "history": [dict(entry) for entry in self.history],
        }

    def __str__(self) -> str:
        return render(self)


def explain(
    schedule_or_text=None,
    *,
    base: float = 1.0,
    total=None,
    steps_per_epoch=None,
    tokens_per_step=None,
    samples_per_step=None,
    variables=None,
    state: Optional[Mapping[str, Any]] = None,
) -> Explanation:
    """The schedule in plain words (see the module).

    ``schedule_or_text`` is a :class:`~lrdsl.Schedule` or an expression compiled with the other
    options (as :func:`lrdsl.compile`); ``state`` is a ``Schedule.state_dict()`` (a checkpoint):
    alone, the schedule it holds is explained with its position and amendment history.
    """
    compile_options = {
        "base": base,
        "total": total,
        "steps_per_epoch": steps_per_epoch,
        "tokens_per_step": tokens_per_step,
        "samples_per_step": samples_per_step,
        "variables": variables,
    }
    given = [name for name, value in compile_options.items() if value is not None and (name, value) != ("base", 1.0)]
    position: Optional[Tuple[str, float]] = None
    history: Tuple[Mapping[str, Any], ...] = ()
    if state is not None:
        if schedule_or_text is not None or given:
            raise LRDSLError(
                "explain(): a checkpoint holds its schedule and options; give state= alone, or a schedule "
                f"with its options (got state= and {', '.join(given) or 'a schedule'})"
            )
        saved = read(state, "explain(): the checkpoint")
        options = saved.options.as_dict() if saved.options else {"base": saved.base}
        schedule = compile_schedule(saved.expression, **options)
        position, history = saved.position, saved.history
    elif isinstance(schedule_or_text, Schedule):
        if given:
            raise LRDSLError(
                f"explain(): {', '.join(given)} are compile options for an expression; this schedule is already "
                "compiled (compile it with them, or pass its text)"
            )
        schedule = schedule_or_text
        if schedule.position is not None:
            position = (schedule.clock.unit, schedule.position)
        history = schedule.history
    elif isinstance(schedule_or_text, str):
        schedule = compile_schedule(schedule_or_text, **compile_options)
    else:
        raise LRDSLError(
            "explain() takes an lrdsl expression (a string), a compiled Schedule, or state= (a checkpoint), "
            f"not {type(schedule_or_text).__name__}"
        )
    return _Explainer(schedule).explanation(position, history)


class _Explainer:
    """The facts of one schedule over its run."""

    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        self.unit = schedule.clock.unit
        clock = schedule.clock
        total = clock.convert(*clock.total, "total") if clock.total else None
        self.spans = schedule.phase_spans(self.unit)
        self.window = total if total is not None else window(schedule)
        self.bounded = total is not None
        self.points = sample_points(self.window, self.unit)
        self.values = schedule.values(**{_KEYWORDS[self.unit]: self.points})

    def where(self, t: float) -> Where:
        """``t`` (clock units) in every counter the schedule converts to, its clock's first."""
        found = {COUNTERS[self.unit]: float(t)}
        for unit in UNIT_WORDS:
            ratio = self.schedule.clock.ratio(unit)
            if unit != self.unit and ratio is not None:
                found[COUNTERS[unit]] = float(t * ratio[1] / ratio[0])
        return found

    def point(self, index: int, offset: int = 0) -> Point:
        return Point(float(self.values[offset + index]), self.where(float(self.points[offset + index])))

    def explanation(self, position, history) -> Explanation:
        phases = tuple(self.phase(k) for k in range(len(self.spans)) if self.spans[k][0] < self.window)
        where_position = None
        if position is not None:
            unit, time = position
            ratio = self.schedule.clock.ratio(unit)
            if ratio is not None:
                where_position = self.where(time * ratio[0] / ratio[1])
        return Explanation(
            expression=self.schedule.expression,
            base=self.schedule.base,
            clock=UNIT_WORDS[self.unit],
            length=self.where(self.window),
            bounded=self.bounded,
            phases=phases,
            restarts=tuple(self.where(t) for t in restarts(self.points, self.values)),
            minimum=self.point(int(np.argmin(self.values))),
            maximum=self.point(int(np.argmax(self.values))),
            equivalents=tuple(equivalents(self.schedule)),
            notes=self.schedule.notes,
            position=where_position,
            history=tuple(history),
        )

    def phase(self, k: int) -> PhaseFacts:
        start, end = self.spans[k]
        inside = np.flatnonzero((self.points >= start) & (self.points < end))
        first, last = int(inside[0]), int(inside[-1])
        values = self.values[first : last + 1]
        high = int(np.argmax(values))
        body = ast.phases_of(self.schedule.tree)[k]
        return PhaseFacts(
            number=k + 1,
            text=str(body),
            kind=self.kind(body.body),
            shape=_shape(values),
            start=self.where(start),
            end=self.where(end) if end < self.window else None,
            first=float(values[0]),
            last=float(values[-1]),
            low=self.point(int(np.argmin(values)), first),
            high=self.point(high, first),
            peak=self.point(high, first) if 0 < high < len(values) - 1 and values[high] > values[-1] else None,
        )

    def kind(self, body: ast.Expr) -> str:
        """What a phase's body is: its node's summary name (``Cosine annealing``), or ``an expression``."""
        if isinstance(body, ast.Call):
            try:
                spec = self.schedule.registry.get(body.name)
            except LRDSLError:
                spec = None
            if isinstance(spec, ScheduleSpec):
                return spec.summary.split(":")[0].split(",")[0].rstrip(".")
        return "a constant" if isinstance(body, (ast.Number, ast.Name)) else "an expression"


_KEYWORDS = {"it": "iterations", "ep": "epochs", "tok": "tokens", "sp": "samples"}


def _shape(values: np.ndarray) -> str:
    """How a phase's values move: "holds", "rises", "falls", "rises then falls" or "varies"."""
    steps = np.diff(values)
    scale = max(float(np.max(np.abs(values))), 1e-300)
    up, down = steps > 1e-12 * scale, steps < -1e-12 * scale
    if not up.any() and not down.any():
        return "holds"
    if not down.any():
        return "rises"
    if not up.any():
        return "falls"
    if np.flatnonzero(up)[-1] < np.flatnonzero(down)[0]:
        return "rises then falls"
    return "varies"


# -- text ----------------------------------------------------------------------------------------


def _where_text(where: Where) -> str:
    """``iteration 450 (epoch 4.5)``."""
    (first, value), *others = where.items()
    text = f"{first} {value:g}"
    return text + (f" ({', '.join(f'{name} {v:g}' for name, v in others)})" if others else "")


def _span_text(phase: PhaseFacts, length: Where) -> str:
    """``iterations 0-450 (epochs 0-4.5)``."""
    end = phase.end if phase.end is not None else length
    names = list(phase.start)
    parts = [f"{names[0]} {phase.start[names[0]]:g}–{end[names[0]]:g}"]
    parts += [f"{name} {phase.start[name]:g}–{end[name]:g}" for name in names[1:]]
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def _phase_line(phase: PhaseFacts, length: Where) -> str:
    moves = {
        "holds": f"holds {phase.first:.6g}",
        "rises": f"rises from {phase.first:.6g} to {phase.last:.6g}",
        "falls": f"falls from {phase.first:.6g} to {phase.last:.6g}",
    }.get(phase.shape, f"{phase.shape} from {phase.first:.6g} to {phase.last:.6g}")
    line = f"  {phase.number}. {shorten(phase.text, 60)}: {phase.kind}; {moves}, {_span_text(phase, length)}"
    if phase.peak is not None:
        line += f"; peak {phase.peak.value:.6g} at {_where_text(phase.peak.at)}"
    return line


def render(explanation: Explanation) -> str:
    """The text of an :class:`Explanation`, as ``lrdsl explain`` prints it."""
    e = explanation
    run = "the run" if e.bounded else "the window looked at (no total given)"
    lines = [
        e.expression,
        f"base {e.base:g}, counted in {e.clock}; {run} ends at {_where_text(e.length)}",
        f"{len(e.phases)} phase(s):",
    ]
    lines += [_phase_line(phase, e.length) for phase in e.phases]
    if e.restarts:
        shown = ", ".join(_where_text(r) for r in e.restarts[:5])
        more = f" and {len(e.restarts) - 5} more" if len(e.restarts) > 5 else ""
        lines.append(f"restarts ({len(e.restarts)}): {shown}{more}")
    lines.append(f"min {e.minimum.value:.6g} at {_where_text(e.minimum.at)}")
    lines.append(f"max {e.maximum.value:.6g} at {_where_text(e.maximum.at)}")
    for equivalent in e.equivalents:
        scope = f" up to {e.clock[:-1]} {equivalent.until:g}" if equivalent.until is not None else ""
        note = f" ({equivalent.note})" if equivalent.note else ""
        lines.append(f"this is {equivalent.library} {equivalent.call}{scope}{note}")
    lines += [f"note: {note}" for note in e.notes]
    if e.position is not None:
        lines.append(f"checkpoint position: {_where_text(e.position)}")
    if e.history:
        lines.append("amendments:")
        for n, entry in enumerate(e.history, start=1):
            total = f", total {entry['total']}" if entry.get("total") else ""
            policy = f" (on_change={entry['policy']!r})" if entry.get("policy") else ""
            lines.append(f"  {n}. at {entry['at']}: then {entry['text']}{total}{policy}, {entry['time']}")
    return "\n".join(lines)


__all__ = ["Explanation", "PhaseFacts", "Point", "explain", "render"]
