"""Conditions, where() and recur(): syntax, meaning, errors, the tick limit, the branch not taken,
closed forms, and every evaluation path of tests/backends.py (docs/language.md §7.3, §7.4)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrdsl
from lrdsl import recurrence
from lrdsl.errors import EvaluationError, LRDSLSyntaxError, ParameterError, UnknownNameError

# -- syntax ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, canonical",
    [
        ("where((ep < 10), lr, (lr * 2))", "where(ep < 10, lr, lr * 2)"),
        ("where((a < b) and (c or d), 1, 2)", "where(a < b and (c or d), 1, 2)"),
        ("where(not (a < b), 1, 2)", "where(not a < b, 1, 2)"),
        ("where((not a) and b, 1, 2)", "where(not a and b, 1, 2)"),
        ("where(((a or b) or c), 1, 2)", "where(a or b or c, 1, 2)"),
        ("where(a or (b or c), 1, 2)", "where(a or (b or c), 1, 2)"),
        ("where((a < b) == c, 1, 2)", "where((a < b) == c, 1, 2)"),
        ("where(-x <= (1 + 2) * 3, 1, 2)", "where(-x <= (1 + 2) * 3, 1, 2)"),
        ("recur(lr * (1 - 0.001 * k), every = 1ep, start = 0.1)", "recur(lr * (1 - 0.001 * k), every=1ep, start=0.1)"),
        ("(x < 3) for 5 then y", "x < 3 for 5 then y"),
    ],
)
def test_conditions_print_with_minimal_parentheses_and_read_back(text, canonical):
    node = lrdsl.parse(text)
    assert str(node) == canonical
    assert lrdsl.parse(canonical) == node


def test_comparisons_bind_looser_than_sums_and_do_not_chain():
    assert lrdsl.parse("where(a + 1 < b * 2, 1, 2)") == lrdsl.parse("where((a + 1) < (b * 2), 1, 2)")
    assert lrdsl.parse("where(not a < b and c, 1, 2)") == lrdsl.parse("where((not (a < b)) and c, 1, 2)")
    with pytest.raises(LRDSLSyntaxError, match="unexpected '<'"):
        lrdsl.parse("where(a < b < c, 1, 2)")


@pytest.mark.parametrize("word", ["and", "or", "not"])
def test_the_logic_words_are_keywords(word):
    with pytest.raises(LRDSLSyntaxError):
        lrdsl.parse(f"cosine({word}=1)")


# -- meaning --------------------------------------------------------------------------------------


def test_where_chooses_point_by_point_on_every_comparison():
    grid = np.arange(8)
    for op, test in [("<", np.less), ("<=", np.less_equal), (">", np.greater), (">=", np.greater_equal)]:
        sched = lrdsl.compile(f"where(it {op} 4, 1, 2)")
        expected = np.where(test(grid, 4), 1.0, 2.0)
        assert [sched(int(i)) for i in grid] == expected.tolist()
        assert sched.values(grid).tolist() == expected.tolist()
    sched = lrdsl.compile("where(it == 3 or it != it, 5, where(not it >= 2 and true, 1, 0.5))")
    assert [sched(i) for i in range(5)] == [1.0, 1.0, 0.5, 5.0, 0.5]


def test_a_recurrence_starts_at_start_and_changes_at_every_tick():
    sched = lrdsl.compile("recur(lr * 0.5 + k, every=3, start=2)")
    # v0 = 2, v1 = 2·0.5 + 1 = 2, v2 = 2·0.5 + 2 = 3, v3 = 3·0.5 + 3 = 4.5
    assert [sched(i) for i in range(12)] == [2.0] * 3 + [2.0] * 3 + [3.0] * 3 + [4.5] * 3
    assert lrdsl.compile("recur(it, every=5)").values(np.arange(12)).tolist() == [1.0] * 5 + [5.0] * 5 + [10.0] * 2


def test_start_defaults_to_the_incoming_base_and_every_to_one_clock_unit():
    sched = lrdsl.compile("warmup(4) then recur(lr * 0.5)", base=0.8)
    assert [sched(i) for i in range(4, 8)] == [0.8, 0.4, 0.2, 0.1]
    by_epoch = lrdsl.compile("recur(lr * 0.5)", base=1.0, total="10ep")
    assert [by_epoch(epoch=e) for e in (0, 1, 2.5)] == [1.0, 0.5, 0.25]


def test_recurrences_compose_like_any_node():
    inner = "recur(lr * 0.9, every=2)"
    composed = lrdsl.compile(f"min({inner}, 0.5) + 0.5 * repeat({inner} for 6, times=2)")
    reference = lrdsl.compile(inner)
    grid = np.arange(16)
    expected = [min(reference(i), 0.5) + 0.5 * reference(i % 6 if i < 12 else 6) for i in grid]
    np.testing.assert_allclose(composed.values(grid), expected, rtol=1e-15)
    nested = lrdsl.compile("recur(lr * 0 + recur(lr + 1, every=2), every=3)")  # the inner lr is the inner one
    assert [nested(i) for i in range(7)] == [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 4.0]


def test_the_cumulative_forms_give_the_loop_s_values_exactly():
    """``lr * g`` goes through multiply.accumulate, ``lr + g`` through add.accumulate; a form the
    analysis does not recognise (the factor written twice) runs the loop: same numbers, bit for bit."""
    grid = np.arange(3000)
    pairs = [
        ("recur(lr * (1 - 0.0001 * k))", "recur(lr * (1 - 0.0001 * k) + 0 * lr)"),
        ("recur(where(k < 100, lr, lr * 0.999))", "recur(where(k < 100, lr, lr * 0.999) + 0 * lr)"),
        ("recur(lr + 0.001 * sqrt(k))", "recur(lr + 0.001 * sqrt(k) + 0 * lr)"),
    ]
    for fast, loop in pairs:
        assert recurrence.split(lrdsl.parse(fast).args[0], None, "*" if "+" not in fast else "+") is not None
        np.testing.assert_array_equal(lrdsl.compile(fast).values(grid), lrdsl.compile(loop).values(grid))


def test_values_do_not_depend_on_the_order_asked():
    text = "recur(where(lr > 0.5, lr / 2, lr * 1.7), every=3)"
    grid = np.arange(20000)
    order = np.random.default_rng(0).permutation(grid)
    forward = lrdsl.compile(text, base=1.0)
    backward = lrdsl.compile(text + " + 0", base=1.0)  # a separate compile, its own tape
    sequential = [forward(int(i)) for i in grid]
    assert [backward(int(i)) for i in grid[::-1]][::-1] == sequential
    assert lrdsl.compile(text + " * 1").values(order)[np.argsort(order)].tolist() == sequential


@pytest.mark.parametrize(
    "recurrent, closed, base",
    [
        # the seed's schedules: power, exponential, piecewise constant (step) and time-based decay
        ("recur(lr * ((1 + (k - 1) / 20) / (1 + k / 20)) ** 1.5)", "power(s=20, c=1.5)", 0.1),
        ("recur(lr * 0.1 ** (1 / 50))", "exp(s=50, rate=0.1)", 0.1),
        ("recur(where(floor(k / 30) * 30 == k, lr * 0.5, lr))", "step(s=30, gamma=0.5)", 0.1),
        ("recur(lr * (1 + 0.01 * (k - 1)) / (1 + 0.01 * k))", "inverse_time(d=0.01)", 0.1),
    ],
)
def test_the_seed_schedules_as_recurrences_agree_with_their_closed_forms(recurrent, closed, base):
    grid = np.arange(2000)
    ours = lrdsl.compile(recurrent, base=base)
    theirs = lrdsl.compile(closed, base=base).values(grid)
    np.testing.assert_allclose(ours.values(grid), theirs, rtol=1e-12, atol=0)
    np.testing.assert_allclose([ours(int(i)) for i in grid[::7]], theirs[::7], rtol=1e-12, atol=0)


def test_state_dict_holds_nothing_new_and_a_resume_continues_exactly():
    text = "warmup(3) then recur(where(ep < 5, lr, lr * 0.8), every=1ep)"
    first = lrdsl.compile(text, base=0.1, steps_per_epoch=4)
    before = [first(i) for i in range(30)]
    state = json.loads(json.dumps(first.state_dict()))
    assert set(state) == set(lrdsl.compile("warmup(3) then cosine(T=10)", base=0.1).state_dict())
    resumed = lrdsl.compile(text, base=0.1, steps_per_epoch=4)
    resumed.load_state_dict(state)
    assert [resumed(i) for i in range(30)] == before


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, error, fragment",
    [
        ("lr * 0.5", UnknownNameError, "'lr' (line 1, column 1) is the value before the tick, and exists only inside"),
        ("cosine(T=10) + k", UnknownNameError, "'k' (line 1, column 16) is the tick's number"),
        ("recur(lr * 0.5, start=lr)", UnknownNameError, "'lr' (line 1, column 23)"),
        ("it < 3", ParameterError, "a condition (it < 3) is not a number"),
        ("1 + (it > 2)", ParameterError, "only allowed as the first argument of where"),
        ("where(it, 1, 2)", ParameterError, "where() (line 1, column 1): expects a condition"),
        ("where(it < 2, 1)", ParameterError, "takes three positional arguments"),
        ("where(it < 2, it < 3, 1)", ParameterError, "a condition (it < 3) is not a number"),
        ("recur(lr * 0.5, evry=2)", UnknownNameError, "unknown parameter 'evry'; did you mean 'every'?"),
        ("recur(every=2)", ParameterError, "missing required parameter 'update'"),
        ("recur(lr, 2, 1, 3)", ParameterError, "takes at most 3 arguments"),
        ("recur(lr, every=0)", ParameterError, "every=0 is out of range"),
        ("recur(lr, start=-1)", ParameterError, "start=-1 is out of range"),
        ("recur(lr, start=it)", ParameterError, "start must be a number fixed in time"),
        ("recur(lr, 2, every=3)", ParameterError, "every is given both by position and by name"),
    ],
)
def test_bad_conditions_and_recurrences_are_clear_errors(text, error, fragment):
    with pytest.raises(error) as raised:
        lrdsl.compile(text)
    assert fragment in str(raised.value)


def test_no_node_may_take_the_names_of_the_forms():
    from lrdsl.authoring import schedule_node
    from lrdsl.errors import PluginError

    for name in ("where", "recur", "lr", "k"):
        with pytest.raises(PluginError, match="reserved by the language"):
            schedule_node(name)(lambda xp, t: 1.0 + 0 * t)


def test_an_update_that_fails_is_an_error_at_its_tick_only():
    sched = lrdsl.compile("recur(log(lr))", base=math.e**2)  # e², 2, log 2, log log 2 < 0, then log of a negative
    assert [sched(i) for i in range(3)] == [math.e**2, 2.0, math.log(2.0)]
    with pytest.raises(EvaluationError, match="gives -0.36651"):
        sched(3)
    with pytest.raises(EvaluationError, match=r"cannot be computed at tick 4 \(local time 4\): math domain error"):
        sched(4)
    with pytest.raises(EvaluationError, match="cannot be computed at tick 4"):
        sched.values(np.arange(10))
    np.testing.assert_array_equal(sched.values(np.arange(3)), [math.e**2, 2.0, math.log(2.0)])


def test_the_tick_limit_is_named(monkeypatch):
    assert recurrence.MAX_TICKS == 10**7
    with pytest.raises(EvaluationError, match="past the limit of 10,000,000 ticks"):
        lrdsl.compile("recur(lr * 0.5)")(10**7 + 1)
    monkeypatch.setattr(recurrence, "MAX_TICKS", 100)
    sched = lrdsl.compile("recur(lr * 0.99) + 0 * it")
    assert sched(100) == pytest.approx(0.99**100, rel=1e-13)
    with pytest.raises(EvaluationError, match=r"tick 101 \(local time 101\), past the limit of 100 ticks"):
        sched(101)
    with pytest.raises(EvaluationError, match="past the limit of 100 ticks"):
        sched.values(np.array([3, 500]))


def test_the_tick_limit_holds_for_traced_backends_too(monkeypatch):
    jax = pytest.importorskip("jax")
    from lrdsl.bridges.jax import schedule

    monkeypatch.setattr(recurrence, "MAX_TICKS", 100)
    with pytest.raises(EvaluationError, match="past the limit of 100 ticks"):
        jax.jit(schedule("recur(lr * 0.99)", total=1000))(3)


# -- the branch not taken -------------------------------------------------------------------------

GUARDED = [
    "where(it < 10, log(10 - it) + 1, 0.5)",
    "where(it > 4 and sqrt(it - 5) < 2, sqrt(it - 5), 3)",
    "where(it == 0 or 1 / it < 0.2, 1, 1 / it)",
    "recur(where(k < 8, lr * log(9 - k), lr), start=0.01)",
    "recur(where(lr < 1, lr * 2, sqrt(lr - 1) + 0.5), start=0.01)",
]


@pytest.mark.parametrize("text", GUARDED)
def test_the_branch_not_taken_never_raises_nor_warns(text):
    sched = lrdsl.compile(text)
    grid = np.arange(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning (log of a negative) would fail here
        scalar = [sched(int(i)) for i in grid]
        values = sched.values(grid)
    assert np.isfinite(values).all() and values.tolist() == scalar


@pytest.mark.parametrize("text", GUARDED)
def test_the_branch_not_taken_gives_no_nan_under_jit(text):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    from lrdsl.bridges.jax import schedule

    expected = lrdsl.compile(text).values(np.arange(30))
    for x64 in (False, True):
        with jax.enable_x64(x64):
            got = np.asarray(jax.jit(schedule(text))(jnp.arange(30)), dtype=np.float64)
        np.testing.assert_allclose(got, expected, rtol=1e-5 if not x64 else 1e-12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(-5, 60),
    flip=st.booleans(),
    branch=st.sampled_from(["log({d})", "sqrt({d})", "1 / ({d})", "({d}) ** 0.5", "log(log({d} + 1) + 1)"]),
    negate=st.booleans(),
)
def test_fuzz_guarded_branches_are_exact_and_warning_free(cut, flip, branch, negate):
    """A branch valid only where its guard holds (its argument d > 0 exactly there), on either side."""
    d = f"it - {cut}" if cut >= 0 else f"it + {-cut}"
    guard = f"{cut} < it" if flip else f"it > {cut}"
    bad = branch.format(d=d)
    text = f"where(not {guard}, 0.25, {bad} + 1)" if negate else f"where({guard}, {bad} + 1, 0.25)"
    sched = lrdsl.compile(text)
    grid = np.arange(80)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = sched.values(grid)
        scalar = [sched(int(i)) for i in grid]
    assert values.tolist() == scalar
    assert np.isfinite(values).all()


# -- every evaluation path ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness():
    for framework in ("torch", "jax", "optax", "keras"):
        pytest.importorskip(framework)
    import backends

    return backends


FIXED = [
    ("recur(lr * 0.99)", {"steps": 300, "base": 0.1, "total": 300}),
    ("recur(lr * 0.99)", {"steps": 300, "base": 0.1}),
    ("recur(lr * (1 - 0.001 * k), every=3)", {"steps": 200, "base": 0.05}),
    ("recur(where(ep < 10, lr, lr * e ** -0.1), every=1ep)", {"steps": 200, "base": 0.01, "steps_per_epoch": 10}),
    ("recur(where(lr > 0.5, lr / 2, lr * 1.5))", {"steps": 60}),
    ("recur(where(lr > 0.5, lr / 2, lr * 1.5))", {"steps": 60, "total": 60}),
    ("warmup(10) then recur(lr + 0.001 * sqrt(k), every=5) for 50 then cosine(T=40)", {"steps": 120, "base": 0.1}),
    ("recur(max(lr - 0.002, 0.001), every=1ep, start=0.02)", {"steps": 90, "steps_per_epoch": 3, "total": "30ep"}),
    *((text, {"steps": 30}) for text in GUARDED),
]


@st.composite
def recurrences(draw):
    """A random recurrence or condition: a factor, a term or a general update, guarded or not."""
    every = draw(st.integers(1, 7))
    rate = draw(st.sampled_from(["0.9", "0.99", "0.5", "1.01", "0.995"]))
    # a divisor of 0.5 doubles the rate each step: past float32's range (3.4e38) within 300 steps,
    # where jax.jit in float32 can only give inf. Exactness is asked of rates the dtype can hold.
    divisor = draw(st.sampled_from(["0.9", "0.99", "1.01", "0.995"]))
    cut = draw(st.integers(0, 40))
    update = draw(
        st.sampled_from(
            [
                f"lr * {rate}",
                f"where(k < {cut}, lr, lr * {rate})",
                f"lr * (1 - 0.002 * k) / {divisor}",
                f"lr + 0.001 * where(it >= {cut}, 1, -0.1)",
                f"where(lr > 0.05 and k > {cut}, lr * {rate}, min(lr * 1.1, 0.2))",
                f"max(lr * {rate}, 0.001)",
            ]
        )
    )
    text = f"recur({update}, every={every})"
    if draw(st.booleans()):
        text = f"warmup({draw(st.integers(1, 30))}) then {text}"
    total = draw(st.sampled_from([None, 300]))
    return text, {"steps": 300, "base": 0.1, "total": total}


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(random=st.lists(recurrences(), min_size=8, max_size=8))
def test_recurrences_and_conditions_are_exact_on_every_path(harness, random):
    cases = [harness.Case(text, **options) for text, options in [*FIXED, *random]]
    found = [line for case, values in zip(cases, harness.evaluate(cases)) for line in harness.problems(case, values)]
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)
