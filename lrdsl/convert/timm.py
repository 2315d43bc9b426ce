"""``from_timm``: a live ``timm.scheduler`` scheduler as the lrdsl string that gives its values.

timm's schedulers take an absolute counter t (``step(epoch)`` or ``step_update(num_updates)``,
per ``t_in_epochs``); iteration k of the string is the lr after ``step(k)`` (or
``step_update(k)``), so evaluate it with that counter. Like torch's, the string is written
against ``lr0``, the group's base lr (``scheduler.base_values[g]``); ``lr_min`` and
``warmup_lr_init`` are absolute. The mapping is the timm table of docs/equivalence.md:

- a warmup from ``warmup_lr_init`` over ``warmup_t`` steps; with ``warmup_prefix=False`` (the
  default of cosine, tanh and poly) the decay runs on the absolute t, so the string evaluates it
  at ``it + warmup_t``;
- cycles (``cycle_mul``, ``cycle_decay``, ``cycle_limit``) are ``sgdr`` for the cosine; the poly
  and tanh shapes, and any schedule with cycles and ``warmup_prefix=False``, are converted for
  one cycle (``cycle_limit=1``) only;
- ``MultiStepLRScheduler`` decays one step before each milestone, ``PlateauLRScheduler`` is
  ``plateau(...)`` from its inner torch ReduceLROnPlateau (its ``step(epoch, metric)`` with
  epoch >= 1; the warmup and the noise are refused).

Noise (``noise_range_t``) is random and ``k_decay != 1`` a power of t: both are refused with a
message. Nothing here imports timm.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

from ..errors import LRDSLError, did_you_mean
from .text import Phases, call, join, number, single
from .torch import plateau_call


def from_timm(scheduler, group: Optional[int] = None) -> str:
    """The lrdsl string of a timm scheduler; ``group`` as in :func:`lrdsl.convert.from_torch`."""
    name = type(scheduler).__name__
    converter = _CONVERTERS.get(name)
    if converter is None:
        raise LRDSLError(
            f"from_timm: cannot convert {name}; the timm schedulers lrdsl converts are "
            f"{', '.join(sorted(_CONVERTERS))}{did_you_mean(name, _CONVERTERS)}"
        )
    if getattr(scheduler, "noise_range_t", None) is not None:
        raise LRDSLError(f"from_timm: {name} with noise_range_t adds random noise; an lrdsl schedule is deterministic")
    if getattr(scheduler, "k_decay", 1.0) != 1.0:
        raise LRDSLError(
            f"from_timm: {name} with k_decay != 1 is not converted; write its t^k / T^k with `it ** k` by hand"
        )
    count = len(scheduler.optimizer.param_groups)
    if group is not None:
        if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group < count:
            raise LRDSLError(f"from_timm: group must be an index from 0 to {count - 1}, got {group!r}")
        return join(converter(scheduler, group))
    texts = [join(converter(scheduler, index)) for index in range(count)]
    if len(set(texts)) > 1:
        raise LRDSLError(
            f"from_timm: the {name}'s parameter groups need different strings ({texts[0]!r}, ...); "
            "pass group=i for the string of group i"
        )
    return texts[0]


def _warmup(s, target: str = "lr0") -> Phases:
    """timm's warmup: warmup_lr_init + t·(target − warmup_lr_init)/warmup_t for t < warmup_t."""
    if not s.warmup_t:
        return []
    return [(call("warmup", T=s.warmup_t, start=s.warmup_lr_init, base=target), s.warmup_t)]


def _one_cycle_only(s, name: str) -> None:
    if s.cycle_limit != 1:
        raise LRDSLError(
            f"from_timm: {name} with cycle_limit={s.cycle_limit} is converted for one cycle only "
            "(cycle_limit=1); write the cycles with repeat(...) by hand"
        )


def _shifted(s, shape: Callable[[str], str]) -> Phases:
    """One cycle on the absolute t: the warmup, then ``shape(time)`` with time = it + warmup_t."""
    if s.warmup_prefix or not s.warmup_t:
        return _warmup(s) + single(shape("it"))
    return _warmup(s) + single(shape(f"(it + {number(s.warmup_t)})"))


def _cosine(s, group) -> Phases:
    """CosineLRScheduler: lr_min + (lr0 − lr_min)·(1 + cos(π·t/T))/2 per cycle, lr_min after the last."""
    if s.cycle_limit != 1:
        if s.warmup_t and not s.warmup_prefix:
            raise LRDSLError(
                "from_timm: CosineLRScheduler with cycles and warmup_prefix=False is not converted: "
                "its cycles start during the warmup; use warmup_prefix=True"
            )
        sgdr = call("sgdr", T=s.t_initial, mult=s.cycle_mul, decay=s.cycle_decay, end=s.lr_min, times=s.cycle_limit)
        return _warmup(s) + single(sgdr)
    if s.warmup_prefix or not s.warmup_t:
        return _warmup(s) + single(call("cosine", T=s.t_initial, end=s.lr_min))
    t = number(s.t_initial)
    return _shifted(s, lambda time: f"{_above(s.lr_min)}(1 + cos(pi * min({time}, {t}) / {t})) / 2")


def _above(floor: float) -> str:
    """``floor + (lr0 − floor) * `` (just ``lr0 * `` without a floor)."""
    return "lr0 * " if floor == 0 else f"{number(floor)} + (lr0 - {number(floor)}) * "


def _poly(s, group) -> Phases:
    """PolyLRScheduler: lr_min + (lr0 − lr_min)·(1 − t/T)^power, lr_min after T."""
    _one_cycle_only(s, "PolyLRScheduler")
    if s.warmup_prefix or not s.warmup_t:
        return _warmup(s) + single(call("poly", T=s.t_initial, power=s.power, end=s.lr_min))
    t = number(s.t_initial)
    return _shifted(s, lambda time: f"{_above(s.lr_min)}(1 - min({time}, {t}) / {t}) ** {number(s.power)}")


def _tanh(s, group) -> Phases:
    """TanhLRScheduler: lr_min + (lr0 − lr_min)/(1 + e^(2z)), z = lb·(1 − t/T) + ub·t/T.

    (timm writes lr_min + (lr0 − lr_min)·(1 − tanh z)/2, and 1 − tanh z = 2/(1 + e^(2z)).)
    """
    _one_cycle_only(s, "TanhLRScheduler")
    t = number(s.t_initial)

    def shape(time: str) -> str:
        z = f"{number(s.lb)} * (1 - {time} / {t}) + {number(s.ub)} * {time} / {t}"
        if s.lr_min == 0:
            return f"lr0 / (1 + e ** (2 * ({z})))"
        return f"{number(s.lr_min)} + (lr0 - {number(s.lr_min)}) / (1 + e ** (2 * ({z})))"

    shift = 0 if s.warmup_prefix else s.warmup_t
    target = "lr0" if s.warmup_prefix else number(s.warmup_lr_init + s.warmup_t * s.warmup_steps[group])
    warm = _warmup(s, target) if s.warmup_t else []
    time = "it" if not shift else f"(it + {number(shift)})"
    return warm + [(shape(time), s.t_initial - shift), (number(s.lr_min), None)]


def _step(s, group) -> Phases:
    """StepLRScheduler: lr0 · decay_rate^floor(t/decay_t)."""
    if s.warmup_prefix or not s.warmup_t:
        return _warmup(s) + single(call("step", s=s.decay_t, gamma=s.decay_rate))
    return _warmup(s) + single(
        f"lr0 * {number(s.decay_rate)} ** floor((it + {number(s.warmup_t)}) / {number(s.decay_t)})"
    )


def _multistep(s, group) -> Phases:
    """MultiStepLRScheduler: decays at t = m − 1 for each milestone m (``bisect_right(t + 1)``)."""
    shift = 0 if s.warmup_prefix else s.warmup_t
    at = [max(m - 1 - shift, 0) for m in s.decay_t]
    return _warmup(s) + single(call("multistep", at=at, gamma=s.decay_rate))


def _plateau(s, group) -> Phases:
    """PlateauLRScheduler: the wrapped torch ReduceLROnPlateau, reported once per epoch >= 1."""
    if s.warmup_t:
        raise LRDSLError(
            "from_timm: PlateauLRScheduler with warmup_t is not converted (plateau must be the only phase of "
            "a metric-driven schedule here); convert it without the warmup"
        )
    inner = s.lr_scheduler
    return single(
        plateau_call(
            inner.mode,
            inner.factor,
            inner.patience,
            inner.threshold,
            inner.threshold_mode,
            inner.cooldown,
            inner.min_lrs[group],
            inner.eps,
        )
    )


_CONVERTERS: Dict[str, Callable[..., Phases]] = {
    "CosineLRScheduler": _cosine,
    "PolyLRScheduler": _poly,
    "TanhLRScheduler": _tanh,
    "StepLRScheduler": _step,
    "MultiStepLRScheduler": _multistep,
    "PlateauLRScheduler": _plateau,
}
