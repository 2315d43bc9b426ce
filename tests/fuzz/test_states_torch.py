"""Fuzz target "torch": tampered checkpoints of the torch bridge's ``ScheduleLR``, and its
``amend()``, ``step(tokens=...)`` and ``report()`` doors with hostile arguments.

Each setup is a ``ScheduleLR`` on a real ``torch.optim`` optimizer with three param groups
(one left unscheduled in some setups): metric-driven nodes and a scheduled momentum, an
amended schedule (a history), a token clock fed by ``step(tokens=n)``, epochs, a following
scheduler (``follow_optimizer=True``, ``betas[0]`` scheduled) and ``total="auto"`` (a
checkpoint loaded while the total is pending is deferred until :meth:`resolve_total`). Its
saved states -- the run's own, one saved from other strings or options (so that every
``on_change`` policy has something to decide), and the same states in the older formats 1
and 2 (:data:`lrdsl.bridges.torch._STATE_VERSION`) -- are edited by
:func:`tests.fuzz.strategies.tampered` (keys deleted, added, retyped; huge, negative and
non-finite numbers; deep, recursive and aliased structures) and loaded into a scheduler that
has run two updates. Under the contract of :mod:`tests.fuzz.contract`:

- ``load_state_dict`` (and ``resolve_total`` after a deferred load) gives nothing or an
  LRDSLError within 1 s;
- a refused state changes nothing: the scheduler's ``state_dict()`` and counters, every param
  group's hyperparameters and the optimizer's state are as before, and the next update gives
  exactly what an untouched twin gives;
- an accepted state leaves a working scheduler: each update gives finite hyperparameters >= 0
  or an LRDSLError that changes nothing, and its own ``state_dict()`` survives
  ``torch.save``/``torch.load(weights_only=True)`` and loads into a fresh scheduler (no
  accepted state makes a checkpoint that can never be loaded).

The doors: ``amend(text, at=, total=)``, ``step(tokens=, samples=)`` / ``advance(tokens=, samples=)``
and ``report(metric, reduce=)`` with hostile texts, counters, totals and metrics, under the same
checks. Violations in the update path that are not fixed yet are counted as known
(``contract.KNOWN``, ``test_regressions_torch.py``).
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from lrdsl.bridges.torch import ScheduleLR, read_value

from .contract import attempt, check_unchanged, fail, first_difference, reload_own_state, short, snapshot, tried
from .profiles import fuzz_settings
from .strategies import (
    BadMapping,
    Hostile,
    hostile_counters,
    hostile_values,
    mutated_texts,
    python_numbers,
    realize,
    tampered,
)

TARGET = "torch"
POLICIES = ["error", "continue", "smooth", "checkpoint"]
LRS = (0.1, 0.05, 0.01)


@dataclass(frozen=True)
class Setup:
    """One way to build and drive a ScheduleLR: its optimizer, schedules and options; ``tokens`` fed
    per update (``step(tokens=)``, or ``advance(tokens=)`` when following the optimizer); ``total``
    given to ``resolve_total`` when built with ``total="auto"``; ``changed``: options of the
    checkpoint saved from another configuration; ``amend``: a text installed after the first
    updates (the history); ``report``: metrics reported after them."""

    name: str
    schedule: Any
    options: Dict[str, Any] = field(default_factory=dict)
    optimizer: str = "sgd"
    tokens: Optional[float] = None
    total: Optional[int] = None
    changed: Dict[str, Any] = field(default_factory=dict)
    amend: Optional[str] = None
    report: Tuple[float, ...] = ()

    def scheduled(self) -> List[str]:
        return ["lr", *self.options.get("hyperparameters", {})]

    @property
    def follow(self) -> bool:
        return bool(self.options.get("follow_optimizer"))


SETUPS: List[Setup] = [
    Setup(
        "plateau and momentum",
        ["warmup(T=2) then plateau(factor=0.5, patience=0) * cosine(T=20)", "cosine(T=30, end=1e-4)", None],
        {"hyperparameters": {"momentum": "0.95 - 0.1 * cosine(T=20)"}, "total": 40},
        changed={"total": 50},
        report=(1.0, 1.2, 1.3),
    ),
    Setup(
        "amended",
        "warmup(T=3) then cosine(T=30, end=1e-4)",
        {"total": 40},
        changed={"schedule": "warmup(T=3) then linear(T=30)"},
        amend="constant(1e-3)",
    ),
    Setup(
        "tokens",
        ["warmup(T=100tok) then cosine(T=2000tok)", "linear(T=3000tok)", "constant(1)"],
        {"total": "3000tok"},
        tokens=150.0,
        changed={"total": "4000tok"},
    ),
    Setup(
        "epochs",
        "warmup(T=1ep) then cosine(T=4ep, end=1e-5)",
        {"interval": "epoch", "steps_per_epoch": 10, "total": "5ep"},
        changed={"steps_per_epoch": 20},
    ),
    Setup(
        "follow the optimizer",
        ["warmup(T=2) then plateau(patience=0) * 0.5", None, "cosine(T=20)"],
        {
            "follow_optimizer": True,
            "hyperparameters": {"betas[0]": "0.9 - 0.05 * cosine(T=20)"},
            "total": 20,
            "tokens_per_step": 64,
        },
        optimizer="adam",
        tokens=64.0,
        changed={"total": 30},
        report=(0.5, 0.6),
    ),
    Setup(
        "total auto",
        "warmup(10%) then cosine(end=1e-5)",
        {"total": "auto", "variables": {"x": 0.5}},
        total=40,
        changed={"variables": {"x": 0.25}},
    ),
]


def build(setup: Setup, on_change: str = "error", **changes: Any) -> Tuple[ScheduleLR, Any]:
    """A fresh optimizer (three param groups, gradients set) and its ScheduleLR."""
    # float64 parameters: a huge saved base gives a huge lr, which torch refuses to apply to float32 ones
    params = [torch.linspace(-1, 1, 4), torch.ones(3), torch.zeros(2, 2)]
    params = [p.to(torch.float64) for p in params]
    for p in params:
        p.requires_grad_(True)
        p.grad = torch.full_like(p, 0.25)
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)]
    if setup.optimizer == "adam":
        optimizer = torch.optim.Adam(groups, betas=(0.9, 0.999))
    else:
        optimizer = torch.optim.SGD(groups, momentum=0.9)
    options = {**setup.options, **{k: v for k, v in changes.items() if k != "schedule"}}
    scheduler = ScheduleLR(optimizer, changes.get("schedule", setup.schedule), on_change=on_change, **options)
    return scheduler, optimizer


def update(scheduler: ScheduleLR, optimizer: Any, setup: Setup) -> None:
    """One optimizer update and its count, the setup's way."""
    if setup.follow:
        if setup.tokens is not None:
            scheduler.advance(tokens=setup.tokens)
        optimizer.step()
    else:
        optimizer.step()
        scheduler.step(tokens=setup.tokens)


def run(setup: Setup, on_change: str = "error", updates: int = 2, resolve: bool = True, **changes: Any):
    """A scheduler built and driven ``updates`` updates (resolving a pending total first when ``resolve``)."""
    scheduler, optimizer = build(setup, on_change, **changes)
    if scheduler.pending:
        if not resolve:
            return scheduler, optimizer
        scheduler.resolve_total(setup.total)
    for _ in range(updates):
        update(scheduler, optimizer, setup)
    return scheduler, optimizer


@functools.cache
def saved_state(index: int, kind: str) -> Dict[str, Any]:
    """A checkpoint for setup ``index``: ``own`` (its run after five updates, reports and its amendment),
    ``changed`` (the same run from other options), ``pending`` (saved before the total was known),
    ``format 2`` and ``format 1`` (the own state as older versions saved it)."""
    setup = SETUPS[index]
    if kind == "pending":
        return build(setup)[0].state_dict()
    scheduler, optimizer = run(setup, updates=3, **(setup.changed if kind == "changed" else {}))
    for metric in setup.report:
        scheduler.report(metric)
    if setup.amend is not None:
        scheduler.amend(setup.amend)
    for _ in range(2):
        update(scheduler, optimizer, setup)
    state = scheduler.state_dict()
    if kind in ("format 2", "format 1"):
        state = {k: v for k, v in state.items() if k != "history"}
        state["lrdsl_version"] = 2
    if kind == "format 1":
        state = {
            k: v for k, v in state.items() if k not in ("tokens", "samples", "tokens_per_step", "samples_per_step")
        }
        state["lrdsl_version"] = 1
    return state


def kinds(index: int) -> List[str]:
    return ["own", "own", "changed", "format 2", "format 1"] + (["pending"] if SETUPS[index].total else [])


def values_of(optimizer: Any, setup: Setup) -> List[float]:
    return [read_value(group, key) for group in optimizer.param_groups for key in setup.scheduled()]


def proceed(scheduler: ScheduleLR, optimizer: Any, setup: Setup) -> None:
    """The next update (the total given first, if it is still pending)."""
    if scheduler.pending:
        scheduler.resolve_total(setup.total)
    update(scheduler, optimizer, setup)


def check_working(scheduler: ScheduleLR, optimizer: Any, setup: Setup, shown: Any, updates: int = 3) -> None:
    """``updates`` updates each give finite hyperparameters >= 0, or an LRDSLError that changes nothing."""
    for k in range(updates):
        before = snapshot(scheduler, optimizer)
        stepped = attempt(TARGET, f"update {k}", lambda: proceed(scheduler, optimizer, setup), shown)
        if not stepped.ok:
            what = f"update {k} ({stepped.describe()}) after {short(shown, 300)}"
            check_unchanged(TARGET, before, snapshot(scheduler, optimizer), what)
            return
        read = attempt(TARGET, "the values", lambda: values_of(optimizer, setup), shown)
        if not read.ok or not all(math.isfinite(v) and v >= 0 for v in read.value):
            fail(TARGET, f"update {k} after {short(shown, 300)} left the hyperparameters {read.describe()}")


def check_refused(
    scheduler: ScheduleLR, optimizer: Any, before: Any, twin: Tuple[ScheduleLR, Any], setup: Setup, what: str
) -> None:
    """A refused operation changed nothing, and the next update gives what it gives on the untouched ``twin``."""
    check_unchanged(TARGET, before, snapshot(scheduler, optimizer), what)
    expected = attempt(TARGET, "the untouched twin's next update", lambda: proceed(*twin, setup), what)
    got = attempt(TARGET, "the next update", lambda: proceed(scheduler, optimizer, setup), what)
    if expected.ok != got.ok:
        fail(TARGET, f"after {what}, the next update {got.describe()}; on an untouched twin it {expected.describe()}")
    where = first_difference(snapshot(*twin), snapshot(scheduler, optimizer))
    if where is not None:
        fail(TARGET, f"after {what}, the next update differs from an untouched twin's: {where}")


def saved_and_loaded(scheduler: ScheduleLR, setup: Setup, resolve: bool, shown: Any) -> None:
    """The scheduler's own ``state_dict()`` survives ``torch.save``/``torch.load(weights_only=True)`` and
    loads into a fresh scheduler built the same way, with ``on_change="checkpoint"`` (how a run resumes
    from its own checkpoint once its strings were amended, or taken from another checkpoint)."""

    def through_torch_save() -> Any:
        buffer = io.BytesIO()
        torch.save(scheduler.state_dict(), buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)

    reload_own_state(TARGET, through_torch_save, lambda: run(setup, "checkpoint", resolve=resolve)[0], shown)


def exercise_state(index: int, on_change: str, resolve: bool, state: Any) -> None:
    """Load a tampered state into a scheduler that has run two updates; see the module docstring."""
    tried(TARGET)
    setup = SETUPS[index]
    shown = (setup.name, on_change, "resolved" if resolve else "pending", state)  # the edits, in words
    state = realize(state)
    scheduler, optimizer = run(setup, on_change, resolve=resolve)
    before = snapshot(scheduler, optimizer)
    loaded = attempt(TARGET, "ScheduleLR.load_state_dict", lambda: scheduler.load_state_dict(state), shown)
    if not loaded.ok:
        twin = run(setup, on_change, resolve=resolve)
        check_refused(scheduler, optimizer, before, twin, setup, f"ScheduleLR.load_state_dict of {short(shown, 300)}")
        return
    if scheduler.pending:  # a deferred load: compared with this scheduler's schedules once the total is known
        before = snapshot(scheduler, optimizer)
        resolved = attempt(TARGET, "resolve_total", lambda: scheduler.resolve_total(setup.total), shown)
        if not resolved.ok:
            check_unchanged(TARGET, before, snapshot(scheduler, optimizer), f"resolve_total after {short(shown, 300)}")
            return
    check_working(scheduler, optimizer, setup, shown)
    saved_and_loaded(scheduler, setup, resolve, shown)


def payloads(index: int, kind: str) -> st.SearchStrategy[Hostile]:
    """The saved state ``kind`` of setup ``index`` tampered with (most of the time), or in a mapping
    whose ``what`` method raises."""
    whats = st.sampled_from(["getitem", "iter", "len", "items", "contains"])
    misbehaving = whats.map(
        lambda what: Hostile(f"BadMapping({kind} state, {what!r})", lambda: BadMapping(saved_state(index, kind), what))
    )
    state = tampered(saved_state(index, kind))
    return st.one_of(state, state, state, state, misbehaving)


def state_cases() -> st.SearchStrategy[Tuple[int, str, bool, Any]]:
    """(setup, on_change, whether a pending total is resolved before the load, a hostile state)."""
    return st.sampled_from(range(len(SETUPS))).flatmap(
        lambda index: st.tuples(
            st.just(index),
            st.sampled_from(POLICIES),
            st.booleans() if SETUPS[index].total else st.just(True),
            st.sampled_from(kinds(index)).flatmap(lambda kind: payloads(index, kind)),
        )
    )


@fuzz_settings(60)
@given(state_cases())
def test_tampered_schedulelr_states(case):
    exercise_state(*case)


# -- the doors: amend() and step(tokens=) -----------------------------------------------------------------


def texts_for_amend() -> st.SearchStrategy[Any]:
    """What ``amend`` is given as its text: a string (valid, mutated, an empty one), one per group, or worse."""
    text = st.one_of(
        st.sampled_from(["constant(1e-3)", "cosine(T=10)", "linear(T=5, end=0)", "plateau()"]), mutated_texts()
    )
    return st.one_of(
        text,
        text,
        st.lists(st.one_of(text, st.none()), min_size=2, max_size=4),
        hostile_values(exponential=False),
    )


def exercise_door(index: int, on_change: str, door: str, arguments: Dict[str, Any]) -> None:
    """Call ``amend`` or ``step``/``advance`` with hostile ``arguments`` on a scheduler that has run two updates."""
    tried(TARGET)
    setup = SETUPS[index]
    shown = (setup.name, on_change, door, arguments)  # hostile values by what they are
    arguments = realize(arguments)
    scheduler, optimizer = run(setup, on_change)
    call = {
        "amend": lambda: scheduler.amend(**arguments),
        "step": lambda: scheduler.step(**arguments),
        "advance": lambda: scheduler.advance(**arguments),
        "report": lambda: scheduler.report(**arguments),
    }[door]
    before = snapshot(scheduler, optimizer)
    outcome = attempt(TARGET, door, call, shown)
    if not outcome.ok:
        what = f"{door} ({outcome.describe()}) of {short(shown, 300)}"
        check_refused(scheduler, optimizer, before, run(setup, on_change), setup, what)
        return
    read = attempt(TARGET, "the values", lambda: values_of(optimizer, setup), shown)
    if not read.ok or not all(math.isfinite(v) and v >= 0 for v in read.value):
        fail(TARGET, f"{door} of {short(shown, 300)} left the hyperparameters {read.describe()}")
    check_working(scheduler, optimizer, setup, shown)
    saved_and_loaded(scheduler, setup, True, shown)


def doors(index: int) -> st.SearchStrategy[Tuple[str, Dict[str, Any]]]:
    amend = st.fixed_dictionaries(
        {"text": texts_for_amend()},
        optional={
            "at": hostile_counters() | st.sampled_from([0, 2, 5, "3ep", "100tok", 1e300]),
            "total": python_numbers() | hostile_values(exponential=False),
        },
    )
    counts = st.fixed_dictionaries({}, optional={"tokens": hostile_counters(), "samples": hostile_counters()})
    report = st.fixed_dictionaries(
        {"metric": hostile_counters()}, optional={"reduce": st.sampled_from(["mean", "none", "max", "", None, 1])}
    )
    found = [st.tuples(st.just("amend"), amend), st.tuples(st.just("advance"), counts)]
    found.append(st.tuples(st.just("report"), report))
    if not SETUPS[index].follow:
        found.append(st.tuples(st.just("step"), counts))
    return st.one_of(*found)


def door_cases() -> st.SearchStrategy[Tuple[int, str, str, Dict[str, Any]]]:
    """(setup, on_change, the door, its arguments), on a scheduler that has run two updates (its total known)."""
    return st.sampled_from(range(len(SETUPS))).flatmap(
        lambda index: st.tuples(st.just(index), st.sampled_from(POLICIES), doors(index)).map(
            lambda case: (case[0], case[1], *case[2])
        )
    )


@fuzz_settings(60)
@given(door_cases())
def test_hostile_amend_and_counts(case):
    exercise_door(*case)
