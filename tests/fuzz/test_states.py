"""Fuzz target "states": tampered checkpoints for ``Schedule``, ``plateau`` and every NumPy optimizer.

Each example takes a real saved state (a schedule evaluated and reported to, an optimizer
stepped twice) and edits it one to three times (:func:`tests.fuzz.strategies.tampered`: keys
deleted and added, entries retyped, huge, negative or non-finite numbers, negative moments,
arrays of another shape or dtype, deep, recursive and aliased structures), then loads it into
a fresh object built the same way. Under the contract of :mod:`tests.fuzz.contract`:

- ``load_state_dict`` gives nothing or an LRDSLError within 1 s (loading is O(size of the
  state): a huge saved count must not be replayed);
- a refused state changes nothing (the object's ``state_dict()``, its parameters);
- an accepted state leaves a working object: a schedule evaluates to finite values >= 0 or
  LRDSLErrors, agreeing between evaluators (:func:`tests.fuzz.test_text.exercise_schedule`); an
  optimizer's step gives finite parameters or an LRDSLError that changes nothing; and the
  object's own ``state_dict()`` then loads back into a fresh object (no accepted state can make
  a checkpoint that can never be loaded).

The torch bridge's ``ScheduleLR`` has its own target: ``test_states_torch.py``.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, Tuple

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import lrdsl

from .contract import attempt, check_unchanged, fail, reload_own_state, short, snapshot, tried
from .profiles import fuzz_settings
from .strategies import realize, tampered
from .test_text import exercise_schedule

TARGET = "states"

SCHEDULES: List[Tuple[str, Dict[str, Any]]] = [
    ("warmup(T=5) then cosine(T=95, end=1e-5)", {}),
    ("warmup(T=1ep) then plateau(factor=0.5, patience=1)", {"steps_per_epoch": 10}),
    ("plateau(patience=0, cooldown=2, min=1e-4) * cosine(T=$x)", {"variables": {"x": 50}, "total": 100}),
    ("repeat(warmup(T=3) then cosine(T=7), mult=1.5, decay=0.9)", {"total": "9ep", "steps_per_epoch": 10}),
    ('warmup(T=3) then plateau(mode="max", threshold_mode="abs")', {"base": 3e-4}),
]
POLICIES = ["error", "continue", "smooth", "checkpoint"]
METRICS = [1.0, 0.9, 0.95, 0.97, 0.5, 0.5, 0.6]


def build_schedule(index: int, on_change: str = "error") -> lrdsl.Schedule:
    text, options = SCHEDULES[index]
    return lrdsl.compile(text, on_change=on_change, **options)


@functools.cache
def schedule_state(index: int) -> Dict[str, Any]:
    """The state of schedule ``index`` after evaluations, metric reports and (for the first) an amendment."""
    sched = build_schedule(index)
    for i in range(12):
        sched(i)
    for metric in METRICS:
        sched.report(metric)
    if index == 0:
        sched = sched.amend("constant(1e-4)", at=20)
        sched(25)
    return sched.state_dict()


def exercise_schedule_state(index: int, on_change: str, state: Any) -> None:
    """Load a tampered state into a fresh schedule; see the module docstring."""
    tried(TARGET)
    state = realize(state)
    sched = build_schedule(index, on_change)
    shown = (SCHEDULES[index][0], on_change, short(state, 300))
    before = snapshot(sched)
    loaded = attempt(TARGET, "Schedule.load_state_dict", lambda: sched.load_state_dict(state), shown)
    if not loaded.ok:
        check_unchanged(TARGET, before, snapshot(sched), f"Schedule.load_state_dict of {short(shown, 300)}")
        return
    exercise_schedule(TARGET, sched, [0, 5, 11, 12, 50, 99, 1000], 0.25, shown)
    reload_own_state(TARGET, sched.state_dict, lambda: build_schedule(index, on_change), shown)


@fuzz_settings(60)
@given(
    st.sampled_from(range(len(SCHEDULES))).flatmap(
        lambda index: st.tuples(st.just(index), st.sampled_from(POLICIES), tampered(schedule_state(index)))
    )
)
def test_tampered_schedule_states(case):
    exercise_schedule_state(*case)


# -- plateau, node by node -----------------------------------------------------------------------------


@functools.cache
def plateau_state() -> Dict[str, Any]:
    sched = build_schedule(1)
    for metric in METRICS:
        sched.report(metric)
    return sched.stateful[0].state_dict()


@fuzz_settings(40)
@given(tampered(plateau_state()), st.floats(allow_nan=True) | st.sampled_from([0.1, 1e300, -1e300]))
def test_tampered_plateau_states(state, metric):
    """The plateau node's own ``load_state_dict``: a value within [min, base] or an LRDSLError."""
    tried(TARGET)
    state = realize(state)
    sched = build_schedule(1)
    node = sched.stateful[0]
    before = snapshot(sched)
    loaded = attempt(TARGET, "plateau.load_state_dict", lambda: node.load_state_dict(state), short(state, 300))
    if not loaded.ok:
        check_unchanged(TARGET, before, snapshot(sched), f"plateau.load_state_dict of {short(state, 300)}")
        return
    before = snapshot(sched)
    reported = attempt(TARGET, "report", lambda: sched.report(metric), (short(state, 300), metric))
    if not reported.ok:
        check_unchanged(TARGET, before, snapshot(sched), f"report({metric!r}) after a tampered plateau state")
    exercise_schedule(TARGET, sched, [0, 9, 10, 11, 100], 0.5, short(state, 300))


# -- every NumPy optimizer ------------------------------------------------------------------------------


def optimizer_texts() -> List[str]:
    """One text per optimizer node, with scheduled hyperparameters and every option switched on."""
    return [
        "adadelta(lr=warmup(T=2) then 1.0, rho=0.9)",
        "adagrad(lr=0.1 * cosine(T=10), lr_decay=0.01, initial_accumulator_value=0.1)",
        "adam(lr=1e-3, betas=(0.9 - 0.1 * cosine(T=10), 0.999), amsgrad=true, weight_decay=0.01)",
        "adamax(lr=2e-3, betas=(0.9, 0.999))",
        "adamw(lr=warmup(T=2) then cosine(T=8), amsgrad=true)",
        "lion(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.1)",
        "nadam(lr=2e-3, momentum_decay=4e-3)",
        "radam(lr=1e-3, weight_decay=0.01)",
        "rmsprop(lr=plateau(patience=0) * 0.01, momentum=0.9, centered=true)",
        "sgd(lr=0.1, momentum=0.9, nesterov=true, weight_decay=1e-4)",
    ]


OPTIMIZERS = optimizer_texts()


def parameters() -> List[np.ndarray]:
    return [np.linspace(-1, 1, 6).reshape(2, 3), np.ones(3, dtype=np.float32)]


def gradients() -> List[np.ndarray]:
    return [np.full((2, 3), 0.25), np.linspace(-2, 2, 3).astype(np.float32)]


def build_optimizer(index: int, on_change: str = "error") -> Tuple[Any, List[np.ndarray]]:
    params = parameters()
    return lrdsl.optimizer(OPTIMIZERS[index], params, total=10, on_change=on_change), params


@functools.cache
def optimizer_state(index: int) -> Dict[str, Any]:
    opt, _ = build_optimizer(index)
    for _ in range(2):
        opt.step(gradients())
    opt.report(0.5)
    return opt.state_dict()


def exercise_optimizer_state(index: int, on_change: str, state: Any) -> None:
    """Load a tampered state into a fresh optimizer; step; reload its own state."""
    tried(TARGET)
    state = realize(state)
    opt, params = build_optimizer(index, on_change)
    opt.step(gradients())
    shown = (OPTIMIZERS[index], on_change, short(state, 300))
    before = snapshot(opt, params)
    loaded = attempt(TARGET, "Optimizer.load_state_dict", lambda: opt.load_state_dict(state), shown)
    if not loaded.ok:
        check_unchanged(TARGET, before, snapshot(opt, params), f"Optimizer.load_state_dict of {short(shown, 300)}")
        return
    for k in range(2):
        before = snapshot(opt, params)
        stepped = attempt(TARGET, f"step {k}", lambda: opt.step(gradients()), shown)
        if not stepped.ok:
            check_unchanged(TARGET, before, snapshot(opt, params), f"step {k} after loading {short(shown, 300)}")
            break
        if not all(np.isfinite(p).all() for p in params):
            fail(TARGET, f"step {k} after loading {short(shown, 300)} left non-finite parameters")
        lr = attempt(TARGET, "lr", lambda: opt.lr, shown)
        if lr.ok and not (isinstance(lr.value, float) and np.isfinite(lr.value) and lr.value >= 0):
            fail(TARGET, f"after loading {short(shown, 300)}, the optimizer's lr is {lr.value!r}")
    reload_own_state(TARGET, opt.state_dict, lambda: build_optimizer(index, on_change)[0], shown)


@fuzz_settings(80)
@given(
    st.sampled_from(range(len(OPTIMIZERS))).flatmap(
        lambda index: st.tuples(st.just(index), st.sampled_from(POLICIES), tampered(optimizer_state(index)))
    )
)
def test_tampered_optimizer_states(case):
    exercise_optimizer_state(*case)
