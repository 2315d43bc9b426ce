"""plateau: reductions driven by reported metrics, its state dict and resumes.

Expected values come from the rules written out here (a reference independent of lrdsl);
torch ReduceLROnPlateau itself is compared in tests/parity.
"""

from __future__ import annotations

import json
import math

import pytest

import lrdsl
from lrdsl.errors import PhaseError


def reference(
    metrics,
    base,
    factor=0.1,
    patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    mode="min",
    cooldown=0,
    min_value=0.0,
    eps=1e-8,
):
    """The learning rate after each report, by the documented rules."""
    best = math.inf if mode == "min" else -math.inf
    lr, bad, cooling, out = base, 0, 0, []
    for m in metrics:
        if mode == "min":
            better = m < (best * (1 - threshold) if threshold_mode == "rel" else best - threshold)
        else:
            better = m > (best * (1 + threshold) if threshold_mode == "rel" else best + threshold)
        best, bad = (m, 0) if better else (best, bad + 1)
        if cooling:
            cooling, bad = cooling - 1, 0
        if bad > patience:
            new = max(lr * factor, min_value)
            lr = new if lr - new > eps else lr
            cooling, bad = cooldown, 0
        out.append(lr)
    return out


METRICS = (
    [1 / (1 + 0.2 * i) + 0.03 * math.cos(1.3 * i) for i in range(25)] + [0.3] * 30 + [0.1 + 0.01 * i for i in range(20)]
)


def run(text, metrics, base=1.0):
    sched = lrdsl.compile(text, base=base)
    out = []
    for m in metrics:
        sched.report(m)
        out.append(sched(7))
    return out


@pytest.mark.parametrize(
    "text, kwargs",
    [
        ("plateau()", {}),
        ("plateau(factor=0.5, patience=2, cooldown=3)", dict(factor=0.5, patience=2, cooldown=3)),
        (
            'plateau(patience=1, threshold=0.05, threshold_mode="abs", min=0.01)',
            dict(patience=1, threshold=0.05, threshold_mode="abs", min_value=0.01),
        ),
        ('plateau(mode="max", patience=3, factor=0.7)', dict(mode="max", patience=3, factor=0.7)),
        ("plateau(patience=0, eps=0.05)", dict(patience=0, eps=0.05)),
    ],
)
def test_plateau_follows_the_rules_report_by_report(text, kwargs):
    assert run(text, METRICS, base=0.4) == pytest.approx(reference(METRICS, 0.4, **kwargs), rel=1e-15)


def test_plateau_is_b_times_factor_to_the_k_in_arithmetic_and_after_a_warmup():
    sched = lrdsl.compile("warmup(T=4) then 0.5 * plateau(factor=0.5, patience=0)", base=0.2)
    assert [sched(i) for i in range(5)] == pytest.approx([0, 0.05, 0.1, 0.15, 0.1])
    sched.report(1.0)
    sched.report(1.0)  # one bad report > patience 0: one cut
    assert sched(10) == pytest.approx(0.05) and sched(2) == pytest.approx(0.1)
    assert sched.values([2, 10]).tolist() == pytest.approx([0.1, 0.05])


def test_a_resumed_schedule_continues_exactly_like_the_uninterrupted_one():
    text = "plateau(factor=0.5, patience=2, cooldown=1)"
    whole = run(text, METRICS)
    for cut in (0, 1, 13, 30, len(METRICS)):
        first = lrdsl.compile(text)
        for m in METRICS[:cut]:
            first.report(m)
        state = json.loads(json.dumps(first.state_dict()))
        second = lrdsl.compile(text)
        second.load_state_dict(state)
        assert second(0) == first(0)
        assert [second(0)] + run_more(second, METRICS[cut:]) == [first(0)] + whole[cut:]


def run_more(sched, metrics):
    out = []
    for m in metrics:
        sched.report(m)
        out.append(sched(0))
    return out


def test_state_dict_holds_the_counters_and_is_json():
    sched = lrdsl.compile("plateau(patience=1)")
    assert sched.state_dict()["nodes"] == [
        {
            "node": "plateau",
            "best": None,
            "bad_reports": 0,
            "cooldown_left": 0,
            "reports": 0,
            "reductions": 0,
            "value": 1.0,
        }
    ]
    for m in (3.0, 2.0, 2.5, 2.5):
        sched.report(m)
    assert sched.state_dict()["nodes"][0] == {
        "node": "plateau",
        "best": 2.0,
        "bad_reports": 0,
        "cooldown_left": 0,
        "reports": 4,
        "reductions": 1,
        "value": 0.1,
    }


def test_two_plateaus_keep_separate_states():
    sched = lrdsl.compile("min(plateau(patience=0), 0.5 * plateau(patience=3))")
    for m in (1.0, 1.0, 1.0):
        sched.report(m)
    nodes = sched.state_dict()["nodes"]
    assert [n["reductions"] for n in nodes] == [2, 0]
    assert sched(0) == pytest.approx(0.01)


def test_compiling_twice_gives_independent_states():
    a, b = lrdsl.compile("plateau(patience=0)"), lrdsl.compile("plateau(patience=0)")
    a.report(1.0)
    a.report(1.0)
    assert a(0) == pytest.approx(0.1) and b(0) == 1.0


@pytest.mark.parametrize(
    "state",
    [
        {"node": "plateau"},
        {"node": "cosine", "best": None, "bad_reports": 0, "cooldown_left": 0, "reports": 0, "reductions": 0},
        {"node": "plateau", "best": "low", "bad_reports": 0, "cooldown_left": 0, "reports": 0, "reductions": 0},
        {"node": "plateau", "best": None, "bad_reports": -1, "cooldown_left": 0, "reports": 0, "reductions": 0},
        {"node": "plateau", "best": None, "bad_reports": 0, "cooldown_left": 0.5, "reports": 0, "reductions": 0},
        {
            "node": "plateau",
            "best": None,
            "bad_reports": 0,
            "cooldown_left": 0,
            "reports": 0,
            "reductions": 0,
            "value": 2.0,
        },  # above the base: no reduction raises a value
        {
            "node": "plateau",
            "best": None,
            "bad_reports": 0,
            "cooldown_left": 0,
            "reports": 0,
            "reductions": 10**12,
            "value": 1.0,
        },  # reductions that did not change the value
        "nonsense",
    ],
)
def test_loading_a_bad_state_is_a_clear_error(state):
    sched = lrdsl.compile("plateau()")
    with pytest.raises(lrdsl.LRDSLError, match="plateau"):
        sched.load_state_dict({"expression": sched.expression, "base": 1.0, "nodes": [state]})


def test_plateau_must_be_the_last_phase():
    with pytest.raises(PhaseError, match="last phase"):
        lrdsl.compile("plateau() for 10 then constant(0.1)")


def test_reports_to_a_schedule_without_plateau_are_ignored():
    sched = lrdsl.compile("cosine(T=10)")
    sched.report(1.0)
    assert sched(0) == 1.0 and sched.state_dict()["nodes"] == []


def test_a_lone_plateau_can_be_evaluated_by_either_counter():
    """Its value depends on reported metrics only, so no steps_per_epoch is needed."""
    sched = lrdsl.compile("plateau(patience=0)", base=0.1)
    assert sched(epoch=3) == sched(3) == 0.1
    sched.report(1.0)
    sched.report(2.0)  # worse than the best: one reduction
    assert sched(epoch=4) == pytest.approx(0.01) and sched.values(epochs=[0, 9]).tolist() == [sched(0)] * 2
    with pytest.raises(lrdsl.LRDSLError, match="steps_per_epoch"):
        lrdsl.compile("plateau() * cosine(T=10)")(epoch=1)
