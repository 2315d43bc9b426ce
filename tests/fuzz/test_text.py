"""Fuzz target "text": hostile expression strings, end to end.

Inputs come from the grammar (a depth-bounded walk of ``grammar/lrdsl.lark``'s rules, and
``hypothesis.extra.lark.from_lark`` on the same file), biased toward the registry's node and
parameter names; from the registry (calls of real nodes with plausible and edge arguments,
most of which compile); and from mutations of valid expressions (see
:mod:`tests.fuzz.strategies`).
For each text, under the contract of :mod:`tests.fuzz.contract` (a value or an LRDSLError,
within 1 s):

- ``lrdsl.parse``; when it parses, the canonical text ``str(ast)`` parses back to the same AST;
- ``lrdsl.compile`` with one of several option sets (base, steps_per_epoch, total, variables);
- when it compiles: ``sched(i)`` is a finite float >= 0 or an LRDSLError, ``values([i])``
  agrees with it (both raise, or both give the same number within 1e-12 relative) at every
  point; ``values(points)`` agrees with the points one by one; the same by epoch; evaluating
  changes nothing but the position a successful ``sched(t)`` records (a failed one
  moves nothing); ``report(metric)`` either works or changes nothing; ``state_dict()`` goes
  through JSON and loads back without changing anything;
- ``lrdsl.optim.parse_optimizer`` and, when it parses, ``lrdsl.optimizer(...)`` with a step.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Sequence

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import lrdsl
from lrdsl.optim import parse_optimizer

from .contract import (
    attempt,
    attempt_on,
    check_agree,
    check_unchanged,
    check_value,
    check_values,
    fail,
    same_number,
    short,
    snapshot,
    tried,
)
from .profiles import fuzz_settings
from .strategies import VARIABLES, grammar_texts, lark_texts, mutated_texts, optimizer_texts, schedule_texts

TARGET = "text"

OPTION_SETS: Sequence[Dict[str, Any]] = (
    {},
    {"total": 100, "steps_per_epoch": 10, "variables": VARIABLES},
    {"total": "90ep", "variables": VARIABLES},
    {"base": 3e-4, "steps_per_epoch": 7.5, "variables": VARIABLES},
    {"total": 1000, "base": 0.1, "variables": VARIABLES},
)
POINTS = [0, 1, 2.5, 7, 10, 37, 99, 100, 101, 1000, 123456, 2**40, 2**53, 1e300]

options = st.sampled_from(range(len(OPTION_SETS)))
extra_points = st.lists(st.one_of(st.integers(0, 10**7), st.floats(0, 1e7)), max_size=3)
metrics = st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0.0, 1.0, 1e300, -1e300]))


def exercise_text(text: str, option_set: int = 1, points: Sequence[float] = (), metric: float = 0.5) -> None:
    """Parse, print, compile and evaluate ``text`` under the contract (see the module docstring)."""
    tried(TARGET)
    parsed = attempt(TARGET, "parse", lambda: lrdsl.parse(text), text)
    if parsed.ok:
        printed = attempt(TARGET, "str(ast)", lambda: str(parsed.value), text)
        if not printed.ok:
            fail(TARGET, f"str() of a parsed AST raised {printed.describe()}; text {text!r:.300}")
            return
        again = attempt(TARGET, "parse(str(ast))", lambda: lrdsl.parse(printed.value), printed.value)
        if not again.ok or again.value != parsed.value:
            fail(
                TARGET,
                f"the canonical text {printed.value!r:.300} of {text!r:.300} does not parse back to the same AST "
                f"({again.describe()})",
            )
    opts = OPTION_SETS[option_set]
    compiled = attempt(TARGET, "compile", lambda: lrdsl.compile(text, **opts), (text, opts))
    if compiled.ok:
        exercise_schedule(TARGET, compiled.value, list(POINTS) + list(points), metric, (text, opts))


def exercise_schedule(
    target: str, sched: lrdsl.Schedule, points: Sequence[float], metric: float, given: Any, plugin: bool = False
) -> None:
    """Evaluate a compiled schedule every way, checking values, agreement and that nothing changes.
    ``plugin``: the schedule uses a plugin's stateful node whose saving or loading misbehaves, so
    they may fail (:func:`exercise_round_trip`), and a failed report may leave that node changed
    (the library puts a node back through its ``state_dict`` and ``load_state_dict``)."""
    before = snapshot(sched, position=False)
    spe = sched.clock.steps_per_epoch
    shown = short(given, 300)
    singles = []
    for p in points:
        scalar = attempt_on(target, sched, f"sched({p!r})", lambda p=p: sched(p), given)
        check_value(target, scalar, f"sched({p!r}) of {shown}")
        array = attempt(target, f"values([{p!r}])", lambda p=p: sched.values([p]), given)
        check_values(target, array, f"values([{p!r}]) of {shown}", (1,))
        check_agree(target, scalar, array, f"at iteration {p!r} of {shown}")
        singles.append(array)
    together = attempt(target, "values(points)", lambda: sched.values(np.asarray(points, dtype=np.float64)), given)
    check_values(target, together, f"values({points!r}) of {shown}", (len(points),))
    if together.ok != all(single.ok for single in singles):
        fail(
            target,
            f"values(points) {together.describe()} but the points one by one "
            f"{[s.describe() for s in singles]} for {shown}",
        )
    if together.ok:
        for p, value, single in zip(points, together.value, singles):
            if not same_number(float(value), float(single.value[0])):
                fail(
                    target,
                    f"values(points) gives {value!r} at {p!r}, values([{p!r}]) {single.value[0]!r}: {shown}",
                )
    for p in points[:6]:
        e = p / spe if spe else p
        by_epoch = attempt_on(target, sched, f"sched(epoch={e!r})", lambda e=e: sched(epoch=e), given)
        check_value(target, by_epoch, f"sched(epoch={e!r}) of {shown}")
        epochs = attempt(target, f"values(epochs=[{e!r}])", lambda e=e: sched.values(epochs=[e]), given)
        check_values(target, epochs, f"values(epochs=[{e!r}]) of {shown}", (1,))
        check_agree(target, by_epoch, epochs, f"at epoch {e!r} of {shown}")
        both = attempt_on(target, sched, f"sched({p!r}, epoch={e!r})", lambda p=p, e=e: sched(p, epoch=e), given)
        check_value(target, both, f"sched({p!r}, epoch={e!r}) of {shown}")
    attempt(target, "phase_starts()", sched.phase_starts, given)
    check_unchanged(
        target, before, snapshot(sched, position=False), f"evaluating {shown} (which may only move the position)"
    )
    before = snapshot(sched)
    reported = attempt(target, f"report({metric!r})", lambda: sched.report(metric), given)
    if not reported.ok and not plugin:
        check_unchanged(target, before, snapshot(sched), f"report({metric!r})")
    exercise_round_trip(target, sched, given, plugin)


def exercise_round_trip(target: str, sched: lrdsl.Schedule, given: Any, plugin: bool = False) -> None:
    """``state_dict()`` is plain data: it survives JSON and loads back, changing nothing. With a
    ``plugin`` node whose saving or loading misbehaves, either may fail instead, with any
    LRDSLError (a plugin refuses a state with its own, as lrdsl.built.StatefulNode asks), and
    a failed load still changes nothing."""
    shown = short(given, 300)
    saved = attempt(target, "state_dict()", sched.state_dict, given)
    if not saved.ok:
        if not plugin:
            fail(target, f"state_dict() raised {saved.describe()} for {shown}")
        return
    before = snapshot(sched)
    encoded = attempt(target, "json", lambda: json.loads(json.dumps(saved.value, allow_nan=False)), saved.value)
    if not encoded.ok:
        fail(target, f"state_dict() is not JSON data: {encoded.describe()}")
        return
    loaded = attempt(target, "load_state_dict(own state)", lambda: sched.load_state_dict(encoded.value), given)
    if not loaded.ok and not plugin:
        fail(target, f"load_state_dict() refused the schedule's own state: {loaded.describe()}; {shown}")
    check_unchanged(target, before, snapshot(sched), "loading the schedule's own state")


def exercise_optimizer_text(text: str, steps: int = 2) -> None:
    """``parse_optimizer`` and ``lrdsl.optimizer`` on ``text``; a step changes parameters only when it works."""
    tried(TARGET)
    attempt(TARGET, "parse_optimizer", lambda: parse_optimizer(text, total=100, variables=VARIABLES), text)
    params = {"W": np.linspace(-1, 1, 6).reshape(2, 3), "b": np.ones(3, dtype=np.float32)}
    made = attempt(TARGET, "optimizer", lambda: lrdsl.optimizer(text, params, total=100, variables=VARIABLES), text)
    if not made.ok:
        return
    opt = made.value
    grads = {"W": np.full((2, 3), 0.25), "b": np.linspace(-2, 2, 3).astype(np.float32)}
    for k in range(steps):
        before = snapshot(opt, params)
        stepped = attempt(TARGET, f"step {k}", lambda: opt.step(grads), text)
        if not stepped.ok:
            check_unchanged(TARGET, before, snapshot(opt, params), f"step {k} of {text!r:.300}")
            return
        if not all(np.isfinite(p).all() for p in params.values()):
            fail(TARGET, f"step {k} of {text!r:.300} left non-finite parameters")
        attempt(TARGET, "lr", lambda: opt.lr, text)


@fuzz_settings(60)
@given(grammar_texts(), options, extra_points, metrics)
def test_grammar_texts(text, option_set, points, metric):
    exercise_text(text, option_set, points, metric)


@fuzz_settings(80)
@given(schedule_texts(), options, extra_points, metrics)
def test_schedule_texts(text, option_set, points, metric):
    exercise_text(text, option_set, points, metric)


@fuzz_settings(8)
@given(lark_texts(), options)
def test_from_lark_texts(text, option_set):
    exercise_text(text, option_set)


@fuzz_settings(60)
@given(mutated_texts(), options, extra_points, metrics)
def test_mutated_texts(text, option_set, points, metric):
    exercise_text(text, option_set, points, metric)


@fuzz_settings(30)
@given(optimizer_texts())
def test_optimizer_texts(text):
    exercise_optimizer_text(text)


@fuzz_settings(40)
@given(st.text(max_size=80))
def test_arbitrary_unicode(text):
    exercise_text(text)
