"""``from_transformers``: an HF ``transformers.get_scheduler`` schedule type as an lrdsl string.

``from_transformers(name, num_warmup_steps=, num_training_steps=, **scheduler_specific_kwargs)``
takes what ``get_scheduler`` takes (the ``scheduler_specific_kwargs`` as keywords, or as the dict
``scheduler_specific_kwargs=``). HF schedules are factors of the optimizer's lr, so the string is
written against ``lr0``: compile it with ``base=`` the optimizer's lr. The mapping is the HF table
of docs/equivalence.md, value for value at every step, past ``num_training_steps`` too (HF's
cosine rises again there; the string follows it). ``greedy`` adapts the lr by its own rules from
the training metrics and has no lrdsl counterpart. Nothing here imports transformers.

With W warmup steps and T training steps, D = max(1, T − W) is the length of the decay, and
``it`` counts steps from the start of the decay phase.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ..errors import LRDSLError, did_you_mean
from .fields import Fields
from .text import Phases, call, join, number, single, times
from .torch import plateau_call

_PLATEAU_DEFAULTS: Dict[str, Any] = dict(
    mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8
)


def from_transformers(
    name,
    num_warmup_steps: Optional[int] = None,
    num_training_steps: Optional[int] = None,
    scheduler_specific_kwargs: Optional[Dict[str, Any]] = None,
    **kwargs,
) -> str:
    """The lrdsl string of ``transformers.get_scheduler(name, ...)`` (see the module docstring)."""
    options = dict(scheduler_specific_kwargs or {}, **kwargs)
    return convert(
        name, num_warmup_steps, num_training_steps, options, "from_transformers", "scheduler_specific_kwargs"
    )


def convert(
    name, warmup: Optional[int], training: Optional[int], options: Dict[str, Any], label: str, where: str
) -> str:
    """:func:`from_transformers` with the names errors use: ``label`` for the type, ``where`` for the options."""
    name = getattr(name, "value", name)  # a SchedulerType member
    converter = _CONVERTERS.get(name)
    if name == "greedy":
        raise LRDSLError(
            f"{label}: HF's 'greedy' scheduler (GreedyLR) changes the lr from training metrics by its own rules; "
            "it is not a function of the step and has no lrdsl equivalent (the nearest is plateau(...))"
        )
    if converter is None:
        raise LRDSLError(
            f"{label}: unknown HF scheduler type {name!r}; expected one of "
            f"{', '.join(sorted(_CONVERTERS))}{did_you_mean(str(name), _CONVERTERS)}"
        )
    run = _Run(name, warmup, training, Fields(options, where))
    phases = converter(run)
    run.kwargs.done()
    return join(phases)


class _Run:
    """The step counts of one HF schedule and its specific keyword arguments."""

    def __init__(self, name: str, warmup: Optional[int], training: Optional[int], kwargs: Fields):
        self.name, self.kwargs = name, kwargs
        self._warmup, self._training = warmup, training

    def _count(self, value: Optional[int], what: str) -> int:
        if value is None:
            raise LRDSLError(f"HF scheduler {self.name!r} needs {what}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LRDSLError(f"{what} must be an integer >= 0, got {value!r}")
        return value

    @property
    def warmup(self) -> int:
        return self._count(self._warmup, "num_warmup_steps")

    @property
    def training(self) -> int:
        return self._count(self._training, "num_training_steps")

    def decay_length(self) -> int:
        """D = max(1, T − W), refused where HF's own schedule degenerates (T <= W)."""
        if self.training <= self.warmup:
            raise LRDSLError(
                f"HF scheduler {self.name!r}: num_training_steps ({self.training}) must exceed num_warmup_steps "
                f"({self.warmup}) for a decay to exist"
            )
        return self.training - self.warmup

    def warm(self, after: Phases) -> Phases:
        """HF's linear warmup step/W (none when W = 0) before ``after``."""
        w = self.warmup
        return after if w == 0 else [(call("warmup", T=w), w)] + after


def _wave(cycles: float, progress: str) -> str:
    """(1 + cos(2π · cycles · progress)) / 2, HF's cosine factor."""
    angle = f"pi * {progress}" if cycles == 0.5 else f"2 * pi * {number(cycles)} * {progress}"
    return f"(1 + cos({angle})) / 2"


def _floor(run: _Run) -> str:
    """The cosine's floor from min_lr (absolute) or min_lr_rate (a fraction of lr0); exactly one is given."""
    absolute, rate = run.kwargs.raw("min_lr", None), run.kwargs.raw("min_lr_rate", None)
    if (absolute is None) == (rate is None):
        raise run.kwargs.error("min_lr", "give exactly one of min_lr and min_lr_rate (HF requires it)")
    if absolute is not None:
        return number(run.kwargs.number("min_lr", minimum=0))
    return times(run.kwargs.number("min_lr_rate", minimum=0), "lr0")


def _linear(run: _Run) -> Phases:
    return run.warm(single(call("linear", T=run.decay_length())))


def _cosine(run: _Run) -> Phases:
    d = run.decay_length()
    return run.warm(single(f"lr0 * {_wave(run.kwargs.number('num_cycles', 0.5), f'it / {d}')}"))


def _restarts(run: _Run) -> Phases:
    """Hard restarts: num_cycles cosines in D steps, then 0."""
    d, cycles = run.decay_length(), run.kwargs.number("num_cycles", 1)
    if cycles <= 0:
        raise run.kwargs.error("num_cycles", f"expected a number > 0, got {cycles!r}")
    return run.warm([(call("repeat", x=call("cosine", T=d / cycles)), d), ("0", None)])


def _polynomial(run: _Run) -> Phases:
    d = run.decay_length()
    power, end = run.kwargs.number("power", 1.0), run.kwargs.number("lr_end", 1e-7, minimum=0)
    return run.warm(single(call("poly", T=d, power=power, end=end)))


def _constant(run: _Run) -> Phases:
    return single("constant()")


def _constant_with_warmup(run: _Run) -> Phases:
    return single(call("warmup", T=run.warmup)) if run.warmup else single("constant()")


def _inverse_sqrt(run: _Run) -> Phases:
    """1/sqrt((step + timescale − W)/timescale) after the warmup; timescale defaults to W (or 10000)."""
    w = run.warmup
    scale = run.kwargs.number("timescale", w or 10_000, minimum=0)
    if w and scale == w:
        return single(call("rsqrt", warmup=w))
    return run.warm(single(f"lr0 / sqrt(1 + it / {number(scale)})"))


def _cosine_with_min_lr(run: _Run) -> Phases:
    d, floor = run.decay_length(), _floor(run)
    wave = _wave(run.kwargs.number("num_cycles", 0.5), f"it / {d}")
    return run.warm(single(f"{floor} + (lr0 - {floor}) * {wave}"))


def _cosine_warmup_with_min_lr(run: _Run) -> Phases:
    """HF's variant one step ahead: warmup (s + 1)/W (or from warmup_lr_rate), progress (s − W + 1)/D."""
    w, floor = run.warmup, _floor(run)
    d = max(1, run.training - w)
    wave = _wave(run.kwargs.number("num_cycles", 0.5), f"(it + 1) / {d}")
    decay = (f"{floor} + (lr0 - {floor}) * {wave}", None)
    rate = run.kwargs.raw("warmup_lr_rate", None)
    if w == 0:
        return [decay]
    if rate is None:
        return [(f"lr0 * (it + 1) / {number(w)}", w), decay]
    rate = run.kwargs.number("warmup_lr_rate", minimum=0)
    return [(f"lr0 * ({number(rate)} + {number(1 - rate)} * it / {number(max(1, w - 1))})", w), decay]


_RISE = {"linear": "{p}", "cosine": "(1 - cos(pi * {p})) / 2", "1-sqrt": "(1 - sqrt(1 - {p}))"}


def _warmup_stable_decay(run: _Run) -> Phases:
    """Warmup (linear, cosine or 1-sqrt) from min_lr_ratio·lr0, lr0 for the stable steps, decay to the floor."""
    f = run.kwargs
    w, decay = run.warmup, f.integer("num_decay_steps")
    stable = f.raw("num_stable_steps", None)
    stable = f.integer("num_stable_steps") if stable is not None else run.training - w - decay
    if stable < 0:
        raise LRDSLError(
            f"HF warmup_stable_decay: num_training_steps ({run.training}) is shorter than "
            f"num_warmup_steps + num_decay_steps ({w + decay})"
        )
    ratio = f.number("min_lr_ratio", 0.0, minimum=0)
    rise = _RISE[f.choice("warmup_type", _RISE, "linear")]
    fall = {
        "linear": "(1 - {p})",
        "cosine": _wave(f.number("num_cycles", 0.5), "{p}"),
        "1-sqrt": "(1 - sqrt({p}))",
    }[f.choice("decay_type", _RISE, "cosine")]

    def scaled(shape: str, length: int) -> str:
        factor = shape.format(p=f"it / {number(max(1, length))}")
        return f"lr0 * {factor}" if ratio == 0 else f"lr0 * ({number(ratio)} + {number(1 - ratio)} * {factor})"

    phases: Phases = []
    if w:
        phases.append((scaled(rise, w), w))
    if stable:
        phases.append(("lr0", stable))
    if decay:
        phases.append((scaled(fall, decay), decay))
    return phases + [(times(ratio, "lr0") if ratio else "0", None)]


def _plateau(run: _Run) -> Phases:
    """torch's ReduceLROnPlateau with these keyword arguments (its defaults)."""
    f, d = run.kwargs, _PLATEAU_DEFAULTS
    return single(
        plateau_call(
            mode=f.choice("mode", ("min", "max"), d["mode"]),
            factor=f.number("factor", d["factor"]),
            patience=f.integer("patience", d["patience"]),
            threshold=f.number("threshold", d["threshold"]),
            threshold_mode=f.choice("threshold_mode", ("rel", "abs"), d["threshold_mode"]),
            cooldown=f.integer("cooldown", d["cooldown"]),
            min_lr=f.number("min_lr", d["min_lr"], minimum=0),
            eps=f.number("eps", d["eps"]),
        )
    )


_CONVERTERS: Dict[str, Callable[[_Run], Phases]] = {
    "linear": _linear,
    "cosine": _cosine,
    "cosine_with_restarts": _restarts,
    "polynomial": _polynomial,
    "constant": _constant,
    "constant_with_warmup": _constant_with_warmup,
    "inverse_sqrt": _inverse_sqrt,
    "reduce_lr_on_plateau": _plateau,
    "cosine_with_min_lr": _cosine_with_min_lr,
    "cosine_warmup_with_min_lr": _cosine_warmup_with_min_lr,
    "warmup_stable_decay": _warmup_stable_decay,
}
