"""The semantics of docs/language.md §4–§9 and the core nodes of §10, each against its formula written out
in the test."""

import math

import numpy as np
import pytest

import lrdsl

T_RANGE = range(260)


def values(text, points=T_RANGE, **options):
    sched = lrdsl.compile(text, **options)
    return [sched(t) for t in points]


def close(actual, expected, rel=1e-12):
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a == pytest.approx(e, rel=rel, abs=1e-300), f"at {index}: {a} != {e}"


# -- §5 core nodes, value tables from their formulas -------------------------------------------

NODE_FORMULAS = {
    "constant(0.3)": lambda t: 0.3,
    "constant()": lambda t: 0.7,  # value defaults to the incoming base (base=0.7 below)
    "power(s=20, c=1.5)": lambda t: 0.7 / (1 + t / 20) ** 1.5,
    "power(s=20, c=2, base=0.1)": lambda t: 0.1 / (1 + t / 20) ** 2,
    "inverse_time(d=0.5, s=10)": lambda t: 0.7 / (1 + 0.5 * t / 10),
    "time_based(0.5, 10, true)": lambda t: 0.7 / (1 + 0.5 * math.floor(t / 10)),
    "exp(s=25, rate=0.5)": lambda t: 0.7 * 0.5 ** (t / 25),
    "exponential(s=25, staircase=true)": lambda t: 0.7 * 0.1 ** math.floor(t / 25),
    "exp(s=1, rate=0.97, base=2)": lambda t: 2 * 0.97**t,
    "step(s=30)": lambda t: 0.7 * 0.1 ** math.floor(t / 30),
    "step(s=7, gamma=0.5, base=1)": lambda t: 0.5 ** math.floor(t / 7),
    "linear(T=100)": lambda t: 0.7 + (0 - 0.7) * min(t, 100) / 100,
    "linear(T=50, start=0.1, end=0.9)": lambda t: 0.1 + 0.8 * min(t, 50) / 50,
    "warmup(T=40)": lambda t: 0.7 * min(t, 40) / 40,
    "warmup(T=40, start=0.1, base=0.5)": lambda t: 0.1 + 0.4 * min(t, 40) / 40,
    "cosine(T=200)": lambda t: 0.7 * (1 + math.cos(math.pi * min(t, 200) / 200)) / 2,
    "cosine(T=200, end=0.01)": lambda t: 0.01 + 0.69 * (1 + math.cos(math.pi * min(t, 200) / 200)) / 2,
    "cosine(T=100, end=1, base=0.1)": lambda t: 1 + (0.1 - 1) * (1 + math.cos(math.pi * min(t, 100) / 100)) / 2,
}


@pytest.mark.parametrize("text", NODE_FORMULAS)
def test_node_value_table(text):
    close(values(text, base=0.7), [NODE_FORMULAS[text](t) for t in T_RANGE])


def test_the_design_card_example_has_its_exact_values():
    sched = lrdsl.compile("step(base=0.1, s=10) then exp(s=5)")
    for t in range(10):
        assert sched(t) == 0.1
    assert sched(10) == pytest.approx(0.01, rel=1e-15)
    for t in range(10, 200):
        assert sched(t) == pytest.approx(0.01 * 0.1 ** ((t - 10) / 5), rel=1e-12)


# -- §4.3 phases -----------------------------------------------------------------------------


def test_warmup_peaks_exactly_where_the_cosine_starts():
    sched = lrdsl.compile("warmup(T=5ep) then cosine(T=95ep)", base=0.4)
    assert [sched(epoch=e) for e in range(6)] == pytest.approx([0.0, 0.08, 0.16, 0.24, 0.32, 0.4], rel=1e-15)
    assert sched(epoch=5) == 0.4  # exactly the peak
    close(
        [sched(epoch=e) for e in range(5, 101)], [0.2 * (1 + math.cos(math.pi * (e - 5) / 95)) for e in range(5, 101)]
    )
    assert sched(epoch=500) == 0.0  # past its horizon the last phase holds its end value


def test_horizon_left_unset_takes_the_rest_of_total():
    sched = lrdsl.compile("warmup(5%) then cosine(end=1e-5)", base=3e-4, total="100ep")
    close(
        [sched(epoch=e) for e in range(5, 101)],
        [1e-5 + (3e-4 - 1e-5) * (1 + math.cos(math.pi * (e - 5) / 95)) / 2 for e in range(5, 101)],
    )
    assert sched(epoch=2.5) == pytest.approx(1.5e-4)


def test_for_sets_a_phase_length_and_the_horizon_defaults_to_it():
    sched = lrdsl.compile("cosine() for 20 then constant(0.05)")
    close([sched(t) for t in range(20)], [(1 + math.cos(math.pi * t / 20)) / 2 for t in range(20)])
    assert sched(20) == 0.05 and sched(10_000) == 0.05


def test_for_shorter_than_the_horizon_cuts_the_phase():
    sched = lrdsl.compile("cosine(T=100) for 10 then linear(T=10)")
    end = (1 + math.cos(math.pi * 10 / 100)) / 2
    assert sched(9) == pytest.approx((1 + math.cos(math.pi * 9 / 100)) / 2)
    assert sched(10) == pytest.approx(end)  # the linear phase starts from the cosine's value at 10
    assert sched(15) == pytest.approx(end / 2)
    assert sched(20) == 0.0


def test_each_phase_sees_local_time_and_inherits_the_previous_end_value():
    sched = lrdsl.compile("constant(0.2) for 3 then exp(s=1, rate=0.5) for 4 then step(s=2)")
    assert [sched(t) for t in range(3)] == [0.2] * 3
    close([sched(t) for t in range(3, 7)], [0.2 * 0.5**k for k in range(4)])
    base3 = 0.2 * 0.5**4  # the exp phase's value at its end (local time 4)
    close([sched(t) for t in range(7, 15)], [base3 * 0.1 ** ((t - 7) // 2) for t in range(7, 15)])


def test_boundaries_are_half_open():
    sched = lrdsl.compile("constant(1) for 10 then constant(2)")
    assert (sched(9.999), sched(10)) == (1, 2)


def test_the_last_phase_runs_forever_without_total():
    sched = lrdsl.compile("warmup(T=10) then exp(s=10, rate=0.5)")
    assert sched(1010) == pytest.approx(0.5**100)


def test_the_last_phase_holds_after_total():
    sched = lrdsl.compile("warmup(T=10) then exp(s=10, rate=0.5)", total=50)
    assert sched(50) == pytest.approx(0.5**4)
    assert sched(80) == sched(50)


def test_nested_sequences_have_the_sum_of_their_phases_as_length():
    sched = lrdsl.compile("(warmup(T=2) then constant() for 3) * 2 then constant(0.1)")
    # warmup: 0, 0.5; constant() inherits warmup's end value 1.0; the product lasts 2 + 3
    assert [sched(t) for t in range(7)] == [0.0, 1.0, 2.0, 2.0, 2.0, 0.1, 0.1]


def test_a_multiplied_schedule_keeps_its_natural_length():
    sched = lrdsl.compile("0.5 * cosine(T=10) then constant(0.3)")
    assert sched(9) == pytest.approx(0.25 * (1 + math.cos(math.pi * 0.9)))
    assert sched(10) == 0.3


# -- §4.2 incoming base and §4.4 arithmetic -----------------------------------------------------


def test_incoming_base_is_the_host_base_and_base_overrides_it():
    assert lrdsl.compile("cosine(T=10)", base=0.3)(0) == 0.3
    assert lrdsl.compile("cosine(T=10, base=0.2)", base=0.3)(0) == 0.2
    assert lrdsl.compile("0.1 * cosine(T=10)", base=2)(0) == pytest.approx(0.2)
    assert lrdsl.compile("cosine(T=10)")(0) == 1.0  # 1.0 when none is given


def test_arithmetic_is_pointwise_and_operands_share_the_incoming_base():
    sched = lrdsl.compile("(cosine(T=10) + warmup(T=10)) / 2 - 0.1 * step(s=3) ** 2", base=0.5)
    for t in range(15):
        cos = 0.25 * (1 + math.cos(math.pi * min(t, 10) / 10))
        expected = (cos + 0.5 * min(t, 10) / 10) / 2 - 0.1 * (0.5 * 0.1 ** (t // 3)) ** 2
        assert sched(t) == pytest.approx(expected, rel=1e-12)


def test_min_max_clip_and_math_functions():
    sched = lrdsl.compile("clip(min(cosine(T=100), max(0.2, exp(s=10))), 0.25, 0.9)")
    for t in range(120):
        inner = min((1 + math.cos(math.pi * min(t, 100) / 100)) / 2, max(0.2, 0.1 ** (t / 10)))
        assert sched(t) == pytest.approx(min(max(inner, 0.25), 0.9))
    functions = lrdsl.compile(
        "floor(it / 3) + ceil(it / 3) + sqrt(it) + log(it + 1) + cos(it) + sin(it) + 2 + abs(sin(it))"
    )
    for t in range(50):
        expected = (
            math.floor(t / 3)
            + math.ceil(t / 3)
            + math.sqrt(t)
            + math.log(t + 1)
            + math.cos(t)
            + math.sin(t)
            + 2
            + abs(math.sin(t))
        )
        assert functions(t) == pytest.approx(expected)


# -- §4.5 identifiers ------------------------------------------------------------------------


def test_lambda_lr_as_an_expression():
    sched = lrdsl.compile("base * 0.5 ** floor(it / 7)", base=0.05)
    close(values("base * 0.5 ** floor(it / 7)", base=0.05), [0.05 * 0.5 ** (t // 7) for t in T_RANGE])
    assert sched(6) == 0.05


def test_identifiers():
    sched = lrdsl.compile("warmup(T=4) then lr0 * 0 + base * (1 - progress) + pi * 0 + e * 0", base=0.8, total=24)
    close([sched(t) for t in range(4, 30)], [0.8 * (1 - min((t - 4) / 20, 1)) for t in range(4, 30)])
    by_epoch = lrdsl.compile("0.1 * ep + 0.001 * it", steps_per_epoch=10)
    assert by_epoch(25) == pytest.approx(0.1 * 2.5 + 0.025)
    assert by_epoch(epoch=2.5) == pytest.approx(0.1 * 2.5 + 0.025)


def test_variables():
    sched = lrdsl.compile(
        "$peak * cosine(T=$steps) then constant($floor)", variables={"peak": 0.3, "steps": 10, "floor": 0.01}
    )
    assert sched(0) == 0.3 and sched(10) == 0.01
    durations = lrdsl.compile("warmup($warm) then cosine()", variables={"warm": "10%"}, total=100)
    assert durations(5) == 0.5 and durations(10) == 1.0
    dotted = lrdsl.compile("$optimizer.lr * exp(s=1, rate=0.5)", variables={"optimizer.lr": 0.2})
    assert dotted(1) == 0.1


# -- §4.1 time ------------------------------------------------------------------------------


def test_epoch_durations_run_on_epochs_and_convert_with_steps_per_epoch():
    by_epoch = lrdsl.compile("step(s=30ep)", base=0.1)
    assert [by_epoch(epoch=e) for e in (0, 29, 30, 60)] == pytest.approx([0.1, 0.1, 0.01, 0.001])
    per_iteration = lrdsl.compile("step(s=30ep)", base=0.1, steps_per_epoch=100)
    assert per_iteration(2999) == pytest.approx(0.1) and per_iteration(3000) == pytest.approx(0.01)
    assert per_iteration(epoch=30) == pytest.approx(0.01)
    assert per_iteration(3000, epoch=30) == pytest.approx(0.01)  # both, in agreement
    with pytest.raises(lrdsl.LRDSLError, match="iteration 10 is 10 iterations, but epoch 30 is 3000 iterations"):
        per_iteration(10, epoch=30)
    assert by_epoch(10, epoch=30) == pytest.approx(0.01)  # no steps_per_epoch: the epoch clock reads the epoch


def test_mixed_units_with_steps_per_epoch():
    sched = lrdsl.compile("warmup(T=500it) then cosine(T=2ep)", steps_per_epoch=250)
    assert sched(500) == 1.0 and sched(750) == pytest.approx(0.5) and sched(1000) == 0.0


def test_percent_of_total_in_iterations():
    sched = lrdsl.compile("warmup(10%) then linear()", total=200)
    assert sched(10) == 0.5 and sched(20) == 1.0 and sched(110) == pytest.approx(0.5)


def test_values_is_vectorised_and_matches_the_scalar_evaluator():
    sched = lrdsl.compile("warmup(T=5ep) then cosine(T=95ep, end=1e-5)", base=3e-4, steps_per_epoch=7)
    points = np.arange(0, 800)
    np.testing.assert_allclose(sched.values(points), [sched(int(i)) for i in points], rtol=1e-12, atol=0)
    epochs = np.linspace(0, 120, 97)
    np.testing.assert_allclose(sched.values(epochs=epochs), [sched(epoch=float(e)) for e in epochs], rtol=1e-12)
    assert sched.values(points).dtype == np.float64


def test_state_dict_round_trip_of_a_stateless_schedule():
    sched = lrdsl.compile("warmup(T=5) then cosine(T=10)")
    state = sched.state_dict()
    assert state["expression"] == "warmup(T=5) then cosine(T=10)"
    fresh = lrdsl.compile("warmup(T=5)  then  cosine(T=10)")
    fresh.load_state_dict(state)
    with pytest.raises(
        lrdsl.LRDSLError, match=r"expression  saved: 'warmup\(T=5\) then cosine\(T=10\)'   now: 'cosine\(T=10\)'"
    ):
        lrdsl.compile("cosine(T=10)").load_state_dict(state)


def test_a_constant_schedule_can_be_evaluated_by_either_counter():
    sched = lrdsl.compile("0.5 * base", base=0.2)
    assert sched(epoch=3) == 0.1 and sched(7) == 0.1
    assert sched.values(epochs=[0, 1.5]).tolist() == [0.1, 0.1]


def test_report_is_ignored_by_schedules_without_metric_driven_nodes():
    sched = lrdsl.compile("cosine(T=10)")
    sched.report(0.5)
    assert sched(5) == 0.5


def test_the_compile_cache_follows_registry_changes():
    from lrdsl.errors import UnknownNameError
    from lrdsl.plugins import build_registry

    registry = build_registry(entry_points=False)
    assert lrdsl.compile("cosine(T=10)", registry=registry)(5) == 0.5
    registry.remove("cosine")
    with pytest.raises(UnknownNameError):
        lrdsl.compile("cosine(T=10)", registry=registry)


@pytest.mark.parametrize(
    "text",
    [
        "0.5 * (1 + cos(pi * progress)) for 1 then warmup(T=211, start=0.0560622)",
        "cosine(T=1) for 1 then linear(T=50, start=0.3, end=0) then cosine(T=50, end=0.3)",
        "cosine(T=1) for 1 then cosine(T=97, end=0.7) then poly(T=13, power=0.5, end=0.2)",
    ],
)
def test_interpolation_towards_zero_never_rounds_below_zero(text):
    """A decay to (about) zero is a convex combination, so rounding cannot make it negative."""
    sched = lrdsl.compile(text)
    values = sched.values(np.arange(400))
    assert values.min() >= 0
    assert min(sched(t) for t in range(400)) >= 0


def test_total_in_epochs_puts_a_unitless_schedule_on_epochs():
    sched = lrdsl.compile("cosine()", total="10ep")
    assert sched(epoch=5) == pytest.approx(0.5)
    per_iteration = lrdsl.compile("step(s=10)", total="5ep", steps_per_epoch=2)
    assert per_iteration(10) == pytest.approx(0.1)  # s=10 iterations; total is 10 iterations
    with pytest.raises(lrdsl.LRDSLError, match="steps_per_epoch"):
        lrdsl.compile("step(s=10)", total="5ep")
