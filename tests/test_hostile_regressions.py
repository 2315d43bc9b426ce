"""Contract violations the fuzz suite (branch fuzz-suite) found, as plain tests: each input ends in
a value or an LRDSLError, quickly, never in another exception."""

import contextlib
import os
import time

import pytest

import lrdsl
from lrdsl.config import load_document


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
