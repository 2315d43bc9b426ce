"""Which peer scheduler a schedule is: the lrdsl → peer direction of docs/equivalence.md.

:func:`equivalents` reads a compiled schedule's top-level phases, resolves each node's
parameters as the compiler does (defaults, durations, a horizon taken from its phase) and
matches the shapes whose peer counterpart gives the same value at every step:

=======================================  ==================================================
lrdsl (base b, the optimizer's lr)        peer
=======================================  ==================================================
``step(s, gamma)``                        torch ``StepLR(step_size=s, gamma=gamma)``
``multistep(at, gamma)``                  torch ``MultiStepLR(milestones=at, gamma=gamma)``
``exp(s=1, rate)``                        torch ``ExponentialLR(gamma=rate)``
``exp(s, rate, staircase, base)``         keras ``ExponentialDecay(...)``
``cosine(T, end)``                        torch ``CosineAnnealingLR(T_max=T, eta_min=end)``
                                          up to ``T``; keras ``CosineDecay(..., alpha=end/b)``
``poly(T, power)`` (end 0)                torch ``PolynomialLR(total_iters=T, power=power)``
``poly(T, power, end, base)``             keras ``PolynomialDecay(...)``
``onecycle(T, ...)``                      torch ``OneCycleLR(max_lr=base, total_steps=T, ...)``
                                          up to ``T − 1``
``sgdr(T, mult, end)``                    torch ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)``
``cyclic(up, down, low, high, ...)``      torch ``CyclicLR(...)``
``constant()``, ``warmup(T)``,            HF ``get_scheduler("constant")``,
``rsqrt(warmup=W)``                       ``"constant_with_warmup"``, ``"inverse_sqrt"``
``warmup(T=W) then cosine(T=D)``          HF ``get_scheduler("cosine", num_warmup_steps=W,
                                          num_training_steps=W + D)`` up to ``W + D``
``warmup(T=W) then linear(T=D)``          HF ``get_scheduler("linear", ...)``
=======================================  ==================================================

A node whose base is not the optimizer's lr (``base=`` given) matches only where the peer
takes the base itself (Keras, OneCycleLR, CyclicLR). The peer steps once per clock unit:
per iteration, or per epoch on an epoch clock; a token or sample clock has no peer.
The tests build every peer live and compare it step by step (tests/test_explain.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import ast
from .compiler import BINDER
from .context import Context
from .errors import LRDSLError
from .specs import ScheduleSpec

Args = List[Tuple[str, Any]]  # a peer's keyword arguments, in the order they are printed


@dataclass(frozen=True)
class Equivalent:
    """A peer scheduler that gives the schedule's values: ``library`` ("torch", "keras" or "hf"),
    its ``name`` and ``kwargs`` (the optimizer implied; HF's type is ``kwargs["name"]``), the
    ``call`` in Python syntax, and ``until``: the last clock time where they agree (None:
    everywhere)."""

    library: str
    name: str
    kwargs: Dict[str, Any]
    until: Optional[float] = None
    note: str = ""
    positional: Tuple[Any, ...] = field(default=())

    @property
    def call(self) -> str:
        """``OneCycleLR(max_lr=0.1, total_steps=100)``."""
        items = [_literal(value) for value in self.positional]
        items += [f"{key}={_literal(value)}" for key, value in self.kwargs.items()]
        return f"{self.name}({', '.join(items)})"

    def as_dict(self) -> dict:
        return {
            "library": self.library,
            "name": self.name,
            "args": list(self.positional),
            "kwargs": dict(self.kwargs),
            "call": self.call,
            "until": self.until,
            "note": self.note,
        }


def _literal(value: Any) -> str:
    """``value`` in Python syntax: numbers, strings, booleans, lists, dicts."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {_literal(item)}" for key, item in value.items()) + "}"
    return repr(value)


def _whole(value: Any) -> Optional[int]:
    """``value`` as an int when it is a whole number >= 0 (a peer's step counts), else None."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return int(value) if number and float(value).is_integer() and value >= 0 else None


def _count(value: Any) -> Any:
    """A step count as an int where it is whole (``10`` rather than ``10.0``), else as given."""
    whole = _whole(value)
    return value if whole is None else whole


def _optional(args: Args, name: str, value: Any, default: Any) -> Args:
    """``args`` with ``name=value`` added unless it is the peer's default."""
    return args if value == default else [*args, (name, value)]


Params = Dict[str, Any]
Rule = Callable[[Params, float], List[Equivalent]]


def _step(p: Params, b: float) -> List[Equivalent]:
    s = _whole(p["s"])
    if p["base"] != b or not s:
        return []
    return [Equivalent("torch", "StepLR", {"step_size": s, "gamma": p["gamma"]})]


def _multistep(p: Params, b: float) -> List[Equivalent]:
    at = [_whole(m) for m in p["at"]]
    if p["base"] != b or any(m is None for m in at):
        return []
    return [Equivalent("torch", "MultiStepLR", {"milestones": at, "gamma": p["gamma"]})]


def _exp(p: Params, b: float) -> List[Equivalent]:
    found = []
    if p["base"] == b and p["s"] == 1:
        found.append(Equivalent("torch", "ExponentialLR", {"gamma": p["rate"]}))
    args: Args = [("initial_learning_rate", p["base"]), ("decay_steps", _count(p["s"])), ("decay_rate", p["rate"])]
    found.append(Equivalent("keras", "ExponentialDecay", dict(_optional(args, "staircase", p["staircase"], False))))
    return found


def _cosine(p: Params, b: float) -> List[Equivalent]:
    found = []
    T = _whole(p["T"])
    if p["base"] == b and T:
        found.append(
            Equivalent(
                "torch",
                "CosineAnnealingLR",
                {"T_max": T, "eta_min": p["end"]},
                until=float(T),
                note="torch rises again after T_max",
            )
        )
    if p["base"] > 0:
        args = {"initial_learning_rate": p["base"], "decay_steps": _count(p["T"]), "alpha": p["end"] / p["base"]}
        found.append(Equivalent("keras", "CosineDecay", args))
    return found


def _poly(p: Params, b: float) -> List[Equivalent]:
    found = []
    T = _whole(p["T"])
    if p["base"] == b and p["end"] == 0 and T:
        found.append(Equivalent("torch", "PolynomialLR", {"total_iters": T, "power": p["power"]}))
    args = {"initial_learning_rate": p["base"], "decay_steps": _count(p["T"]), "end_learning_rate": p["end"]}
    found.append(Equivalent("keras", "PolynomialDecay", {**args, "power": p["power"]}))
    return found


def _onecycle(p: Params, b: float) -> List[Equivalent]:
    T = _whole(p["T"])
    if not T:
        return []
    args: Args = [("max_lr", p["base"]), ("total_steps", T)]
    args = _optional(args, "pct_start", p["pct"], 0.3)
    args = _optional(args, "anneal_strategy", p["anneal"], "cos")
    args = _optional(args, "div_factor", p["div"], 25.0)
    args = _optional(args, "final_div_factor", p["final_div"], 1e4)
    args = _optional(args, "three_phase", p["three_phase"], False)
    note = "torch raises after total_steps; onecycle holds its last value"
    return [Equivalent("torch", "OneCycleLR", dict(args), until=float(T - 1), note=note)]


def _sgdr(p: Params, b: float) -> List[Equivalent]:
    T, mult = _whole(p["T"]), _whole(p["mult"])
    if p["base"] != b or not T or not mult or p["decay"] != 1 or p["times"] != math.inf:
        return []
    args = _optional(_optional([("T_0", T)], "T_mult", mult, 1), "eta_min", p["end"], 0)
    return [Equivalent("torch", "CosineAnnealingWarmRestarts", dict(args))]


def _cyclic(p: Params, b: float) -> List[Equivalent]:
    args: Args = [("base_lr", p["low"]), ("max_lr", p["high"]), ("step_size_up", _count(p["up"]))]
    args = _optional(args, "step_size_down", _count(p["down"]), _count(p["up"]))
    args = _optional(args, "mode", p["mode"], "triangular")
    args = _optional(args, "gamma", p["gamma"], 1)
    return [Equivalent("torch", "CyclicLR", dict(args))]


def _hf(name: str, until: Optional[float] = None, note: str = "", **kwargs) -> Equivalent:
    return Equivalent("hf", "get_scheduler", kwargs, until=until, note=note, positional=(name,))


def _constant(p: Params, b: float) -> List[Equivalent]:
    return [_hf("constant")] if p["value"] == b else []


def _warmup(p: Params, b: float) -> List[Equivalent]:
    W = _whole(p["T"])
    return [_hf("constant_with_warmup", num_warmup_steps=W)] if W and p["start"] == 0 and p["base"] == b else []


def _rsqrt(p: Params, b: float) -> List[Equivalent]:
    W = _whole(p["warmup"])
    return [_hf("inverse_sqrt", num_warmup_steps=W)] if W and p["base"] == b else []


ONE_PHASE: Dict[str, Rule] = {
    "step": _step,
    "multistep": _multistep,
    "exp": _exp,
    "cosine": _cosine,
    "poly": _poly,
    "onecycle": _onecycle,
    "sgdr": _sgdr,
    "cyclic": _cyclic,
    "constant": _constant,
    "warmup": _warmup,
    "rsqrt": _rsqrt,
}


def _warmup_then(first: Params, second_name: str, second: Params, b: float) -> List[Equivalent]:
    """HF's warmup + decay types: ``warmup(T=W) then cosine(T=D)`` / ``then linear(T=D)``."""
    W, D = _whole(first["T"]), _whole(second["T"])
    if not W or not D or first["start"] != 0 or first["base"] != b:
        return []
    total = W + D
    if second_name == "cosine" and second["end"] == 0 and second["base"] == b:
        note = "HF's cosine rises again after num_training_steps"
        return [_hf("cosine", until=float(total), note=note, num_warmup_steps=W, num_training_steps=total)]
    if second_name == "linear" and second["end"] == 0 and second["start"] == b:
        return [_hf("linear", num_warmup_steps=W, num_training_steps=total)]
    return []


def equivalents(schedule) -> List[Equivalent]:
    """The peer schedulers that give ``schedule``'s values, stepped once per clock unit (see the module)."""
    if schedule.clock.unit not in ("it", "ep") or schedule.stateful:
        return []
    phases = ast.phases_of(schedule.tree)
    if len(phases) > 2 or any(phase.length is not None for phase in phases):
        return []
    spans = schedule.phase_spans(schedule.clock.unit)
    resolved = [_resolved(schedule, phase.body, end - start) for phase, (start, end) in zip(phases, spans)]
    if any(r is None for r in resolved):
        return []
    b = schedule.base
    if len(resolved) == 1:
        ((name, params),) = resolved  # type: ignore[misc]
        found = ONE_PHASE[name](params, b) if name in ONE_PHASE else []
    else:
        (first_name, first), (second_name, second) = resolved  # type: ignore[misc]
        found = _warmup_then(first, second_name, second, b) if first_name == "warmup" else []
    if schedule.clock.unit == "ep":
        found = [replace(e, note="; ".join(filter(None, ["stepped once per epoch", e.note]))) for e in found]
    return found


def _resolved(schedule, body: ast.Expr, length: float) -> Optional[Tuple[str, Params]]:
    """``(node name, parameter values)`` of a schedule node call, as compiled in a phase of
    ``length`` whose incoming base is the schedule's base; None for anything else."""
    if not isinstance(body, ast.Call):
        return None
    try:
        spec = schedule.registry.get(body.name)
    except LRDSLError:
        return None
    if not isinstance(spec, ScheduleSpec) or spec.source != "lrdsl":
        return None
    ctx = Context.of(schedule, length if math.isfinite(length) else None)
    try:
        values = BINDER.values(body, spec, ctx)
    except LRDSLError:
        return None
    return spec.name, {param.name: value for param, value in zip(spec.params, values)}


__all__ = ["Equivalent", "equivalents"]
