"""A schedule's checkpoint, and resuming from it when the schedule changed in between.

A schedule's state (:func:`state_of`) holds its canonical expression, its compile options
(:class:`~lrdsl.options.CompileOptions`), its position, the state of its metric-driven nodes and
its history of amendments. Loading a state into a schedule compiled from another expression or
other options is a *change*, and the schedule's ``on_change`` policy decides:

- ``"error"`` (the default): an :class:`LRDSLError` showing the differences, saved and now,
  the values at the saved position, and the choices;
- ``"continue"``: keep the position, use the new schedule from there (a longer ``total``,
  say); the value may jump, and a :class:`ScheduleChangeWarning` says by how much;
- ``"smooth"``: keep the position and the value: the new schedule's remaining phases start from
  the old value, the rule of ``then`` (:func:`lrdsl.amend.smoothed`);
- ``"checkpoint"``: the saved schedule wins (torch's behaviour); a warning names what was
  ignored.
"""

from __future__ import annotations

import math
import reprlib
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Sequence, Tuple

from .amend import smoothed
from .errors import LRDSLError, ScheduleChangeWarning, did_you_mean
from .exact import to_clock
from .options import OPTIONS_SCHEMA, CompileOptions
from .scalarmath import SCALAR
from .schema import Anything, ListOf, Maybe, Number, OneOf, Record, Text, restoring, validate
from .text import describe, shorten
from .vocabulary import UNIT_WORDS

POLICIES = {
    "error": "refuse to load (the default)",
    "continue": "keep the position, use this schedule from there (the value may jump)",
    "smooth": "keep the position and the value: this schedule's remaining phases start from the old value",
    "checkpoint": "use the saved schedule, as torch does",
}
"""The ``on_change`` policies, with what each does."""


def policy(on_change: Any) -> str:
    """``on_change`` checked: one of :data:`POLICIES`."""
    if on_change not in POLICIES:
        raise LRDSLError(
            f"on_change={on_change!r:.40}: expected one of {', '.join(map(repr, POLICIES))}"
            f"{did_you_mean(str(on_change), POLICIES)}"
        )
    return on_change


HISTORY_ENTRY = Record(
    {"text": Text(), "at": Text(), "total": Maybe(Text()), "time": Text()}, optional={"policy": Text()}
)
STATE_SCHEMA = Record(
    {"expression": Text(), "nodes": ListOf(Anything())},
    optional={
        "base": Number(min=0),  # states saved before options were (they hold the base alone)
        "options": OPTIONS_SCHEMA,
        "position": Maybe(Record({"unit": OneOf(*UNIT_WORDS), "time": Number(min=0)})),
        "history": ListOf(HISTORY_ENTRY),
    },
)


@dataclass(frozen=True)
class Saved:
    """A checked schedule state."""

    expression: str
    options: Optional[CompileOptions]  # None in a state that holds only the base
    base: float
    position: Optional[Tuple[str, float]]  # (unit, time)
    nodes: list
    history: tuple

    def compiled(self, like):
        """The saved schedule, compiled with ``like``'s registry and policy."""
        options = self.options or like.options.replaced(base=self.base)
        try:
            return like.variant(self.expression, options)
        except LRDSLError as error:
            raise type(error)(f"the checkpoint's schedule {self.expression!r:.200} does not compile: {error}") from None


def state_of(schedule) -> dict:
    """``schedule``'s state, plain data (JSON, pickle and ``torch.save`` keep it)."""
    position = None if schedule.position is None else {"unit": schedule.clock.unit, "time": schedule.position}
    return {
        "expression": schedule.expression,
        "options": schedule.options.as_dict(),
        "position": position,
        "nodes": [node.state_dict() for node in schedule.stateful],
        "history": [dict(entry) for entry in schedule.history],
    }


def read(state: Any, what: str) -> Saved:
    """A state checked against :data:`STATE_SCHEMA`."""
    checked = validate(STATE_SCHEMA, state, LRDSLError, what)
    options = None
    if "options" in checked:
        options = CompileOptions(**{**checked["options"], "variables": dict(checked["options"]["variables"])})
    position = checked.get("position")
    return Saved(
        expression=checked["expression"],
        options=options,
        base=options.base if options else checked.get("base", math.nan),
        position=None if position is None else (position["unit"], position["time"]),
        nodes=checked["nodes"],
        history=tuple(checked.get("history", ())),
    )


def changes(schedule, saved: Saved) -> List[Tuple[str, Any, Any]]:
    """``(what, saved, now)`` for the expression and every compile option that differ."""
    found: List[Tuple[str, Any, Any]] = []
    if saved.expression != schedule.expression:
        found.append(("expression", saved.expression, schedule.expression))
    if saved.options is not None:
        found += saved.options.changes(schedule.options)
    elif not math.isnan(saved.base) and saved.base != schedule.base:
        found.append(("base", saved.base, schedule.base))
    return found


def load(schedule, state: Any, what: str = "load_state_dict()") -> None:
    """Load ``state`` into ``schedule`` under its ``on_change`` policy (see the module)."""
    plan(schedule, state, what).apply()


def plan(schedule, state: Any, what: str = "load_state_dict()") -> Resumption:
    """What loading ``state`` into ``schedule`` will do, worked out (and every error raised) before
    anything changes."""
    saved = read(state, what)
    found = changes(schedule, saved)
    if not found:
        return Resumption(schedule, schedule, saved, _position(schedule.clock, saved, what), what)
    if schedule.on_change == "error":
        raise LRDSLError(_refusal(schedule, saved, found, what))
    if schedule.on_change == "checkpoint":
        target = saved.compiled(schedule)
        warning = (
            f"{what}: on_change='checkpoint' uses the checkpoint's schedule and ignores this one's "
            f"changes ({_listed(found)})"
        )
        return Resumption(schedule, target, saved, _position(target.clock, saved, what), what, warning=warning)
    at = _position(schedule.clock, saved, what)
    old = saved.compiled(schedule)
    target, added = schedule, ()
    if schedule.on_change == "smooth" and saved.position is not None and at:
        target = smoothed(old, schedule, saved.position)
        added = target.history[-1:]
    warning = (
        f"{what}: the schedule changed ({_listed(found)}); on_change={schedule.on_change!r} "
        f"keeps the position{_jump(old, target, at)}"
    )
    position = _position(target.clock, saved, what)
    return Resumption(schedule, target, saved, position, what, strict=False, added=added, warning=warning)


@dataclass
class Resumption:
    """Loading a state into ``schedule``: it becomes ``target`` at ``position`` with the saved node
    states and history (and the ``added`` entries). A node state that does not fit is an error
    when ``strict`` (the same schedule, or the checkpoint's), else dropped with a warning."""

    schedule: Any
    target: Any
    saved: Saved
    position: Optional[float]
    what: str
    strict: bool = True
    added: tuple = ()
    warning: Optional[str] = None

    def apply(self) -> None:
        """Carry it out; a node that refuses its state leaves the schedule as it was."""
        if self.warning:
            _warn(self.warning)
        self._load_nodes()
        if self.target is not self.schedule:
            self.schedule._install(self.target)
        self.schedule.history = self.saved.history + tuple(self.added)
        self.schedule.position = self.position

    def _load_nodes(self) -> None:
        stateful, nodes, what = self.target.stateful, self.saved.nodes, self.what
        if len(nodes) != len(stateful):
            if self.strict:
                raise LRDSLError(
                    f"{what}: the state holds {len(nodes)} metric-driven node state(s); this schedule has "
                    f"{len(stateful)}"
                )
            if nodes:
                _warn(f"{what}: the saved metric state ({len(nodes)} node(s)) does not fit the new schedule; dropped")
            return
        try:
            with restoring(stateful):
                for node, node_state in zip(stateful, nodes):
                    node.load_state_dict(node_state)
        except LRDSLError as error:
            if self.strict:
                raise
            _warn(f"{what}: the saved metric state does not fit the new schedule and was dropped ({error})")


@contextmanager
def rolled_back(schedules: Sequence[Any]) -> Iterator[None]:
    """Run the block; if it raises, put every schedule back as it was (what it is compiled from, its
    position, history and node states), for loading several schedules as one."""
    saved = [(dict(s.__dict__), [node.state_dict() for node in s.stateful]) for s in schedules]
    try:
        yield
    except BaseException:
        for schedule, (attributes, nodes) in zip(schedules, saved):
            schedule.__dict__.clear()
            schedule.__dict__.update(attributes)
            for node, node_state in zip(schedule.stateful, nodes):
                node.load_state_dict(node_state)
        raise


def _position(clock, saved: Saved, what: str) -> Optional[float]:
    """The saved position on ``clock``."""
    if saved.position is None:
        return None
    unit, time = saved.position
    if unit == clock.unit:
        return time
    ratio = clock.ratio(unit)
    if ratio is None:
        clock.convert(time, unit, f"{what}: the saved position")  # raises the UnitError naming the factor
    return to_clock(SCALAR, time, *ratio)


def _jump(old, new, at: Optional[float]) -> str:
    """How the value changes at the position, in words ('' when it cannot be computed)."""
    if at is None:
        return ""
    before, after = _value(old, at), _value(new, at)
    if before is None or after is None:
        return ""
    where = _where(new, at)
    if before == after:
        return f" and the value, {after:g} at {where}"
    change = f" ({after / before - 1:+.1%})" if before else ""
    return f"; the value jumps from {before:g} to {after:g}{change} at {where}"


def _value(schedule, at: float) -> Optional[float]:
    """The value at clock time ``at``, or None where there is none (an error)."""
    counter = {"it": "iterations", "ep": "epochs", "tok": "tokens", "sp": "samples"}[schedule.clock.unit]
    try:
        return float(schedule.values(**{counter: [at]})[0])
    except LRDSLError:
        return None


def _where(schedule, at: float) -> str:
    return f"{UNIT_WORDS[schedule.clock.unit][:-1]} {at:g}"


def _refusal(schedule, saved: Saved, found, what: str) -> str:
    lines = [f"{what}: the checkpoint was saved with another schedule than this one:"]
    width = max(len(name) for name, _, _ in found)
    for name, before, now in found:
        lines.append(f"  {name:<{width}}  saved: {shown(name, before)}   now: {shown(name, now)}")
    at = _position(schedule.clock, saved, what) if saved.position else None
    if at is not None:
        try:
            old_value = _value(saved.compiled(schedule), at)
        except LRDSLError:
            old_value = None  # the saved schedule does not compile here: its differences say why
        now_value = _value(schedule, at)
        lines.append(
            f"At the saved position ({_where(schedule, at)}) the saved schedule gives {_number(old_value)}, "
            f"this one {_number(now_value)}."
        )
    lines.append("Build this schedule with on_change= to choose:")
    lines += [f"  {name!r}: {meaning}" for name, meaning in POLICIES.items() if name != "error"]
    return "\n".join(lines)


def _number(value: Optional[float]) -> str:
    return "no value" if value is None else f"{value:g}"


_BRIEF = reprlib.Repr()  # an option's value in a message: bounded in levels, items and length
_BRIEF.maxlevel, _BRIEF.maxdict, _BRIEF.maxlist, _BRIEF.maxstring, _BRIEF.maxother = 3, 8, 8, 120, 80


def shown(name: str, value: Any) -> str:
    """An expression or an option's value (``value`` of the option ``name``) in a message: a string as
    it is (an expression quoted), anything else bounded (a table of many variables, a huge int or a
    value whose ``repr`` fails is shown in part, or described)."""
    if isinstance(value, str):
        return repr(value) if name == "expression" else value
    try:
        return shorten(_BRIEF.repr(value), 200)
    except Exception:  # an int of thousands of digits, inside a table
        return describe(value)


def _listed(found) -> str:
    return "; ".join(f"{name}: saved {shown(name, before)}, now {shown(name, now)}" for name, before, now in found)


def _warn(message: str) -> None:
    warnings.warn(message, ScheduleChangeWarning, stacklevel=4)


__all__ = [
    "POLICIES",
    "Resumption",
    "Saved",
    "changes",
    "load",
    "plan",
    "policy",
    "read",
    "rolled_back",
    "shown",
    "state_of",
]
