"""Exact on every backend: one string, one learning rate, whatever evaluates it.

Random schedules — every built-in node bare, and random compositions with ``then``, ``for``,
arithmetic, ``min``/``max``/``clip``, ``floor(it / k)`` and ``repeat``, with whole-number
periods and horizons (iterations, or epochs with a ``steps_per_epoch``) — are evaluated on
every path of :mod:`backends` (NumPy sorted and shuffled, the scalar evaluator, by epoch,
``jax.jit`` in float32 and float64, Keras on the torch and JAX backends, the torch bridge)
and held to :func:`backends.problems`. The same property runs over the example plugin's
nodes (plugins/lrdsl-extras, registered in-process). tests/fixtures/backend_regressions.txt
keeps every case that ever failed, each run on every path.

Differences of two schedules are left out of the random compositions: ``a - b`` where ``a`` and
``b`` nearly cancel keeps only the absolute precision of its operands, which float32 cannot turn
into the 1e-5 relative precision of the contract (a property of float32, not of lrdsl); the
evaluators' agreement on differences is tests/test_evaluators.py's, in float64.

One hypothesis example is a batch of ~25-40 schedules evaluated together (one Keras/JAX child
process and one XLA compilation per dtype per batch). Schedules lrdsl itself rejects (a compile
error, or a reference that raises because a difference went negative) are left out; every
other schedule must give the reference's values everywhere. Shrinking is off: a failure
already names each failing schedule, and shrinking would re-run whole batches. With the
profile below the file takes about 90 s on a 2-core machine when everything passes (measured:
46 s for the built-in property, 18 s for the plugin's, 13 s for the regression table).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

for framework in ("torch", "jax", "optax"):
    pytest.importorskip(framework)
pytest.importorskip("keras")  # importing Keras raises the recursion limit: do it before hypothesis runs

from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

import lrdsl
from backends import FLOAT32_PATHS, REFERENCE, Case, assert_exact, evaluate, parse_case, problems

PLUGIN = "plugins/lrdsl-extras/src/lrdsl_extras/__init__.py"
REGRESSIONS = Path(__file__).parent / "fixtures" / "backend_regressions.txt"

settings.register_profile(
    "backends",
    deadline=None,
    max_examples=10,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("backends")

# -- schedule strings ---------------------------------------------------------------------------------

factors = st.one_of(
    st.sampled_from(["0", "0.1", "0.5", "0.9", "1", "1e-05"]), st.floats(0.01, 1.0).map("{:.3g}".format)
)
rates = st.one_of(st.sampled_from(["0.1", "0.5", "0.9", "0.99"]), st.floats(0.05, 1.0).map("{:.3g}".format))
flags = st.sampled_from(["true", "false"])
periods = st.integers(1, 300)


def durations(epochs: bool):
    """Whole numbers of iterations, or (with a steps_per_epoch) sometimes of epochs."""
    iterations = periods.map(str)
    return st.one_of(iterations, st.integers(1, 30).map("{}ep".format)) if epochs else iterations


@st.composite
def piecewise(draw):
    at = sorted(draw(st.lists(st.integers(0, 3000), min_size=1, max_size=4)))
    values = draw(st.lists(factors, min_size=len(at) + 1, max_size=len(at) + 1))
    return f"piecewise(at=[{', '.join(map(str, at))}], values=[{', '.join(values)}])"


def builtin_nodes(d):
    """One strategy per built-in schedule node (plateau aside: it is metric-driven), durations from ``d``."""
    horizon = st.one_of(
        st.builds("cosine(T={})".format, d),
        st.builds("linear(T={}, end={})".format, d, factors),
        st.builds("poly(T={}, power=2)".format, d),
    )
    return [
        st.builds("constant({})".format, factors),
        st.builds("power(s={}, c={})".format, d, st.sampled_from(["0.5", "1", "1.5", "2"])),
        st.builds("inverse_time(d={}, s={}, staircase={})".format, st.sampled_from(["0.1", "0.5", "3"]), d, flags),
        st.builds("exp(s={}, rate={}, staircase={})".format, d, rates, flags),
        st.builds("step(s={}, gamma={})".format, d, rates),
        st.builds("multistep(at=[{}], gamma={})".format, st.lists(d, min_size=1, max_size=4).map(", ".join), rates),
        piecewise(),
        st.builds("linear(T={}, start={}, end={})".format, d, factors, factors),
        st.builds("warmup(T={}, start={})".format, d, factors),
        st.builds("cosine(T={}, end={})".format, d, factors),
        st.builds(
            "poly(T={}, power={}, end={})".format, d, st.sampled_from(["0.5", "1", "2", "3", "0.3", "1.5"]), factors
        ),
        st.builds(
            "sgdr(T={}, mult={}, decay={}, end={}, times={})".format,
            d,
            st.sampled_from("1234"),
            st.sampled_from(["1", "0.5", "0.9"]),
            factors,
            st.sampled_from(["inf", "1", "3"]),
        ),
        st.builds(
            'cyclic(up={}, down={}, low={}, high={}, mode="{}", gamma={})'.format,
            d,
            st.one_of(d, st.just("0")),
            factors,
            factors,
            st.sampled_from(["triangular", "triangular2", "exp_range"]),
            st.sampled_from(["1", "0.999", "0.99"]),
        ),
        st.builds(
            'onecycle(T={}, pct={}, div={}, final_div={}, anneal="{}", three_phase={})'.format,
            d,
            st.sampled_from(["0.3", "0.25", "0.1", "0.5"]),
            st.sampled_from(["25", "10", "3"]),
            st.sampled_from(["1e4", "100", "1"]),
            st.sampled_from(["cos", "linear"]),
            flags,
        ),
        st.builds("rsqrt(warmup={})".format, d),
        st.builds(
            "repeat({}, times={}, mult={}, decay={})".format,
            horizon,
            st.sampled_from(["inf", "1", "3"]),
            st.sampled_from(["1", "2", "1.5", "3"]),
            st.sampled_from(["1", "0.5"]),
        ),
    ]


def plugin_nodes(d):
    """The lrdsl-extras nodes, and two built-ins to compose them with."""
    return [
        st.builds("tanh_decay(T={}, k={}, end={})".format, d, st.sampled_from(["3", "1", "0.5", "6"]), factors),
        st.builds(
            "noam(warmup={}, d_model={}, scale={})".format,
            d,
            st.sampled_from(["512", "64", "1"]),
            st.sampled_from(["1", "0.5", "2"]),
        ),
        st.builds("warmup(T={})".format, d),
        st.builds("cosine(T={})".format, d),
    ]


def compositions(leaves, d):
    """Random trees over ``leaves`` with every combinator of the language."""
    others = [
        st.just("constant($peak)"),
        st.builds("base * {} ** floor(it / {})".format, rates, periods),
        st.builds("1 / sqrt(it / {} + 1)".format, periods),
    ]

    def extend(x):
        return st.one_of(
            st.builds("({}) then ({})".format, x, x),
            st.builds("({}) for {} then ({})".format, x, d, x),
            st.builds("({}) for {}".format, x, d),
            st.builds("({}) {} ({})".format, x, st.sampled_from(["+", "*"]), x),
            st.builds("({}) / (1 + ({}))".format, x, x),
            st.builds("({}) ** {}".format, x, st.sampled_from(["0.5", "2", "1.5"])),
            st.builds("{} * ({})".format, factors, x),
            st.builds("{}({}, {})".format, st.sampled_from(["min", "max"]), x, x),
            st.builds("clip({}, {}, {})".format, x, factors, factors),
            st.builds("({}) * {} ** floor(it / {})".format, x, rates, periods),
            st.builds(
                "repeat(({}) for {}, times={}, mult={}, decay={})".format,
                x,
                d,
                st.sampled_from(["inf", "2"]),
                st.sampled_from(["1", "2", "3"]),
                st.sampled_from(["1", "0.7"]),
            ),
        )

    return st.recursive(st.one_of(*leaves, *others), extend, max_leaves=4)


def strings(nodes):
    """Per clock (epochs allowed or not): each node bare, and random compositions."""
    result = {}
    for epochs in (False, True):
        d = durations(epochs)
        leaves = nodes(d)
        result[epochs] = (leaves, compositions(leaves, d))
    return result


@st.composite
def batches(draw, kinds, plugins=(), compositions_per_batch=(12, 24)):
    """A batch of cases on one grid: every node of ``kinds`` bare, then random compositions."""
    steps = draw(st.integers(1000, 3000))

    def case(pick):
        steps_per_epoch = draw(st.one_of(st.none(), st.integers(1, 20)))
        bare, composed = kinds[steps_per_epoch is not None]
        return Case(
            draw(pick(bare, composed)),
            steps,
            base=draw(st.sampled_from([1.0, 0.1, 3e-4, 0.5, 2.0])),
            steps_per_epoch=steps_per_epoch,
            variables={"peak": float(draw(factors))},
            plugins=plugins,
        )

    count = len(kinds[False][0])
    cases = [case(lambda bare, _, k=k: bare[k]) for k in range(count)]
    cases += [case(lambda _, composed: composed) for _ in range(draw(st.integers(*compositions_per_batch)))]
    return cases


BUILTIN_STRINGS = strings(builtin_nodes)
PLUGIN_STRINGS = strings(plugin_nodes)


def accepted(cases):
    """The distinct cases lrdsl itself evaluates: no compile error, a reference that does not raise."""
    kept = []
    for case in {str(case): case for case in cases}.values():
        try:
            lrdsl.compile(case.text, **case.options()).values(np.arange(case.steps))
        except lrdsl.LRDSLError:
            continue
        kept.append(case)
    return kept


def check(cases):
    kept = accepted(cases)
    note(f"{len(kept)} of {len(cases)} schedules accepted by lrdsl")
    assert_exact(kept)


@pytest.mark.slow
@PROFILE
@given(batches(BUILTIN_STRINGS))
def test_builtin_nodes_and_compositions_are_exact_on_every_backend(cases):
    check(cases)


@pytest.mark.slow
@settings(PROFILE, max_examples=4)
@given(batches(PLUGIN_STRINGS, plugins=(PLUGIN,), compositions_per_batch=(16, 24)))
def test_plugin_nodes_are_exact_on_every_backend(cases):
    check(cases)


# -- the regression table --------------------------------------------------------------------------------

CASES = [parse_case(line) for line in REGRESSIONS.read_text().splitlines() if line.strip() and line[0] != "#"]


@pytest.fixture(scope="module")
def regression_values():
    """Every regression case on every path, in one batch."""
    return evaluate(CASES)


@pytest.mark.parametrize("index", range(len(CASES)), ids=[str(case)[:70] for case in CASES])
def test_regression_is_exact_on_every_backend(index, regression_values):
    found = problems(CASES[index], regression_values[index])
    assert not found, "\n".join(found)


# -- the contract can fail ------------------------------------------------------------------------------


def test_the_contract_catches_what_it_must_and_allows_rounding():
    case = Case("step(s=49, gamma=0.5)", 100)
    reference = 0.5 ** np.floor(np.arange(100) / 49)
    missed = reference.copy()
    missed[49] = 1.0  # a decay one iteration late
    rounded32 = (reference * (1 + 3e-6)).astype(np.float32).astype(np.float64)
    tiny = reference.copy()
    tiny[60] += 1e-12  # within 4 float64 ulps of the peak
    ok = {REFERENCE: reference, "sched(i)": tiny, "jax.jit f32": rounded32, "keras[jax]": reference * (1 + 9e-6)}
    assert problems(case, ok) == []
    bad = {
        REFERENCE: reference,
        "jax.jit f64": missed,
        "sched(i)": reference * (1 + 2e-9),
        "jax.jit f32": np.where(np.arange(100) == 3, np.nan, reference),
        "keras[torch]": reference * (1 - 2e-5),
        "torch ScheduleLR": "EvaluationError: negative",
        "keras[jax]": reference[:50],
    }
    found = problems(case, bad)
    assert [line.split(":")[0] for line in found] == [path for path in bad if path != REFERENCE]
    assert "first [49]: got [1], reference [0.5]" in found[0] and "step(s=49, gamma=0.5) | steps=100" in found[0]
    zero = {REFERENCE: np.zeros(3), "jax.jit f32": np.array([0.0, -1e-30, 0.0])}
    assert "first [1]" in problems(Case("0", 3), zero)[0]  # negative, however small


# -- exact ends -------------------------------------------------------------------------------------------

ENDS = [  # (schedule, base, its value at t = 0, its value from t = 40 on): every node with a horizon
    ("warmup(T=40, start=0.01)", 0.3, 0.01, 0.3),
    ("linear(T=40, start=0.7, end=0.02)", 1.0, 0.7, 0.02),
    ("cosine(T=40, end=0.001)", 0.3, 0.3, 0.001),
    ("cosine(T=40, end=0.9)", 3e-4, 3e-4, 0.9),
    ("poly(T=40, power=0.5, end=0.001)", 0.1, 0.1, 0.001),
    ("poly(T=40, power=2)", 0.1, 0.1, 0.0),
    ("sgdr(T=40, end=0.002, times=1)", 0.1, 0.1, 0.002),
    ('onecycle(T=41, anneal="linear")', 0.1, 0.1 / 25, 0.1 / 25 / 1e4),
    ("onecycle(T=41)", 0.1, 0.1 / 25, 0.1 / 25 / 1e4),
    ("tanh_decay(T=40, k=0.5, end=1)", 0.5, 0.5, 1.0),
    ("tanh_decay(T=40, k=3, end=0.001)", 0.2, 0.2, 0.001),
]


def test_start_and_end_values_are_exact_on_every_path():
    """A node's value at t = 0 and past its horizon is exactly its start and end value, on every path
    (in the path's dtype): nothing an ulp off that a later difference could turn negative."""
    cases = [Case(text, 60, base=base, plugins=(PLUGIN,)) for text, base, _, _ in ENDS]
    for case, (_, _, start, end), values in zip(cases, ENDS, evaluate(cases)):
        for path, got in values.items():
            dtype = np.float32 if path in FLOAT32_PATHS else np.float64
            assert got[0] == dtype(start) and (got[40:] == dtype(end)).all(), (path, str(case), got[0], got[40:])
