"""Schedules drawn as an image (PNG or SVG) with matplotlib: ``lrdsl plot --png/--svg``.

One line per schedule with a legend, a dashed vertical rule at every phase boundary and a
dotted one at every restart, each labelled; the counter the schedule was drawn by below and,
where it converts, a second counter above (epochs over iterations); a linear or logarithmic
value axis; the title (the expressions) wrapped to the figure's width, never clipped.
matplotlib is imported when an image is asked for (the ``plot`` extra).
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from .errors import LRDSLError

TITLE_WIDTH = 90  # characters per title line at the figure's width


@dataclass(frozen=True)
class Series:
    """One schedule to draw: its label (the expression), values, and marks ``(x, label, kind)``
    with kind "phase" or "restart"."""

    label: str
    values: np.ndarray
    marks: Sequence[Tuple[float, str, str]] = ()


@dataclass(frozen=True)
class SecondAxis:
    """Another counter over the same range: ``factor`` of it per unit of the drawn counter."""

    name: str
    factor: float

    def forward(self, x):
        return x * self.factor

    def inverse(self, x):
        return x / self.factor


def image_path(path: str, fmt: str) -> Path:
    """``path`` with the format's suffix added when it has none (``out`` -> ``out.png``)."""
    target = Path(path)
    return target if target.suffix else target.with_name(target.name + "." + fmt)


def save(
    path: str,
    fmt: str,
    points: np.ndarray,
    series: Sequence[Series],
    x_name: str,
    *,
    log: bool = False,
    second: Optional[SecondAxis] = None,
) -> Path:
    """Draw ``series`` over ``points`` and write the image to ``path`` (suffix added, see
    :func:`image_path`); returns the path written. A path that cannot be written is an
    :class:`~lrdsl.LRDSLError`."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LRDSLError(
            f"--{fmt} needs matplotlib: pip install 'lrdsl[plot]' (from a clone: pip install -e '.[plot]')"
        ) from None
    figure, axes = plt.subplots(figsize=(9, 5.2), layout="constrained")
    try:
        _draw(axes, points, series, x_name, log, second)
        title = "\n".join(line for s in series for line in textwrap.wrap(s.label, TITLE_WIDTH, break_on_hyphens=False))
        axes.set_title(title, fontsize=9, loc="left")
        image = io.BytesIO()
        figure.savefig(image, format=fmt, dpi=100)
    finally:
        plt.close(figure)
    target = image_path(path, fmt)
    try:  # written and closed here, so that a full disk or a bad path is an error, not "wrote"
        with open(target, "wb") as handle:
            handle.write(image.getvalue())
    except OSError as error:
        raise LRDSLError(f"--{fmt} {path}: cannot write the image ({error.strerror}); give a writable path") from None
    return target


def _draw(axes, points, series: Sequence[Series], x_name: str, log: bool, second: Optional[SecondAxis]) -> None:
    for number, s in enumerate(series):
        line = axes.plot(points, s.values, label=s.label if len(s.label) <= 60 else s.label[:57] + "...")[0]
        for x, label, kind in s.marks:
            axes.axvline(x, color=line.get_color(), linestyle="--" if kind == "phase" else ":", linewidth=0.9)
            axes.annotate(
                label,
                xy=(x, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12 - 10 * number),
                textcoords="offset points",
                fontsize=7,
                color=line.get_color(),
            )
    if log:
        axes.set_yscale("log")
    axes.set_xlabel(x_name)
    axes.set_ylabel("learning rate")
    axes.grid(alpha=0.3)
    if len(series) > 1 or any(s.marks for s in series):  # under the chart, where it hides no line or label
        axes.figure.legend(fontsize=8, loc="outside lower center")
    if second is not None:
        top = axes.secondary_xaxis("top", functions=(second.forward, second.inverse))
        top.set_xlabel(second.name)
