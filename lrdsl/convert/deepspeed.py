"""``from_deepspeed``: a DeepSpeed ``"scheduler"`` config block as an lrdsl string.

``{"type": "WarmupLR" | "WarmupDecayLR" | "WarmupCosineLR" | "OneCycle", "params": {...}}`` (or a
whole DeepSpeed config holding it under ``"scheduler"``), with the formulas and defaults of
``deepspeed/runtime/lr_schedules.py`` (DeepSpeed 0.19). DeepSpeed steps its scheduler after each
optimizer step, starting from the value it set when built, so iteration k of the string is the
lr after k ``step()`` calls, the value the k-th update uses. With j = k − 1 the index DeepSpeed
calls ``last_batch_iteration`` and W = max(2, warmup_num_steps):

- WarmupLR: min + (max − min)·γ(j), γ = log(j + 1)/log(W) ("log") or j/W ("linear") for j < W,
  then 1; k = 0 gives min. ``warmup_max_lr`` absent: the optimizer's lr, ``lr0``.
- WarmupDecayLR: the same warmup, then γ = max(0, (N − j)/max(1, N − W)) for N total steps.
- WarmupCosineLR (factors of the optimizer's lr, ``lr0``): 0 at k = 0; the warmup ratio
  r + (1 − r)·γ(j); then c + (1 − c)·(1 + cos(π·min(1, (j − W + 1)/max(1, N − W))))/2.
- OneCycle: up from cycle_min_lr to cycle_max_lr over the first step size, down over the
  second (in stairs when the stair counts are set), then min/(1 + rate·(k − size)/decay_step_size)
  (``inverse_time``), or min when there is no decay. Momentum is not the lr: left out.

Learning rates given in the block are written as numbers; a list (one per parameter group) is
refused: convert one group at a time with its value.
"""

from __future__ import annotations

from typing import Any, Callable, Dict

from ..errors import did_you_mean
from .fields import Fields
from .text import Phases, call, join, number, single

_WARMUP_TYPES = ("log", "linear")


def from_deepspeed(config: Any, where: str = "") -> str:
    """The lrdsl string of a DeepSpeed scheduler block (see the module docstring)."""
    outer = Fields(config, where, 'a DeepSpeed scheduler block {"type": ..., "params": {...}}')
    if "scheduler" in config and "type" not in config:
        return from_deepspeed(config["scheduler"], outer.key("scheduler"))
    kind = outer.raw("type")
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise outer.error(
            "type",
            f"unknown DeepSpeed scheduler {kind!r}; lrdsl converts {', '.join(sorted(_CONVERTERS))}"
            + did_you_mean(str(kind), _CONVERTERS),
        )
    params = Fields(outer.raw("params", {}), outer.key("params"))
    outer.done()
    phases = converter(params)
    params.done()
    return join(phases)


_OPTIMIZER_LR = object()


def _lr(f: Fields, name: str, default: Any) -> str:
    """An lr parameter as text: a number, or ``lr0`` when it is absent and defaults to the optimizer's."""
    item = f.raw(name, default)
    if item is _OPTIMIZER_LR:
        return "lr0"
    if isinstance(item, (list, tuple)):
        raise f.error(name, "one value per parameter group is not converted; convert one group at a time")
    return number(f.number(name, default, minimum=0))


def _steps(f: Fields) -> int:
    """W = max(2, warmup_num_steps), which must be a positive integer."""
    return max(2, f.integer("warmup_num_steps", 1000, minimum=1))


def _warmup(low: str, high: str, w: int, kind: str) -> Phases:
    """The warmup for k = 0 .. W: k = 0 is ``low``, then DeepSpeed's γ(k − 1)."""
    if kind == "log":
        return [(f"{low} + ({high} - {low}) * log(max(it, 1)) / log({w})", w + 1)]
    return [(low, 1), (call("warmup", T=w, start=low, base=high), w)]


def _warmup_lr(f: Fields) -> Phases:
    low, high = _lr(f, "warmup_min_lr", 0.0), _lr(f, "warmup_max_lr", _OPTIMIZER_LR)
    w, kind = _steps(f), f.choice("warmup_type", _WARMUP_TYPES, "log")
    f.raw("last_batch_iteration", -1)
    return _warmup(low, high, w, kind) + single(high)


def _warmup_decay_lr(f: Fields) -> Phases:
    total = f.integer("total_num_steps")
    low, high = _lr(f, "warmup_min_lr", 0.0), _lr(f, "warmup_max_lr", 0.001)
    w, kind = _steps(f), f.choice("warmup_type", _WARMUP_TYPES, "log")
    f.raw("last_batch_iteration", -1)
    decay = call("linear", T=total - w, start=high, end=low) if total > w else low
    return _warmup(low, high, w, kind) + single(decay)


def _warmup_cosine_lr(f: Fields) -> Phases:
    total = f.integer("total_num_steps")
    start, floor = f.number("warmup_min_ratio", 0.0, minimum=0), f.number("cos_min_ratio", 0.0001, minimum=0)
    w, kind = _steps(f), f.choice("warmup_type", _WARMUP_TYPES, "log")
    f.raw("last_batch_iteration", -1)
    if kind == "log":
        rise = f"log(it + 1) / log({w})"
    else:
        rise = f"it / {w}"
    ratio = rise if start == 0 else f"{number(start)} + {number(1 - start)} * {rise}"
    d = number(max(1, total - w))
    wave = f"(1 + cos(pi * min(it + 1, {d}) / {d})) / 2"
    fall = wave if floor == 0 else f"{number(floor)} + {number(1 - floor)} * {wave}"
    return [("0", 1), (f"lr0 * ({ratio})", w), (f"lr0 * ({fall})", None)]


def _one_cycle(f: Fields) -> Phases:
    low, high = _lr(f, "cycle_min_lr", None), _lr(f, "cycle_max_lr", None)
    up = f.number("cycle_first_step_size", 2000, minimum=0)
    down = f.number("cycle_second_step_size", up, minimum=0)
    if up <= 0:
        raise f.error("cycle_first_step_size", f"expected a number > 0, got {up!r}")
    up_stairs = f.integer("cycle_first_stair_count", 0)
    down_stairs = f.integer("cycle_second_stair_count", up_stairs)
    rate, every = f.number("decay_lr_rate", 0.0), f.number("decay_step_size", 0, minimum=0)
    for name in ("cycle_momentum", "cycle_min_mom", "cycle_max_mom", "decay_mom_rate", "last_batch_iteration"):
        f.raw(name, None)  # momentum is scheduled apart from the lr
    height = f"({high} - {low})"
    if up_stairs:
        rise = f"{low} + {height} * floor(it * {up_stairs} / {number(up)}) / {up_stairs}"
    else:
        rise = call("warmup", T=up, start=low, base=high)
    phases: Phases = [(rise, up)]
    if down:
        if down_stairs:
            fall = f"{low} + {height} * floor(({number(down)} - it) * {down_stairs} / {number(down)}) / {down_stairs}"
        else:
            fall = call("linear", T=down, start=high, end=low)
        phases.append((fall, down))
    decays = rate != 0 and every != 0  # DeepSpeed skips the decay when either is 0
    return phases + single(call("inverse_time", d=rate, s=every, base=low) if decays else low)


_CONVERTERS: Dict[str, Callable[[Fields], Phases]] = {
    "WarmupLR": _warmup_lr,
    "WarmupDecayLR": _warmup_decay_lr,
    "WarmupCosineLR": _warmup_cosine_lr,
    "OneCycle": _one_cycle,
}
