"""The authoring API: a node is declared once (typed signature + checks + docstring), and a
schedule formula written against ``xp`` serves the scalar and the vectorised evaluator alike."""

import math
from typing import List, Tuple

import numpy as np
import pytest

import lrdsl
from lrdsl.authoring import (
    BASE,
    Count,
    Duration,
    between,
    built_schedule_node,
    function_node,
    nonnegative,
    one_of,
    positive,
    schedule_node,
    spec_of,
)
from lrdsl.errors import PluginError
from lrdsl.kinds import KINDS
from lrdsl.plugins import build_registry
from lrdsl.scalarmath import SCALAR
from lrdsl.specs import REQUIRED, Param

seen_namespaces = []


@schedule_node(
    "bumpy",
    aliases=("bumps",),
    horizon="T",
    checks={"T": positive, "k": between(0, 10, low_open=True), "mode": one_of("tanh", "exp")},
)
def bumpy(xp, t, T: Duration, k: float = 3.0, mode: str = "tanh", floored: bool = False, base: float = BASE):
    """Bumpy decay: base · (1 − f(k·p)/f(k)) + 0.1·base·[p < 1/2], p = min(t, T)/T.

    - f is tanh or 1 − exp(−x) (``mode``); ``floored`` rounds p down to tenths
    """
    seen_namespaces.append(xp)
    p = xp.minimum(t, T) / T
    if floored:  # a branch on a parameter (a Python value) is fine; never branch on t
        p = xp.floor(p * 10) / 10
    if mode == "tanh":
        shape = xp.tanh(k * p) / math.tanh(k)
    else:
        shape = (1 - xp.exp(-k * p)) / (1 - math.exp(-k))
    return base * (1 - shape) + xp.where(p < 0.5, 0.1 * base, 0.0)


@pytest.fixture
def registry():
    registry = build_registry(entry_points=False)
    registry.add(bumpy, "test-authoring")
    yield registry
    registry.remove("bumpy")
    assert "bumps" not in registry


def test_the_declaration_comes_from_the_signature_checks_and_docstring():
    spec = spec_of(bumpy)
    assert spec.kind == "schedule" and spec.names == ("bumpy", "bumps") and spec.horizon == "T"
    assert [(p.name, p.kind.name, p.default) for p in spec.params] == [
        ("T", "duration", REQUIRED),
        ("k", "number", 3.0),
        ("mode", "string", "tanh"),
        ("floored", "bool", False),
        ("base", "number", BASE),
    ]
    assert spec.param("k").check.text == "in (0, 10]" and spec.param("T").check is positive
    assert spec.signature() == 'bumpy(T, k=3, mode="tanh", floored=false, base=b)'
    assert spec.summary.startswith("Bumpy decay: base")
    assert "f is tanh" in spec.doc


def test_a_declared_formula_stays_a_plain_function():
    expected = 1 - (1 - math.exp(-1.5)) / (1 - math.exp(-3))
    assert bumpy(SCALAR, 50.0, 100.0, mode="exp", base=1.0) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "bumpy(T=100)",
        'bumps(T=100, k=0.5, mode="exp", floored=true)',
        "warmup(T=10) then bumpy(T=50, k=7) then bumpy(k=1)",
        "min(bumpy(T=80), 0.9 * cosine(T=120)) + 0.01",
    ],
)
def test_a_formula_written_once_against_xp_runs_in_the_scalar_and_the_vectorised_evaluator(registry, text):
    sched = lrdsl.compile(text, base=1.0, total=200, registry=registry)
    points = np.arange(0, 260)
    seen_namespaces.clear()
    scalars = [sched(int(i)) for i in points]
    assert set(map(id, seen_namespaces)) == {id(SCALAR)}, "the scalar evaluator must use plain floats"
    assert all(type(value) is float for value in scalars)
    seen_namespaces.clear()
    vector = sched.values(points)
    assert set(map(id, seen_namespaces)) == {id(np)}
    assert vector.dtype == np.float64 and vector.shape == points.shape
    np.testing.assert_allclose(vector, scalars, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sched.array_function(np)(points), scalars, rtol=1e-12, atol=1e-15)
    assert len(set(np.round(scalars, 9))) > 5  # the schedule really varies


def test_the_formula_gives_the_documented_values(registry):
    sched = lrdsl.compile("bumpy(T=100)", base=2.0, registry=registry)
    assert sched(0) == pytest.approx(2.2)
    assert sched(100) == pytest.approx(0.0, abs=1e-15) and sched(150) == pytest.approx(0.0, abs=1e-15)
    assert sched(50) == pytest.approx(2.0 * (1 - math.tanh(1.5) / math.tanh(3)))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("bumpy(T=100, k=0)", "k=0 is out of range; allowed: in (0, 10]"),
        ("bumpy(T=100, k=11)", "k=11 is out of range; allowed: in (0, 10]"),
        ('bumpy(T=100, mode="sine")', 'mode="sine" is out of range; allowed: one of "tanh", "exp"'),
        ("bumpy(T=100, floored=1)", "parameter floored expects true or false"),
        ("bumpy(T=0)", "T=0 is out of range; allowed: > 0"),
        ("bumpy(T=100, kk=2)", "unknown parameter 'kk'; did you mean 'k'?"),
    ],
)
def test_every_use_is_validated_against_the_declaration(registry, text, fragment):
    with pytest.raises(lrdsl.LRDSLError) as info:
        lrdsl.compile(text, registry=registry)
    assert fragment in str(info.value)


def test_parameter_types_map_to_kinds():
    @schedule_node()
    def typed(xp, t, a: int, b: Count, c: List[Duration], d: List[float], e: Tuple[float, ...], f: bool = True):
        """Typed."""
        return t

    assert [p.kind.name for p in spec_of(typed).params] == [
        "integer",
        "count",
        "durations",
        "numbers",
        "numbers_tuple",
        "bool",
    ]
    assert Param("f", KINDS["count"], math.inf).describe() == "f=inf"


def test_function_and_built_nodes_have_their_kinds():
    @function_node("twice")
    def twice_(xp, x: float):
        """twice(x) = 2x."""
        return 2 * x

    @built_schedule_node(horizon="T")
    def built(context, T: Duration):
        """Built."""

    twice, built = spec_of(twice_), spec_of(built)
    assert (twice.kind, twice.name, twice.evaluate is twice_) == ("function", "twice", True)
    assert (built.kind, built.build is not None, built.formula) == ("schedule", True, None)


@pytest.mark.parametrize(
    "declare, fragment",
    [
        (lambda: schedule_node()(lambda xp, t, T: t), "parameter 'T' needs a type annotation"),
        (
            lambda: schedule_node(checks={"T": nonnegative, "S": positive})(_one_duration),
            "checks name unknown parameters ['S']",
        ),
        (lambda: schedule_node(checks={"T": "> 0"})(_one_duration), "checks['T'] is a str; use positive"),
        (lambda: schedule_node(horizon="base")(_one_duration), "horizon 'base' must name a Duration parameter"),
        (lambda: built_schedule_node(horizon="nope")(lambda context, T: None), "needs a type annotation"),
        (lambda: schedule_node()(_bad_annotation), "unsupported annotation"),
    ],
)
def test_declaration_mistakes_are_plugin_errors_naming_the_function(declare, fragment):
    with pytest.raises(PluginError) as info:
        declare()
    assert fragment in str(info.value)
    assert isinstance(info.value, lrdsl.LRDSLError)


def _one_duration(xp, t, T: Duration, base: float = BASE):
    """One duration."""
    return base


def _bad_annotation(xp, t, T: dict):
    """Bad."""
    return t


def test_checks_reject_wrong_types_instead_of_raising():
    assert not positive("x") and positive(1) and not positive(0)
    assert between(0, 1)(0) and not between(0, 1, low_open=True)(0) and between(0, 1).text == "in [0, 1]"
