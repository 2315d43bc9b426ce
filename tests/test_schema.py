"""The schema helper for untrusted state: each schema accepts what it describes, refuses the rest
with a message that says where, what and what was expected, and restoring() undoes a failed load."""

import numpy as np
import pytest

from lrdsl.errors import ArrayError, LRDSLError
from lrdsl.schema import (
    Anything,
    Int,
    Items,
    ListOf,
    MapOf,
    Maybe,
    Number,
    OneOf,
    Record,
    Text,
    Where,
    restoring,
    validate,
)

STATE = Record(
    {
        "format": OneOf("demo/1"),
        "step": Int(),
        "rate": Number(min=0, max=1),
        "names": ListOf(Text(), 2),
        "entries": MapOf(Text(), Maybe(Number())),
    },
    optional={"note": Text()},
)
GOOD = {"format": "demo/1", "step": np.int64(3), "rate": 0.5, "names": ("a", "b"), "entries": {"x": None, "y": 2}}


def test_a_valid_state_is_normalised():
    checked = validate(STATE, GOOD, ArrayError, "load()")
    assert checked == {
        "format": "demo/1",
        "step": 3,
        "rate": 0.5,
        "names": ["a", "b"],
        "entries": {"x": None, "y": 2.0},
    }
    assert type(checked["step"]) is int and list(checked) == ["format", "step", "rate", "names", "entries"]
    assert validate(STATE, {**GOOD, "note": "hi"}, ArrayError, "load()")["note"] == "hi"


@pytest.mark.parametrize(
    "bad, message",
    [
        (None, "load(): the state is None (of type NoneType); expected a table with the keys 'format', 'step'"),
        ({**GOOD, "format": "demo/2"}, "load(): 'format' is 'demo/2' (of type str); expected one of 'demo/1'"),
        ({**GOOD, "step": True}, "'step' is True (of type bool); expected a whole number >= 0"),
        ({**GOOD, "step": -1}, "'step' is -1 (of type int); expected a whole number >= 0"),
        ({**GOOD, "step": 2.0}, "'step' is 2.0 (of type float); expected a whole number >= 0"),
        ({**GOOD, "rate": float("nan")}, "'rate' is nan (of type float); expected a finite number >= 0 <= 1"),
        ({**GOOD, "rate": 10**400}, "'rate' is an int of 1329 bits; expected a finite number"),
        ({**GOOD, "rate": 2}, "'rate' is 2 (of type int); expected a finite number >= 0 <= 1"),
        ({**GOOD, "names": ["a"]}, "'names' is a list of 1 item(s); expected a list of 2 item(s), each a string"),
        ({**GOOD, "names": ["a", 3]}, "'names'[1] is 3 (of type int); expected a string"),
        ({**GOOD, "entries": {"x": "1"}}, "'entries'['x'] is '1' (of type str); expected None or a finite number"),
        ({**GOOD, "entries": {5: 1.0}}, "'entries' key 5 is 5 (of type int); expected a string"),
        ({k: v for k, v in GOOD.items() if k != "step"}, "the state has no 'step'; expected a table with the keys"),
        ({**GOOD, "extra": 1}, "the state has the unknown key(s) 'extra'"),
    ],
)
def test_a_refusal_says_where_what_and_what_was_expected(bad, message):
    with pytest.raises(ArrayError) as info:
        validate(STATE, bad, ArrayError, "load()")
    assert message in str(info.value)


def test_items_where_and_anything():
    pairs = Items([Int(), Text()], "an int and a string")
    assert validate(pairs, (1, "a"), LRDSLError, "x") == [1, "a"]
    with pytest.raises(LRDSLError, match=r"x: \[1\] is 2 \(of type int\); expected a string"):
        validate(pairs, [1, 2], LRDSLError, "x")
    with pytest.raises(LRDSLError, match="is a list of 3 item"):
        validate(pairs, [1, "a", 3], LRDSLError, "x")
    even = Where(Int(), lambda n: n % 2 == 0, "an even number")
    with pytest.raises(LRDSLError, match="x: groups is 3; expected an even number"):
        validate(even, 3, LRDSLError, "x", "groups")
    assert validate(Anything(), object, LRDSLError, "x") is object


def test_a_huge_list_is_refused_before_it_is_walked():
    with pytest.raises(LRDSLError, match="is a list of 1000001 item"):
        validate(ListOf(Int()), [0] * 1_000_001, LRDSLError, "x")


class Counter:
    """A stateful object as lrdsl's loaders see them: state_dict / load_state_dict."""

    def __init__(self, limit=None):
        self.count, self.limit = 0, limit

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        if self.limit is not None and state["count"] > self.limit:
            raise LRDSLError("too many")
        self.count = state["count"]


def test_restoring_puts_back_every_object_when_a_later_one_fails():
    first, second = Counter(), Counter(limit=5)
    with pytest.raises(LRDSLError, match="too many"), restoring([first, second]):
        first.load_state_dict({"count": 3})
        second.load_state_dict({"count": 9})
    assert (first.count, second.count) == (0, 0)
    with restoring([first, second]):
        first.load_state_dict({"count": 3})
    assert first.count == 3
