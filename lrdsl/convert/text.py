"""Writing lrdsl text from a peer's numbers: literals, calls and sequences of phases.

A converter builds a schedule as :data:`Phases`, a list of ``(text, length)`` pairs: every
phase but the last has a length in iterations, the last has ``None`` (it runs on). Keeping the
phases apart lets an enclosing sequence cut them (:func:`cut`) instead of nesting a sequence
whose tail is never reached.
"""

from __future__ import annotations

import math
import re
from typing import Callable, List, Optional, Sequence, Tuple

from ..errors import LRDSLError

Phases = List[Tuple[str, Optional[float]]]


class Quoted(str):
    """A string parameter value, written in double quotes (``mode="exp_range"``)."""


def number(value) -> str:
    """An lrdsl literal for a finite number (``5``, ``0.1``, ``1e-07``); a bool is ``true``/``false``.

    Floats are written with ``repr``, which reads back as the same float; an integral float is
    written as an integer. A negative number is parenthesised so it can stand in a product.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if value >= 0 else f"({value})"
    value = float(value)
    if not math.isfinite(value):
        raise LRDSLError(f"cannot write {value!r} in lrdsl: a number must be finite")
    text = str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return f"({text})" if value < 0 or text.startswith("-") else text


def shortest(value: float, reproduces: Callable[[float], bool]) -> float:
    """The float with the fewest significant digits that ``reproduces`` accepts, else ``value``.

    A peer stores derived numbers (torch's OneCycleLR keeps ``max_lr / div_factor``, not the
    divisor); this recovers the number the user wrote when it gives the peer's values exactly.
    """
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if reproduces(candidate):
            return candidate
    return value


def value(item) -> str:
    """A parameter value: text as is, a :class:`Quoted` string in quotes, a list, or a number."""
    if isinstance(item, Quoted):
        return f'"{item}"'
    if isinstance(item, str):
        return item
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(entry) for entry in item) + "]"
    return number(item)


def call(name: str, **params) -> str:
    """``name(key=value, ...)``, leaving out parameters given as ``None``."""
    return f"{name}(" + ", ".join(f"{key}={value(item)}" for key, item in params.items() if item is not None) + ")"


def times(factor: float, base: str) -> str:
    """``factor · base`` as text (just the factor when the base is 1)."""
    if base == "1" or factor == 1:
        return base if factor == 1 else number(factor)
    return f"{number(factor)} * {base}"


_ATOM = re.compile(r"^[\w.]+$")


def atom(text: str) -> str:
    """``text`` in parentheses unless it is a name, a number or one call."""
    if _ATOM.match(text) or (text.startswith("(") and _closes_at_end(text, 0)):
        return text
    opening = text.find("(")
    if opening > 0 and _ATOM.match(text[:opening]) and _closes_at_end(text, opening):
        return text
    return f"({text})"


def _closes_at_end(text: str, opening: int) -> bool:
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index == len(text) - 1
    return False


def join(phases: Phases) -> str:
    """``A for n then B ...``: the text of a sequence of phases."""
    parts = []
    for text, length in phases[:-1]:
        parts.append(f"{atom(text) if ' then ' in text else text} for {number(length)}")
    last = phases[-1][0]
    parts.append(atom(last) if " then " in last and len(phases) > 1 else last)
    return " then ".join(parts)


def cut(phases: Phases, length: float) -> Phases:
    """The phases that start before ``length``, the last one ending there."""
    kept: Phases = []
    start = 0.0
    for text, size in phases:
        if size is None or start + size >= length:
            kept.append((text, length - start))
            return kept
        kept.append((text, size))
        start += size
    return kept


def sequence(parts: Sequence[Tuple[Phases, Optional[float]]]) -> Phases:
    """Phases after phases: each part cut to its length (``None`` for the last part)."""
    result: Phases = []
    for phases, length in parts:
        result += phases if length is None else cut(phases, length)
    return result


def single(text: str) -> Phases:
    """One phase that runs on."""
    return [(text, None)]
