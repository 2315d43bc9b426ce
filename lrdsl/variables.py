"""The host's ``variables=`` table, checked once at every door: :func:`lrdsl.compile`,
:func:`lrdsl.optimizer` (and ``parse_optimizer``) and a checkpoint's saved options.

A table maps names (strings) to plain data (docs/language.md §8.2): an int or a float (finite;
NumPy scalars become Python numbers), a bool, a string, or a list or tuple of these, nested.
:func:`table` copies it into exactly that -- Python ``int``, ``float``, ``bool``, ``str`` and
tuples -- so what is compiled, cached and saved in a checkpoint is plain, immutable data that
JSON keeps, whatever the host passed (a NumPy scalar, an OmegaConf ``ListConfig``, a
subclass). Reading is bounded: at most :data:`MAX_ITEMS` items in one variable,
:data:`MAX_TABLE_ITEMS` in the table, lists nested at most :data:`MAX_DEPTH` deep, and a list
that contains itself is refused, so an aliased list of 2**60 leaves, a 100,000-deep one, a
recursive table or a mapping whose methods raise ends in a :class:`~lrdsl.errors.ParameterError`
naming the variable, within milliseconds. Anything else (``None``, a table, bytes, an object) is
refused the same way, whether the expression uses the variable or not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from collections.abc import Sequence as SequenceABC
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .errors import LRDSLError, ParameterError
from .text import describe, shorten

MAX_ITEMS = 10_000
"""Numbers, booleans, strings and lists in one variable's value, nested lists included."""

MAX_TABLE_ITEMS = 100_000
"""Names, numbers, booleans, strings and lists in the whole table."""

MAX_DEPTH = 20
"""Nesting of lists in one variable's value."""

Value = Union[bool, int, float, str, Tuple["Value", ...]]

_EXAMPLE = 'e.g. {"peak_lr": 3e-4, "warmup": "5ep", "milestones": [30, 60]}'


def table(variables: Any) -> Dict[str, Value]:
    """``variables`` (None or a mapping from names to values) as a dict of plain values, or a
    :class:`~lrdsl.errors.ParameterError` saying which variable is wrong and why."""
    if variables is None:
        return {}
    if not isinstance(variables, Mapping):
        raise ParameterError(
            f"variables must be a mapping from names (strings) to values, {_EXAMPLE}; got {describe(variables)}"
        )
    try:  # len() and items() both: a mapping's len() may raise while its items() (a dict's) does not
        size = len(variables)
        items = list(itertools.islice(variables.items(), MAX_TABLE_ITEMS + 1))
    except Exception as error:  # a mapping whose methods raise
        raise ParameterError(f"variables: the mapping could not be read ({type(error).__name__}); {_EXAMPLE}") from None
    if max(size, len(items)) > MAX_TABLE_ITEMS:
        raise ParameterError(f"variables: more than {MAX_TABLE_ITEMS:,} names")
    budget = [MAX_TABLE_ITEMS - len(items)]
    out: Dict[str, Value] = {}
    for name, value in items:
        if not isinstance(name, str):
            raise ParameterError(f"variables: the name {describe(name)} is not a string; {_EXAMPLE}")
        key = str.__str__(name)  # a str subclass's methods may lie
        out[key] = _plain(value, f"${shorten(key, 60)}", (), [MAX_ITEMS], budget)
    return out


def saved(variables: Mapping[str, Value]) -> Dict[str, Any]:
    """A table from :func:`table` as a checkpoint keeps it: lists instead of tuples."""
    return {name: _listed(value) for name, value in variables.items()}


def _listed(value: Value) -> Any:
    return [_listed(item) for item in value] if isinstance(value, tuple) else value


def _plain(value: Any, name: str, enclosing: tuple, items: List[int], budget: List[int]) -> Value:
    """One value as plain data; ``items`` (this variable's) and ``budget`` (the table's) count down."""
    items[0] -= 1
    budget[0] -= 1
    if items[0] < 0 or budget[0] < 0:
        limit = MAX_ITEMS if items[0] < 0 else MAX_TABLE_ITEMS
        raise ParameterError(f"variable {name.split('[')[0]} is too large: more than {limit:,} items")
    try:
        return _leaf_or_list(value, name, enclosing, items, budget)
    except LRDSLError:
        raise
    except Exception as error:  # a number or a sequence whose methods raise
        problem = type(error).__name__
        raise ParameterError(f"variable {name} is {describe(value)}, which could not be read ({problem})") from None


def _leaf_or_list(value: Any, name: str, enclosing: tuple, items: List[int], budget: List[int]) -> Value:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        whole = int(value) if isinstance(value, np.integer) else int.__index__(value)
        if not _fits_a_float(whole):
            raise ParameterError(f"variable {name} = {describe(value)}: expected a finite number")
        return whole
    if isinstance(value, (float, np.floating)):
        number = float(value) if isinstance(value, np.floating) else float.__float__(value)
        if not math.isfinite(number):
            raise ParameterError(f"variable {name} = {number!r}: expected a finite number")
        return number
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, SequenceABC) and not isinstance(value, (bytes, bytearray, memoryview)):
        if any(value is outer for outer in enclosing):
            raise ParameterError(
                f"variable {name} contains itself; a variable is a number, a boolean, a string or a list of them"
            )
        if len(enclosing) >= MAX_DEPTH:
            raise ParameterError(f"variable {name} nests lists more than {MAX_DEPTH} deep")
        if len(value) > items[0]:
            raise ParameterError(f"variable {name.split('[')[0]} is too large: more than {MAX_ITEMS:,} items")
        inner = (*enclosing, value)
        return tuple(_plain(item, f"{name}[{i}]", inner, items, budget) for i, item in enumerate(value))
    raise ParameterError(f"variable {name} is {describe(value)}; expected a number, a boolean, a string or a list")


def _fits_a_float(number: int) -> bool:
    try:
        return math.isfinite(float(number))
    except OverflowError:
        return False
