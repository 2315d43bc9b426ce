"""Fuzz target "counters": hostile iterations and epochs for compiled schedules.

Each example takes one of a fixed set of schedules (iteration and epoch clocks, with and
without ``steps_per_epoch``, timeless constants, ``plateau``, formulas that fail at some
points) and one or two hostile counters (:func:`tests.fuzz.strategies.hostile_counters`:
bools, strings, bytes, complex numbers, NaN and infinities, negative and huge numbers, NumPy
scalars of every dtype, 0-d/1-d/2-d and object arrays, objects whose ``__float__``,
``__index__`` or ``__array__`` raise or return junk, recursive and ragged lists), and checks,
under the contract of :mod:`tests.fuzz.contract`:

- ``sched(x)``, ``sched(epoch=x)``, ``sched(x, epoch=y)`` give a finite float >= 0 or an
  LRDSLError;
- ``sched.values(x)`` and ``sched.values(epochs=x)`` give a float64 array of finite values
  >= 0 shaped like ``x``, or an LRDSLError;
- for a real number ``x`` (a Python or NumPy int or float, or a 0-d array of one), ``sched(x)``
  and ``values([x])`` agree: both raise, or both give the same value;
- nothing changes the schedule (its ``state_dict()``) but the position a successful ``sched(x)``
  records, a failed evaluation moves nothing, and the counter given is not modified.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, List, Tuple

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import lrdsl

from .contract import (
    attempt,
    attempt_on,
    canonical,
    check_agree,
    check_unchanged,
    check_value,
    check_values,
    fail,
    short,
    snapshot,
    tried,
)
from .profiles import fuzz_settings
from .strategies import hostile_counters, realize

TARGET = "counters"

SCHEDULES: List[Tuple[str, dict]] = [
    ("warmup(T=5) then cosine(T=95, end=1e-5)", {}),
    ("step(s=3ep)", {}),
    ("warmup(5%) then cosine(end=1e-5)", {"total": "90ep", "steps_per_epoch": 7.5}),
    ("0.1", {}),
    ("plateau(patience=0)", {}),
    ("warmup(T=1ep) then plateau()", {"steps_per_epoch": 10}),
    ('sgdr(T=10, mult=2) + 0.1 * cyclic(up=3, mode="exp_range", gamma=0.9)', {}),
    ("inverse_time(d=0.5, staircase=true)", {}),
    ("repeat(warmup(T=3) then cosine(T=7), mult=1.5, decay=0.9)", {}),
    ("e ** -it", {}),
    ("1 / (it - 7)", {}),
    ("sqrt(1000 - it)", {}),
    ("rsqrt(warmup=10)", {"steps_per_epoch": 3}),
    ("onecycle(T=100)", {"total": 100}),
    ("base * 0.5 ** floor(it / 7) + ep", {"steps_per_epoch": 1e-3}),
    ("piecewise(at=[1ep, 2ep], values=[1, 0.5, 0.25])", {}),
    ("exp(s=1e-300)", {"steps_per_epoch": 1e300}),
]


@functools.cache
def schedule(index: int) -> lrdsl.Schedule:
    text, options = SCHEDULES[index]
    return lrdsl.compile(text, **options)


def is_real_number(x: Any) -> bool:
    """A counter that ``sched(i)`` and ``values([i])`` are both documented to take: a real number."""
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, np.ndarray):
        return x.ndim == 0 and x.dtype.kind in "iuf"
    return isinstance(x, (int, float, np.integer, np.floating)) and isinstance(x, numbers.Real)


def _image(x: Any) -> Any:
    try:
        return canonical(x)
    except Exception:  # a counter that cannot even be looked at
        return None


def exercise_counter(index: int, x: Any, y: Any) -> None:
    """Every way of evaluating schedule ``index`` at the hostile counters ``x`` and ``y``."""
    tried(TARGET)
    x, y = realize(x), realize(y)
    sched = schedule(index)
    given_ = (SCHEDULES[index][0], x)
    text, shown, shown_y = SCHEDULES[index][0], short(x, 100), short(y, 100)
    before, x_before = snapshot(sched, position=False), _image(x)
    scalar = attempt_on(TARGET, sched, "sched(x)", lambda: sched(x), given_)
    check_value(TARGET, scalar, f"sched({shown}) of {text!r}")
    by_epoch = attempt_on(TARGET, sched, "sched(epoch=x)", lambda: sched(epoch=x), given_)
    check_value(TARGET, by_epoch, f"sched(epoch={shown}) of {text!r}")
    both = attempt_on(TARGET, sched, "sched(x, epoch=y)", lambda: sched(x, epoch=y), (SCHEDULES[index][0], x, y))
    check_value(TARGET, both, f"sched({shown}, epoch={shown_y}) of {text!r}")
    array = attempt(TARGET, "values(x)", lambda: sched.values(x), given_)
    shape = getattr(x, "shape", None) if isinstance(x, np.ndarray) else None
    check_values(TARGET, array, f"values({shown}) of {text!r}", shape)
    array_epochs = attempt(TARGET, "values(epochs=x)", lambda: sched.values(epochs=x), given_)
    check_values(TARGET, array_epochs, f"values(epochs={shown}) of {text!r}", shape)
    if is_real_number(x):
        single = attempt(TARGET, "values([x])", lambda: sched.values([x]), given_)
        check_agree(TARGET, scalar, single, f"sched(x) and values([x]) at x = {shown} ({type(x).__name__})")
        single_epoch = attempt(TARGET, "values(epochs=[x])", lambda: sched.values(epochs=[x]), given_)
        check_agree(TARGET, by_epoch, single_epoch, f"sched(epoch=x) and values(epochs=[x]) at x = {shown}")
    check_unchanged(TARGET, before, snapshot(sched, position=False), "evaluating at a hostile counter")
    if x_before is not None and _image(x) != x_before:
        fail(TARGET, f"evaluating {text!r} at {shown} modified the counter given")


@fuzz_settings(150)
@given(st.integers(0, len(SCHEDULES) - 1), hostile_counters(), hostile_counters())
def test_hostile_counters(index, x, y):
    exercise_counter(index, x, y)


@fuzz_settings(60)
@given(
    st.integers(0, len(SCHEDULES) - 1),
    st.one_of(st.integers(0, 2**64), st.floats(0, 1e20), st.sampled_from([2**53 - 1, 2**53, 2**53 + 1, 2**63])),
)
def test_real_counters_agree(index, x):
    """Ordinary counters: every real number >= 0 in the float range gives the same outcome both ways."""
    exercise_counter(index, x, x)
    spe = schedule(index).clock.steps_per_epoch
    if spe:
        exercise_counter(index, x / spe, x)
