"""docs/language.md §12: no input string, however malformed, ends in anything but an LRDSLError (or a valid value)."""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrdsl
from lrdsl.plugins import default_registry

TOKENS = [
    "cosine",
    "warmup",
    "step",
    "exp",
    "linear",
    "poly",
    "cyclic",
    "onecycle",
    "sgdr",
    "repeat",
    "plateau",
    "piecewise",
    "multistep",
    "rsqrt",
    "constant",
    "power",
    "inverse_time",
    "min",
    "max",
    "clip",
    "floor",
    "sqrt",
    "log",
    "abs",
    "adam",
    "sgd",
    "then",
    "for",
    "it",
    "ep",
    "progress",
    "base",
    "lr0",
    "pi",
    "e",
    "inf",
    "nan",
    "T",
    "s",
    "end",
    "base",
    "at",
    "values",
    "times",
    "x",
    "mode",
    "up",
    "(",
    ")",
    "[",
    "]",
    ",",
    "=",
    "+",
    "-",
    "*",
    "/",
    "**",
    "0",
    "1",
    "-1",
    "0.5",
    "1e308",
    "1e-320",
    "10",
    "100",
    "5ep",
    "10%",
    "0it",
    "0ep",
    "200%",
    '"cos"',
    '"triangular2"',
    "true",
    "false",
    "$x",
    "$y",
    "#",
    "\n",
    " ",
]

EDGE_VALUES = [
    "0",
    "1",
    "-1",
    "0.5",
    "2",
    "1e-300",
    "1e300",
    "inf",
    "3ep",
    "50%",
    "0ep",
    "7",
    "1000",
    "[]",
    "[1, 2]",
    "[5, 3]",
    "[0.1, 0.2, 0.3]",
    "(0.9, 0.999)",
    "(1.5, 0.9)",
    '"cos"',
    '"linear"',
    '"triangular2"',
    '"exp_range"',
    '"max"',
    '"abs"',
    "true",
    "false",
    "cosine(T=10)",
    "warmup(T=3) then cosine(T=7)",
    "it",
]

token_strings = st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)
raw_strings = st.text(max_size=60)


def _names(kind):
    return sorted(spec.name for spec in default_registry() if spec.kind == kind)


@st.composite
def calls(draw, kind):
    """A call of any registered node of ``kind``, with some of its parameters set to edge values."""
    spec = default_registry().get(draw(st.sampled_from(_names(kind))))
    names = draw(st.lists(st.sampled_from([p.name for p in spec.params]), unique=True, max_size=len(spec.params)))
    arguments = ", ".join(f"{name}={draw(st.sampled_from(EDGE_VALUES))}" for name in names)
    return f"{spec.name}({arguments})"


@st.composite
def schedule_calls(draw):
    call = draw(calls("schedule"))
    return draw(
        st.sampled_from(
            [
                call,
                f"{call} for 20 then cosine(T=5)",
                f"warmup(T=3) then {call}",
                f"repeat({call} for 9, times=3)",
                f"0.5 * {call}",
            ]
        )
    )


def _exercise(text: str) -> None:
    try:
        sched = lrdsl.compile(text, total=100, steps_per_epoch=10, variables={"x": 0.5, "y": "5ep"})
    except lrdsl.LRDSLError:
        return
    for call in (
        lambda: sched(0),
        lambda: sched(37),
        lambda: sched(epoch=3.5),
        lambda: sched(10**9),
        lambda: sched.values(np.arange(0, 150, 7)),
        lambda: sched.report(0.3),
        sched.state_dict,
    ):
        try:
            result = call()
        except lrdsl.LRDSLError:
            continue
        if isinstance(result, float):
            assert math.isfinite(result) and result >= 0, (text, result)


def _exercise_optimizer(text: str) -> None:
    params = [np.ones(3)]
    try:
        opt = lrdsl.optimizer(text, params, total=100)
        opt.step([np.full(3, 0.1)])
    except lrdsl.LRDSLError:
        return
    assert np.isfinite(params[0]).all()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_strings)
def test_token_soup_only_raises_lrdsl_errors(text):
    _exercise(text)


@settings(max_examples=500, deadline=None)
@given(raw_strings)
def test_arbitrary_text_only_raises_lrdsl_errors(text):
    _exercise(text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule_calls())
def test_every_schedule_node_with_edge_arguments_only_raises_lrdsl_errors(text):
    _exercise(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_strings)
def test_optimizer_strings_only_raise_lrdsl_errors(text):
    _exercise_optimizer(text)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls("optimizer"))
def test_every_optimizer_with_edge_arguments_only_raises_lrdsl_errors(text):
    _exercise_optimizer(text)
