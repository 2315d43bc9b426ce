"""A template on Optuna and on Ray Tune: each dimension as the engine's own distribution.

Neither engine is imported by ``import lrdsl`` or ``import lrdsl.search``: :func:`suggest` only
calls the trial it is given, and :func:`tune_space` imports ``ray.tune`` when it is called.

========================  ======================================  ==========================================
dimension                 Optuna (``trial.suggest_*``)             Ray Tune (``param_space``)
========================  ======================================  ==========================================
``uniform(lo, hi)``       ``suggest_float(name, lo, hi)``         ``tune.uniform(lo, hi)``
``uniform(.., step=q)``   ``suggest_float(.., step=q)``           ``tune.quniform(lo, hi, q)``
``loguniform(lo, hi)``    ``suggest_float(.., log=True)``         ``tune.loguniform(lo, hi)``
``intuniform(lo, hi)``    ``suggest_int(name, lo, hi, step=q)``   ``tune.randint(lo, hi + 1)`` / ``qrandint``
``choice(a, b, ...)``     ``suggest_categorical(name, texts)``    ``tune.choice(texts)``
========================  ======================================  ==========================================

Durations are sampled as numbers in their unit (``uniform(1%, 10%)``: 1 to 10); a choice as the
canonical texts of its options. Ray's q-distributions round to multiples of ``q``;
:func:`from_config` moves such a value to the template's grid ``lo + k·q``.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ..errors import LRDSLError, TemplateError
from ..text import describe
from .dimensions import Dimension
from .space import space

USER_ATTR = "schedule"  # the trial's user attribute holding its concrete string


def suggest(text: str, trial, variables: Optional[Mapping[str, Any]] = None) -> str:
    """The schedule of ``text`` for an Optuna ``trial``: each dimension the chosen options reach is
    suggested by name (so conditional dimensions exist only where used), and the concrete string is
    stored as the trial's user attribute ``"schedule"`` and returned."""
    found = space(text, variables)
    concrete = found.concrete(lambda dim: _suggest(trial, dim))
    trial.set_user_attr(USER_ATTR, concrete)
    return concrete


def _suggest(trial, dim: Dimension):
    if dim.kind == "choice":
        return trial.suggest_categorical(dim.name, list(dim.options))
    if dim.kind == "intuniform":
        return trial.suggest_int(dim.name, int(dim.low), int(dim.high), step=int(dim.step))  # type: ignore[arg-type]
    value = trial.suggest_float(dim.name, dim.low, dim.high, step=dim.step, log=dim.kind == "loguniform")
    return round(value) if dim.integral else value


def tune_space(text: str, variables: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """A Ray Tune ``param_space``: one ``tune`` distribution per dimension, by name. (Ray samples every
    dimension, also those inside options not chosen; :func:`from_config` uses the ones it reaches.)"""
    try:
        from ray import tune
    except ImportError as error:
        raise LRDSLError(f"tune_space needs Ray Tune ({error}); pip install 'lrdsl[ray]'") from None
    return {dim.name: _tune(tune, dim) for dim in space(text, variables)}


def _tune(tune, dim: Dimension):
    if dim.kind == "choice":
        return tune.choice(list(dim.options))
    if dim.kind == "loguniform":
        return tune.loguniform(dim.low, dim.high)
    if dim.kind == "intuniform":
        step = int(dim.step)  # type: ignore[arg-type]
        if step == 1:
            return tune.randint(int(dim.low), int(dim.high) + 1)  # type: ignore[arg-type]
        return tune.qrandint(int(dim.low), int(dim.high), step)  # type: ignore[arg-type]
    return tune.quniform(dim.low, dim.high, dim.step) if dim.step else tune.uniform(dim.low, dim.high)


def from_config(text: str, config: Mapping[str, Any], variables: Optional[Mapping[str, Any]] = None) -> str:
    """The concrete string of ``text`` for a Ray Tune trial's ``config`` (keys that are not dimension
    names, such as the trainable's own settings, are ignored)."""
    if not isinstance(config, Mapping):
        raise TemplateError(f"config must be the trial's config dict, not {describe(config)}")
    found = space(text, variables)
    return found.sample({name: config[name] for name in found.names() if name in config}, snap=True)
