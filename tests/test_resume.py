"""Checkpoints carry their schedule; on_change decides what a resume into another one does;
amend() changes a running schedule on the record (lrdsl.resume, lrdsl.amend).

Expected expressions are written by hand here, and the amended schedules are checked value for
value against compiling that hand-written text.
"""

import io
import json
import pickle
import warnings

import numpy as np
import pytest

import lrdsl
from lrdsl.errors import ScheduleChangeWarning, UnitError

TEXT = "warmup(5%) then cosine(end=1e-5)"


def _run(sched, upto):
    """Evaluate as a training loop does, so the schedule's position is ``upto``."""
    for i in range(upto + 1):
        sched(i)
    return sched


def _saved(total=1000, upto=499, text=TEXT):
    return _run(lrdsl.compile(text, base=0.1, total=total), upto).state_dict()


def _loaded(state, **options):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched = lrdsl.compile(**options)
        sched.load_state_dict(state)
    return sched, [str(w.message) for w in caught if issubclass(w.category, ScheduleChangeWarning)]


def _same_values(a, b, points):
    np.testing.assert_array_equal(a.values(points), b.values(points))


# -- the state ------------------------------------------------------------------------------------


def test_the_state_holds_the_expression_options_position_and_history():
    state = _saved()
    assert state == {
        "expression": "warmup(5%) then cosine(end=1e-05)",
        "options": {
            "base": 0.1,
            "steps_per_epoch": None,
            "total": "1000it",
            "tokens_per_step": None,
            "samples_per_step": None,
            "variables": {},
        },
        "position": {"unit": "it", "time": 499.0},
        "nodes": [],
        "history": [],
    }


@pytest.mark.parametrize("carrier", ["json", "pickle", "torch"])
def test_the_state_round_trips_through_json_pickle_and_torch_save(carrier):
    sched = lrdsl.compile(
        "warmup(T=2ep) then $tail", base=0.1, total="10ep", steps_per_epoch=7, variables={"tail": "cosine()"}
    )
    _run(sched, 30)
    state = sched.amend("linear(end=0)", at=40).state_dict()
    if carrier == "json":
        copy = json.loads(json.dumps(state))
    elif carrier == "pickle":
        copy = pickle.loads(pickle.dumps(state))
    else:
        torch = pytest.importorskip("torch")
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        copy = torch.load(buffer, weights_only=True)
    assert copy == state
    fresh = lrdsl.compile(state["expression"], **state["options"])  # the state alone rebuilds the schedule
    fresh.load_state_dict(copy)
    assert fresh.position == 30.0 and fresh.history == tuple(state["history"])


def test_a_state_from_the_same_schedule_restores_position_and_history():
    sched, caught = _loaded(_saved(), text_or_node=TEXT, base=0.1, total=1000)
    assert sched.position == 499.0 and sched.history == () and caught == []


def test_a_state_saved_before_options_were_recorded_still_loads():
    sched = lrdsl.compile("cosine(T=10)")
    sched.load_state_dict({"expression": "cosine(T=10)", "base": 1.0, "nodes": []})
    assert sched.position is None
    with pytest.raises(lrdsl.LRDSLError, match=r"base  saved: 2.0   now: 1.0"):
        sched.load_state_dict({"expression": "cosine(T=10)", "base": 2.0, "nodes": []})


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda s: {**s, "position": {"unit": "hours", "time": 3}}, r"'position'\['unit'\] is 'hours'"),
        (lambda s: {**s, "position": {"unit": "it", "time": -1}}, r"'position'\['time'\] is -1"),
        (lambda s: {**s, "history": [{"text": 1}]}, r"'history'\[0\] has no 'at'"),
        (lambda s: {**s, "options": {**s["options"], "total": 5}}, r"'options'\['total'\] is 5"),
        (lambda s: {**s, "options": {**s["options"], "variables": [1]}}, r"'options'\['variables'\] is"),
        (lambda s: {**s, "extra": 1}, r"unknown key\(s\) 'extra'"),
        (lambda s: "warmup", r"the state is 'warmup'"),
    ],
)
def test_a_malformed_state_is_refused_and_changes_nothing(corrupt, message):
    sched = _run(lrdsl.compile(TEXT, base=0.1, total=1000), 10)
    with pytest.raises(lrdsl.LRDSLError, match=message):
        sched.load_state_dict(corrupt(_saved()))
    assert sched.position == 10.0


def test_on_change_must_be_a_known_policy():
    with pytest.raises(lrdsl.LRDSLError, match=r"on_change='smoth'.*did you mean 'smooth'"):
        lrdsl.compile(TEXT, total=100, on_change="smoth")


# -- the policies on a Schedule -------------------------------------------------------------------


def test_error_shows_the_differences_and_the_values_and_the_choices():
    sched = _run(lrdsl.compile(TEXT, base=0.1, total=2000), 3)
    with pytest.raises(lrdsl.LRDSLError) as refused:
        sched.load_state_dict(_saved())
    message = str(refused.value)
    assert "total  saved: 1000it   now: 2000it" in message
    old, new = lrdsl.compile(TEXT, base=0.1, total=1000)(499), lrdsl.compile(TEXT, base=0.1, total=2000)(499)
    assert f"(iteration 499) the saved schedule gives {old:g}, this one {new:g}" in message
    for choice in ("'continue'", "'smooth'", "'checkpoint'"):
        assert choice in message
    assert sched.position == 3.0  # nothing changed


def test_error_names_a_changed_expression():
    with pytest.raises(
        lrdsl.LRDSLError,
        match=r"expression  saved: 'warmup\(5%\) then cosine\(end=1e-05\)'   now: 'warmup\(5%\) then cosine\(\)'",
    ):
        lrdsl.compile("warmup(5%) then cosine()", base=0.1, total=1000).load_state_dict(_saved())


def test_continue_keeps_the_position_and_runs_the_new_schedule_and_says_how_far_the_value_jumps():
    sched, caught = _loaded(_saved(), text_or_node=TEXT, base=0.1, total=2000, on_change="continue")
    reference = lrdsl.compile(TEXT, base=0.1, total=2000)
    assert sched.position == 499.0 and sched.expression == reference.expression
    _same_values(sched, reference, np.arange(2100))
    old, new = lrdsl.compile(TEXT, base=0.1, total=1000)(499), reference(499)
    (warning,) = caught
    assert f"the value jumps from {old:g} to {new:g}" in warning and "total: saved 1000it, now 2000it" in warning


def test_smooth_keeps_the_value_and_the_new_schedule_continues_from_it():
    sched, caught = _loaded(_saved(), text_or_node=TEXT, base=0.1, total=2000, on_change="smooth")
    by_hand = "(warmup(50it) then cosine(end=1e-05) for 950) for 499 then cosine(end=1e-05)"
    assert sched.expression == by_hand
    _same_values(sched, lrdsl.compile(by_hand, base=0.1, total=2000), np.arange(2100))
    assert sched(499) == lrdsl.compile(TEXT, base=0.1, total=1000)(499)
    assert sched(2000) == 1e-5 and sched.position == 2000.0
    assert sched.history[-1]["policy"] == "smooth" and sched.history[-1]["at"] == "499"
    assert "keeps the position and the value" in caught[0]


def test_smooth_cuts_the_phase_the_position_is_in_and_keeps_the_later_phases():
    old = "warmup(T=10) then cosine(T=100) for 100 then constant(0.01)"
    new = "warmup(T=10) then cosine(T=200) for 200 then constant(0.02)"
    state = _run(lrdsl.compile(old, total=500), 60).state_dict()
    sched, _ = _loaded(state, text_or_node=new, total=500, on_change="smooth")
    by_hand = (
        "(warmup(T=10) then cosine(T=100) for 100 then constant(0.01) for 390) for 60 "
        "then cosine(T=200) for 150 then constant(0.02)"
    )
    assert sched.expression == by_hand
    _same_values(sched, lrdsl.compile(by_hand, total=500), np.arange(600))


def test_smooth_at_a_phase_boundary_keeps_the_phases_as_written():
    state = _run(lrdsl.compile("constant(1) for 10 then constant(2)", total=100), 10).state_dict()
    sched, _ = _loaded(state, text_or_node="constant(1) for 10 then linear(T=50, end=0)", total=100, on_change="smooth")
    assert sched.expression == "(constant(1) for 10 then constant(2) for 90) for 10 then linear(T=50, end=0)"


def test_smooth_past_the_end_of_the_new_schedule_is_an_error():
    state = _saved(total=1000, upto=900)
    with pytest.raises(
        lrdsl.LRDSLError, match=r"ends at iteration 800, before the position iteration 900: give it a longer total="
    ):
        lrdsl.compile(TEXT, base=0.1, total=800, on_change="smooth").load_state_dict(state)


def test_checkpoint_uses_the_saved_schedule_and_names_what_it_ignored():
    sched, caught = _loaded(_saved(), text_or_node="cosine()", base=0.1, total=2000, on_change="checkpoint")
    reference = lrdsl.compile(TEXT, base=0.1, total=1000)
    assert sched.expression == reference.expression and sched.options == reference.options
    assert sched.on_change == "checkpoint" and sched.position == 499.0
    _same_values(sched, reference, np.arange(1100))
    (warning,) = caught
    assert "ignores this one's changes" in warning and "total: saved 1000it, now 2000it" in warning


def test_a_position_in_another_unit_needs_the_factor():
    state = lrdsl.compile("cosine(T=10ep)", total="10ep").state_dict()
    state["position"] = {"unit": "it", "time": 50.0}
    with pytest.raises(UnitError, match="steps_per_epoch"):
        lrdsl.compile("cosine(T=10ep)", total="20ep", on_change="continue").load_state_dict(state)
    sched, _ = _loaded(state, text_or_node="cosine(T=10ep)", total="20ep", steps_per_epoch=10, on_change="continue")
    assert sched.position == 50.0  # an iteration clock: 50 iterations


def test_metric_state_is_kept_when_it_fits_and_dropped_with_a_warning_when_not():
    sched = lrdsl.compile("plateau(factor=0.5, patience=0)", base=1.0)
    for metric in (3.0, 2.0, 2.5, 2.7):
        sched.report(metric)
    sched(5)
    state = sched.state_dict()
    same, _ = _loaded(state, text_or_node="plateau(factor=0.5, patience=0)", base=1.0)
    assert same(6) == sched(6) == 0.25
    other, caught = _loaded(state, text_or_node="plateau(factor=0.5, patience=0)", base=2.0, on_change="continue")
    assert other(6) == 0.25  # the node's state is carried over, its current value included
    gone, caught = _loaded(state, text_or_node="constant(0.1)", on_change="continue")
    assert gone(6) == 0.1 and any("metric state (1 node(s)) does not fit" in w for w in caught)
    with pytest.raises(lrdsl.LRDSLError, match="metric-driven"):
        lrdsl.compile("plateau()", base=2.0, on_change="smooth").load_state_dict(state)


# -- amend ----------------------------------------------------------------------------------------


def _wsd():
    return _run(lrdsl.compile("warmup(1%) then constant()", base=3e-4, total=100_000), 80_000)


def test_amend_at_the_position_is_the_canonical_then():
    sched = _wsd()
    amended = sched.amend("linear(end=0)", total=90_000)
    by_hand = "(warmup(1000it) then constant() for 99000) for 80000 then linear(end=0)"
    assert amended.expression == by_hand
    reference = lrdsl.compile(by_hand, base=3e-4, total=90_000)
    points = np.arange(0, 95_000)
    _same_values(amended, reference, points)
    _same_values(amended, sched, np.arange(80_000))  # the run so far is unchanged
    assert amended(80_000) == 3e-4 and amended(89_999) == pytest.approx(3e-4 / 10_000)
    assert amended(90_000) == 0.0
    (entry,) = amended.history
    assert entry["text"] == "linear(end=0)" and entry["at"] == "80000" and entry["total"] == "90000it"
    assert lrdsl.compile(amended.expression, base=3e-4, total=90_000).expression == by_hand  # one string


def test_amend_twice():
    once = _wsd().amend("linear(end=0)", total=90_000)
    twice = once.amend("constant()", at=85_000)
    by_hand = (
        "((warmup(1000it) then constant() for 99000) for 80000 then linear(end=0) for 10000) for 85000 then constant()"
    )
    assert twice.expression == by_hand
    _same_values(twice, lrdsl.compile(by_hand, base=3e-4, total=90_000), np.arange(0, 92_000))
    assert [entry["at"] for entry in twice.history] == ["80000", "85000"]


def test_amend_from_two_checkpoints_of_the_same_run():
    sched = _wsd()
    early = sched.amend("linear(end=0)", at=60_000, total=70_000)
    late = sched.amend("linear(end=0)", at=80_000, total=90_000)
    _same_values(
        early,
        lrdsl.compile(
            "(warmup(1000it) then constant() for 99000) for 60000 then linear(end=0)", base=3e-4, total=70_000
        ),
        np.arange(0, 72_000, 7),
    )
    _same_values(
        late,
        lrdsl.compile(
            "(warmup(1000it) then constant() for 99000) for 80000 then linear(end=0)", base=3e-4, total=90_000
        ),
        np.arange(0, 92_000, 7),
    )
    assert early.history[0]["at"] == "60000" and late.history[0]["at"] == "80000" and sched.history == ()


def test_amend_with_epochs():
    sched = lrdsl.compile("warmup(2ep) then cosine()", base=0.1, total="100ep")
    amended = sched.amend("linear(end=0)", at="40ep")
    by_hand = "(warmup(2ep) then cosine() for 98ep) for 40ep then linear(end=0)"
    assert amended.expression == by_hand
    epochs = np.linspace(0, 110, 1101)
    np.testing.assert_array_equal(
        amended.values(epochs=epochs), lrdsl.compile(by_hand, base=0.1, total="100ep").values(epochs=epochs)
    )
    by_iterations = lrdsl.compile("warmup(2ep) then cosine()", base=0.1, total="100ep", steps_per_epoch=50)
    assert (
        by_iterations.amend("linear(end=0)", at="40%").expression
        == "(warmup(2ep) then cosine() for 4900) for 40ep then linear(end=0)"
    )


def test_amend_with_tokens():
    sched = lrdsl.compile("warmup(1e9tok) then cosine()", base=0.1, total="1e11tok")
    sched(tokens=4e10)
    amended = sched.amend("linear(end=0)")
    by_hand = "(warmup(1e9tok) then cosine() for 9.9e10tok) for 4e10tok then linear(end=0)"
    assert amended.expression == by_hand
    tokens = np.linspace(0, 1.1e11, 2001)
    np.testing.assert_array_equal(
        amended.values(tokens=tokens), lrdsl.compile(by_hand, base=0.1, total="1e11tok").values(tokens=tokens)
    )


def test_amend_refuses_what_it_cannot_do():
    with pytest.raises(lrdsl.LRDSLError, match="has no position yet"):
        lrdsl.compile("constant()").amend("linear(T=10)")
    sched = _wsd()
    with pytest.raises(lrdsl.LRDSLError, match="at=-5"):
        sched.amend("linear(end=0)", at=-5)
    with pytest.raises(lrdsl.LRDSLError, match="at='cosine\\(\\)' must be an iteration count"):
        sched.amend("linear(end=0)", at="cosine()")
    with pytest.raises(lrdsl.LRDSLError, match="an lrdsl expression"):
        sched.amend(5)
    with pytest.raises(lrdsl.LRDSLSyntaxError if hasattr(lrdsl, "LRDSLSyntaxError") else lrdsl.LRDSLError):
        sched.amend("linear(end=")
    with pytest.raises(UnitError, match="amend\\(\\).*steps_per_epoch"):
        sched.amend("linear(end=0)", at="5ep")


def test_amend_refuses_to_change_the_run_so_far():
    """A variable holding a % of total is not pinned: a new total would move it."""
    sched = _run(lrdsl.compile("warmup($w) then constant()", total=1000, variables={"w": "10%"}), 500)
    with pytest.raises(lrdsl.LRDSLError, match="does not keep the old one before iteration 500"):
        sched.amend("linear(end=0)", total=2000)
    assert sched.amend("linear(end=0)").expression == "(warmup($w) then constant() for 900) for 500 then linear(end=0)"
