"""Live parity with torch, Keras, optax, HF transformers and timm, read from docs/equivalence.md.

Every row there is one test: the peer's scheduler runs in this process, the lrdsl string is
compiled with the row's settings, and the two must agree at every iteration (or after every
reported metric). Rows under ``lrdsl (differs)`` must disagree somewhere.

Every iteration-driven row is also run on every evaluation path of tests/backends.py (jax.jit
in float32 and float64, Keras on the torch and JAX backends, the torch bridge, NumPy sorted
and shuffled, the scalar evaluator) and each path must match the peer within the harness's
contract, at the peer's precision: a user gets the peer's schedule whichever way they run it.
All rows go through the harness in one batch (one Keras/JAX child process).
"""

from __future__ import annotations

import functools
import importlib.util
import json

import numpy as np
import pytest

for peer_library in ("torch", "keras", "jax", "optax", "transformers"):
    pytest.importorskip(peer_library)
if importlib.util.find_spec("timm") is None:  # not imported: .peers loads its scheduler modules one by one
    pytest.skip("could not find 'timm'", allow_module_level=True)

import lrdsl
from backends import Case, evaluate, problems

from .peers import TOLERANCE, metric_series, mismatches, peer_values
from .table import LIBRARIES, load_cases

CASES = load_cases()
SAME = [case for case in CASES if not case.differs]
DIFFERS = [case for case in CASES if case.differs]
PLATEAU = [case for case in SAME if "metrics" in case.run]
BY_ITERATION = [case for case in SAME if "metrics" not in case.run]


def compile_case(case) -> lrdsl.Schedule:
    return lrdsl.compile(
        case.lrdsl,
        base=case.run.get("base", 1.0),
        total=case.run.get("total"),
        steps_per_epoch=case.run.get("steps_per_epoch"),
    )


def after_reports(sched: lrdsl.Schedule, metrics, start: int = 0) -> list:
    """The value after each ``sched.report(metric)`` (read at iteration ``start + k``)."""
    values = []
    for k, metric in enumerate(metrics, start=start):
        sched.report(metric)
        values.append(sched(k))
    return values


def lrdsl_values(case) -> np.ndarray:
    """lrdsl's values for a row; the scalar and the vectorised evaluators must agree."""
    sched = compile_case(case)
    if "metrics" in case.run:
        return np.array(after_reports(sched, metric_series(case.run["metrics"])))
    steps = np.arange(case.run["steps"])
    scalar = np.array([sched(int(i)) for i in steps])
    np.testing.assert_allclose(sched.values(steps), scalar, rtol=1e-12, atol=1e-15)
    return scalar


@functools.cache
def peer(case) -> np.ndarray:
    """The peer's values for a row, computed once (read only)."""
    metrics = metric_series(case.run["metrics"]) if "metrics" in case.run else None
    return peer_values(case.library, case.peer, case.run, metrics)


def compare(case):
    theirs = peer(case)
    ours = lrdsl_values(case)
    assert ours.shape == theirs.shape
    return ours, theirs, mismatches(ours, theirs, case.library)


@pytest.mark.parametrize("case", SAME, ids=[case.id for case in SAME])
def test_lrdsl_matches_peer(case):
    ours, theirs, bad = compare(case)
    assert bad.size == 0, (
        f"{case.library} {case.peer}\n  vs lrdsl {case.lrdsl!r}\n  differ at "
        f"{bad[:8].tolist()}: peer {theirs[bad[:8]].tolist()} lrdsl {ours[bad[:8]].tolist()}"
    )


@pytest.mark.parametrize("case", DIFFERS, ids=[case.id for case in DIFFERS])
def test_documented_difference_is_real(case):
    _, _, bad = compare(case)
    assert bad.size > 0, f"{case.lrdsl!r} was documented as differing from {case.peer}, but matches it"


@pytest.mark.parametrize("case", PLATEAU, ids=[case.id for case in PLATEAU])
def test_plateau_resumed_from_state_dict_continues_like_the_peer(case):
    metrics = metric_series(case.run["metrics"])
    theirs = peer(case)
    half = len(metrics) // 2
    first = compile_case(case)
    values = after_reports(first, metrics[:half])
    state = json.loads(json.dumps(first.state_dict()))  # a checkpoint on disk
    resumed = compile_case(case)
    resumed.load_state_dict(state)
    values += after_reports(resumed, metrics[half:], start=half)
    assert mismatches(np.array(values), theirs, case.library).size == 0


def harness_case(case) -> Case:
    return Case(
        case.lrdsl,
        case.run["steps"],
        base=case.run.get("base", 1.0),
        total=case.run.get("total"),
        steps_per_epoch=case.run.get("steps_per_epoch"),
    )


@pytest.fixture(scope="module")
def every_path():
    """Every iteration-driven row on every evaluation path, in one batch."""
    return dict(zip(BY_ITERATION, evaluate([harness_case(case) for case in BY_ITERATION])))


@pytest.mark.parametrize("case", BY_ITERATION, ids=[case.id for case in BY_ITERATION])
def test_every_evaluation_path_matches_peer(case, every_path):
    found = problems(
        harness_case(case), every_path[case], reference=peer(case), reference_dtype=TOLERANCE[case.library]
    )
    assert not found, f"{case.library} {case.peer}\n  vs lrdsl on every path:\n" + "\n".join(found)


# Peer features the suite must cover: every listed fragment must occur in one row's peer call.
REQUIRED = {
    "torch": [
        ("StepLR(",),
        ("MultiStepLR(",),
        ("ConstantLR(",),
        ("LinearLR(",),
        ("ExponentialLR(",),
        ("PolynomialLR(",),
        ("CosineAnnealingLR(",),
        ("CosineAnnealingWarmRestarts(",),
        ("CyclicLR(", "step_size_up"),
        ("CyclicLR(", '"triangular2"'),
        ("CyclicLR(", '"exp_range"'),
        ("OneCycleLR(", "total_steps=100)"),
        ("OneCycleLR(", '"linear"', "three_phase=True"),
        ("OneCycleLR(", "three_phase=True", "total_steps=37"),
        ("OneCycleLR(", '"linear"', "pct_start=0.25"),
        ("SequentialLR(",),
        ("ChainedScheduler(",),
        ("LambdaLR(",),
        ("ReduceLROnPlateau(",),
    ],
    "keras": [
        ("ExponentialDecay(", "staircase=True"),
        ("ExponentialDecay(", "decay_rate=0.5)"),
        ("InverseTimeDecay(",),
        ("PolynomialDecay(",),
        ("PiecewiseConstantDecay(",),
        ("CosineDecay(", "warmup_target"),
        ("CosineDecayRestarts(",),
        ("ReduceLROnPlateau(", "cooldown"),
        ("ReduceLROnPlateau(", 'mode="max"'),
        ("ReduceLROnPlateau(", "min_lr"),
    ],
    "optax": [
        ("linear_schedule(",),
        ("cosine_decay_schedule(",),
        ("warmup_cosine_decay_schedule(",),
        ("exponential_decay(", "transition_begin", "end_value"),
        ("piecewise_constant_schedule(",),
        ("join_schedules(",),
        ("sgdr_schedule(",),
        ("linear_onecycle_schedule(",),
        ("cosine_onecycle_schedule(",),
        ("reduce_on_plateau(", "cooldown"),
        ("reduce_on_plateau(", "atol"),
        ("reduce_on_plateau(", "min_scale"),
    ],
    "hf": [
        (f'get_scheduler("{name}"',)
        for name in (
            "linear",
            "cosine",
            "cosine_with_restarts",
            "polynomial",
            "constant",
            "constant_with_warmup",
            "inverse_sqrt",
            "cosine_with_min_lr",
            "cosine_warmup_with_min_lr",
            "warmup_stable_decay",
            "reduce_lr_on_plateau",
        )
    ],
    "timm": [
        ("CosineLRScheduler(", "cycle_mul"),
        ("CosineLRScheduler(", "warmup_prefix=True"),
        ("CosineLRScheduler(t_initial=50, warmup_t=5",),
        ("StepLRScheduler(",),
        ("MultiStepLRScheduler(",),
        ("PolyLRScheduler(",),
    ],
}


@pytest.mark.parametrize("library", LIBRARIES)
def test_every_required_peer_feature_has_a_parity_row(library):
    peers = [case.peer for case in SAME if case.library == library]
    missing = [
        fragments
        for fragments in REQUIRED[library]
        if not any(all(fragment in peer for fragment in fragments) for peer in peers)
    ]
    assert not missing, f"docs/equivalence.md has no {library} parity row for {missing}"


def test_every_hf_step_function_type_is_covered():
    from transformers.trainer_utils import SchedulerType

    metric_driven = {"reduce_lr_on_plateau", "greedy"}
    covered = {case.peer.split('"')[1] for case in SAME if case.library == "hf"}
    assert {t.value for t in SchedulerType} - metric_driven <= covered


def test_comparison_detects_a_one_ulp_free_difference():
    """The comparator is not vacuous: a relative error of 1e-7 fails against a float64 peer."""
    theirs = np.linspace(0.1, 1.0, 20)
    ours = theirs.copy()
    ours[7] *= 1 + 1e-7
    assert mismatches(ours, theirs, "torch").tolist() == [7]
    assert mismatches(ours, theirs, "keras").size == 0
