"""Small helpers shared by the catalog's built (``build(ctx, ...)``) nodes."""

from __future__ import annotations

from ..text import shorten, show_value


class SameAs:
    """A parameter default that copies another parameter (shown as its name: ``down=up``)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__


def describe_call(name: str, *leading: str, **values) -> str:
    """``name(leading..., k=v, ...)``: the label of a built node, used in error messages."""
    return f"{name}({', '.join([*leading, *(f'{k}={show_value(v)}' for k, v in values.items())])})"


def sub_text(sub, limit: int = 60) -> str:
    """The text of a schedule argument (a compiler SubSchedule), shortened for messages."""
    return shorten(str(getattr(sub, "source", "") or getattr(sub, "text", "")), limit)
