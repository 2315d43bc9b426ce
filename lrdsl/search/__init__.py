"""Searching for a schedule: templates with distributions in them, on Optuna and Ray Tune.

A *template* is an lrdsl string with distribution calls where values are searched::

    warmup(intuniform(0, 30)) then choice(cosine(end=loguniform(1e-5, 1e-2)), linear(end=0))

- :func:`space` lists its dimensions, each with a stable name (``warmup.T``, ``cosine.end``,
  ``phase2``; the rule is in :mod:`lrdsl.search.space`);
- :func:`sample` gives the concrete, canonical string for chosen values;
- :func:`check` compiles its corner schedules with the run's options (``lrdsl check`` does it too);
- :func:`suggest` samples it in an Optuna trial; :func:`tune_space` and :func:`from_config` are the
  Ray Tune pair; ``lrdsl sweep CONFIG`` (:mod:`lrdsl.search.sweep`) runs a whole Optuna study.

    >>> from lrdsl import search
    >>> template = "warmup(uniform(1%, 10%)) then cosine(end=loguniform(1e-6, 1e-3))"
    >>> search.space(template).names()
    ['warmup.T', 'cosine.end']
    >>> search.sample(template, {"warmup.T": 5, "cosine.end": 1e-5})
    'warmup(5.0%) then cosine(end=1e-05)'

Optuna and Ray are optional (``pip install 'lrdsl[search]'``, ``'lrdsl[ray]'``) and imported only
by the functions that need them.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .check import check
from .dimensions import Dimension
from .engines import from_config, suggest, tune_space
from .space import Space, space


def sample(text: str, values: Mapping[str, Any], variables: Optional[Mapping[str, Any]] = None) -> str:
    """The concrete canonical string of the template ``text`` for ``values`` (by dimension name)."""
    return space(text, variables).sample(values)


__all__ = ["Dimension", "Space", "check", "from_config", "sample", "space", "suggest", "tune_space"]
