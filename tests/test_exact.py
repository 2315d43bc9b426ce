"""Exact time arithmetic (lrdsl.exact): floors, fractions and period starts agree with integer
arithmetic on every backend, and the compiler uses them where boundaries are decided.

The references here are Python integers (``i // s``, a restart loop as torch steps it), never
the code under test. The whole-schedule comparison across backends is tests/test_backends.py.
"""

import math

import numpy as np
import pytest

import lrdsl
from lrdsl.exact import ceil_div, floor_div, fraction, periods
from lrdsl.scalarmath import SCALAR

GRID = np.arange(3000)
DIVISORS = [1, 2, 3, 7, 41, 47, 49, 55, 61, 82, 83, 94, 97, 103, 107, 109, 110, 115, 257, 299]


@pytest.fixture(scope="module")
def jax():
    return pytest.importorskip("jax")


def jitted(jax, function, dtype):
    """``function(xp, t)`` under jax.jit on GRID in ``dtype`` (float64 through enable_x64)."""
    import jax.numpy as jnp

    with jax.enable_x64(dtype == "float64"):
        return np.asarray(jax.jit(lambda t: function(jnp, t))(jnp.asarray(GRID, dtype)), dtype=np.float64)


@pytest.mark.parametrize("s", DIVISORS)
def test_floor_div_is_integer_division_in_python_and_numpy(s):
    assert [floor_div(SCALAR, float(i), float(s)) for i in GRID] == [i // s for i in GRID]
    assert (floor_div(np, GRID * 1.0, float(s)) == GRID // s).all()
    assert (ceil_div(np, GRID * 1.0, float(s)) == -(-GRID // s)).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floor_div_is_exact_under_jit(jax, dtype):
    for s in DIVISORS:
        assert (jitted(jax, lambda xp, t, s=s: floor_div(xp, t, float(s)), dtype) == GRID // s).all(), s
        assert (jitted(jax, lambda xp, t, s=s: ceil_div(xp, t, float(s)), dtype) == -(-GRID // s)).all(), s


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fraction_reaches_exactly_one_at_the_horizon_under_jit(jax, dtype):
    for T in DIVISORS:
        f = jitted(jax, lambda xp, t, T=T: fraction(xp, t, float(T)), dtype)
        assert (f[GRID >= T] == 1.0).all() and (f[GRID < T] < 1.0).all() and f.min() == 0.0, T
        assert (fraction(np, GRID * 1.0, float(T))[GRID >= T] == 1.0).all()


def restarts(length: int, mult: int, horizon: int):
    """(period index, time into it) per iteration, stepped as torch's CosineAnnealingWarmRestarts does."""
    k, tau, span, out = 0, 0, length, []
    for _ in range(horizon):
        out.append((k, tau))
        tau += 1
        if tau >= span:
            k, tau, span = k + 1, tau - span, span * mult
    return np.array(out, dtype=float)


@pytest.mark.parametrize("length,mult", [(1, 1), (7, 1), (3, 2), (5, 3), (100, 4), (49, 2), (1, 7)])
def test_periods_match_a_restart_loop(length, mult):
    expected = restarts(length, mult, len(GRID))
    table = periods(float(length), float(mult), math.inf)
    k, tau, _, _ = table.locate(np, GRID * 1.0)
    assert (np.stack([k, tau], axis=1) == expected).all()
    assert [table.locate(SCALAR, float(i))[:2] for i in GRID] == [tuple(row) for row in expected]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_periods_are_exact_under_jit(jax, dtype):
    for length, mult in [(100, 4), (5, 3), (49, 2), (3, 2)]:
        table = periods(float(length), float(mult), math.inf)
        k = jitted(jax, lambda xp, t, table=table: table.locate(xp, t)[0], dtype)
        assert (k == restarts(length, mult, len(GRID))[:, 0]).all(), (length, mult)


def test_periods_stop_after_their_count():
    table = periods(4.0, 2.0, 3)  # periods of 4, 8, 16: they end at 28
    assert table.end == 28
    assert table.locate(SCALAR, 100.0) == (2.0, 16.0, 16.0, 4.0)
    k, tau, _, _ = table.locate(np, np.array([27.0, 28.0, 1e9]))
    assert k.tolist() == [2, 2, 2] and tau.tolist() == [15, 16, 16]


def test_periods_past_the_table_follow_the_closed_form():
    table = periods(1.0, 1.001, math.inf)  # 4096 tabulated periods, then the closed form
    t = np.array([table.starts[-1] - 0.5, table.starts[-1] + 0.5, 1e7])
    k, tau, span, _ = table.locate(np, t)
    assert k[0] == table.tabulated - 1 and k[1] == table.tabulated
    starts = (1.001**k - 1) / 0.001  # the closed form S_k, computed here in float64
    assert np.allclose(t - starts, tau, rtol=1e-6) and (tau >= 0).all() and (tau <= span).all()
    assert [table.locate(SCALAR, float(x))[0] for x in t] == k.tolist()


def test_floor_of_a_quotient_is_exact_and_other_floors_are_plain():
    assert lrdsl.compile("floor(it / 49)").values(GRID).tolist() == (GRID // 49).tolist()
    assert lrdsl.compile("ceil(it / 7)").values(GRID).tolist() == (-(-GRID // 7)).tolist()
    # a non-constant denominator, or none, is the plain function of the value
    assert lrdsl.compile("floor(it / (1 + it))").values(GRID).tolist() == [0.0] * len(GRID)
    assert lrdsl.compile("floor(it * 0.5)")(7) == 3.0


def test_floor_and_ceil_return_floats():
    for text in ("floor(2.5)", "ceil(it / 3)", "floor(it)"):
        assert type(lrdsl.compile(text)(7)) is float, text


@pytest.mark.parametrize("spe", [3, 7, 10, 100, 391])
def test_epochs_land_on_the_iteration_they_name(spe):
    sched = lrdsl.compile("step(s=57, gamma=0.5) then constant()", base=1.0, steps_per_epoch=spe)
    epochs = [i / spe for i in range(400)]
    assert [sched(epoch=e) for e in epochs] == [sched(i) for i in range(400)]
    assert (sched.values(epochs=epochs) == sched.values(np.arange(400))).all()


def test_a_phase_past_an_enclosing_for_is_never_reached():
    text = "warmup(T=20, start=0.1 * lr0) * (0.1 for 20 then 1) for 20 then (0.5 * lr0 for 30 then lr0)"
    sched = lrdsl.compile(text, base=0.05)
    assert sched.values(np.arange(20)).max() <= 0.1 * 0.05 + 1e-18  # inside phase 1 the factor stays 0.1
    assert sched(20) == 0.5 * 0.05 and sched(50) == 0.05
    (note,) = sched.notes
    assert note.startswith("phase 2 (1) is never reached: it starts at 20 iterations") and "phase 1 (warmup" in note


def test_every_later_phase_is_named_and_the_last_reached_one_holds():
    sched = lrdsl.compile("(0.3 for 5 then 0.2 for 5 then 0.1) for 5 then 1")
    assert sched.values(np.arange(8)).tolist() == [0.3] * 5 + [1.0] * 3
    assert "(and the 1 after it)" in sched.notes[0]


def test_a_top_level_phase_past_total_is_an_error_naming_total():
    with pytest.raises(
        lrdsl.LRDSLError,
        match=r"phase 2 \(cosine\(T=10\)\) starts at 50 iterations, at or after "
        r"the end of training \(total = 40 iterations\)",
    ):
        lrdsl.compile("cosine(T=10) for 50 then cosine(T=10)", total=40)


def test_huge_period_multipliers_give_the_stretched_value():
    sched = lrdsl.compile("repeat(warmup(T=3) then cosine(T=7), mult=1e300, times=7, decay=1e300)")
    # period 1 starts at 10 and lasts 1e301: 4 iterations in, x runs at 4e-300, warmup's t/3
    assert sched(14) == pytest.approx(1e300 * 4e-300 / 3, rel=1e-12)
    assert sched.values([14]) == pytest.approx(sched(14), rel=1e-12)
