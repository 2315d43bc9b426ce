"""Contract violations the torch fuzz target (``test_states_torch.py``) found, each reduced to a plain
test (no hypothesis), in the style of ``test_regressions.py``.

Each test says what happened and what the contract (tests/fuzz/contract.py: a value or an
LRDSLError, within 1 s; a failed operation changes nothing) expects instead. The fixed ones stay
as regression tests; the open ones (in the update path of ``ScheduleLR``: ``step()``, ``_update``
and the optimizer's hook) fail until the library is fixed, none marked skip or xfail, and are
listed in ``contract.KNOWN`` so that the fuzz target counts them and goes on.
"""

from __future__ import annotations

import io
import types
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lrdsl
from lrdsl.bridges import BridgeError
from lrdsl.bridges.torch import ScheduleLR

from . import contract
from .contract import attempt
from .strategies import BadMapping, Exploding, IntSubclass, aliased, aliased_dict, deep_dict, nested, recursive_list

TARGET = "regression"
TOKENS = "warmup(T=100tok) then cosine(T=2000tok)"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """Here a known violation fails: these tests are where it is carried."""
    monkeypatch.setattr(contract, "REPORT_KNOWN", False)


def scheduler(text="warmup(T=3) then cosine(T=30)", groups=2, **options):
    parameters = [torch.zeros(2, requires_grad=True) for _ in range(groups)]
    for p in parameters:
        p.grad = torch.ones(2)
    optimizer = torch.optim.SGD([{"params": [p]} for p in parameters], lr=0.1, momentum=0.9)
    return ScheduleLR(optimizer, text, **options), optimizer


def lrs(optimizer):
    """Every param group's hyperparameters (lr, momentum, ...)."""
    return [{key: value for key, value in group.items() if key != "params"} for group in optimizer.param_groups]


def refused_and_unchanged(sched, optimizer, state, shown):
    """Loading ``state`` is refused with an LRDSLError within a second, changing nothing."""
    before, values = sched.state_dict(), lrs(optimizer)
    outcome = attempt(TARGET, "load_state_dict", lambda: sched.load_state_dict(state), shown)
    assert isinstance(outcome.error, lrdsl.LRDSLError), shown
    assert sched.state_dict() == before and lrs(optimizer) == values, shown


def reloaded(sched):
    """``sched.state_dict()`` through torch.save and torch.load(weights_only=True)."""
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


# -- fixed ---------------------------------------------------------------------------------------------


def test_saved_options_that_are_not_options_are_refused_with_a_bridge_error():
    """ScheduleLR.load_state_dict took the saved steps_per_epoch, total, tokens_per_step and
    samples_per_step as anything and compiled them: an empty array raised ValueError ("The truth
    value of an empty array is ambiguous", comparing the saved options with the scheduler's), an
    int subclass whose __float__ raises let that ValueError escape from lrdsl/clock.py _factor,
    10**400 raised OverflowError there, a recursive list as total raised RecursionError (its repr,
    in lrdsl/clock.py parse_total), an aliased one took unbounded time; and an lrdsl_version that is
    an empty array raised ValueError. Expected: each refused with a BridgeError naming the entry,
    nothing changed."""
    sched, optimizer = scheduler(total=40, steps_per_epoch=10)
    sched.step()
    good = sched.state_dict()
    cases = [
        ("steps_per_epoch", np.array([]), "np.array([])"),
        ("steps_per_epoch", IntSubclass(1), "IntSubclass(1)"),
        ("steps_per_epoch", 10**400, "10**400"),
        ("total", recursive_list(), "a list that contains itself"),
        ("total", aliased(60), "aliased(60)"),
        ("tokens_per_step", [1.0], "[1.0]"),
        ("lrdsl_version", np.array([]), "np.array([])"),
    ]
    for key, value, shown in cases:
        refused_and_unchanged(sched, optimizer, {**good, key: value}, f"{key} = {shown}")


def test_a_state_in_a_mapping_whose_methods_raise_is_refused_with_a_bridge_error():
    """ScheduleLR.load_state_dict(state) with state a Mapping whose __getitem__, __iter__ or
    __contains__ raises let that RuntimeError escape (from state.get("lrdsl_version"), and from the
    schema's checks). Expected: a BridgeError saying the state cannot be read, nothing changed; the
    items of one that can be read load (a MappingProxyType, a Mapping whose ``in`` raises)."""
    sched, optimizer = scheduler(total=40)
    sched.step()
    good = sched.state_dict()
    for what in ("getitem", "iter"):
        refused_and_unchanged(sched, optimizer, BadMapping(good, what), f"BadMapping(state, {what!r})")
    for readable in (types.MappingProxyType(good), BadMapping(good, "contains")):
        loaded = attempt(TARGET, "load_state_dict", lambda r=readable: sched.load_state_dict(r), type(readable))
        assert loaded.ok, loaded.describe()


def test_saved_rates_and_variables_are_plain_data_or_refused():
    """ScheduleLR.load_state_dict took '_last_lr', 'base_lrs' and the variables' values as anything: a
    state whose base_lrs held an object, or (under on_change="checkpoint") whose variables held a
    100,000-deep list, was accepted, and the scheduler's next checkpoint could then not be saved
    (RecursionError in torch.save) or loaded back (torch.load(weights_only=True) raised
    UnpicklingError). Expected: a state is plain data or refused (numbers, or one-number tensors,
    for rates; numbers, booleans, strings and bounded lists for variables), nothing changed."""
    sched, optimizer = scheduler(total=40, variables={"x": 0.5}, on_change="checkpoint")
    sched.step()
    good = sched.state_dict()
    cases = [
        ({**good, "base_lrs": [object(), 0.1]}, "base_lrs holding an object"),
        ({**good, "_last_lr": [nested(100_000), 0.1]}, "_last_lr holding a 100,000-deep list"),
        ({**good, "_last_lr": [torch.ones(3), 0.1]}, "_last_lr holding a tensor of 3 numbers"),
        ({**good, "variables": {"x": 0.5, "y": nested(100_000)}}, "a 100,000-deep variable"),
        ({**good, "variables": {"x": 0.5, "y": recursive_list()}}, "a variable that contains itself"),
        ({**good, "variables": {"x": 0.5, "y": aliased(40)}}, "a variable of 2**40 aliased leaves"),
        ({**good, "variables": {"x": 0.5, "y": {"a": 1}}}, "a variable that is a table"),
        ({**good, "variables": {str(i): i for i in range(200_000)}}, "a table of 200,000 variables"),
        ({**good, "variables": {"x": 0.5, "y": 10**5000}}, "a variable of 10**5000 (torch.load refuses it)"),
    ]
    for state, shown in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", lrdsl.errors.ScheduleChangeWarning)
            refused_and_unchanged(sched, optimizer, state, shown)
    sched.load_state_dict({**good, "variables": {"x": np.float64(0.5)}, "base_lrs": [torch.tensor(0.1), 0.1]})
    assert type(sched.state_dict()["variables"]["x"]) is float  # a NumPy scalar comes back as a Python float
    fresh, _ = scheduler(total=40, variables={"x": 0.5})
    fresh.load_state_dict(reloaded(sched))


def test_a_changed_table_of_variables_is_shown_in_bounds():
    """Refusing (on_change="error") or warning about (on_change="checkpoint") a checkpoint whose
    variables changed showed them with str() and repr() (lrdsl/resume.py _shown, ScheduleLR._ignored):
    a variable of 10**5000 raised ValueError ("Exceeds the limit (4300 digits)"; such a variable is
    now refused as no number), and a table of 9,000 variables, one a string of 50,000 characters,
    made a message of every one of them. Expected: the refusal (or the warning) within a second,
    the values shown in part."""
    for policy in ("error", "checkpoint"):
        sched, _ = scheduler("cosine(T=$x)", variables={"x": 10}, on_change=policy)
        sched.step()
        variables = {"x": 10, "y": "1" * 50_000, **{f"v{i}": i for i in range(9_000)}}
        state = {**sched.state_dict(), "variables": variables}

        def load(sched=sched, state=state):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sched.load_state_dict(state)
            return [str(w.message) for w in caught if issubclass(w.category, lrdsl.errors.ScheduleChangeWarning)]

        outcome = attempt(TARGET, "load_state_dict", load, policy)
        shown = str(outcome.error) if policy == "error" else outcome.value[0]
        assert "variables" in shown and len(shown) < 2_000, shown


def test_a_saved_step_count_past_2_53_makes_a_checkpoint_that_loads():
    """A state whose '_step_count' (torch's count of step() calls) was 2**53 was accepted, but three
    updates later the scheduler's own state_dict() was refused ("'_step_count' is 9007199254740995;
    expected a whole number >= 0 and <= 2**53"): an accepted state made a checkpoint that could
    never be loaded. Expected: the counters of a state are refused only past what an update can
    reach (any int64), so a run's own checkpoint always loads."""
    sched, optimizer = scheduler(total=40)
    sched.step()
    sched.load_state_dict({**sched.state_dict(), "_step_count": 2**53, "last_epoch": 2**53})
    for _ in range(3):
        optimizer.step()
        sched.step()
    fresh, _ = scheduler(total=40)
    fresh.load_state_dict(reloaded(sched))
    assert fresh.last_epoch == 2**53 + 3


def test_a_state_at_a_counter_without_values_is_refused_and_changes_nothing():
    """A state whose last_epoch was -1 (the schema allowed it), or whose token count read through its
    tokens_per_step=1e-300 was past the float range, passed every check; ScheduleLR.load_state_dict
    then took its configuration and counters and failed only in _apply_all, evaluating the
    schedules there ("the iteration must be a finite number >= 0, got -1.0"): the refused load had
    changed last_epoch (and, under on_change="checkpoint", the schedules). Expected: refused with
    nothing changed, under every policy."""
    for policy in ("error", "continue", "smooth", "checkpoint"):
        sched, optimizer = scheduler(total=40, hyperparameters={"momentum": "0.9 - 0.1 * cosine(T=20)"})
        sched.on_change = policy
        sched.step()
        sched.step()
        good = sched.state_dict()
        cases = [
            ({**good, "last_epoch": -1}, "last_epoch=-1"),
            ({**good, "last_epoch": -1, "total": 50}, "last_epoch=-1, another total"),
            ({**good, "tokens_per_step": 1e-300, "tokens": 1e10}, "tokens_per_step=1e-300, tokens=1e10"),
        ]
        for state, shown in cases:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", lrdsl.errors.ScheduleChangeWarning)
                refused_and_unchanged(sched, optimizer, state, f"{shown} under {policy!r}")


def test_saved_node_states_that_are_not_lists_are_refused_with_a_bridge_error():
    """A state whose 'nodes' entry for a group was an empty array or an object whose __bool__ raises
    let ValueError ("The truth value of an empty array is ambiguous") or that exception escape from
    ScheduleLR._load_nodes (``state or []``), under every policy and from resolve_total() after a
    deferred load. Expected: refused with a BridgeError naming the entry, nothing changed."""
    sched, optimizer = scheduler("plateau(patience=0) * cosine(T=30)", total=40)
    sched.step()
    sched.report(1.0)
    good = sched.state_dict()
    for value, shown in ((np.array([]), "np.array([])"), (Exploding(), "Exploding()")):
        state = {**good, "nodes": {"lr": [value, []]}}
        refused_and_unchanged(sched, optimizer, state, f"nodes {shown}")


def test_a_pending_total_resolved_at_a_counter_without_values_changes_nothing():
    """A scheduler with total="auto" took a state saved before the total was known with last_epoch=-1
    (nothing is evaluated while pending); resolve_total(40) then compiled the schedules and failed
    evaluating them at -1, leaving the total 40 and the schedules compiled: half resolved.
    Expected: the LRDSLError, and the scheduler still pending, as it was."""
    sched, optimizer = scheduler(total="auto")
    sched.load_state_dict({**sched.state_dict(), "last_epoch": -1})
    before, values = sched.state_dict(), lrs(optimizer)
    outcome = attempt(TARGET, "resolve_total(40)", lambda: sched.resolve_total(40), "last_epoch=-1")
    assert isinstance(outcome.error, lrdsl.LRDSLError)
    assert sched.pending and sched.state_dict() == before and lrs(optimizer) == values


def test_amend_with_arguments_it_cannot_use_is_refused_with_an_lrdsl_error():
    """ScheduleLR.amend(text, at=, total=) let Python's errors escape: a text that is neither a string
    nor a list (1e-300, np.int32(-1)) raised TypeError in lrdsl/bridges/torch.py _per_group (list of
    it), a list of 3,000,000 items was copied first; at=10**5000 raised OverflowError and
    at=deep_dict(100_000) RecursionError in lrdsl/amend.py _amendment_point (math.isfinite, and the
    message's repr), at=aliased(60) took unbounded time there; total=(10**5000,) raised ValueError
    in lrdsl/clock.py parse_total (its repr). Expected: an LRDSLError within a second, nothing
    changed."""
    sched, optimizer = scheduler(total=40)
    for _ in range(3):
        sched.step()
    before, values = sched.state_dict(), lrs(optimizer)
    cases = [
        ({"text": 1e-300}, "text=1e-300"),
        ({"text": np.int32(-1)}, "text=np.int32(-1)"),
        ({"text": [None] * 3_000_000}, "text=[None] * 3_000_000"),
        ({"text": "constant(1e-3)", "at": 10**5000}, "at=10**5000"),
        ({"text": "constant(1e-3)", "at": IntSubclass(2)}, "at=IntSubclass(2)"),
        ({"text": "constant(1e-3)", "at": deep_dict(100_000)}, "at=deep_dict(100_000)"),
        ({"text": "constant(1e-3)", "at": aliased(60)}, "at=aliased(60)"),
        ({"text": "constant(1e-3)", "total": (10**5000, 1)}, "total=(10**5000, 1)"),
        ({"text": "constant(1e-3)", "total": np.array([])}, "total=np.array([])"),
    ]
    for arguments, shown in cases:
        outcome = attempt(TARGET, "amend", lambda a=arguments: sched.amend(**a), shown)
        assert isinstance(outcome.error, lrdsl.LRDSLError), shown
        assert sched.state_dict() == before and lrs(optimizer) == values, shown


def test_counts_fed_past_the_float_range_are_refused_and_change_nothing():
    """A cumulative token count of 1.7e308 (a state may hold one) plus step(tokens=1.7e308) became inf:
    the update failed with an EvaluationError after the count, the update counter and torch's step
    count had moved, and the scheduler's state_dict() then held tokens=inf, which no load accepts.
    Expected: advance() and step(tokens=) refuse a count whose sum passes the largest float, with a
    BridgeError, before anything changes."""
    sched, optimizer = scheduler(TOKENS, total="3000tok")
    sched.load_state_dict({**sched.state_dict(), "tokens": 1.7e308})
    before, values = sched.state_dict(), lrs(optimizer)
    for feed in (lambda: sched.step(tokens=1.7e308), lambda: sched.advance(tokens=1.7e308)):
        outcome = attempt(TARGET, "feed", feed, "tokens=1.7e308")
        assert isinstance(outcome.error, BridgeError)
        assert sched.state_dict() == before and lrs(optimizer) == values


def test_a_reported_metric_that_is_not_one_number_is_refused_with_an_lrdsl_error():
    """ScheduleLR.report(metric) let Python's errors escape: an empty array raised ValueError ("can only
    convert an array of size 1 to a Python scalar", metric.item() in lrdsl/bridges/torch.py report),
    and through lrdsl/schedule.py Schedule.report (float(metric), then the message's repr) 10**20000
    raised OverflowError, [10**5000] ValueError, a list 5,000 deep RecursionError, and an aliased
    table of 2**60 leaves took unbounded time. Expected: an LRDSLError within a second, nothing
    changed."""
    sched, optimizer = scheduler("plateau(patience=0) * cosine(T=30)", total=40)
    sched.step()
    sched.report(1.0)
    before, values = sched.state_dict(), lrs(optimizer)
    cases = [
        (np.zeros((0, 3)), "np.zeros((0, 3))"),
        (torch.ones(2), "torch.ones(2)"),
        (10**20000, "10**20000"),
        ([10**5000, 1.0], "[10**5000, 1.0]"),
        (nested(5000), "5,000 nested lists"),
        (aliased_dict(60), "aliased_dict(60)"),
        (IntSubclass(1), "IntSubclass(1)"),
    ]
    for metric, shown in cases:
        outcome = attempt(TARGET, "report", lambda m=metric: sched.report(m), shown)
        assert isinstance(outcome.error, lrdsl.LRDSLError), shown
        assert sched.state_dict() == before and lrs(optimizer) == values, shown


# -- open: listed in contract.KNOWN ----------------------------------------------------------------


def test_a_refused_step_with_counts_changes_no_count():
    """Open. Once samples were fed (advance(samples=)), a later step(tokens=n) without samples is
    refused ("no samples were counted for this update", in ScheduleLR._update), but step() had
    already added n to the token count (ScheduleLR.step calls advance() before _update): the failed
    update changed the scheduler. Expected: refused before anything changes (check what _update
    will refuse before advance(), or put the counts back)."""
    sched, _ = scheduler(TOKENS, total="3000tok")
    sched.step(tokens=150)
    sched.advance(samples=10)
    sched.step(tokens=150)
    before = sched.state_dict()
    outcome = attempt(TARGET, "step(tokens=150)", lambda: sched.step(tokens=150), "no samples fed")
    assert isinstance(outcome.error, BridgeError)
    assert sched.state_dict() == before, f"tokens {before['tokens']} became {sched.state_dict()['tokens']}"


def test_an_update_whose_values_fail_moves_no_counter():
    """Open. With tokens_per_step=1e-300, step(tokens=1e10) asks for the value at iteration 1e310: the
    update fails with an EvaluationError ("too large for this schedule's clock"), but last_epoch and
    _step_count had moved (ScheduleLR._next increments them before it evaluates) and the tokens
    were counted; each later step() moves them again. Expected: the values evaluated before the
    counters move, so a failed update changes nothing."""
    sched, optimizer = scheduler("cosine(T=10)", tokens_per_step=1e-300)
    before, values = sched.state_dict(), lrs(optimizer)
    outcome = attempt(TARGET, "step(tokens=1e10)", lambda: sched.step(tokens=1e10), "tokens_per_step=1e-300")
    assert isinstance(outcome.error, lrdsl.LRDSLError)
    after = sched.state_dict()
    assert after == before and lrs(optimizer) == values, {
        k: (before[k], after[k]) for k in before if before[k] != after[k]
    }


def test_a_following_scheduler_refuses_an_update_before_the_optimizer_runs():
    """Open. ScheduleLR(follow_optimizer=True) whose schedules read the token count refuses an update
    for which no tokens were fed, but from the optimizer's post-step hook: optimizer.step() raises
    after it has already changed the parameters and the momentum buffers. Expected: the refusal in
    a pre-step hook (as total="auto" does), before the optimizer runs."""
    sched, optimizer = scheduler("cosine(T=100)", tokens_per_step=10, follow_optimizer=True)
    sched.advance(tokens=10)
    optimizer.step()
    weights = [p.detach().clone() for group in optimizer.param_groups for p in group["params"]]
    outcome = attempt(TARGET, "optimizer.step()", optimizer.step, "no tokens fed")
    assert isinstance(outcome.error, BridgeError)
    after = [p.detach() for group in optimizer.param_groups for p in group["params"]]
    assert all(torch.equal(a, b) for a, b in zip(weights, after)), "the refused update changed the parameters"
