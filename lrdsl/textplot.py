"""A schedule drawn in the terminal, with no dependency beyond NumPy."""

from __future__ import annotations

import numpy as np


def _axis_label(value: float) -> str:
    return f"{value:.3g}"


def render(xs: np.ndarray, ys: np.ndarray, width: int = 64, height: int = 14, x_unit: str = "iterations") -> str:
    """An ASCII line chart of ``ys`` over ``xs`` (one column per bucket of points)."""
    columns = min(width, len(xs))
    buckets = np.array_split(np.arange(len(xs)), columns)
    low, high = float(ys.min()), float(ys.max())
    span = high - low or 1.0
    grid = [[" "] * columns for _ in range(height)]
    previous = None
    for column, bucket in enumerate(buckets):
        low_row = round((float(ys[bucket].min()) - low) / span * (height - 1))
        high_row = round((float(ys[bucket].max()) - low) / span * (height - 1))
        top, bottom = high_row, low_row
        if previous is not None:  # a vertical line joins a jump from the previous column
            top, bottom = max(top, previous - 1), min(bottom, previous + 1)
        for row in range(bottom, top + 1):
            grid[height - 1 - row][column] = "*" if low_row <= row <= high_row else "|"
        previous = round((float(ys[bucket[-1]]) - low) / span * (height - 1))
    labels = {0: _axis_label(high), height // 2: _axis_label(low + span / 2), height - 1: _axis_label(low)}
    pad = max(len(text) for text in labels.values())
    lines = [f"{labels.get(row, ''):>{pad}} |{''.join(cells)}" for row, cells in enumerate(grid)]
    lines.append(" " * pad + " +" + "-" * columns)
    first, last = f"{xs[0]:g}", f"{xs[-1]:g} {x_unit}"
    lines.append(" " * (pad + 2) + first + " " * max(1, columns - len(first) - len(last)) + last)
    return "\n".join(lines)
