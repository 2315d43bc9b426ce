"""The schedule catalog (docs/language.md §10): multistep, piecewise, poly, sgdr, cyclic, onecycle, rsqrt, repeat.

Expected values come from each formula written out here in plain Python (never from lrdsl);
the peers themselves are checked in tests/parity. Every node's scalar and vectorised
evaluators must agree to 1e-12 over long ranges, and no value may be NaN or negative.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import lrdsl
from lrdsl.authoring import BASE, Duration, schedule_node
from lrdsl.errors import ParameterError, PhaseError
from lrdsl.plugins import default_registry


def values(text, n, **kwargs):
    sched = lrdsl.compile(text, **kwargs)
    return [sched(i) for i in range(n)]


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)


# -- reference formulas --------------------------------------------------------------------------


def ref_cosine(t, T, top, end):
    return end + (top - end) * (1 + math.cos(math.pi * min(t, T) / T)) / 2


def ref_periods(t, length, mult, times=math.inf):
    """Period index and time into it, walking period by period (no logarithm); k == times past the end."""
    k, start, span = 0, 0.0, length
    while t >= start + span and k < times:
        start += span
        k += 1
        span = length * mult**k
    return k, t - start, span


def ref_cyclic(t, up, down, low, high, mode="triangular", gamma=1.0):
    period = up + down
    cycle = t // period
    x = t - cycle * period  # time into the cycle
    scale = x / up if x <= up else 1 - (x - up) / down
    factor = {"triangular": 1.0, "triangular2": 0.5**cycle, "exp_range": gamma**t}[mode]
    return low + (high - low) * scale * factor


def ref_onecycle(t, T, peak, pct=0.3, div=25.0, final_div=1e4, anneal="cos", three_phase=False):
    initial, low = peak / div, peak / div / final_div
    if three_phase:
        points = [(0.0, initial), (pct * T - 1, peak), (2 * pct * T - 2, initial), (T - 1, low)]
    else:
        points = [(0.0, initial), (pct * T - 1, peak), (T - 1, low)]
    t = min(t, T - 1)
    for (s, a), (e, b) in itertools.pairwise(points):
        if t <= e or e == T - 1:
            p = (t - s) / (e - s)
            return b + (a - b) * (1 + math.cos(math.pi * p)) / 2 if anneal == "cos" else a + (b - a) * p


# -- value tables ---------------------------------------------------------------------------------


def test_multistep_counts_milestones_reached_including_duplicates():
    expected = [0.5 * 0.1 ** sum(1 for m in (3, 3, 7) if t >= m) for t in range(12)]
    close(values("multistep(at=[3, 7, 3], base=0.5)", 12), expected)


def test_multistep_epochs_with_steps_per_epoch():
    expected = [0.2 * 0.5 ** sum(1 for m in (20, 50) if t >= m) for t in range(70)]
    close(values("multistep(at=[2ep, 5ep], gamma=0.5)", 70, base=0.2, steps_per_epoch=10), expected)


def test_piecewise_new_value_applies_at_the_boundary():
    table = [(0, 0.1), (3, 0.2), (6, 0.05)]
    expected = [next(v for start, v in reversed(table) if t >= start) for t in range(10)]
    close(values("piecewise(at=[3, 6], values=[0.1, 0.2, 0.05])", 10), expected)


def test_piecewise_with_no_boundary_is_constant():
    close(values("piecewise(at=[], values=[0.3])", 5), [0.3] * 5)


@pytest.mark.parametrize("power, end", [(1.0, 0.0), (0.5, 0.01), (2.0, 0.2), (3.0, 1.5)])
def test_poly(power, end):
    expected = [end + (1.0 - end) * (1 - min(t, 20) / 20) ** power for t in range(30)]
    close(values(f"poly(T=20, power={power}, end={end})", 30), expected)


def test_poly_horizon_defaults_to_the_phase_length():
    expected = [0.1 * t / 5 for t in range(5)] + [0.1 * (1 - (t - 5) / 15) ** 2 for t in range(5, 20)] + [0.0]
    close(values("warmup(T=5) then poly(power=2)", 21, base=0.1, total=20), expected)


def test_rsqrt_warms_up_then_decays_as_inverse_sqrt():
    expected = [0.3 * (t / 8 if t < 8 else math.sqrt(8 / t)) for t in range(40)]
    close(values("rsqrt(warmup=8, base=0.3)", 40), expected)
    close(values("inverse_sqrt(8)", 40, base=0.3), expected)


@pytest.mark.parametrize(
    "T, mult, decay, end, times",
    [(5, 1, 1, 0.0, math.inf), (4, 2, 0.5, 0.01, math.inf), (3, 1.5, 0.8, 0.0, 4), (6, 0.5, 1, 0.02, 3)],
)
def test_sgdr(T, mult, decay, end, times):
    def ref(t):
        k, tau, span = ref_periods(t, T, mult, times)
        if k >= times:
            return end
        return end + (decay**k - end) * (1 + math.cos(math.pi * tau / span)) / 2

    text = f"sgdr(T={T}, mult={mult}, decay={decay}, end={end}, times={'inf' if math.isinf(times) else times})"
    close(values(text, 120), [ref(t) for t in range(120)])


@pytest.mark.parametrize(
    "up, down, mode, gamma",
    [(4, 4, "triangular", 1.0), (3, 5, "triangular2", 1.0), (5, 2, "exp_range", 0.98), (2.5, 1.5, "triangular", 1.0)],
)
def test_cyclic(up, down, mode, gamma):
    expected = [ref_cyclic(t, up, down, 0.01, 0.1, mode, gamma) for t in range(60)]
    close(values(f'cyclic(up={up}, down={down}, low=0.01, high=0.1, mode="{mode}", gamma={gamma})', 60), expected)


def test_cyclic_down_defaults_to_up_and_high_to_the_base():
    expected = [ref_cyclic(t, 3, 3, 0.0, 0.4) for t in range(20)]
    close(values("cyclic(up=3)", 20, base=0.4), expected)


def test_cyclic_with_no_down_phase_is_a_sawtooth():
    expected = [0.1 * (t % 4) / 4 for t in range(16)]
    close(values("cyclic(up=4, down=0, high=0.1)", 16), expected)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"anneal": "linear"},
        {"three_phase": True},
        {"anneal": "linear", "three_phase": True, "pct": 0.4, "final_div": 4.0},
        {"pct": 0.25, "div": 10.0, "final_div": 100.0},
    ],
)
def test_onecycle(kwargs):
    T = 37
    text = (
        "onecycle(T=37"
        + "".join(f", {k}={str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in kwargs.items())
        + ")"
    )
    text = text.replace("'", '"')
    expected = [ref_onecycle(t, T, 0.1, **kwargs) for t in range(T + 10)]
    close(values(text, T + 10, base=0.1), expected)


def test_onecycle_peak_at_the_first_step_when_pct_times_T_is_one():
    sched = lrdsl.compile("onecycle(T=10, pct=0.1, base=1)")
    assert sched(0) == 1.0  # torch divides 0 by 0 here
    close([sched(t) for t in range(1, 10)], [ref_onecycle(t, 10, 1.0, pct=0.1) for t in range(1, 10)])


def test_onecycle_horizon_defaults_to_the_phase_and_holds_after_it():
    expected = [ref_onecycle(t, 50, 0.2) for t in range(60)]
    close(values("onecycle()", 60, base=0.2, total=50), expected)


def test_repeat_a_sequence_with_stretch_and_decay():
    def x(s):  # warmup(T=2) then cosine(T=4), base 1
        return s / 2 if s < 2 else ref_cosine(s - 2, 4, 1.0, 0.0)

    def ref(t):
        k, tau, _ = ref_periods(t, 6, 2)
        return 0.5**k * x(tau / 2**k)

    close(values("repeat(warmup(T=2) then cosine(T=4), mult=2, decay=0.5)", 100), [ref(t) for t in range(100)])


def test_repeat_holds_the_last_period_end_after_times_periods():
    expected = [0.8 ** (t // 5) * (1 - (t % 5) / 5 * 0.5) for t in range(15)] + [0.8**2 * 0.5] * 10
    close(values("repeat(linear(T=5, end=0.5), times=3, decay=0.8)", 25), expected)


def test_repeat_of_x_for_a_duration_and_of_arithmetic():
    expected = [0.5 * ref_cosine(t % 10, 10, 1.0, 0.0) for t in range(40)]
    close(values("repeat(0.5 * cosine() for 10)", 40), expected)


def test_repeat_works_on_plugin_nodes():
    @schedule_node(horizon="T")
    def ramp_down(xp, t, T: Duration, base: float = BASE):
        """Test plugin: base · (1 − min(t, T)/T)."""
        return base * (1 - xp.minimum(t, T) / T)

    registry = default_registry().copy()
    registry.add(ramp_down, "test-plugin")
    sched = lrdsl.compile("repeat(ramp_down(T=4), times=2)", base=2.0, registry=registry)
    close([sched(t) for t in range(10)], [2 * (1 - t % 4 / 4) for t in range(8)] + [0.0, 0.0])


def test_repeat_inside_a_sequence_needs_for_and_then_continues():
    expected = [t / 3 for t in range(3)] + [ref_cosine((t - 3) % 4, 4, 1.0, 0.0) for t in range(3, 11)] + [0.0] * 4
    close(values("warmup(T=3) then repeat(cosine(T=4), times=2) for 8 then constant(0)", 15), expected)


# -- the evaluators agree, and nothing is NaN or negative ---------------------------------------------

CURVES = [
    "multistep(at=[10, 35, 35, 200], gamma=0.3)",
    "piecewise(at=[5, 50, 51], values=[0.1, 0, 0.3, 0.01])",
    "poly(T=97, power=0.7, end=0.001)",
    "poly(T=50, power=2, end=0.5, base=0.1)",
    "rsqrt(warmup=13)",
    "sgdr(T=7, mult=3, decay=0.9, end=0.001)",
    "sgdr(T=10, mult=0.7, times=5)",
    "sgdr(T=3.3, times=20, decay=0.95)",
    "cyclic(up=7, down=3, low=0.001)",
    'cyclic(up=5, mode="triangular2")',
    'cyclic(up=2.5, mode="exp_range", gamma=0.999)',
    "onecycle(T=333)",
    'onecycle(T=100, pct=0.45, anneal="linear", three_phase=true)',
    "onecycle(T=5, pct=0.1, three_phase=true)",
    "onecycle(T=1)",
    "onecycle(T=40, pct=0.9, three_phase=true)",
    "repeat(warmup(T=3) then cosine(T=9), mult=1.3, decay=0.9)",
    "repeat(cyclic(up=2) for 9, times=40, mult=0.99)",
    "warmup(T=20) then repeat(onecycle(T=31), times=7) for 300 then sgdr(T=13)",
]


@pytest.mark.parametrize("text", CURVES)
def test_scalar_and_vector_evaluators_agree_and_stay_valid(text):
    sched = lrdsl.compile(text, base=0.5)
    t = np.concatenate([np.arange(0, 3000, 1.0), np.linspace(0, 3000, 7919), [1e6, 1e9]])
    vector = sched.values(t)
    scalar = np.array([sched(float(x)) for x in t])
    np.testing.assert_allclose(vector, scalar, rtol=1e-12, atol=1e-15)
    assert np.all(np.isfinite(vector)) and np.all(vector >= 0)


# -- parameter checks -------------------------------------------------------------------------------

BAD = [
    ("cyclic(up=0)", "up"),
    ("cyclic(up=2, down=-1)", "down"),
    ('cyclic(up=2, mode="sine")', "mode"),
    ("cyclic(up=2, gamma=-0.5)", "gamma"),
    ("onecycle(T=10, pct=1.5)", "pct"),
    ("onecycle(T=10, pct=0)", "pct"),
    ("onecycle(T=10, pct=1)", "pct"),
    ("onecycle(T=0.5)", "T"),
    ("onecycle(T=10, div=0)", "div"),
    ('onecycle(T=10, anneal="cosine")', "anneal"),
    ("piecewise(at=[1, 2], values=[1, 2])", "values"),
    ("piecewise(at=[1], values=[1, 2, 3])", "values"),
    ("piecewise(at=[5, 2], values=[1, 2, 3])", "increasing"),
    ("piecewise(at=[1], values=[1, -2])", "values"),
    ("plateau(factor=1)", "factor"),
    ("plateau(factor=-0.1)", "factor"),
    ('plateau(mode="avg")', "mode"),
    ('plateau(threshold_mode="pct")', "threshold_mode"),
    ("plateau(patience=-1)", "patience"),
    ("plateau(patience=1.5)", "patience"),
    ("plateau(min=-1)", "min"),
    ("poly(T=10, power=-1)", "power"),
    ("poly(T=0)", "T"),
    ("rsqrt(warmup=0)", "warmup"),
    ("multistep(at=[1, 2], gamma=-0.1)", "gamma"),
    ("multistep(at=[-1])", "at"),
    ("multistep(at=3)", "at"),
    ("sgdr(T=0)", "T"),
    ("sgdr(T=5, mult=0)", "mult"),
    ("sgdr(T=5, mult=0.5)", "times"),
    ("sgdr(T=5, times=0)", "times"),
    ("repeat(constant(0.1))", "no known length"),
    ("repeat(cosine(T=5), times=0)", "times"),
    ("repeat(cosine(T=5), mult=0.9)", "times"),
    ("repeat(cosine(T=5), decay=-1)", "decay"),
    ("repeat(0.5)", "length"),
]


@pytest.mark.parametrize("text, mention", BAD)
def test_meaningless_parameters_are_rejected_with_a_clear_error(text, mention):
    with pytest.raises(lrdsl.LRDSLError) as error:
        lrdsl.compile(text)
    assert isinstance(error.value, (ParameterError, PhaseError))
    assert mention in str(error.value)


@pytest.mark.parametrize(
    "text",
    [
        "cosine(T=10, end=0.5, base=0.1)",
        "poly(T=10, end=0.5, base=0.1)",
        "cyclic(up=2, low=0.5, high=0.1)",
        "sgdr(T=5, end=2)",
        "plateau(factor=0)",
    ],
)
def test_unusual_but_meaningful_parameters_are_accepted(text):
    assert lrdsl.compile(text)(3) >= 0


def test_a_non_final_phase_without_length_suggests_for():
    with pytest.raises(PhaseError, match="for"):
        lrdsl.compile("cyclic(up=2) then constant(0.1)")


# -- documentation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["multistep", "piecewise", "poly", "sgdr", "cyclic", "onecycle", "rsqrt", "repeat", "plateau"]
)
def test_every_node_documents_formula_ranges_and_peer(name):
    spec = default_registry().get(name)
    assert spec.source == "lrdsl"
    doc = spec.doc
    assert "matches" in doc and ("·" in doc or "=" in doc)
    for param in spec.params:
        assert param.name in doc, f"{name}: parameter {param.name} is not documented"


def test_aliases():
    registry = default_registry()
    assert registry.get("inverse_sqrt") is registry.get("rsqrt")


@pytest.mark.parametrize(
    "text",
    [
        "sgdr(T=10, mult=0.7, times=5)",
        "sgdr(T=7, mult=3, decay=0.9, end=0.001)",
        "repeat(warmup(T=2) then cosine(T=4), mult=1.5, decay=0.5)",
        'cyclic(up=3, down=5, mode="triangular2")',
        "onecycle(T=37, three_phase=true)",
        "multistep(at=[4, 9])",
        "piecewise(at=[3, 6], values=[1, 2, 0.5])",
    ],
)
def test_jax_jit_gives_the_numpy_values_including_at_restarts(text):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    sched = lrdsl.compile(text, base=0.5)
    t = np.arange(0.0, 600.0)
    with jax.enable_x64(True):
        traced = np.asarray(jax.jit(sched.array_function(jnp))(t))
    np.testing.assert_allclose(traced, sched.values(t), rtol=1e-12, atol=1e-12)


def test_repeat_takes_a_variable_and_nodes_run_on_an_epoch_clock():
    sched = lrdsl.compile("repeat($x, times=2)", variables={"x": "warmup(T=2) then cosine(T=3)"})
    one = [t / 2 if t < 2 else ref_cosine(t - 2, 3, 1.0, 0.0) for t in range(5)]
    close([sched(t) for t in range(12)], one * 2 + [0.0, 0.0])
    by_epoch = lrdsl.compile("sgdr(T=2ep, mult=2)")
    close(
        [by_epoch(epoch=e / 2) for e in range(14)],
        [ref_cosine(*ref_periods(e / 2, 2, 2)[1:], 1.0, 0.0) for e in range(14)],
    )
    by_iteration = lrdsl.compile("onecycle(T=10ep)", steps_per_epoch=10)
    close([by_iteration(t) for t in range(120)], [ref_onecycle(t, 100, 1.0) for t in range(120)])
