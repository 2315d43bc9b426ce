"""``from_keras``: a ``keras.optimizers.schedules`` schedule (object or config) as an lrdsl string.

Accepted: a schedule object (its class name and ``get_config()`` are read), the dict of
``keras.optimizers.schedules.serialize(schedule)`` (``{"class_name": ..., "config": {...}}``),
or a bare ``get_config()`` dict, whose class is told by its keys (``class_name=`` settles the
one ambiguous pair, ExponentialDecay and InverseTimeDecay). A Keras schedule states its
learning rates, so the string holds them as numbers and does not depend on the base it is
compiled with. The mapping is the Keras table of docs/equivalence.md; Keras computes in float32,
the string in float64, so they agree to float32 precision. Nothing here imports Keras.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ..errors import LRDSLError, did_you_mean
from .fields import Fields, describe
from .text import Phases, call, join, number, single

_KEYS = {
    "ExponentialDecay": {"initial_learning_rate", "decay_steps", "decay_rate", "staircase"},
    "InverseTimeDecay": {"initial_learning_rate", "decay_steps", "decay_rate", "staircase"},
    "PolynomialDecay": {"initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle"},
    "PiecewiseConstantDecay": {"boundaries", "values"},
    "CosineDecay": {"initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps"},
    "CosineDecayRestarts": {"initial_learning_rate", "first_decay_steps", "t_mul", "m_mul", "alpha"},
}


def from_keras(schedule_or_config: Any, class_name: Optional[str] = None, where: str = "") -> str:
    """The lrdsl string of a Keras learning-rate schedule (see the module docstring).

    ``where`` prefixes the key names in error messages (the config loader passes the file's key).
    """
    name, config, where = _class_and_config(schedule_or_config, class_name, where)
    converter = _CONVERTERS.get(name)
    if converter is None:
        raise LRDSLError(
            f"{where or 'from_keras'}: cannot convert Keras schedule {name!r}; lrdsl converts "
            f"{', '.join(sorted(_CONVERTERS))}{did_you_mean(name, _CONVERTERS)}"
        )
    fields = Fields(config, where)
    phases = converter(fields)
    fields.done(ignored=("name",))
    return join(phases)


def _class_and_config(item: Any, class_name: Optional[str], where: str):
    if hasattr(item, "get_config") and not isinstance(item, dict):
        return class_name or type(item).__name__, item.get_config(), where
    if not isinstance(item, dict):
        raise LRDSLError(
            f"{where or 'from_keras'}: expected a Keras schedule, its get_config() dict or its serialized dict, "
            f"got {describe(item)}"
        )
    if "class_name" in item:
        outer = Fields(item, where)
        name = outer.raw("class_name")
        config = outer.raw("config")
        outer.done(ignored=("module", "registered_name"))
        return name, config, outer.key("config")
    if class_name is not None:
        return class_name, item, where
    keys = set(item) - {"name"}
    matches = sorted(name for name, known in _KEYS.items() if keys == known)
    if len(matches) != 1:
        found = " or ".join(matches) if matches else "no Keras schedule"
        raise LRDSLError(
            f"{where or 'from_keras'}: the keys {sorted(keys)} fit {found}; pass class_name= "
            '(or the serialized form {"class_name": ..., "config": ...})'
        )
    return matches[0], item, where


def _exponential(f: Fields) -> Phases:
    """ExponentialDecay: initial · rate^(t/steps), floored when staircase."""
    return single(
        call(
            "exp",
            s=f.number("decay_steps", minimum=0),
            rate=f.number("decay_rate"),
            staircase=f.flag("staircase", False),
            base=f.number("initial_learning_rate"),
        )
    )


def _inverse_time(f: Fields) -> Phases:
    """InverseTimeDecay: initial / (1 + rate · t/steps), floored when staircase."""
    return single(
        call(
            "inverse_time",
            d=f.number("decay_rate"),
            s=f.number("decay_steps", minimum=0),
            staircase=f.flag("staircase", False),
            base=f.number("initial_learning_rate"),
        )
    )


def _polynomial(f: Fields) -> Phases:
    """PolynomialDecay: end + (initial − end)·(1 − t/D)^power; with cycle the horizon D·ceil(t/D)."""
    start, steps = f.number("initial_learning_rate"), f.number("decay_steps", minimum=0)
    end, power = f.number("end_learning_rate", 0.0001), f.number("power", 1.0)
    if not f.flag("cycle", False):
        return single(call("poly", T=steps, power=power, end=end, base=start))
    d = number(steps)
    fall = f"(1 - it / ({d} * max(ceil(it / {d}), 1)))" + ("" if power == 1 else f" ** {number(power)}")
    return single(f"{number(end)} + ({number(start)} - {number(end)}) * {fall}")


def _piecewise(f: Fields) -> Phases:
    """PiecewiseConstantDecay keeps the left value at a boundary: at=[floor(b) + 1, ...]."""
    boundaries, values = f.raw("boundaries"), f.raw("values")
    if not isinstance(boundaries, list) or not isinstance(values, list) or len(values) != len(boundaries) + 1:
        raise f.error("values", "expected one more value than boundaries, both lists")
    for key, items in (("boundaries", boundaries), ("values", values)):
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items):
            raise f.error(key, f"expected a list of numbers, got {describe(items)}")
    return single(call("piecewise", at=[int(b // 1) + 1 for b in boundaries], values=list(values)))


def _cosine(f: Fields) -> Phases:
    """CosineDecay: alpha is a fraction of the peak; an optional warmup from initial to warmup_target."""
    start, steps = f.number("initial_learning_rate"), f.number("decay_steps", minimum=0)
    alpha, target = f.number("alpha", 0.0), f.raw("warmup_target", None)
    warm = f.number("warmup_steps", 0, minimum=0)
    if target is None:
        return single(call("cosine", T=steps, end=alpha * start, base=start))
    target = f.number("warmup_target")
    decay = call("cosine", T=steps, end=alpha * target, base=target)
    if warm == 0:
        return single(decay)
    return [(call("warmup", T=warm, start=start, base=target), warm), (decay, None)]


def _restarts(f: Fields) -> Phases:
    """CosineDecayRestarts scales the height above the floor alpha·initial by m_mul per cycle."""
    start, alpha = f.number("initial_learning_rate"), f.number("alpha", 0.0)
    sgdr = call(
        "sgdr",
        T=f.number("first_decay_steps", minimum=0),
        mult=f.number("t_mul", 2.0),
        decay=f.number("m_mul", 1.0),
        base=(1 - alpha) * start,
    )
    return single(sgdr if alpha == 0 else f"{number(alpha * start)} + {sgdr}")


_CONVERTERS: Dict[str, Callable[[Fields], Phases]] = {
    "ExponentialDecay": _exponential,
    "InverseTimeDecay": _inverse_time,
    "PolynomialDecay": _polynomial,
    "PiecewiseConstantDecay": _piecewise,
    "CosineDecay": _cosine,
    "CosineDecayRestarts": _restarts,
}
