"""Checking a schedule against the run it will drive: ``lrdsl.lint(sched, run=...)`` and
``lrdsl check`` (README "Lint against the run").

A schedule that compiles can still be wrong for its run: its decay finishes halfway because
the horizon was given in epochs and the run counts steps, or it never finishes because the
total was computed before gradient accumulation. :func:`lint` evaluates the schedule densely
over the run (every update on an iteration clock up to two million of them, else a fine grid)
and reports, each finding with where it is and the share of the run it concerns:

========================  =======  =====================================================
code                      level    finding
========================  =======  =====================================================
``bad-value``             error    a negative, NaN or infinite value anywhere in the run
``never-reached``         error    a top-level phase that starts after the run ends
``nested-never-reached``  warning  a nested phase that is never reached (``sched.notes``)
``run-ends-early``        warning  the run ends before the phase it is in would end
``decay-finished-early``  warning  the value has decayed to its final value (or 0) and
                                   sits there for more than 10% of the run at the end
``long-warmup``           warning  a first phase that rises (a warmup) longer than a
                                   quarter of the run
``fractional-restart``    warning  a restart that falls inside an epoch, in a schedule
                                   whose durations are written in epochs
========================  =======  =====================================================

Without a run, the window is the schedule's own ``total``, else its natural length, else
its phases' starts plus 1000 clock units; the run-aware findings then need a length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from . import ast
from .clock import parse_total
from .compiler import natural_length
from .context import Context
from .errors import LRDSLError
from .text import shorten
from .vocabulary import UNIT_WORDS

DENSE_LIMIT = 2_000_000  # updates evaluated one by one; a longer run is sampled on a grid
GRID_POINTS = 1_000_001
TAIL_SHARE = 0.10  # the end of the run a finished decay may sit at its final value
WARMUP_SHARE = 0.25  # the longest warmup, as a share of the run
FALLBACK_WINDOW = 1000.0  # clock units looked at past the last phase start, when nothing gives a length


@dataclass(frozen=True)
class Finding:
    """One thing :func:`lint` found: ``level`` is "error" or "warning", ``code`` names the check,
    ``at`` is where (clock units) and ``share`` the share of the run it concerns (both when known)."""

    level: str
    code: str
    message: str
    at: Optional[float] = None
    share: Optional[float] = None

    def as_dict(self) -> dict:
        return {"level": self.level, "code": self.code, "message": self.message, "at": self.at, "share": self.share}

    def __str__(self) -> str:
        return f"{self.level} [{self.code}]: {self.message}"


@dataclass(frozen=True)
class Run:
    """The training run a schedule drives: its length (``total``: iterations, or a duration such
    as ``"90ep"``), and its iterations per epoch where known."""

    total: object = None
    steps_per_epoch: Optional[float] = None

    def length(self, schedule) -> Optional[float]:
        """The run's length in ``schedule``'s clock units, or None when no length is known."""
        parsed = parse_total(self.total)
        if parsed is None:
            return None
        value, unit = parsed
        if unit == schedule.clock.unit or schedule.clock.ratio(unit) is not None:
            return schedule.clock.convert(value, unit, "the run's total")
        spe = self.steps_per_epoch
        if spe and {unit, schedule.clock.unit} == {"it", "ep"}:
            return value / spe if unit == "it" else value * spe
        return schedule.clock.convert(value, unit, "the run's total")  # raises the UnitError naming the factor


def lint(schedule, run: Optional[Run] = None) -> List[Finding]:
    """Every finding about ``schedule`` over ``run`` (default: its own ``total``), errors first."""
    run = run if isinstance(run, Run) else Run(**(run or {}))
    length = run.length(schedule) if run.total is not None else _own_length(schedule)
    checker = _Checker(schedule, length, run.steps_per_epoch or schedule.clock.steps_per_epoch)
    findings = checker.findings()
    return sorted(findings, key=lambda f: (f.level != "error", f.at if f.at is not None else -1.0))


class _Checker:
    """The checks of :func:`lint` over one window of one schedule."""

    def __init__(self, schedule, length: Optional[float], steps_per_epoch: Optional[float]):
        self.schedule = schedule
        self.unit = schedule.clock.unit
        self.length = length
        self.steps_per_epoch = steps_per_epoch
        self.spans = schedule.phase_spans(self.unit)
        self.phases = ast.phases_of(schedule.tree)
        self.window = length if length is not None else _fallback_window(schedule, self.spans)
        self.points = sample_points(self.window, self.unit)
        with np.errstate(all="ignore"):
            self.values = np.asarray(schedule.array_function(np, self.unit)(self.points), dtype=np.float64)

    def findings(self) -> List[Finding]:
        found = self.bad_values() + self.nested_notes()
        if self.length is None:
            return found
        found += self.never_reached() + self.run_ends_early()
        if not any(f.code == "bad-value" for f in found):
            found += self.decay_finished_early() + self.long_warmup() + self.fractional_restarts()
        return found

    # -- where -------------------------------------------------------------------------------------
    def where(self, t: float) -> str:
        """``iteration 5000 (epoch 50)``."""
        text = f"{UNIT_WORDS[self.unit][:-1]} {t:g}"
        spe = self.steps_per_epoch
        if spe and self.unit == "it":
            text += f" (epoch {t / spe:g})"
        elif spe and self.unit == "ep":
            text += f" (iteration {t * spe:g})"
        return text

    def phase_label(self, index: int) -> str:
        return f"phase {index + 1} ({shorten(str(self.phases[index].body), 60)})"

    def phase_at(self, t: float) -> int:
        return max(k for k, (start, _) in enumerate(self.spans) if start <= t)

    # -- checks ------------------------------------------------------------------------------------
    def bad_values(self) -> List[Finding]:
        bad = ~((self.values >= 0) & (self.values < math.inf))
        if not bad.any():
            return []
        first = int(np.flatnonzero(bad)[0])
        t, value = float(self.points[first]), float(self.values[first])
        kind = "negative" if value < 0 else "NaN" if math.isnan(value) else "infinite"
        share = float(bad.mean())
        where = f" in {self.phase_label(self.phase_at(t))}" if len(self.spans) > 1 else ""
        return [
            Finding(
                "error",
                "bad-value",
                f"the learning rate is {kind} ({value:g}) at {self.where(t)}{where}, and bad at {share:.0%} of "
                f"the {'run' if self.length is not None else 'points looked at'}; a learning rate must be finite "
                "and >= 0",
                t,
                share,
            )
        ]

    def nested_notes(self) -> List[Finding]:
        return [Finding("warning", "nested-never-reached", note) for note in self.schedule.notes]

    def never_reached(self) -> List[Finding]:
        length = self.require_length()
        return [
            Finding(
                "error",
                "never-reached",
                f"{self.phase_label(k)} starts at {self.where(start)}, but the run ends at {self.where(length)}",
                start,
                0.0,
            )
            for k, (start, _) in enumerate(self.spans)
            if k > 0 and start >= length
        ]

    def run_ends_early(self) -> List[Finding]:
        length = self.require_length()
        k = self.phase_at(length - 1e-9 * max(length, 1.0))
        start, end = self.spans[k]
        natural = _natural_length(self.schedule, self.phases[k])
        planned = start + natural if natural is not None else end
        if not planned < math.inf or planned <= length * (1 + 1e-12) or not self._changes_after(planned):
            return []
        done = (length - start) / (planned - start)
        return [
            Finding(
                "warning",
                "run-ends-early",
                f"the run ends at {done:.0%} of {self.phase_label(k)}, which would end at {self.where(planned)}; "
                f"the run ends at {self.where(length)}",
                length,
                (length - start) / length,
            )
        ]

    def _changes_after(self, planned: float) -> bool:
        """Whether the value at the end of the run differs from the value just before ``planned``."""
        just_before = planned * (1 - 1e-12) if planned > 0 else planned
        with np.errstate(all="ignore"):
            later = float(self.schedule.array_function(np, self.unit)(np.array([just_before]))[0])
        return not math.isclose(later, float(self.values[-1]), rel_tol=1e-9, abs_tol=0.0)

    def decay_finished_early(self) -> List[Finding]:
        values, length = self.values, self.require_length()
        final, top = values[-1], values.max()
        differs = np.flatnonzero(~np.isclose(values, final, rtol=1e-9, atol=0.0))
        if differs.size == 0 or final >= top:
            return []  # constant, or it rose into its last value (a warmup into a stable phase)
        last = int(differs[-1])
        tail_start = float(self.points[last + 1])
        share = (length - tail_start) / length
        continuous = abs(values[last] - final) <= 0.05 * (top - final)  # not a step down to its last value
        if share <= TAIL_SHARE or not continuous:
            return []
        what = "0" if final == 0 else f"its final value {final:g}"
        return [
            Finding(
                "warning",
                "decay-finished-early",
                f"the learning rate reaches {what} at {self.where(tail_start)} and stays there for the last "
                f"{share:.0%} of the run: does the horizon count the same steps as the run (epochs or "
                "iterations, before or after gradient accumulation)?",
                tail_start,
                share,
            )
        ]

    def long_warmup(self) -> List[Finding]:
        length = self.require_length()
        if len(self.spans) < 2:
            return []
        start, end = self.spans[0]
        inside = self.points < end
        if inside.sum() < 2 or not self.values[inside][-1] > self.values[0]:
            return []
        share = min(end, length) / length
        if share <= WARMUP_SHARE:
            return []
        return [
            Finding(
                "warning",
                "long-warmup",
                f"the warmup, {self.phase_label(0)}, lasts until {self.where(end)}: {share:.0%} of the run "
                f"(more than {WARMUP_SHARE:.0%})",
                start,
                share,
            )
        ]

    def fractional_restarts(self) -> List[Finding]:
        length = self.require_length()
        written_in_epochs = any(isinstance(n, ast.Duration) and n.unit == "ep" for n in ast.walk(self.schedule.tree))
        if not written_in_epochs or (self.unit == "it" and not self.steps_per_epoch):
            return []
        found = [t for t in restarts(self.points, self.values) if not self._on_epoch_boundary(t)]
        if not found:
            return []
        shown = ", ".join(self.where(t) for t in found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        return [
            Finding(
                "warning",
                "fractional-restart",
                f"{len(found)} restart(s) fall inside an epoch: {shown}; the durations are written in epochs, "
                "so a restart was probably meant at an epoch boundary",
                found[0],
                len(found) and (length - found[0]) / length,
            )
        ]

    # -- helpers -----------------------------------------------------------------------------------
    def require_length(self) -> float:
        assert self.length is not None  # run-aware checks run only with a length
        return self.length

    def _on_epoch_boundary(self, t: float) -> bool:
        epoch = t / self.steps_per_epoch if self.unit == "it" and self.steps_per_epoch else t
        if self.unit == "it":
            return abs(epoch - round(epoch)) < 1e-9
        step = self.points[1] - self.points[0] if self.points.size > 1 else 1.0
        return math.floor(epoch) > epoch - step  # an epoch boundary in (t - step, t]


def _own_length(schedule) -> Optional[float]:
    clock = schedule.clock
    return clock.convert(*clock.total, "total") if clock.total else None


def _fallback_window(schedule, spans) -> float:
    end = spans[-1][1]
    if end < math.inf:
        return end
    natural = _natural_length(schedule, ast.phases_of(schedule.tree)[-1])
    return spans[-1][0] + (natural if natural else FALLBACK_WINDOW)


def window(schedule) -> float:
    """The span, in clock units, that :func:`lint` looks at without a run: the schedule's own
    ``total``, else where its last phase ends, else its last phase's start plus its natural length
    (or plus 1000 clock units)."""
    length = _own_length(schedule)
    return length if length is not None else _fallback_window(schedule, schedule.phase_spans(schedule.clock.unit))


def _natural_length(schedule, phase: ast.Phase) -> Optional[float]:
    """The natural length of a top-level phase's body (docs/language.md §6.3), or None."""
    ctx = Context.of(schedule)
    try:
        return natural_length(phase.body, ctx)
    except LRDSLError:
        return None


def sample_points(window: float, unit: str) -> np.ndarray:
    """Every update of an iteration clock up to :data:`DENSE_LIMIT`, else a fine grid over the window."""
    if unit == "it" and window <= DENSE_LIMIT:
        return np.arange(0.0, math.ceil(window))
    return np.linspace(0.0, window, GRID_POINTS)[:-1]


def restarts(points: np.ndarray, values: np.ndarray) -> List[float]:
    """Where the value jumps up after falling: the first point of each new cycle."""
    if values.size < 3:
        return []
    span = values.max() - values.min()
    steps = np.diff(values)
    jumps = np.flatnonzero((steps[1:] > 0.1 * span) & (steps[:-1] < 0)) + 2
    return [float(points[i]) for i in jumps]


__all__ = ["Finding", "Run", "lint", "restarts", "sample_points", "window"]
