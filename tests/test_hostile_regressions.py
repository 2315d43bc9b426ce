"""Contract violations the fuzz suite found, as plain tests (the suite itself: tests/fuzz): each input ends in
a value or an LRDSLError, quickly, never in another exception."""

import contextlib
import itertools
import os
import time
from collections.abc import Mapping

import numpy as np
import pytest

import lrdsl
from lrdsl.authoring import schedule_node
from lrdsl.config import load_document
from lrdsl.plugins import build_registry


def deep_dict(depth):
    value = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_a_counter_of_thousands_of_digits_is_an_evaluation_error():
    sched = lrdsl.compile("cosine(T=10)")
    with pytest.raises(lrdsl.errors.EvaluationError, match="too large for a float"):
        sched(10**5000)


def test_a_deeply_nested_table_is_described_not_recursed_into():
    sched = lrdsl.compile("cosine(T=10)")
    start = time.perf_counter()
    with pytest.raises(lrdsl.LRDSLError, match="a dict of 1 key"):
        sched(deep_dict(100_000))
    with pytest.raises(lrdsl.LRDSLError):
        lrdsl.compile("cosine(T=10)", variables={1: deep_dict(100_000)})
    assert time.perf_counter() - start < 30  # bounded work; no RecursionError on the way


class IntWithoutFloat(int):
    def __float__(self):
        raise ValueError("no float for you")


def test_a_saved_number_whose_float_fails_is_refused():
    sched = lrdsl.compile("cosine(T=10)")
    sched(3)
    state = sched.state_dict()
    state["position"] = {"unit": "it", "time": IntWithoutFloat(1)}
    with pytest.raises(lrdsl.LRDSLError):
        sched.load_state_dict(state)


@pytest.mark.parametrize("suffix, text", [(".toml", "n = 1{digits}\n"), (".yaml", "n: 1{digits}\n")])
def test_a_config_integer_of_more_than_4300_digits_is_a_config_error(tmp_path, suffix, text):
    if suffix == ".yaml":
        pytest.importorskip("yaml")
    path = tmp_path / f"big{suffix}"
    path.write_text(text.format(digits="0" * 5000))
    with contextlib.suppress(lrdsl.config.ConfigError):  # a reader may take it (a document) or refuse it
        load_document(str(path))  # but no ValueError from int() escapes


def test_a_config_path_that_is_not_a_regular_file_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(lrdsl.config.ConfigError, match="a config is a regular file"):
        load_document(str(fifo))


def test_a_failing_phase_no_point_lies_in_is_not_evaluated():
    """sched(i) and sched.values([i]) agree: a plugin node that always fails, in a phase after the
    points asked, is never evaluated (issue 15), whatever the order or shape of the points."""

    @schedule_node()
    def broken(xp, t):
        """Always fails."""
        raise RuntimeError("never works")

    class Plugin:
        @lrdsl.hookimpl
        def lrdsl_nodes(self):
            return [broken]

    registry = build_registry(entry_points=False, plugins={"acme": Plugin()})
    sched = lrdsl.compile("constant(0.1) for 10 then broken()", registry=registry)
    assert sched(3) == 0.1
    assert sched.values([3]).tolist() == [0.1]
    assert sched.values([9, 3, 0]).tolist() == [0.1] * 3  # unsorted
    assert sched.values(np.array([[3.0], [1.0]])).tolist() == [[0.1], [0.1]]
    for evaluate in (lambda: sched(12), lambda: sched.values([12]), lambda: sched.values([3, 12])):
        with pytest.raises(lrdsl.errors.PluginError, match="node 'broken' from plugin 'acme' failed"):
            evaluate()


class _UnreadableState(Mapping):
    """A state whose every method raises (a crafted or broken checkpoint object)."""

    def __getitem__(self, key):
        raise RuntimeError("unreadable")

    def __iter__(self):
        raise RuntimeError("unreadable")

    def __len__(self):
        return 2


class _EndlessState(Mapping):
    """A state whose iteration never ends while its len() says 2."""

    def __getitem__(self, key):
        return 1

    def __iter__(self):
        return (str(n) for n in itertools.count())

    def __len__(self):
        return 2


@pytest.mark.parametrize("state", [_UnreadableState(), _EndlessState()], ids=["raising", "endless"])
def test_a_state_mapping_that_cannot_be_read_is_refused_and_changes_nothing(state):
    """Schedule.load_state_dict raised the mapping's own RuntimeError (and the NumPy optimizer's too);
    an endless mapping was read without bound. Both are LRDSLErrors now, and nothing is loaded."""
    sched = lrdsl.compile("plateau(patience=1)", base=0.1)
    sched.report(1.0)
    sched.report(2.0)
    params = [np.ones(3)]
    opt = lrdsl.optimizer("sgd(lr=0.1, momentum=0.9)", params)
    opt.step([np.ones(3)])
    before = (sched.state_dict(), opt.state_dict())
    with pytest.raises(lrdsl.LRDSLError, match="cannot be read as a table|more than 1,000,000 items"):
        sched.load_state_dict(state)
    with pytest.raises(lrdsl.LRDSLError, match="cannot be read as a table|more than 1,000,000 items"):
        opt.load_state_dict(state)
    assert repr((sched.state_dict(), opt.state_dict())) == repr(before)


def test_a_plugin_rule_marked_staged_stays_behind_the_fence():
    """A plugin's update rule marked with lrdsl.optim.staged.staged kept the mark through the fence's
    wrapper, so the optimizer ran its parts outside the fence: a KeyError from its new_state escaped
    step() as it was. The fence passes no mark on: the rule runs as a plain one, behind the fence,
    where returning its parts (a plain rule returns None) is a PluginError, the parameters unchanged."""
    from lrdsl.authoring import optimizer_node
    from lrdsl.optim.staged import staged

    @staged
    @optimizer_node()
    def staged_plugin(param, grad, plan, lr: float = 0.1):
        """θ ← θ − γg, in stages."""

        def new_state(b):
            raise KeyError("a bug in the plugin")

        def new_param(b):
            return b.param - lr * b.grad

        return new_state, new_param

    class _Plugin:
        @lrdsl.hookimpl
        def lrdsl_nodes(self):
            return [staged_plugin]

    registry = build_registry(entry_points=False, plugins={"staged-plugin": _Plugin()})
    params = [np.ones(3)]
    opt = lrdsl.optimizer("staged_plugin()", params, registry=registry)
    with pytest.raises(lrdsl.errors.PluginError, match="staged_plugin"):
        opt.step([np.ones(3)])
    assert params[0].tolist() == [1.0, 1.0, 1.0]


def test_periods_that_shrink_below_the_smallest_float_are_refused_at_compile():
    """sgdr(T=1, mult=0.5, times=3000): periods past the 1075th last 0 in floats, where sched(2) gave
    0.0 but values([2]) NaN (0/0). Such a count is a ParameterError naming the period."""
    for text in ("sgdr(T=1, mult=0.5, times=3000)", "repeat(cosine(T=10), times=3000, mult=0.5)"):
        with pytest.raises(lrdsl.errors.ParameterError, match="period 3000 would last"):
            lrdsl.compile(text)
    sched = lrdsl.compile("sgdr(T=1, mult=0.5, times=30)")
    assert sched(2) == sched.values([2])[0]


def test_a_formula_returning_an_object_array_is_refused_by_both_evaluators():
    """A plugin function returning np.full(np.shape(x), 0.5, dtype=object): sched(0) read the 0-d
    object array as 0.5, while values([0]) refused the object array of shape (1,). Both refuse it."""
    from lrdsl.authoring import function_node

    @function_node("as_objects")
    def as_objects(xp, x: float):
        """as_objects(x) = 0.5, as an object array of x's shape."""
        return np.full(np.shape(x), 0.5, dtype=object)

    class _Plugin:
        @lrdsl.hookimpl
        def lrdsl_nodes(self):
            return [as_objects]

    registry = build_registry(entry_points=False, plugins={"objects-plugin": _Plugin()})
    sched = lrdsl.compile("as_objects(cosine(T=10) - 0.5)", registry=registry)
    for evaluate in (lambda: sched(0), lambda: sched.values([0])):
        with pytest.raises(lrdsl.errors.PluginError, match="not an array of real numbers"):
            evaluate()
