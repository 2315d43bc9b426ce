"""Small helpers shared by the catalog's built (``build(ctx, ...)``) nodes."""

from __future__ import annotations

import math


class SameAs:
    """A parameter default that copies another parameter (shown as its name: ``down=up``)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


def show_value(value) -> str:
    """A parameter value as lrdsl text: 0.1, inf, "cos", [3, 6]."""
    if isinstance(value, tuple):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    return str(value)


def describe_call(name: str, *leading: str, **values) -> str:
    """``name(leading..., k=v, ...)``: the label of a built node, used in error messages."""
    return f"{name}({', '.join([*leading, *(f'{k}={show_value(v)}' for k, v in values.items())])})"


def sub_text(sub, limit: int = 60) -> str:
    """The text of a schedule argument (a compiler SubSchedule), shortened for messages."""
    text = str(getattr(sub, "source", "") or getattr(sub, "text", ""))
    return text if len(text) <= limit else text[: limit - 3] + "..."
