"""Every node's scalar form (lrdsl.scalarmath.scalar_form) is its formula's arithmetic on one float.

A scalar form is written apart from the node's formula (for speed: its parameters are bound once),
so it is checked here against the formula itself, point by point: bit for bit against the formula
run on plain floats (``xp=SCALAR``, what ``sched(i)`` computed before the form existed) and within
float rounding against the formula over NumPy arrays (what ``sched.values`` computes).
"""

import math

import numpy as np
import pytest

import lrdsl
from lrdsl.builtin import cyclical
from lrdsl.exact import cosine_at, cosine_between, linear_at, linear_between, periods
from lrdsl.plugins import build_registry
from lrdsl.scalarmath import FORMS, HOLDS, SCALAR, SCALES

REGISTRY = build_registry(entry_points=False)

# Parameter values per node (every parameter named), chosen to reach each branch of its form.
CASES = {
    "constant": [{"value": 0.3}, {"value": 0.0}],
    "power": [{"s": 50.0, "c": 1.5, "base": 0.8}, {"s": 3.0, "c": 0.0, "base": 1.0}],
    "inverse_time": [
        {"d": 0.5, "s": 100.0, "staircase": False, "base": 0.8},
        {"d": 0.5, "s": 7.0, "staircase": True, "base": 0.8},
    ],
    "exp": [
        {"s": 500.0, "rate": 0.3, "staircase": False, "base": 0.8},
        {"s": 7.0, "rate": 0.5, "staircase": True, "base": 1.0},
        {"s": 10.0, "rate": 0.0, "staircase": True, "base": 1.0},
    ],
    "step": [{"s": 700.0, "gamma": 0.5, "base": 0.8}, {"s": 3.0, "gamma": 0.0, "base": 1.0}],
    "linear": [{"T": 3000.0, "start": 0.2, "end": 0.9}, {"T": 7.0, "start": 0.0, "end": 0.0}],
    "warmup": [{"T": 1000.0, "start": 0.0, "base": 0.8}, {"T": 3.0, "start": 0.5, "base": 0.1}],
    "cosine": [{"T": 10000.0, "end": 1e-5, "base": 0.8}, {"T": 3.0, "end": 2.0, "base": 1.0}],
    "cyclic": [
        {"up": 20.0, "down": 20.0, "low": 1e-3, "high": 0.1, "mode": "triangular", "gamma": 1.0},
        {"up": 20.0, "down": 0.0, "low": 1e-3, "high": 0.1, "mode": "triangular", "gamma": 1.0},
        {"up": 7.5, "down": 2.25, "low": 0.3, "high": 0.1, "mode": "triangular2", "gamma": 1.0},
        {"up": 20.0, "down": 35.0, "low": 0.3, "high": 0.1, "mode": "exp_range", "gamma": 0.999},
        {"up": 20.0, "down": 0.0, "low": 0.1, "high": 0.3, "mode": "exp_range", "gamma": 0.0},
    ],
    "onecycle": [
        {"T": 10000.0, "pct": 0.3, "div": 25.0, "final_div": 1e4, "anneal": "cos", "three_phase": False, "base": 0.1},
        {"T": 1000.0, "pct": 0.3, "div": 25.0, "final_div": 1e4, "anneal": "linear", "three_phase": True, "base": 1.0},
        {"T": 3.0, "pct": 0.1, "div": 25.0, "final_div": 1e4, "anneal": "cos", "three_phase": False, "base": 1.0},
        {"T": 1.0, "pct": 0.5, "div": 10.0, "final_div": 10.0, "anneal": "cos", "three_phase": True, "base": 1.0},
        {"T": 2.0, "pct": 0.5, "div": 10.0, "final_div": 10.0, "anneal": "linear", "three_phase": True, "base": 1.0},
    ],
}

POINTS = np.concatenate([np.arange(0, 3000.0), np.arange(0, 3000.0) + 0.5, [1e4 - 1, 1e4, 1e6, 1e15, 2.0**53]])


def _scalar(function, t):
    """``function(t)``, or the type of the exception it raises."""
    try:
        return function(t)
    except (ArithmeticError, ValueError) as error:
        return type(error)


def test_every_declared_form_has_cases():
    declared = {spec.name for spec in REGISTRY if getattr(spec, "formula", None) in FORMS}
    assert declared == set(CASES)


@pytest.mark.parametrize("name, case", [(name, case) for name, cases in CASES.items() for case in cases])
def test_a_scalar_form_is_its_formula(name, case):
    spec = REGISTRY.get(name)
    args = [case[param.name] for param in spec.params]
    form = FORMS[spec.formula](*args)
    assert [_scalar(form, float(t)) for t in POINTS] == [
        _scalar(lambda t: spec.formula(SCALAR, t, *args), float(t)) for t in POINTS
    ]
    with np.errstate(all="ignore"):
        array = np.broadcast_to(spec.formula(np, POINTS, *args), POINTS.shape)
    scalars = np.array([_scalar(form, float(t)) for t in POINTS], dtype=object)
    fine = np.array([isinstance(v, float) for v in scalars])
    np.testing.assert_allclose(scalars[fine].astype(float), array[fine], rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize(
    "name, case",
    [(name, case) for name, cases in CASES.items() for case in cases if REGISTRY.get(name).formula in HOLDS],
)
def test_a_node_that_holds_is_constant_from_its_horizon(name, case):
    """What ``holds_from`` declares (a last phase then needs no hold): the same value at and after it."""
    spec = REGISTRY.get(name)
    args = [case[param.name] for param in spec.params]
    horizon = case[HOLDS[spec.formula]]
    later = horizon + np.array([0.0, 0.5, 1.0, 7.0, 1e6, 1e15])
    assert (spec.formula(np, later, *args) == spec.formula(np, np.array([horizon]), *args)).all()
    form = FORMS[spec.formula](*args)
    assert {form(float(t)) for t in later} == {form(float(horizon))}


@pytest.mark.parametrize(
    "name, case",
    [(name, case) for name, cases in CASES.items() for case in cases if REGISTRY.get(name).formula in SCALES],
)
def test_a_scaled_form_is_the_form_times_the_constant(name, case):
    """What ``scales`` declares (``c * node(...)`` then costs no call of its own): the same product."""
    spec = REGISTRY.get(name)
    args = [case[param.name] for param in spec.params]
    form = FORMS[spec.formula](*args)
    for c in (0.1, 0.03125, 3.0, 0.0):
        scaled = FORMS[spec.formula](*args, scale=c)
        assert [scaled(float(t)) for t in POINTS] == [form(float(t)) * c for t in POINTS]


def test_a_node_times_a_constant_is_one_call():
    sched = lrdsl.compile("0.5 * cosine(T=100)")
    assert sched.curve.at.__qualname__ == "cosine_at.<locals>.scaled"
    assert [sched(i) for i in range(150)] == (0.5 * lrdsl.compile("cosine(T=100)").values(np.arange(150))).tolist()


@pytest.mark.parametrize("start, end, T", [(0.8, 1e-5, 100.0), (0.0, 2.0, 3.0), (1.0, 1.0, 0.5)])
def test_the_bound_ramps_are_the_ramps(start, end, T):
    points = [float(t) for t in np.arange(0, 4 * T, T / 37)] + [T, 1e300]
    assert [cosine_at(start, end, T)(t) for t in points] == [cosine_between(SCALAR, start, end, t, T) for t in points]
    assert [linear_at(start, end, T)(t) for t in points] == [linear_between(SCALAR, start, end, t, T) for t in points]


@pytest.mark.parametrize(
    "length, mult, count", [(100.0, 2.0, math.inf), (7.0, 1.0, 5), (3.0, 0.5, 6), (1.0, 1.001, math.inf)]
)
def test_the_bound_period_lookup_is_locate(length, mult, count):
    table = periods(length, mult, count)
    locate = table.scalar_locate()
    points = [float(t) for t in range(0, 20_000, 3)] + [table.end, 1e17, 1e300]
    assert [_scalar(lambda t: tuple(locate(t)), t) for t in points] == [
        _scalar(lambda t: tuple(table.locate(SCALAR, t)), t) for t in points
    ]


@pytest.mark.parametrize(
    "params",
    [(100.0, 2.0, 1.0, 0.0, math.inf, 1.0), (10.0, 1.0, 0.5, 0.0, 5, 1.0), (7.0, 1.5, 0.9, 0.01, 12, 0.8)],
)
def test_the_sgdr_form_is_its_formula(params):
    form = cyclical._sgdr_at(*params)
    points = [float(t) for t in range(0, 20_000, 7)] + [1e17, 1e300]
    assert [_scalar(form, t) for t in points] == [
        _scalar(lambda t: cyclical._sgdr(SCALAR, t, *params), t) for t in points
    ]


def test_a_wrong_form_is_caught():
    """The comparison above is not vacuous: a form off by one step in time differs."""
    spec = REGISTRY.get("cosine")
    form = FORMS[spec.formula](100.0, 0.0, 1.0)
    assert [form(t + 1) for t in range(100)] != [spec.formula(SCALAR, float(t), 100.0, 0.0, 1.0) for t in range(100)]


def test_a_schedule_evaluates_through_the_forms():
    sched = lrdsl.compile("warmup(T=500) then cosine(T=9500, end=1e-5)")
    points = np.arange(0, 12_000, 13)
    assert [sched(int(i)) for i in points] == sched.values(points).tolist()
