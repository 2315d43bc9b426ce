"""Small helpers shared by the catalog's built (``build(ctx, ...)``) nodes."""

from __future__ import annotations

from ..text import show_value


def describe_call(name: str, *leading: str, **values) -> str:
    """``name(leading..., k=v, ...)``: the label of a built node, used in error messages."""
    return f"{name}({', '.join([*leading, *(f'{k}={show_value(v)}' for k, v in values.items())])})"
