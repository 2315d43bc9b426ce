"""Schedules drawn in the terminal, with no dependency beyond NumPy.

:func:`render` draws one or more series over the same points, each with its own marker
(:data:`MARKERS`), a linear or logarithmic value axis, marks on the horizontal axis (phase
boundaries, restarts: ``1``, ``2``, ... under the column where each falls, ``^`` past nine),
and a second counter under the first when one is given (epochs under iterations).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

MARKERS = "*o+x#@%&"
"""The marker of each series, in order."""


def _axis_label(value: float) -> str:
    return f"{value:.3g}"


def _scaled(ys: np.ndarray, log: bool, floor: float) -> np.ndarray:
    """The values on the drawn scale: as they are, or log10 (values below ``floor`` drawn at it)."""
    return np.log10(np.maximum(ys, floor)) if log else ys


def _rows(ys: np.ndarray, low: float, span: float, height: int) -> np.ndarray:
    return np.rint((ys - low) / span * (height - 1)).astype(int)


def _draw(grid, scaled: np.ndarray, buckets, low: float, span: float, marker: str) -> None:
    """One series into ``grid``: its marker where its values are, ``|`` joining a jump."""
    height = len(grid)
    previous = None
    for column, bucket in enumerate(buckets):
        rows = _rows(scaled[bucket], low, span, height)
        low_row, high_row = int(rows.min()), int(rows.max())
        top, bottom = high_row, low_row
        if previous is not None:  # a vertical line joins a jump from the previous column
            top, bottom = max(top, previous - 1), min(bottom, previous + 1)
        for row in range(bottom, top + 1):
            cell = grid[height - 1 - row]
            if low_row <= row <= high_row:
                cell[column] = marker
            elif cell[column] == " ":
                cell[column] = "|"
        previous = int(rows[-1])


def _axis_line(xs: np.ndarray, columns: int, marks: Sequence[float]) -> str:
    """The horizontal axis, with each mark's number under the column holding its x."""
    line = ["-"] * columns
    edges = np.array_split(np.arange(len(xs)), columns)
    firsts = np.array([float(xs[bucket[0]]) for bucket in edges])
    for number, x in enumerate(marks, start=1):
        column = int(np.searchsorted(firsts, x, side="right")) - 1
        if 0 <= column < columns:
            line[column] = str(number) if number <= 9 else "^"
    return "+" + "".join(line)


def _counter_line(pad: int, columns: int, first: float, last: float, unit: str) -> str:
    left, right = f"{first:g}", f"{last:g} {unit}"
    return " " * (pad + 2) + left + " " * max(1, columns - len(left) - len(right)) + right


def render(
    xs: np.ndarray,
    ys,
    width: int = 64,
    height: int = 14,
    x_unit: str = "iterations",
    *,
    log: bool = False,
    marks: Sequence[float] = (),
    second: Optional[Tuple[float, float, str]] = None,
) -> str:
    """A line chart of ``ys`` (one array, or a sequence of arrays: one series each) over ``xs``,
    one column per bucket of points, at most ``width`` columns.

    ``log`` draws log10 of the values (a value of 0 at the smallest positive one); ``marks`` are
    x positions numbered on the axis; ``second`` is ``(first, last, unit)`` of another counter
    over the same range, printed under the first.
    """
    series = [np.asarray(ys, dtype=float)] if np.ndim(ys) == 1 else [np.asarray(y, dtype=float) for y in ys]
    every = np.concatenate(series)
    positive = every[every > 0]
    floor = float(positive.min()) if positive.size else 1.0
    scaled = [_scaled(y, log, floor) for y in series]
    low = min(float(s.min()) for s in scaled)
    high = max(float(s.max()) for s in scaled)
    span = high - low or 1.0
    columns = max(1, min(width, len(xs)))
    buckets = np.array_split(np.arange(len(xs)), columns)
    grid = [[" "] * columns for _ in range(height)]
    for values, marker in zip(scaled, MARKERS * (len(scaled) // len(MARKERS) + 1)):
        _draw(grid, values, buckets, low, span, marker)
    shown = (lambda v: 10**v) if log else (lambda v: v)
    labels = {0: high, height // 2: low + span / 2, height - 1: low}
    texts = {row: _axis_label(shown(value)) for row, value in labels.items()}
    pad = max(len(text) for text in texts.values())
    lines = [f"{texts.get(row, ''):>{pad}} |{''.join(cells)}" for row, cells in enumerate(grid)]
    lines.append(" " * pad + " " + _axis_line(xs, columns, marks))
    lines.append(_counter_line(pad, columns, float(xs[0]), float(xs[-1]), x_unit))
    if second is not None:
        lines.append(_counter_line(pad, columns, *second))
    return "\n".join(lines)
