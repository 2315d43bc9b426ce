"""``from_torch``: a live ``torch.optim.lr_scheduler`` scheduler as the lrdsl string that gives its values.

The string is written against the incoming base ``lr0``, the parameter group's initial learning
rate (``scheduler.base_lrs[g]``, the optimizer's ``lr`` when the scheduler was built): compile it
with ``lrdsl.compile(text, base=that_lr)``, or hand it to the PyTorch bridge, which uses each
group's own lr. Learning rates a scheduler states absolutely (CyclicLR's bounds, OneCycleLR's
``max_lr``, ``eta_min``, ``min_lr``, SWALR's ``swa_lr``) are written as numbers. Iteration k of
the string is the lr the k-th optimizer update uses: the value after k ``scheduler.step()`` calls
from construction (the scheduler's current position is not part of the string).

The mapping is the PyTorch table of docs/equivalence.md. Nothing here imports torch: a
scheduler is recognised by its class name and read through its attributes.

Parameter groups: torch applies the same factors to every group, so one string usually serves
them all. When the groups need different strings (CyclicLR, OneCycleLR, ReduceLROnPlateau or
SWALR with a value per group), ``from_torch`` refuses and names them; ``group=i`` returns the
string of group ``i``.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional

from ..errors import LRDSLError, did_you_mean
from .text import Phases, Quoted, atom, call, join, number, sequence, shortest, single, times

# In a ChainedScheduler each child multiplies the lr by its own factor: these children do.
_CHAINABLE = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR")

_LAMBDA_ADVICE = (
    "its lr_lambda is an arbitrary Python function, which lrdsl cannot read; write the function as an "
    "expression of `it` (the step) instead: LambdaLR(lr_lambda=lambda e: 0.5 ** (e // 7)) is "
    "'lr0 * 0.5 ** floor(it / 7)', and MultiplicativeLR with a constant factor g is 'exp(s=1, rate=g)'"
)


def from_torch(scheduler, group: Optional[int] = None) -> str:
    """The lrdsl string that reproduces ``scheduler`` value for value (see the module docstring).

    ``group``: the index of the parameter group whose string is wanted; by default every group
    must need the same string.
    """
    groups = _group_count(scheduler)
    if group is not None:
        if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group < groups:
            raise LRDSLError(f"from_torch: group must be an index from 0 to {groups - 1}, got {group!r}")
        return join(_phases(scheduler, group, None))
    texts = [join(_phases(scheduler, index, None)) for index in range(groups)]
    if len(set(texts)) > 1:
        first = next(i for i, text in enumerate(texts) if text != texts[0])
        raise LRDSLError(
            f"from_torch: the {type(scheduler).__name__}'s parameter groups need different strings "
            f"(group 0: {texts[0]!r}, group {first}: {texts[first]!r}); pass group=i for the string of group i"
        )
    return texts[0]


def _group_count(scheduler) -> int:
    optimizer = getattr(scheduler, "optimizer", None)
    groups = getattr(optimizer, "param_groups", None)
    if not groups:
        raise LRDSLError(
            f"from_torch: expected a torch.optim.lr_scheduler scheduler, got {type(scheduler).__name__} "
            "(it has no optimizer with parameter groups)"
        )
    return len(groups)


def _phases(scheduler, group: int, base: Optional[str]) -> Phases:
    """The scheduler's phases for one group.

    ``base``: ``None`` when the scheduler starts from the incoming base, which is ``lr0``; else
    the text of its base (``"lr0"`` for a later phase of a SequentialLR, which restarts from
    the initial lr; ``"1"`` for a factor of a ChainedScheduler).
    """
    name = type(scheduler).__name__
    if name in ("LambdaLR", "MultiplicativeLR"):
        raise LRDSLError(f"from_torch: cannot convert {name}: {_LAMBDA_ADVICE}")
    converter = _CONVERTERS.get(name)
    if converter is None:
        raise LRDSLError(
            f"from_torch: cannot convert {name}; the torch schedulers lrdsl converts are "
            f"{', '.join(sorted(_CONVERTERS))}{did_you_mean(name, _CONVERTERS)}"
        )
    if base == "1" and name not in _CHAINABLE:
        raise LRDSLError(
            f"from_torch: a {name} inside a ChainedScheduler sets the lr instead of multiplying it "
            f"(pytorch #129565), so the chain is no product; lrdsl converts chains of {', '.join(_CHAINABLE)}"
        )
    return converter(scheduler, group, base)


def _lr(base: Optional[str]) -> str:
    """The base as a term of arithmetic."""
    return base or "lr0"


def _step(s, group, base) -> Phases:
    return single(call("step", s=s.step_size, gamma=s.gamma, base=base))


def _multistep(s, group, base) -> Phases:
    return single(call("multistep", at=sorted(s.milestones.elements()), gamma=s.gamma, base=base))


def _constant(s, group, base) -> Phases:
    """ConstantLR: factor · lr0 for total_iters, then lr0 (torch keeps the factor for good when total_iters=0)."""
    if s.total_iters == 0:
        return single(times(s.factor, _lr(base)))
    return [(times(s.factor, _lr(base)), s.total_iters), (_lr(base), None)]


def _linear(s, group, base) -> Phases:
    """LinearLR: from start_factor · lr0 to end_factor · lr0 over total_iters, then held."""
    lr = _lr(base)
    if s.total_iters == 0:
        return single(times(s.end_factor, lr))
    return single(call("linear", T=s.total_iters, start=times(s.start_factor, lr), end=times(s.end_factor, lr)))


def _exponential(s, group, base) -> Phases:
    return single(call("exp", s=1, rate=s.gamma, base=base))


def _polynomial(s, group, base) -> Phases:
    return single(call("poly", T=s.total_iters, power=s.power, base=base))


def _cosine(s, group, base) -> Phases:
    """CosineAnnealingLR is periodic past T_max: eta_min + (lr0 − eta_min) · (1 + cos(π·t/T_max)) / 2.

    (``cosine(T=T_max, end=eta_min)`` is the same up to T_max and holds eta_min after it.)
    """
    wave = f"(1 + cos(pi * it / {number(s.T_max)})) / 2"
    if s.eta_min == 0:
        return single(f"{_lr(base)} * {wave}")
    return single(f"{number(s.eta_min)} + ({_lr(base)} - {number(s.eta_min)}) * {wave}")


def _warm_restarts(s, group, base) -> Phases:
    return single(call("sgdr", T=s.T_0, mult=s.T_mult, end=s.eta_min, base=base))


def _cyclic(s, group, base) -> Phases:
    """CyclicLR between its absolute bounds base_lr and max_lr (momentum is not the lr: left out)."""
    if getattr(s, "_scale_fn_custom", None) is not None:
        raise LRDSLError("from_torch: cannot convert a CyclicLR with a custom scale_fn (an arbitrary Python function)")
    total, ratio = s.total_size, s.step_ratio
    up = shortest(total * ratio, lambda u: u / total == ratio and u + (total - u) == total)
    mode = s.mode
    return single(
        call(
            "cyclic",
            up=up,
            down=total - up,
            low=s.base_lrs[group],
            high=s.max_lrs[group],
            mode=Quoted(mode),
            gamma=s.gamma if mode == "exp_range" else None,
        )
    )


def _one_cycle(s, group, base) -> Phases:
    """OneCycleLR: ``onecycle`` with its divisors and pct recovered from the stored phase ends."""
    settings = s.optimizer.param_groups[group]
    peak, start, floor = settings["max_lr"], settings["initial_lr"], settings["min_lr"]
    total, phases = s.total_steps, s._schedule_phases
    end = phases[0]["end_step"]
    anneal = getattr(s, "_anneal_func_type", None) or ("cos" if "cos" in s.anneal_func.__name__ else "linear")
    return single(
        call(
            "onecycle",
            T=total,
            pct=shortest((end + 1) / total, lambda p: float(p * total) - 1 == end),
            div=shortest(peak / start, lambda d: peak / d == start),
            final_div=shortest(start / floor, lambda d: start / d == floor),
            anneal=Quoted(anneal),
            three_phase=len(phases) == 3,
            base=peak,
        )
    )


def _plateau(s, group, base) -> Phases:
    """ReduceLROnPlateau is ``plateau`` with the same names (``min_lr`` → ``min``)."""
    return single(
        plateau_call(s.mode, s.factor, s.patience, s.threshold, s.threshold_mode, s.cooldown, s.min_lrs[group], s.eps)
    )


def plateau_call(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps) -> str:
    """``plateau(...)`` from torch ReduceLROnPlateau's parameters (``min_lr`` is ``min``)."""
    return call(
        "plateau",
        mode=Quoted(mode),
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=Quoted(threshold_mode),
        cooldown=cooldown,
        min=min_lr,
        eps=eps,
    )


def _swa(s, group, base) -> Phases:
    """SWALR anneals from the lr to swa_lr over anneal_epochs ("cos": cosine, "linear": linear), then holds."""
    anneal = "cosine" if "cos" in s.anneal_func.__name__ else "linear"
    return single(call(anneal, T=s.anneal_epochs, end=s.optimizer.param_groups[group]["swa_lr"]))


def _sequential(s, group, base) -> Phases:
    """SequentialLR: each scheduler for its milestone span; every later one restarts from lr0."""
    if base is not None:
        raise LRDSLError("from_torch: cannot convert a SequentialLR nested in another SequentialLR (pytorch #196243)")
    bounds = [0, *s._milestones]
    parts = []
    for index, child in enumerate(s._schedulers):
        length = bounds[index + 1] - bounds[index] if index + 1 < len(bounds) else None
        parts.append((_phases(child, group, None if index == 0 else "lr0"), length))
    return sequence(parts)


def _chained(s, group, base) -> Phases:
    """ChainedScheduler: the product of its children's factors, each written with base 1."""
    if base == "1":
        raise LRDSLError("from_torch: cannot convert a ChainedScheduler inside a ChainedScheduler")
    factors = [join(_phases(child, group, "1")) for child in s._schedulers]
    return single(" * ".join([_lr(base)] + [atom(factor) for factor in factors]))


_CONVERTERS: Dict[str, Callable[..., Phases]] = {
    "StepLR": _step,
    "MultiStepLR": _multistep,
    "ConstantLR": _constant,
    "LinearLR": _linear,
    "ExponentialLR": _exponential,
    "PolynomialLR": _polynomial,
    "CosineAnnealingLR": _cosine,
    "CosineAnnealingWarmRestarts": _warm_restarts,
    "CyclicLR": _cyclic,
    "OneCycleLR": _one_cycle,
    "ReduceLROnPlateau": _plateau,
    "SWALR": _swa,
    "SequentialLR": _sequential,
    "ChainedScheduler": _chained,
}
