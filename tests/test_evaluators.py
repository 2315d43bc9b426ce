"""The scalar and the vectorised evaluator have one meaning; the printer round-trips every AST."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import lrdsl
from lrdsl import ast
from lrdsl.errors import PhaseError
from lrdsl.vocabulary import KEYWORDS

# Every core node and every combinator, over long ranges.
EXPRESSIONS = [
    "constant(0.3)",
    "power(s=50, c=1.5)",
    "inverse_time(d=0.5, s=100)",
    "inverse_time(d=0.5, s=100, staircase=true)",
    "exp(s=500, rate=0.3)",
    "exp(s=500, rate=0.3, staircase=true)",
    "step(s=700, gamma=0.5)",
    "linear(T=3000, start=0.2, end=0.9)",
    "warmup(T=1000)",
    "cosine(T=10000, end=1e-5)",
    "warmup(T=500) then cosine(T=9500, end=1e-5)",
    "constant(0.1) for 100 then step(s=300) for 2000 then exp(s=1000, rate=0.5)",
    "(warmup(T=50) then cosine(T=450)) * 0.5 + 0.1 * exp(s=2000)",
    "min(cosine(T=5000), max(0.2, exp(s=1000)))",
    "clip(linear(T=4000, start=0, end=2), 0.1, 0.9)",
    "base * 0.5 ** floor(it / 700)",
    "1 / sqrt(max(it, 1)) + abs(sin(it / 100)) + ceil(it / 1000) + log(it + 1) + cos(it / 7) ** 2",
    "-cosine(T=1000) + 1.5 - 0.5 * (1 - progress)",
    "warmup(T=5ep) then cosine(end=1e-5)",
    "sgdr(T=100, mult=2, decay=0.8, end=1e-5)",
    "sgdr(T=1000, mult=0.7, times=6)",
    'cyclic(up=200, down=133, low=0.01, high=0.5, mode="triangular2")',
    'cyclic(up=50, low=0.01, mode="exp_range", gamma=0.999)',
    "onecycle(T=15000)",
    'onecycle(T=9000, pct=0.25, anneal="linear", three_phase=true)',
    "repeat(warmup(T=50) then cosine(T=450), times=20, mult=1.5, decay=0.9)",
    "warmup(T=300) then sgdr(T=700, mult=2)",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_scalar_and_vector_agree_over_long_ranges(text):
    sched = lrdsl.compile(text, base=0.8, steps_per_epoch=37, total=20_000)
    points = np.arange(0, 25_000, 3)
    vector = sched.values(points)
    scalar = np.array([sched(int(i)) for i in points])
    np.testing.assert_allclose(vector, scalar, rtol=1e-12, atol=1e-300)
    shuffled = np.random.default_rng(0).permutation(points)  # the unsorted path too
    np.testing.assert_allclose(sched.values(shuffled), [sched(int(i)) for i in shuffled], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(sched.values(points.reshape(-1, 1)).ravel(), scalar, rtol=1e-12, atol=1e-300)


# -- random valid schedules: the two evaluators agree ------------------------------------------

lengths = st.integers(1, 400)
fractions = st.floats(0.0, 1.0, allow_nan=False)


def _leaf():
    return st.one_of(
        st.builds("constant({:.6g})".format, fractions),
        st.builds("cosine(T={}, end={:.6g})".format, lengths, fractions),
        st.builds("warmup(T={}, start={:.6g})".format, lengths, fractions),
        st.builds("linear(T={}, start={:.6g}, end={:.6g})".format, lengths, fractions, fractions),
        st.builds("step(s={}, gamma={:.6g})".format, lengths, fractions),
        st.builds(
            "exp(s={}, rate={:.6g}, staircase={})".format, lengths, fractions, st.sampled_from(["true", "false"])
        ),
        st.builds("power(s={}, c={:.6g})".format, lengths, st.floats(0, 3)),
        st.builds("inverse_time(d={:.6g}, s={})".format, st.floats(0, 3), lengths),
        st.just("0.5 * (1 + cos(pi * progress))"),
        st.just("1 / sqrt(it + 1)"),
    )


def _combine(children):
    return st.one_of(
        st.builds("({}) + ({})".format, children, children),
        st.builds("({}) * ({})".format, children, children),
        st.builds("min({}, {})".format, children, children),
        st.builds("max({}, {})".format, children, children),
        st.builds("clip({}, 0.1, 0.7)".format, children),
        st.builds("({}) for {} then ({})".format, children, lengths, children),
    )


schedules = st.recursive(_leaf(), _combine, max_leaves=6)


@settings(max_examples=150, deadline=None)
@given(schedules, st.floats(0.01, 2.0))
def test_random_schedules_agree(text, base):
    try:
        sched = lrdsl.compile(text, base=base, total=1000)
    except PhaseError:  # e.g. a nested phase left with no room: a correct compile-time error
        assume(False)
    points = np.arange(0, 1200, 7)
    np.testing.assert_allclose(sched.values(points), [sched(int(i)) for i in points], rtol=1e-12, atol=1e-300)


# -- random ASTs: the printer round-trips ------------------------------------------------------

names = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in KEYWORDS)
numbers = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False))
atoms = st.one_of(
    st.builds(ast.Number, numbers),
    st.builds(ast.Duration, st.one_of(st.integers(0, 10**6), st.floats(0, 1e6)), st.sampled_from(["it", "ep", "%"])),
    st.builds(ast.String, st.from_regex(r"[a-z0-9 _.]{0,8}", fullmatch=True)),
    st.builds(ast.Boolean, st.booleans()),
    st.builds(ast.Name, names),
    st.builds(ast.Variable, st.from_regex(r"[a-z_][a-z0-9_]{0,5}(\.[a-z_][a-z0-9_]{0,3})?", fullmatch=True)),
)


def _not_a_literal_number(node):
    return not isinstance(node, ast.Number)  # the parser folds -<number> into a negative number


def _calls(children):
    keyword_lists = st.lists(st.tuples(names, children), max_size=3, unique_by=lambda kv: kv[0]).map(tuple)
    return st.builds(ast.Call, names, st.lists(children, max_size=3).map(tuple), keyword_lists)


def _sequences(children):
    phases = st.lists(st.builds(ast.Phase, children, st.one_of(st.none(), atoms)), min_size=1, max_size=3)
    valid = phases.filter(lambda ps: len(ps) > 1 or ps[0].length is not None)
    return st.builds(ast.Phases, valid.map(tuple))


def _compound(children):
    return st.one_of(
        st.builds(ast.BinOp, st.sampled_from(["+", "-", "*", "/", "**"]), children, children),
        st.builds(ast.Neg, children.filter(_not_a_literal_number)),
        st.builds(ast.ListExpr, st.lists(children, max_size=3).map(tuple)),
        st.builds(ast.TupleExpr, st.lists(children, min_size=1, max_size=3).map(tuple)),
        _calls(children),
        _sequences(children),
    )


trees = st.recursive(atoms, _compound, max_leaves=12)


@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the recursive strategy's own repr
@settings(max_examples=400, deadline=None)
@given(trees)
def test_random_asts_round_trip_through_the_printer(tree):
    assert lrdsl.parse(str(tree)) == tree


def test_agreement_is_not_vacuous():
    """A deliberately different pair of evaluations is caught by the same comparison."""
    sched = lrdsl.compile("cosine(T=100)")
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(sched.values(np.arange(100)), [sched(i + 1) for i in range(100)], rtol=1e-12)
    assert math.isclose(sched(50), 0.5)
