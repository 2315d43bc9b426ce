"""What ``lrdsl sweep`` shows at the end: the best trials as a table, and the top schedules drawn
over the run with their scores in the legend."""

from __future__ import annotations

import io
from typing import Any, List

import numpy as np

from ..errors import LRDSLError
from ..schedule import compile_schedule
from .engines import USER_ATTR
from .space import space

KEYWORDS = {"it": None, "ep": "epochs", "tok": "tokens", "sp": "samples"}  # values() keyword by clock unit
POINTS = 500


def ranked(trials: List[Any], direction: str) -> List[Any]:
    """The completed trials, best first."""
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    return sorted(complete, key=lambda t: t.value, reverse=direction == "maximize")


def best_table(trials: List[Any], direction: str, top: int) -> str:
    """The ``top`` best trials: rank, trial number, value and schedule string."""
    best = ranked(trials, direction)[:top]
    if not best:
        return "no trial completed"
    rows = [("rank", "trial", "value", "schedule")]
    rows += [(str(n), str(t.number), f"{t.value:.6g}", t.user_attrs.get(USER_ATTR, "?")) for n, t in enumerate(best, 1)]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3] for row in rows)


def plot_best(trials: List[Any], config, top: int, path: str) -> str:
    """Draw the ``top`` best schedules, compiled with the config's compile options, into ``path``
    (a PNG); returns what was written."""
    best = ranked(trials, config.direction)[:top]
    if not best:
        return "no plot: no trial completed"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LRDSLError("--plot needs matplotlib: pip install 'lrdsl[plot]'") from None
    figure, axes = plt.subplots(figsize=(9, 4.5))
    for trial in best:
        text = trial.user_attrs[USER_ATTR]
        sched = compile_schedule(text, variables=_host(config), **config.compile)
        length = sched.clock.convert(*sched.clock.total, "total") if sched.clock.total else 1000.0
        points = np.linspace(0.0, length, POINTS)
        keyword = KEYWORDS[sched.clock.unit]
        values = sched.values(points) if keyword is None else sched.values(**{keyword: points})
        axes.plot(points, values, label=f"{trial.value:.4g}  {text if len(text) < 70 else text[:67] + '...'}")
    axes.set_xlabel({"it": "iteration", "ep": "epoch", "tok": "tokens", "sp": "samples"}[sched.clock.unit])
    axes.set_ylabel("learning rate")
    axes.set_title(f"study {config.study}: the {len(best)} best schedules ({config.direction})", fontsize=10)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    plt.close(figure)
    try:
        with open(path, "wb") as handle:
            handle.write(image.getvalue())
    except OSError as error:
        raise LRDSLError(f"--plot {path}: cannot write the image ({error.strerror}); give a writable path") from None
    return f"wrote {path}"


def _host(config) -> dict:
    """The config's variables that are not distributions (the host's)."""
    searched = space(config.template, config.variables).variables
    return {name: value for name, value in config.variables.items() if name not in searched}
