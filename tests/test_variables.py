"""The host's variables= table (lrdsl.variables): plain data in, plain data out, bounded, one check
for lrdsl.compile, lrdsl.optimizer and a checkpoint's options."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrdsl
from lrdsl.errors import ParameterError
from lrdsl.variables import MAX_DEPTH, MAX_ITEMS, saved, table


class _Int(int):
    def __float__(self):
        raise ValueError("no float")


def test_values_become_plain_python_data():
    got = table({"a": np.float32(0.5), "b": np.int64(3), "c": np.bool_(True), "d": [1, (2, "5ep")], "e": _Int(4)})
    assert got == {"a": 0.5, "b": 3, "c": True, "d": (1, (2, "5ep")), "e": 4}
    assert [type(v) for v in got.values()] == [float, int, bool, tuple, int]
    assert saved(got)["d"] == [1, [2, "5ep"]]
    json.dumps(saved(got))


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"x": None}, r"variable \$x is None"),
        ({"x": b"12"}, r"variable \$x is b'12'"),
        ({"x": {"a": 1}}, r"variable \$x is a dict of 1 key"),
        ({"x": float("nan")}, r"variable \$x = nan: expected a finite number"),
        ({"x": [1, 10**400]}, r"variable \$x\[1\] = an int of 1329 bits: expected a finite number"),
        ({"x": [0] * (MAX_ITEMS + 1)}, r"variable \$x is too large: more than 10,000 items"),
        ({1: 2}, r"the name 1 \(of type int\) is not a string"),
        ([("x", 1)], r"variables must be a mapping from names"),
    ],
)
def test_what_is_not_plain_data_is_refused_naming_the_variable(variables, message):
    with pytest.raises(ParameterError, match=message):
        table(variables)


def test_a_list_that_contains_itself_or_nests_too_deep_is_refused():
    looped: list = [1]
    looped.append(looped)
    with pytest.raises(ParameterError, match=r"variable \$x\[1\] contains itself"):
        table({"x": looped})
    deep: list = [1.0]
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(ParameterError, match="nests lists more than 20 deep"):
        table({"x": deep})


def test_shared_sub_lists_count_every_time_they_are_reached():
    shared: list = [1.0]
    for _ in range(15):  # 2**15 items from 15 lists
        shared = [shared, shared]
    with pytest.raises(ParameterError, match="too large"):
        table({"x": shared})


def test_compile_and_optimizer_check_the_same_way():
    for make in (
        lambda v: lrdsl.compile("cosine(T=$x)", variables=v),
        lambda v: lrdsl.optimizer("sgd(lr=cosine(T=$x))", [np.ones(2)], variables=v),
    ):
        with pytest.raises(ParameterError, match=r"variable \$unused is None"):
            make({"x": 10, "unused": None})
        make({"x": np.int32(10)})


def test_a_schedule_saves_its_variables_as_plain_data():
    sched = lrdsl.compile("multistep(at=$m)", variables={"m": (np.int64(3), 6), "peak": np.float64(0.1)})
    assert sched.state_dict()["options"]["variables"] == {"m": [3, 6], "peak": 0.1}
    json.dumps(sched.state_dict())
