"""What a training loop passes as a counter, made a plain float before anything uses it.

``sched(i)`` takes one number: a Python int or float, a NumPy scalar or 0-d array, or any
object with ``__float__`` (a 0-d torch tensor). It is converted to a Python float first, so a
``np.float16`` counter is not evaluated in float16. ``sched.values(points)`` takes an array
(or list) of real numbers. Anything else -- a bool, a string, bytes, a complex number, an
array where one number is expected, NaN, an infinity, a negative number, an integer too large
for a float, an object whose ``__float__`` raises -- is an :class:`~lrdsl.LRDSLError` that
says what was given and what is expected.
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

from .errors import EvaluationError, LRDSLError
from .text import describe


def counter(point: Any, name: str) -> float:
    """``point`` (an iteration or an epoch, called ``name``) as a finite float >= 0."""
    if isinstance(point, (bool, np.bool_, str, bytes, complex, np.complexfloating)):
        raise LRDSLError(f"the {name} must be a real number, got {describe(point)}")
    if isinstance(point, np.ndarray) and (point.ndim > 0 or point.dtype.kind not in "iuf"):
        raise LRDSLError(
            f"the {name} must be a single real number, got {describe(point)}; evaluate arrays with sched.values(...)"
        )
    try:
        value = float(operator.index(point)) if isinstance(point, (int, np.integer)) else float(point)
    except OverflowError:
        raise EvaluationError(f"the {name}, {describe(point)}, is too large for a float") from None
    except Exception:  # no __float__, or one that raises: a counter must be a number
        raise LRDSLError(f"the {name} must be a number, got {describe(point)}") from None
    if not math.isfinite(value) or value < 0:
        raise EvaluationError(f"the {name} must be a finite number >= 0, got {value!r}")
    return value


def counters(points: Any, name: str) -> np.ndarray:
    """``points`` (iterations or epochs, called ``name``) as a float64 array of finite numbers >= 0."""
    if isinstance(points, (str, bytes)):
        raise LRDSLError(f"values(): the {name}s must be numbers, got {describe(points)}")
    try:
        _check_nesting(points, name)
        array = np.asarray(points)
    except LRDSLError:
        raise
    except Exception:  # a ragged, recursive or otherwise unreadable sequence
        raise LRDSLError(f"values(): the {name}s must be an array of numbers, got {describe(points)}") from None
    if array.dtype.kind == "O" and array.size and all(_is_real(x) for x in array.reshape(-1)):
        array = np.array([counter(x, name) for x in array.reshape(-1)]).reshape(array.shape)  # ints above 2**64
    if array.dtype.kind not in "iuf":
        found = {"b": "booleans", "c": "complex numbers", "U": "strings", "S": "bytes", "O": "objects"}
        raise LRDSLError(f"values(): the {name}s must be real numbers, got {found.get(array.dtype.kind, array.dtype)}")
    t = array.astype(np.float64)
    if t.size and not (np.isfinite(t).all() and t.min() >= 0):
        flat = t.reshape(-1)
        bad = flat[np.flatnonzero(~(np.isfinite(flat) & (flat >= 0)))[0]]
        raise EvaluationError(f"values(): the {name}s must be finite numbers >= 0, got {bad!r}")
    return t


EXACT_INTS = 2**53
"""Counters below this are whole numbers exactly in a float (the fast paths take them as they are)."""

MAX_NESTED = 1_000_000
"""Points in nested lists that NumPy may read without a check of what they are made of."""

MAX_DIMENSIONS = 64  # NumPy's


def _check_nesting(points: Any, name: str) -> None:
    """Refuse nested lists (or tuples) that NumPy would expand beyond what they hold.

    ``np.asarray`` reads nested lists to the depth of the first item's path and reads every item
    of the shape that path gives (until one differs). Lists that share sub-lists (``a = [b, b]``,
    ``b = [c, c]``, ... 60 levels: 2**60 points from 60 lists) would keep it busy for ages. When
    the first path's shape holds more than :data:`MAX_NESTED` points, the lists are walked once
    each (a list met again is not walked again) to count the points they expand to; lists that
    expand to more than ``2 * stored + MAX_NESTED`` points (``stored``: the items the lists hold)
    share sub-lists and are refused, so NumPy's work stays linear in the input.
    """
    if not isinstance(points, (list, tuple)) or not points or not isinstance(points[0], (list, tuple)):
        return  # flat: NumPy reads at most one level
    size, first, depth = 1, points, 0
    while isinstance(first, (list, tuple)) and first and depth <= MAX_DIMENSIONS:  # a list holding itself ends
        size, first, depth = size * len(first), first[0], depth + 1
    if size <= MAX_NESTED and depth <= MAX_DIMENSIONS:
        return
    expanded, stored = _expanded(points, name)
    if expanded > 2 * stored + MAX_NESTED:
        raise LRDSLError(
            f"values(): the {name}s are nested lists that share sub-lists: {expanded:.3g} points from "
            f"{stored:,} stored items; pass an array (np.asarray) or lists that do not repeat themselves"
        )


def _expanded(points: Any, name: str) -> tuple:
    """(points that nested lists expand to, items they store), each distinct list walked once."""
    seen: dict = {}  # id of a list walked -> the points it expands to
    stored = 0

    def walk(items: Any, depth: int) -> int:
        nonlocal stored
        if depth > MAX_DIMENSIONS:
            raise LRDSLError(f"values(): the {name}s are lists nested more than {MAX_DIMENSIONS} deep")
        stored += len(items)
        total = 0
        for item in items:
            if isinstance(item, (list, tuple)):
                count = seen.get(id(item))
                if count is None:
                    count = seen[id(item)] = walk(item, depth + 1)
                total += count
            else:
                total += 1
        return total

    return walk(points, 1), stored


def _is_real(x: Any) -> bool:
    """Whether ``x`` is a real number (not a bool) that NumPy left as an object (an int above 2**64)."""
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))
