"""Contract violations the fuzz suite (branch fuzz-suite) found, as plain tests: each input ends in
a value or an LRDSLError, quickly, never in another exception."""

import contextlib
import os
import time

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
