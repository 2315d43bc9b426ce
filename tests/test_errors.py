"""docs/language.md §12: every bad input ends in an LRDSLError whose message a person can act on."""

import math

import numpy as np
import pytest

import lrdsl
from lrdsl.errors import EvaluationError, ParameterError, PhaseError, UnitError, UnknownNameError


def error_of(text, kind=lrdsl.LRDSLError, **options):
    with pytest.raises(kind) as info:
        lrdsl.compile(text, **options)
    return str(info.value)


def test_unknown_node_suggests_the_closest_names():
    message = error_of("warmup(T=5) then cosin(T=10)", UnknownNameError)
    assert "unknown schedule or function node 'cosin'" in message
    assert "did you mean 'cosine'" in message and "line 1, column 18" in message


def test_unknown_parameter_suggests_the_closest_and_lists_the_signature():
    message = error_of("cosine(T=10, edn=0.1)", UnknownNameError)
    assert "unknown parameter 'edn'" in message and "did you mean 'end'" in message
    assert "cosine(T, end=0, base=b)" in message


def test_unknown_identifier_and_variable():
    assert "did you mean 'progress'" in error_of("1 - progres", UnknownNameError)
    message = error_of("$peak * cosine(T=10)", UnknownNameError, variables={"peak_lr": 0.1, "steps": 5})
    assert "unknown variable $peak" in message and "did you mean 'peak_lr'" in message
    assert "known variables: $peak_lr, $steps" in message


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("step(s=0)", ["step()", "s=0 is out of range", "> 0"]),
        ("exp(s=10, rate=-1)", ["exp()", "rate=-1 is out of range", ">= 0"]),
        ("cosine(T=-5ep)", ["cosine()", "T=", "out of range", "> 0"]),
        ("warmup(T=10, start=-0.1)", ["warmup()", "start=-0.1", ">= 0"]),
        ("cosine(T=cosine())", ["cosine()", "parameter T expects a duration", "got cosine(...)"]),
        ("cosine(T=10, end=cosine(T=3))", ["parameter end must be a number fixed in time"]),
        ('cosine(T="long")', ["parameter T expects a duration", "a string"]),
        ("exp(s=10, staircase=1)", ["parameter staircase expects true or false"]),
        ("cosine(T=10, end=it)", ["must be a number fixed in time"]),
        ("step(10, 0.1, 1, 2)", ["takes at most 3 positional arguments"]),
        ("step(gamma=0.5)", ["s is not given", "for <duration>"]),
        ("inverse_time(s=10)", ["missing required parameter 'd'"]),
        ("cosine(T=10, T=20)", ["given twice"]),
        ("step(10, s=5)", ["given both by position and by name"]),
        ("min()", ["expects one or more positional arguments"]),
        ("clip(1, 2)", ["missing required parameter 'hi'", "clip(x, lo, hi)"]),
        ("cosine(T=10) + 5it", ["a duration (5it) is only allowed as a length"]),
        ('cosine(T=10) * "x"', ["a string", "only allowed as a parameter value"]),
        ("inf * cosine(T=10)", ["'inf'", "only allowed where a count may be unbounded"]),
    ],
)
def test_wrong_types_and_ranges_name_node_parameter_given_and_allowed(text, fragments):
    message = error_of(text)
    for fragment in fragments:
        assert fragment in message, message


def test_missing_steps_per_epoch_names_what_to_pass():
    message = error_of("warmup(T=5ep) then step(s=100)", UnitError)
    assert "steps_per_epoch=" in message and "100 iterations" in message
    sched = lrdsl.compile("step(s=30ep)")
    with pytest.raises(UnitError, match="steps_per_epoch="):
        sched(100)
    with pytest.raises(UnitError, match="steps_per_epoch="):
        lrdsl.compile("step(s=30)")(epoch=3)
    assert "steps_per_epoch=" in error_of("1 - 0.01 * ep + 0 * it", UnitError)


def test_missing_total_names_what_to_pass():
    message = error_of("warmup(5%) then cosine(T=100)", UnitError)
    assert "total=" in message and "5%" in message


def test_a_non_final_phase_without_length_suggests_for():
    message = error_of("inverse_time(d=1) then cosine(T=10)", PhaseError)
    assert "phase 1 (inverse_time(d=1))" in message and "for <duration>" in message


def test_an_unknown_horizon_names_the_parameter():
    message = error_of("cosine()", PhaseError)
    assert "T is not given" in message and "total=" in message
    assert "progress" in error_of("1 - progress", PhaseError)


def test_phases_longer_than_total():
    assert "at or after the end" in error_of("warmup(T=50) then cosine()", PhaseError, total=40)


@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"base": -1}, "base learning rate"),
        ({"base": math.nan}, "base learning rate"),
        ({"steps_per_epoch": 0}, "steps_per_epoch"),
        ({"total": "cosine()"}, "training length"),
        ({"total": -5}, "positive"),
    ],
)
def test_bad_host_options(options, fragment):
    assert fragment in error_of("cosine(T=10)", **options)


def test_negative_values_raise_at_evaluation_naming_the_phase_and_time():
    sched = lrdsl.compile("warmup(T=5) then cosine(T=10) - 0.5")
    assert sched(7) > 0
    with pytest.raises(EvaluationError) as info:
        sched(12)
    message = str(info.value)
    assert "iteration 12" in message and "phase 2 (cosine(T=10) - 0.5)" in message and "local time 7" in message
    with pytest.raises(EvaluationError, match="gives -0.154.* at iteration 11 "):  # the first bad point
        sched.values(np.arange(20))


@pytest.mark.parametrize(
    "text", ["1 / (it - 3)", "log(5 - it)", "sqrt(3 - it)", "10 ** (it * 100)", "0 * cosine(T=10) / 0"]
)
def test_nan_and_infinity_never_come_out(text):
    sched = lrdsl.compile(text)
    with pytest.raises(EvaluationError):
        for t in range(10):
            sched(t)
    with pytest.raises(EvaluationError):
        sched.values(np.arange(10))


def test_bad_times():
    sched = lrdsl.compile("cosine(T=10)")
    with pytest.raises(EvaluationError, match=">= 0"):
        sched(-1)
    with pytest.raises(EvaluationError, match=">= 0"):
        sched(math.nan)
    with pytest.raises(lrdsl.LRDSLError, match="must be a real number, got '3'"):
        sched("3")
    with pytest.raises(lrdsl.LRDSLError, match="sched\\(i\\)"):
        sched()
    with pytest.raises(EvaluationError, match=">= 0"):
        sched.values([-1, 2])
    with pytest.raises(lrdsl.LRDSLError, match="must be real numbers, got strings"):
        sched.values(["a"])


def test_bad_metric():
    with pytest.raises(EvaluationError, match="finite"):
        lrdsl.compile("cosine(T=10)").report(math.nan)


def test_a_phase_that_ends_badly_cannot_seed_the_next():
    with pytest.raises(EvaluationError, match="phase 1"):
        lrdsl.compile("(1 - 2 * warmup(T=5)) then cosine(T=10)")


def test_variable_values_are_checked():
    assert "finite" in error_of("$x * cosine(T=10)", ParameterError, variables={"x": math.inf})
    assert "expected a number" in error_of("$x * cosine(T=10)", ParameterError, variables={"x": {}})
    assert "must not refer" in error_of("$x", ParameterError, variables={"x": "$y"})


def test_errors_are_value_errors_too():
    assert issubclass(lrdsl.LRDSLError, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: lrdsl.compile("$x", variables={1: 1}),
        lambda: lrdsl.compile("1", variables=[1]),
        lambda: lrdsl.compile("1", variables="a"),
        lambda: lrdsl.compile("cosine()", total=10**400),
        lambda: lrdsl.compile("$x", variables={"x": 10**400}),
        lambda: lrdsl.compile("cosine(T=10)")(10**400),
        lambda: lrdsl.compile("cosine(T=10)")(np.array([1, 2])),
        lambda: lrdsl.compile("cosine(T=10)").values([10**400]),
        lambda: lrdsl.compile("cosine(T=10)").load_state_dict(None),
        lambda: lrdsl.compile("cosine(T=10)").load_state_dict([]),
        lambda: lrdsl.compile("cosine(T=10)").load_state_dict({"expression": "cosine(T=10)", "nodes": 5}),
        lambda: lrdsl.compile("cosine(T=10)").load_state_dict({"expression": "cosine(T=10)", "base": 2.0}),
        lambda: lrdsl.compile("1 / 0"),
        lambda: lrdsl.compile("log(0)"),
        lambda: lrdsl.compile("(-1) ** 0.5"),
        lambda: lrdsl.compile("10 ** 400"),
        lambda: lrdsl.compile("e ** 1000 * cosine(T=10)"),
        lambda: lrdsl.compile("0.5 * repeat(warmup(T=3) then cosine(T=7), times=7, decay=1e300)").values(
            np.arange(0, 150, 7)
        ),
    ],
)
def test_hostile_inputs_end_in_lrdsl_errors(make):
    with pytest.raises(lrdsl.LRDSLError):
        make()


def test_overflow_is_reported_in_words():
    with pytest.raises(EvaluationError, match="too large for a float"):
        lrdsl.compile("10 ** 400")
    with pytest.raises(EvaluationError, match="too large for a float"):
        lrdsl.compile("10 ** (it * 100)")(5)


def test_the_compile_cache_keeps_true_and_one_apart():
    assert lrdsl.compile("$x * cosine(T=10)", variables={"x": 1})(0) == 1.0
    with pytest.raises(ParameterError, match="boolean"):
        lrdsl.compile("$x * cosine(T=10)", variables={"x": True})


def test_list_variables_may_be_any_sequence():
    assert lrdsl.compile("multistep(at=$m)", variables={"m": (3, 6)})(4) == pytest.approx(0.1)
