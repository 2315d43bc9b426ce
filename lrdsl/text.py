"""Text in messages and labels: one way to shorten, one way to show a value, one way to say
what a user passed."""

from __future__ import annotations

import math
import reprlib
from typing import Any


def shorten(text: str, limit: int = 80) -> str:
    """``text``, cut to ``limit`` characters with ``...`` at the end when it is longer."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show_value(value: Any) -> str:
    """A parameter value as lrdsl text: ``0.1``, ``100``, ``inf``, ``"cos"``, ``true``, ``[3, 6]``.

    Whole floats lose their ``.0`` (a duration of ``100.0`` iterations shows as ``100``); other
    numbers keep every digit (``repr``), so a message never shows a rounded value.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show_value(item) for item in value) + "]"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


def describe(value: Any) -> str:
    """What a user passed, for an error: ``a float32 array of shape (3,)``, ``a list of 2 item(s)``,
    ``'abc' (of type str)``."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an int of {value.bit_length()} bits"  # repr() of a huge int is slow, or refused
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None and dtype is not None and shape != ():
        return f"a {dtype} array of shape {shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"a {type(value).__name__} of {len(value)} key(s)"  # repr() of a deep table recurses without end
    try:
        shown = _SHORT.repr(value)
    except Exception:  # reprlib shows ints in full first: a set holding an int of 4300+ digits
        shown = f"<a {type(value).__name__}>"
    return f"{shorten(shown, 60)} (of type {type(value).__name__})"


_SHORT = reprlib.Repr()  # bounded: a nested or huge value is shown in part, and a failing __repr__ is caught
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 3, 60, 60, 60
