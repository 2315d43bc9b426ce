"""Contract violations the fuzz suite found, each reduced to a plain test (no hypothesis).

Each test says what happened and what the contract (tests/fuzz/contract.py: a value or an
LRDSLError, within 1 s; a failed operation changes nothing) expects instead. A test fails
until the library is fixed; none is marked skip or xfail. The open ones are listed in
``contract.KNOWN`` (so that the fuzz tests count them and go on, instead of failing a second
time on them); the others are fixed and stay as regression tests.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import lrdsl
import lrdsl.config
from lrdsl.authoring import Built, Check, built_schedule_node, optimizer_node, schedule_node
from lrdsl.plugins import build_registry

from . import contract
from .contract import KNOWN, attempt, check_agree
from .strategies import Exploding, IntSubclass, aliased, aliased_dict, deep_dict

TARGET = "regression"


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """Here a known violation fails: these tests are where it is carried."""
    monkeypatch.setattr(contract, "REPORT_KNOWN", False)


def test_non_ascii_digit_runs_over_4300_digits_are_a_syntax_error():
    """'١' * 4301 (Arabic-Indic digits match the grammar's \\d) escaped as Python's ValueError
    "Exceeds the limit (4300 digits) for integer string conversion": the 400-character literal
    cap counts only [0-9.]. Expected: LRDSLSyntaxError, as for '1' * 401."""
    outcome = attempt(TARGET, "parse", lambda: lrdsl.parse("١" * 4301), "'١' * 4301")
    assert isinstance(outcome.error, lrdsl.errors.LRDSLSyntaxError)


def test_an_integer_beyond_uint64_is_taken_by_both_evaluators_or_by_neither():
    """sched(2**64) gives a value (the counter becomes float(2**64)), but sched.values([2**64]) raises
    LRDSLError "the iterations must be real numbers, got objects" (NumPy makes an object array of a
    Python int above 2**64 - 1). Expected: the same outcome both ways (sched(i) and values([i]) agree,
    docs/language.md §4.1, §9.2), here the value, as for 2**63."""
    sched = lrdsl.compile("warmup(T=5) then cosine(T=95, end=1e-5)")
    scalar = attempt(TARGET, "sched(2**64)", lambda: sched(2**64), 2**64)
    array = attempt(TARGET, "values([2**64])", lambda: sched.values([2**64]), 2**64)
    check_agree(TARGET, scalar, array, "at iteration 2**64")


def test_an_epoch_beyond_the_float_range_in_iterations_is_an_evaluation_error_both_ways():
    """With steps_per_epoch=1e300, sched(epoch=1e10) raised OverflowError ("cannot convert float
    infinity to integer", in lrdsl.exact.to_iterations) and sched.values(epochs=[1e10]) returned
    [0.0] with two NumPy RuntimeWarnings (overflow in multiply, invalid value in subtract).
    Expected: an EvaluationError both ways ("the epoch ... is too large for this schedule's clock")."""
    sched = lrdsl.compile("cosine(T=10)", steps_per_epoch=1e300)
    scalar = attempt(TARGET, "sched(epoch=1e10)", lambda: sched(epoch=1e10), 1e10)
    array = attempt(TARGET, "values(epochs=[1e10])", lambda: sched.values(epochs=[1e10]), 1e10)
    assert isinstance(scalar.error, lrdsl.errors.EvaluationError)
    assert isinstance(array.error, lrdsl.errors.EvaluationError)


def test_values_over_arrays_of_more_than_32_dimensions_fail_with_an_lrdsl_error():
    """sched.values(points) with points of 33 or more dimensions (NumPy allows 64) raised
    RuntimeError "this function only supports up to 32 dimensions but the array has 33." where
    a point or a value is bad: ``t.flat[...]`` in lrdsl.counters.counters (a negative point) and in
    Schedule.values (a negative value). Expected: the EvaluationError those paths mean to raise
    (or an LRDSLError refusing such arrays)."""
    sched = lrdsl.compile("1 / (it - 7)")  # negative before iteration 7
    bad_value = attempt(TARGET, "values", lambda: sched.values(np.zeros((1,) * 33)), "np.zeros((1,) * 33)")
    assert isinstance(bad_value.error, lrdsl.LRDSLError)
    bad_point = attempt(TARGET, "values", lambda: sched.values(np.full((1,) * 33, -1.0)), "np.full((1,) * 33, -1.0)")
    assert isinstance(bad_point.error, lrdsl.LRDSLError)


class _IntWithoutFloat(int):
    def __float__(self):
        raise ValueError("no float")


def test_an_int_subclass_is_read_the_same_way_by_both_evaluators():
    """Minor. For an int subclass whose __float__ raises, sched(x) refuses the counter ("the iteration
    must be a number") while sched.values([x]) reads it through NumPy (as the int 3) and gives a
    value. Expected: the same outcome both ways, e.g. by reading integers with operator.index."""
    sched = lrdsl.compile("warmup(T=5) then cosine(T=95, end=1e-5)")
    x = _IntWithoutFloat(3)
    check_agree(
        TARGET,
        attempt(TARGET, "sched", lambda: sched(x), x),
        attempt(TARGET, "values", lambda: sched.values([x]), x),
        "x = 3",
    )


# -- open: listed in contract.KNOWN ----------------------------------------------------------------


def test_an_unprintable_argument_is_described_within_a_second_without_raising():
    """lrdsl.text.describe (used by every "..., got <value>" message) runs repr() on what the user
    passed: sched({"a": {"a": ...}}) 100,000 levels deep raised RecursionError, an aliased dict of
    2**60 leaves (60 shared levels) spent unbounded time in repr, and an object whose __repr__
    raises let that exception (here RuntimeError) escape; the same from Schedule, plateau and
    Optimizer load_state_dict (via lrdsl.schema). Expected: the LRDSLError the input deserves
    ("the iteration must be a number, got ..."), within 1 s, describing the value with a bounded
    repr (reprlib, or the type and size only) that never raises."""
    sched = lrdsl.compile("cosine(T=10)")
    for shown, make in [
        ("deep_dict(100_000)", lambda: deep_dict(100_000)),
        ("aliased_dict(60)", lambda: aliased_dict(60)),
    ]:
        outcome = attempt(TARGET, "sched(x)", lambda make=make: sched(make()), shown)
        assert isinstance(outcome.error, lrdsl.LRDSLError)
    outcome = attempt(TARGET, "sched(x)", lambda: sched(Exploding()), "Exploding()")
    assert isinstance(outcome.error, lrdsl.LRDSLError)
    state = sched.state_dict()
    state["position"] = deep_dict(100_000)
    outcome = attempt(TARGET, "load_state_dict", lambda: sched.load_state_dict(state), "a 100,000-deep position")
    assert isinstance(outcome.error, lrdsl.LRDSLError)


def test_a_counter_of_more_than_4300_digits_is_an_evaluation_error():
    """sched(10**5000) raised ValueError "Exceeds the limit (4300 digits) for integer string
    conversion": lrdsl.counters.counter formats str(point)[:12] for its "too large for a float"
    message. Expected: that EvaluationError (describe the int by its size, as lrdsl.text.describe
    does for ints of more than 256 bits)."""
    sched = lrdsl.compile("cosine(T=10)")
    outcome = attempt(TARGET, "sched(10**5000)", lambda: sched(10**5000), "10**5000")
    assert isinstance(outcome.error, lrdsl.errors.EvaluationError)


def test_a_saved_number_whose_float_raises_is_refused_with_an_lrdsl_error():
    """Schedule.load_state_dict with the position's time an int subclass whose __float__ raises
    ValueError let that ValueError escape from lrdsl.schema.Number.check (float(value) catches only
    OverflowError). Expected: the state is refused with an LRDSLError naming the entry, and the
    schedule is unchanged."""
    sched = lrdsl.compile("cosine(T=10)")
    sched(3)
    state = sched.state_dict()
    state["position"]["time"] = IntSubclass(1)
    before = sched.state_dict()
    outcome = attempt(TARGET, "load_state_dict", lambda: sched.load_state_dict(state), "time=IntSubclass(1)")
    assert isinstance(outcome.error, lrdsl.LRDSLError)
    assert sched.state_dict() == before


def test_every_known_violation_names_an_open_regression_test():
    """contract.KNOWN stays in step with this file (and test_regressions_torch.py): each entry names a
    test there and a valid pattern."""
    source = "".join(path.read_text(encoding="utf-8") for path in Path(__file__).parent.glob("test_regressions*.py"))
    for name, pattern in KNOWN:
        assert f"def {name}(" in source, f"contract.KNOWN names {name}, which is not a test in {__file__}"
        re.compile(pattern)


class _RefusingState:
    """A plugin node's state whose report() raises before changing anything."""

    def report(self, metric):
        raise ValueError("this node takes no reports")

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


@built_schedule_node(stateful=True)
def refusing(ctx):
    """A timeless node whose state refuses every report."""
    return Built(lambda xp, t: 0.5 + 0 * t, label="refusing()", states=(_RefusingState(),), timeless=True)


class _RefusingPlugin:
    @lrdsl.hookimpl
    def lrdsl_nodes(self):
        return [refusing]


def test_a_failed_report_changes_no_node():
    """Schedule.report(metric) feeds the metric-driven nodes one after another and keeps what the
    first ones did when a later one fails: with "plateau(patience=0) * refusing()" (a plugin node
    whose report raises, giving a PluginError), a failed report(0.5) still counted a report in the
    plateau (and, after a worse metric, cut its value). Expected: a failed report changes no node
    (save the nodes' states first and restore them on failure, as resume.rolled_back does for
    loading); the same for Optimizer.report."""
    registry = build_registry(entry_points=False, plugins={"refusing-plugin": _RefusingPlugin()})
    sched = lrdsl.compile("plateau(patience=0) * refusing()", registry=registry)
    before = sched.state_dict()
    outcome = attempt(TARGET, "report", lambda: sched.report(0.5), "report(0.5)")
    assert isinstance(outcome.error, lrdsl.errors.PluginError)
    assert sched.state_dict() == before


@schedule_node()
def always_fails(xp, t, value: float = 0.5):
    """A formula that raises whatever time it is given."""
    raise TypeError("a bug in the plugin")


@schedule_node()
def refuses_in_its_words(xp, t, value: float = 0.5):
    """A formula that raises an LRDSLError of its own whatever time it is given."""
    raise lrdsl.LRDSLError("a plugin's own LRDSLError")


@built_schedule_node()
def wrong_shape(ctx):
    """A built node whose formula returns two values whatever the points."""
    return Built(lambda xp, t: np.ones(2), label="wrong_shape()")


@optimizer_node()
def huge_state(param, grad, state, lr: float = 0.1):
    """An update rule that keeps an integer too large for a float in its state."""
    param -= lr * grad
    state["count"] = 10**400


class _BuggyPlugin:
    @lrdsl.hookimpl
    def lrdsl_nodes(self):
        return [always_fails, refuses_in_its_words, wrong_shape, huge_state]


def buggy_registry():
    return build_registry(entry_points=False, plugins={"buggy-plugin": _BuggyPlugin()})


@pytest.mark.parametrize("node", ["always_fails", "refuses_in_its_words"])
def test_a_failing_phase_not_reached_fails_neither_evaluator(node):
    """With "warmup(T=3) then always_fails()" (a plugin formula that raises), sched(0) is 0.0 (only the
    warmup is evaluated), but sched.values([0]) raises PluginError: the vectorised evaluator calls
    the second phase's formula although no point lies in it; the same when the formula raises an
    LRDSLError of its own (refuses_in_its_words, which passes the fence as it is). Expected: both
    evaluators agree at every point (docs/language.md §4.1, §9.2): evaluate a phase only over its
    own points (skip a phase with none), so that values([0]) is [0.0], and both raise at iteration 3
    and later."""
    sched = lrdsl.compile(f"warmup(T=3) then {node}()", registry=buggy_registry())
    for i in (0, 3):
        check_agree(
            TARGET,
            attempt(TARGET, "sched(i)", lambda i=i: sched(i), i),
            attempt(TARGET, "values([i])", lambda i=i: sched.values([i]), i),
            f"iteration {i}",
        )


def test_a_built_formula_of_the_wrong_shape_is_a_plugin_error():
    """A built node whose formula returns np.ones(2) for one point: sched(0) is a PluginError
    ("returned a float64 array of shape (2,), not a number"), but sched.values([0]) raised NumPy's
    ValueError "operands could not be broadcast together" (lrdsl/schedule.py, values). Expected: a
    PluginError naming the plugin and node, saying the shape expected and the shape returned."""
    sched = lrdsl.compile("wrong_shape()", registry=buggy_registry())
    outcome = attempt(TARGET, "values([0])", lambda: sched.values([0]), "values([0])")
    assert isinstance(outcome.error, lrdsl.errors.PluginError)


def test_an_update_rule_keeping_a_huge_int_is_a_plugin_error():
    """An optimizer node whose update rule stores state["count"] = 10**400: step() raised TypeError
    "ufunc 'isfinite' not supported for the input types" from lrdsl.guard.malformed. Expected: a
    PluginError naming the plugin, the node and the state entry, with parameters and state as
    they were before the step."""
    params = [np.ones(3)]
    opt = lrdsl.optimizer("huge_state()", params, registry=buggy_registry())
    outcome = attempt(TARGET, "step", lambda: opt.step([np.ones(3)]), "step")
    assert isinstance(outcome.error, lrdsl.errors.PluginError)
    assert params[0].tolist() == [1.0, 1.0, 1.0]


def _registry_of(*nodes):
    """A registry with one plugin, ``node-plugin``, that provides ``nodes``."""

    class _NodesPlugin:
        @lrdsl.hookimpl
        def lrdsl_nodes(self):
            return list(nodes)

    return build_registry(entry_points=False, plugins={"node-plugin": _NodesPlugin()})


def test_a_failed_optimizer_report_changes_no_schedule():
    """Optimizer.report(metric) fed its schedules one after another: with lr=plateau(patience=0) and
    momentum=refusing() (whose report raises), a failed report(0.5) had already counted a report in
    the lr schedule's plateau. Expected: a failed report changes no schedule of the optimizer."""
    registry = build_registry(entry_points=False, plugins={"refusing-plugin": _RefusingPlugin()})
    opt = lrdsl.optimizer("sgd(lr=plateau(patience=0), momentum=refusing())", [np.ones(3)], registry=registry)
    before = opt.state_dict()
    outcome = attempt(TARGET, "report", lambda: opt.report(0.5), "report(0.5)")
    assert isinstance(outcome.error, lrdsl.errors.PluginError)
    assert opt.state_dict() == before


def test_a_failed_torch_scheduler_report_changes_no_schedule():
    """ScheduleLR.report(metric) fed its schedules one after another: with lr "plateau(patience=0)"
    and momentum "refusing()", a failed report(0.5) had already counted a report in the lr
    schedule's plateau. Expected: a failed report changes no schedule of the scheduler."""
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install lrdsl[torch])")
    from lrdsl.bridges.torch import ScheduleLR

    registry = build_registry(entry_points=False, plugins={"refusing-plugin": _RefusingPlugin()})
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.ones(3))], lr=0.1, momentum=0.9)
    scheduler = ScheduleLR(
        optimizer, "plateau(patience=0)", hyperparameters={"momentum": "refusing()"}, registry=registry
    )
    before = scheduler.state_dict()
    outcome = attempt(TARGET, "report", lambda: scheduler.report(0.5), "report(0.5)")
    assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    assert scheduler.state_dict() == before


@schedule_node()
def power_of_ten(xp, t, digits: int = 400):
    """A formula that returns the Python int 10**digits, whatever the time."""
    return 10**digits


@schedule_node()
def scribble(xp, t):
    """A formula that writes into the time it is given (in place for an array), then returns 1."""
    t += 50.0
    return 1.0 + 0.0 * t


@schedule_node()
def half_precision(xp, t, value: float = 0.5):
    """A formula that returns ``value`` as float16 (a 0-d array for a float ``t``)."""
    return np.full(np.shape(t), value, dtype=np.float16)


class _Unreadable(float):
    def __float__(self):
        raise RuntimeError("no float")


@schedule_node()
def unreadable(xp, t):
    """A formula that returns a float subclass whose __float__ raises."""
    return _Unreadable(0.5)


@schedule_node()
def masked(xp, t, value: float = 0.5):
    """A formula that returns its value as a masked array (of t's shape, masked everywhere)."""
    return np.ma.masked_array(np.full(np.shape(t), value), mask=True)


def numbers_registry():
    return _registry_of(power_of_ten, scribble, half_precision, unreadable, masked)


def test_a_formula_returning_an_int_too_large_for_a_float_is_a_plugin_error():
    """power_of_ten() returning 10**400: sched(0) raised OverflowError (float() of the result in
    Schedule.__call__, lrdsl/schedule.py) and values([0]) a PluginError ("not an array of real
    numbers": NumPy makes an object array of it). With 10**21 (a float, but above 2**64) sched(0)
    was 1e21 and values([0]) the same PluginError. Expected: a PluginError both ways for 10**400,
    and 1e21 both ways for 10**21 (an int result is read as a float)."""
    registry = numbers_registry()
    huge = lrdsl.compile("power_of_ten()", registry=registry)
    for outcome in (
        attempt(TARGET, "sched(0)", lambda: huge(0), "power_of_ten()"),
        attempt(TARGET, "values([0])", lambda: huge.values([0]), "power_of_ten()"),
    ):
        assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    large = lrdsl.compile("power_of_ten(digits=21)", registry=registry)
    scalar = attempt(TARGET, "sched(0)", lambda: large(0), "power_of_ten(digits=21)")
    check_agree(TARGET, scalar, attempt(TARGET, "values([0])", lambda: large.values([0]), 0), "iteration 0")
    assert scalar.value == 1e21


def test_a_formula_returning_float16_is_read_in_float64_by_both_evaluators():
    """half_precision() returns its value as float16 (for a float t, a 0-d array, which sched(i) once
    refused as "not a number"): in "0.1 * half_precision() + 0.2 * linear(T=10, end=1)", sched(0)
    was 0.25, computed in float16 (NumPy keeps a float16 against a Python float), and values([0])
    0.24998779 (float16 0.05 added to a float64 array). Expected: a plugin's result is read in
    float64 by both evaluators: 0.1 * 0.5 + 0.2 both ways."""
    text = "0.1 * half_precision() + 0.2 * linear(T=10, end=1)"
    sched = lrdsl.compile(text, registry=numbers_registry())
    scalar = attempt(TARGET, "sched(0)", lambda: sched(0), text)
    check_agree(TARGET, scalar, attempt(TARGET, "values([0])", lambda: sched.values([0]), text), "iteration 0")
    assert scalar.value == 0.1 * 0.5 + 0.2


def test_a_formula_result_whose_float_raises_is_a_plugin_error():
    """unreadable() returns a float subclass whose __float__ raises RuntimeError: sched(0) let the
    RuntimeError escape (float() of the result in Schedule.__call__, lrdsl/schedule.py), and
    values([0]) gave 0.5. Expected: a PluginError both ways, naming the plugin and the node."""
    sched = lrdsl.compile("unreadable()", registry=numbers_registry())
    for outcome in (
        attempt(TARGET, "sched(0)", lambda: sched(0), "unreadable()"),
        attempt(TARGET, "values([0])", lambda: sched.values([0]), "unreadable()"),
    ):
        assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
        assert "'unreadable' from plugin 'node-plugin'" in str(outcome.error)


def test_a_masked_array_result_is_read_alike_by_both_evaluators():
    """masked() returns a masked array of t's shape: sched(0) was a PluginError (the 0-d masked
    array read as np.ma.masked, "not a number") while values([0]) read the array's data, 0.5.
    Expected: both read a masked array as its plain array, 0.5 both ways."""
    sched = lrdsl.compile("masked()", registry=numbers_registry())
    scalar = attempt(TARGET, "sched(0)", lambda: sched(0), "masked()")
    check_agree(TARGET, scalar, attempt(TARGET, "values([0])", lambda: sched.values([0]), "masked()"), "0")
    assert scalar.value == 0.5


def test_a_formula_writing_into_its_time_changes_no_other_node():
    """scribble() adds 50 to the time array it is given, in place: in "scribble() * linear(T=100,
    end=0)" the vectorised evaluator gives both factors one time array, so linear() read the
    time 50 iterations late (values([0]) was 0.5, sched(0) 1.0). Expected: what a formula does
    to the arrays it is given reaches no other node and not the caller (the fence gives each
    plugin formula its own copy, docs/writing-a-plugin.md), so both evaluators agree."""
    sched = lrdsl.compile("scribble() * linear(T=100, end=0)", registry=numbers_registry())
    points = np.array([0.0, 10.0, 60.0])
    values = attempt(TARGET, "values", lambda: sched.values(points), "values([0, 10, 60])")
    assert values.ok, values.describe()
    assert points.tolist() == [0.0, 10.0, 60.0]
    for i, value in zip(points.tolist(), values.value.tolist()):
        check_agree(TARGET, attempt(TARGET, "sched(i)", lambda i=i: sched(i), i), contract.Outcome([value]), f"{i}")


@schedule_node(checks={"value": Check(lambda v: np.ones(2), ">= 0")})
def ambiguous_check(xp, t, value: float = 0.5):
    """A node whose range check returns an array, which is neither true nor false."""
    return value + 0 * t


def test_a_range_check_returning_an_array_is_a_plugin_error():
    """A plugin's range check returning np.ones(2): compiling "ambiguous_check(value=0.3)" raised NumPy's
    ValueError "The truth value of an array with more than one element is ambiguous" (bool() of
    the verdict in lrdsl/specs.py Check.__call__, outside the fence). Expected: a PluginError naming
    the plugin, the node and the check."""
    registry = _registry_of(ambiguous_check)
    text = "ambiguous_check(value=0.3)"
    outcome = attempt(TARGET, "compile", lambda: lrdsl.compile(text, registry=registry), text)
    assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    assert "ambiguous_check" in str(outcome.error) and "range check of value" in str(outcome.error)


@pytest.mark.parametrize(
    "kept",
    [_Unreadable(0.5), np.ma.masked_array(np.ones(3), mask=False)],
    ids=["a float subclass whose __float__ raises", "a masked array"],
)
def test_an_update_rule_keeping_a_subclass_of_a_number_or_array_is_a_plugin_error(kept):
    """An update rule that stores a float subclass (whose __float__ raises) or a masked array in its
    state: step() took it (guard.malformed checked isinstance), and the optimizer's checkpoint
    then held an object of the plugin's class, which no plain-data checkpoint can hold (the fuzz
    suite's snapshot of the state raised RuntimeError reading it). Expected: a PluginError naming
    the state entry, with parameters and state as they were before the step."""

    @optimizer_node()
    def keeps(param, grad, state, lr: float = 0.1):
        """An update rule that keeps ``kept`` in its state."""
        param -= lr * grad
        state["kept"] = kept

    params = [np.ones(3)]
    opt = lrdsl.optimizer("keeps()", params, registry=_registry_of(keeps))
    outcome = attempt(TARGET, "step", lambda: opt.step([np.ones(3)]), "step")
    assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    assert "'kept'" in str(outcome.error)
    assert params[0].tolist() == [1.0, 1.0, 1.0]


def _constant(xp, t):
    return 0.5 + 0 * t


@pytest.mark.parametrize(
    "fields",
    [{"states": None}, {"states": (None,)}, {"timeless": np.ones(2)}, {"scalar": np.ones(2)}],
    ids=["states=None", "states=(None,)", "timeless=np.ones(2)", "scalar=np.ones(2)"],
)
def test_a_built_with_junk_in_its_fields_is_a_plugin_error(fields):
    """A build returning Built(formula, **fields): compiling "junk_fields() * linear(T=10, end=0.1)"
    raised TypeError ("'NoneType' object is not iterable", lrdsl/guard.py fenced_build) for
    states=None and NumPy's ValueError ("truth value of an array ... is ambiguous", in
    fenced_build and lrdsl/curves.py binary) for scalar= and timeless= arrays; states=(None,)
    compiled, and report() then raised AttributeError. Expected: a PluginError at compile,
    naming the plugin, the node and the field."""

    @built_schedule_node()
    def junk_fields(ctx):
        """A built node whose Built holds junk."""
        return Built(_constant, **fields)

    text = "junk_fields() * linear(T=10, end=0.1)"
    outcome = attempt(TARGET, "compile", lambda: lrdsl.compile(text, registry=_registry_of(junk_fields)), text)
    assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    assert f"whose {next(iter(fields))} is" in str(outcome.error)


@pytest.mark.parametrize("kept", ["the gradient", "the parameter", "state.scratch(0)"])
def test_an_update_rule_keeping_an_array_it_was_lent_in_its_state_is_a_plugin_error(kept):
    """An update rule that stores the gradient, the parameter or a scratch buffer itself in its
    state: step() took it, and the optimizer's state then changed whenever that array changed:
    the caller's gradient buffer reused by the training loop, the parameter at the next step, the
    scratch buffer when the next parameter's update used it (two parameters' states then held
    one buffer). Expected: a PluginError naming the entry and the array whose memory it is in,
    the step undone."""

    @optimizer_node()
    def keeps_arrays(param, grad, state, lr: float = 0.1):
        """An update rule that keeps an array it was lent in its state."""
        param -= lr * grad
        lent = {"the gradient": grad, "the parameter": param, "state.scratch(0)": state.scratch(0)}
        state["kept"] = lent[kept]

    params = [np.ones(3), np.ones(3)]
    opt = lrdsl.optimizer("keeps_arrays()", params, registry=_registry_of(keeps_arrays))
    outcome = attempt(TARGET, "step", lambda: opt.step([np.ones(3), np.ones(3)]), "step")
    assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    assert f"'kept' in the memory of {kept}" in str(outcome.error)
    assert [p.tolist() for p in params] == [[1.0, 1.0, 1.0]] * 2


def test_an_update_rule_setting_the_parameter_shape_leaves_the_callers_array_alone():
    """An update rule that sets param.shape = (param.size,): the caller's parameter array of shape
    (2, 3) became one of shape (6,), and every later step() was an ArrayError. Expected: the rule
    works on a view, so the caller's arrays keep their shape (and dtype)."""

    @optimizer_node()
    def flattens(param, grad, state, lr: float = 0.1):
        """An update rule that flattens the parameter array it is given."""
        param -= lr * grad
        param.shape = (param.size,)

    params = [np.ones((2, 3))]
    opt = lrdsl.optimizer("flattens()", params, registry=_registry_of(flattens))
    for k in range(2):
        outcome = attempt(TARGET, f"step {k}", lambda: opt.step([np.ones((2, 3))]), "step")
        assert outcome.ok, outcome.describe()
    assert params[0].shape == (2, 3)
    assert np.allclose(params[0], 0.8)


class _LiveState:
    """A node state kept in one dict, which state_dict() returns itself and load_state_dict() keeps."""

    def __init__(self, saved=None):
        self.data = saved if saved is not None else {"value": 0.5, "reports": 0}

    def report(self, metric):
        self.data["reports"] += 1

    def state_dict(self):
        return self.data

    def load_state_dict(self, state):
        self.data = state


def _state_node(data=None):
    """A registry whose ``live()`` node keeps a :class:`_LiveState` of ``data``."""

    @built_schedule_node(stateful=True)
    def live(ctx):
        """A node with a state that hands out and keeps its own dicts."""
        return Built(_constant, label="live()", states=(_LiveState(data),), timeless=True)

    return _registry_of(live)


def test_a_checkpoint_does_not_change_with_the_node_it_was_taken_from():
    """A plugin node whose state_dict() returns its own dict and whose load_state_dict() keeps the
    dict it is given: a checkpoint taken with sched.state_dict() changed at the next report(), and
    so did the checkpoint another schedule had loaded. Expected: a checkpoint is the caller's
    (the fence copies a node's state as plain data both ways)."""
    registry = _state_node()
    sched = lrdsl.compile("live()", registry=registry)
    saved = sched.state_dict()
    sched.report(1.0)
    assert saved["nodes"] == [{"value": 0.5, "reports": 0}]
    other = lrdsl.compile("live()", registry=registry)
    other.load_state_dict(saved)
    other.report(1.0)
    assert saved["nodes"] == [{"value": 0.5, "reports": 0}]


@pytest.mark.parametrize("junk", [{"value": object()}, {"value": float("nan")}, {1: 0.5}], ids=repr)
def test_a_node_state_that_json_cannot_keep_is_a_plugin_error(junk):
    """A plugin node whose state_dict() returns a dict holding an object, NaN, or a key that is not
    a string: sched.state_dict() returned it, a checkpoint that json.dumps(allow_nan=False) and
    torch.load(weights_only=True) refuse. Expected: a PluginError naming the node and where in
    its state the junk is."""
    sched = lrdsl.compile("live()", registry=_state_node(junk))
    outcome = attempt(TARGET, "state_dict", sched.state_dict, junk)
    assert isinstance(outcome.error, lrdsl.errors.PluginError), outcome.describe()
    assert "not plain data" in str(outcome.error)


def test_a_config_integer_of_more_than_4300_digits_is_a_config_error(tmp_path):
    """A TOML or YAML document with an integer of 5,000 digits (x = 111...1) made
    lrdsl.config.load_document raise ValueError "Exceeds the limit (4300 digits) for integer string
    conversion" (from tomllib and from PyYAML's int constructor, in lrdsl/config.py _parse). Expected:
    a ConfigError naming the file (and the key, where the parser tells it)."""
    for suffix, text in [(".toml", "x = " + "1" * 5000 + "\n"), (".yaml", "x: " + "1" * 5000 + "\n")]:
        path = tmp_path / f"huge{suffix}"
        path.write_text(text, encoding="utf-8")
        outcome = attempt(TARGET, "load_document", lambda path=path: lrdsl.config.load_document(str(path)), path)
        assert isinstance(outcome.error, lrdsl.config.ConfigError)


def test_a_config_path_that_is_a_fifo_is_refused_without_blocking(tmp_path):
    """lrdsl.config.load_document on a named pipe (os.mkfifo, e.g. a crafted path or /dev/stdin)
    blocked in open() until a writer came: forever. Expected: a ConfigError at once ("... is not a
    regular file"), checked with os.stat before opening."""
    path = tmp_path / "pipe.json"
    os.mkfifo(path)
    outcome = attempt(TARGET, "load_document", lambda: lrdsl.config.load_document(str(path)), path)
    assert isinstance(outcome.error, lrdsl.config.ConfigError)


class _RaisingMapping(dict):
    """A mapping whose iteration and item access raise (a misbehaving ``variables=`` table)."""

    def __iter__(self):
        raise RuntimeError("iter")

    def __getitem__(self, key):
        raise RuntimeError("getitem")

    def __len__(self):
        raise RuntimeError("len")


def test_a_variables_argument_is_checked_and_shown_within_a_second_by_compile_and_optimizer():
    """lrdsl.compile checks variables= in lrdsl/schedule.py _variables, but shows the refused value with
    an unbounded f"{variables!r:.80}" (RecursionError for {1: a 100,000-deep dict}, ValueError for
    {1: 10**5000}, unbounded time for an aliased list of 2**60 leaves) and iterates and copies a
    mapping whose methods raise (RuntimeError escapes); a variable of 10**5000 used as $x raised
    ValueError in lrdsl/binding.py _value_tree; lrdsl.optimizer (lrdsl/optim/expression.py
    parse_optimizer) does not check variables= at all: dict(variables) raised TypeError for 5,
    ValueError for "x=1", and a non-string name gave TypeError in binding.py. Expected: an
    LRDSLError within 1 s for each, naming what was wrong with a bounded description."""
    cases = [
        ({1: deep_dict(100_000)}, "{1: deep_dict(100_000)}"),
        ({1: 10**5000}, "{1: 10**5000}"),
        (aliased_dict(60), "aliased_dict(60)"),
        (_RaisingMapping(x=1), "a mapping whose methods raise"),
        ({"x": 10**5000}, "{'x': 10**5000}"),
        (5, "5"),
        ("x=1", "'x=1'"),
        ({1: "x"}, "{1: 'x'}"),
    ]
    for variables, shown in cases:
        compiled = attempt(TARGET, "compile", lambda v=variables: lrdsl.compile("$x", variables=v), shown)
        assert not compiled.ok, shown
        made = attempt(
            TARGET, "optimizer", lambda v=variables: lrdsl.optimizer("adam(lr=$x)", [np.ones(2)], variables=v), shown
        )
        assert not made.ok, shown


def test_a_recursive_variables_table_never_makes_a_checkpoint_that_is_not_plain_data():
    """lrdsl.compile("$x", variables=table) with table = {"x": 0.1, "self": table} compiles, and its
    state_dict() holds the whole table, cycle included: json.dumps raises "Circular reference
    detected", so the checkpoint cannot be written. Expected: variables are plain data (numbers,
    strings, lists of them, tables of them) and a cycle is refused with an LRDSLError naming the
    variable; or only the variables the expression uses are saved."""
    table: dict = {"x": 0.1}
    table["self"] = table
    compiled = attempt(TARGET, "compile", lambda: lrdsl.compile("$x", variables=table), "a recursive table")
    if compiled.ok:
        state = compiled.value.state_dict()
        encoded = attempt(TARGET, "json", lambda: json.dumps(state), "state_dict()")
        assert encoded.ok, encoded.describe()


def test_values_over_an_aliased_nested_list_is_refused_within_a_second():
    """Minor. sched.values(x) with x = [a, a], a = [b, b], ... 60 levels (a list of 2**60 leaves built
    from 60 shared lists) spent 20+ s in np.asarray (lrdsl/counters.py counters) before an
    LRDSLError. Expected: refused within 1 s, e.g. by counting the leaves of a nested list
    with a budget (or refusing nested lists deeper than NumPy's 64 dimensions) before np.asarray."""
    sched = lrdsl.compile("cosine(T=10)")
    outcome = attempt(TARGET, "values", lambda: sched.values(aliased(60)), "aliased(60)")
    assert isinstance(outcome.error, lrdsl.LRDSLError)


def test_an_int_beyond_the_float_range_as_a_compile_option_is_an_lrdsl_error():
    """base=10**400 raised OverflowError from float(base) in lrdsl.compile (10**400 < inf passes the
    range check), steps_per_epoch= or tokens_per_step=10**400 OverflowError in lrdsl/clock.py _factor,
    and total=10**5000 ValueError ("Exceeds the limit (4300 digits)") from the message's str(total),
    by lrdsl.compile and lrdsl.optimizer alike. Expected: an LRDSLError naming the option."""
    for option in ("base", "steps_per_epoch", "tokens_per_step", "total"):
        for huge, shown in [(10**400, "10**400"), (10**5000, "10**5000")]:
            given = f"{option}={shown}"
            compiled = attempt(
                TARGET, "compile", lambda o=option, h=huge: lrdsl.compile("cosine(T=10)", **{o: h}), given
            )
            assert isinstance(compiled.error, lrdsl.LRDSLError) and option in str(compiled.error), given
            if option != "base":
                made = attempt(
                    TARGET,
                    "optimizer",
                    lambda o=option, h=huge: lrdsl.optimizer("sgd(lr=cosine(T=10))", [np.ones(2)], **{o: h}),
                    given,
                )
                assert isinstance(made.error, lrdsl.LRDSLError) and option in str(made.error), given


def _with_variable(value):
    """A schedule's checkpoint whose saved variables hold ``y = value`` (besides the x it uses)."""
    sched = lrdsl.compile("cosine(T=$x)", variables={"x": 50})
    sched(3)
    state = sched.state_dict()
    state["options"]["variables"]["y"] = value
    return state


def nested_list(depth: int) -> list:
    value: list = [1.0]
    for _ in range(depth):
        value = [value]
    return value


def test_a_checkpoint_whose_variables_are_not_plain_data_is_refused_within_a_second():
    """A checkpoint's options.variables were read as Anything (lrdsl/options.py): with on_change=
    "checkpoint", a bytes variable was loaded and the next state_dict() could not be written as
    JSON ("Object of type bytes is not JSON serializable"); a 5,000-deep list raised RecursionError
    (lrdsl/options.py plain), and an aliased list of 2**25 leaves took 140 s (plain() and the
    comparison of the options expand it). Expected: the state is refused with an LRDSLError within
    1 s, under every on_change policy, and the schedule is unchanged."""
    for policy in ("error", "continue", "checkpoint"):
        for value, shown in [(b"12", "b'12'"), (nested_list(5000), "a 5,000-deep list"), (aliased(25), "aliased(25)")]:
            sched = lrdsl.compile("cosine(T=$x)", variables={"x": 50}, on_change=policy)
            before = sched.state_dict()
            state = _with_variable(value)
            loaded = attempt(
                TARGET, "load_state_dict", lambda s=state, load=sched.load_state_dict: load(s), (policy, shown)
            )
            assert isinstance(loaded.error, lrdsl.LRDSLError), (policy, shown)
            assert sched.state_dict() == before


def test_a_tampered_optimizer_state_of_huge_finite_moments_loads_without_a_warning():
    """Optimizer.load_state_dict of a state whose saved moments are finite but near the float's
    largest value (np.finfo(dtype).max) let NumPy's RuntimeWarning "overflow encountered in reduce"
    escape from lrdsl/optim/state.py finite (a sum used as a quick check). Expected: a clean load
    (the entries are finite) or an LRDSLError, and no warning."""
    params = [np.linspace(-1, 1, 6).reshape(2, 3), np.ones(3, dtype=np.float32)]
    opt = lrdsl.optimizer("adam(lr=1e-3)", params, total=10)
    opt.step([np.full((2, 3), 0.25), np.ones(3, dtype=np.float32)])
    state = opt.state_dict()
    for saved in state["params"]:
        for entry in saved["entries"].values():
            entry[...] = np.finfo(entry.dtype).max
    fresh = lrdsl.optimizer("adam(lr=1e-3)", [p.copy() for p in params], total=10)
    attempt(TARGET, "load_state_dict", lambda: fresh.load_state_dict(state), "moments of np.finfo(dtype).max")


def test_a_large_yaml_config_is_read_or_refused_within_a_second(tmp_path):
    """lrdsl.config.load_document of a 300 kB YAML document (a list of 51,000 numbers under one key)
    took 2.5-5 s in PyYAML's pure-Python parser (lrdsl/config.py _parse), and a config file of any
    size was read whole. Expected: a ConfigError at once for a file larger than a config can be
    (lrdsl.config.MAX_DOCUMENT_BYTES), libyaml's parser for the rest."""
    path = tmp_path / "big.yaml"
    path.write_text("x:\n" + "- 0.5\n" * 200_000, encoding="utf-8")
    outcome = attempt(TARGET, "load_document", lambda: lrdsl.config.load_document(str(path)), "1.2 MB of YAML")
    assert isinstance(outcome.error, lrdsl.config.ConfigError)


def test_a_set_holding_an_int_of_4300_digits_is_described_without_raising():
    """lrdsl.text.describe({10**5000}) raised ValueError "Exceeds the limit (4300 digits)" (reprlib shows
    an int with repr() before cutting it), so lrdsl.compile("$x", variables={"x": {10**5000}}) let it
    escape. Expected: the ParameterError naming the variable."""
    outcome = attempt(TARGET, "compile", lambda: lrdsl.compile("$x", variables={"x": {10**5000}}), "{'x': {10**5000}}")
    assert isinstance(outcome.error, lrdsl.errors.ParameterError)


def test_an_optimizer_at_the_largest_count_refuses_to_step_so_its_checkpoint_stays_loadable():
    """A checkpoint with "iteration": 2**53 (the largest count load_state_dict accepts) was loaded, the
    optimizer stepped on to 2**53 + 1, and its own state_dict() was then refused by load_state_dict
    ("'iteration' is 9007199254740994; expected a whole number >= 0 and <= 2**53"): an accepted state
    made a checkpoint that can never be loaded. The same with a parameter's saved "step". Expected:
    step() at the largest count is an EvaluationError that changes nothing."""
    text = "adadelta(lr=warmup(T=2) then 1.0, rho=0.9)"
    opt = lrdsl.optimizer(text, [np.ones(3)], total=10)
    opt.step([np.ones(3)])
    for where in ("iteration", "step"):
        state = opt.state_dict()
        if where == "iteration":
            state["iteration"] = 2**53
        else:
            state["params"][0]["step"] = 2**53
        params = [np.ones(3)]
        resumed = lrdsl.optimizer(text, params, total=10)
        resumed.load_state_dict(state)
        stepped = attempt(TARGET, "step", lambda r=resumed: r.step([np.ones(3)]), f"{where} = 2**53")
        assert isinstance(stepped.error, lrdsl.errors.EvaluationError), where
        fresh = lrdsl.optimizer(text, [np.ones(3)], total=10)
        reloaded = attempt(
            TARGET, "load own state", lambda f=fresh, r=resumed: f.load_state_dict(r.state_dict()), where
        )
        assert reloaded.ok, reloaded.describe()
        assert params[0].tolist() == [1.0, 1.0, 1.0]


def test_a_plateau_at_the_largest_count_keeps_a_loadable_state():
    """A plateau state with "reports": 2**53 (the largest count load_state_dict accepts) was loaded, a
    report counted on to 2**53 + 1, and the schedule's own state_dict() was then refused ("'reports'
    is 9007199254740993; expected a whole number >= 0 and <= 2**53"). The same for bad_reports (with
    a patience that large) and reductions. Expected: the counts stop at 2**53, and every state the
    schedule writes loads back."""
    for count, text in [("reports", "plateau(patience=0)"), ("bad_reports", "plateau(patience=1e300)")]:
        sched = lrdsl.compile(text)
        sched.report(1.0)
        state = sched.state_dict()
        state["nodes"][0][count] = 2**53
        sched.load_state_dict(state)
        attempt(TARGET, "report", lambda s=sched: s.report(2.0), f"{count} = 2**53")
        fresh = lrdsl.compile(text)
        reloaded = attempt(TARGET, "load own state", lambda f=fresh, s=sched: f.load_state_dict(s.state_dict()), count)
        assert reloaded.ok, reloaded.describe()


def test_a_history_entry_is_the_same_after_a_save_and_a_load():
    """A schedule resumed with on_change="smooth" records {"text", "at", "policy", "total", "time"} in its
    history; loading its own state_dict() back reordered that entry to {"text", "at", "total", "time",
    "policy"} (the order of lrdsl.resume.HISTORY_ENTRY), so the checkpoint written next differed from
    the one loaded. Expected: loading a schedule's own state changes nothing, the order of keys included."""
    saved = lrdsl.compile("warmup(T=5) then cosine(T=95)")
    saved(20)
    sched = lrdsl.compile("warmup(T=5) then cosine(T=95, end=1e-5)", on_change="smooth")
    with pytest.warns(lrdsl.errors.ScheduleChangeWarning):
        sched.load_state_dict(saved.state_dict())
    before = json.dumps(sched.state_dict())
    sched.load_state_dict(json.loads(before))
    assert json.dumps(sched.state_dict()) == before
