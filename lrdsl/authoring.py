"""The public API for declaring nodes: built-in ones and plugins' use exactly this.

A schedule node is one NumPy-friendly function of local time, written against an array
namespace ``xp``. The scalar evaluator passes :data:`lrdsl.scalarmath.SCALAR` (plain floats,
``math``) and the vectorised one passes ``numpy`` (or ``jax.numpy``), so the formula is
written once::

    from lrdsl.authoring import BASE, Duration, positive, schedule_node

    @schedule_node(horizon="T", checks={"T": positive})
    def tanh_decay(xp, t, T: Duration, base: float = BASE):
        \"\"\"Tanh decay: base · (1 − tanh(3·min(t,T)/T)).\"\"\"
        return base * (1 - xp.tanh(3 * xp.minimum(t, T) / T))

The parameters' names, order, defaults and types come from the signature (after ``xp, t``);
ranges come from ``checks``; the docstring is the node's documentation.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, get_args, get_origin


class _Sentinel:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


BASE = _Sentinel("b")  # default "=b": the incoming base (SPEC §4.2)
REQUIRED = _Sentinel("required")  # no default


class Duration(float):
    """Annotation: a length of time (a bare number is iterations; ``5ep``; ``10%``)."""


class Count(float):
    """Annotation: a whole number of repetitions, or ``inf``."""


class ScheduleArg:
    """Annotation: a sub-schedule (an expression evaluated over time), e.g. ``repeat``'s ``x``."""


# Parameter kinds, by annotation.
_KINDS = {float: "number", int: "integer", bool: "bool", str: "string", Duration: "duration",
          Count: "count", ScheduleArg: "schedule"}
_LIST_KINDS = {Duration: "durations", float: "numbers"}

KIND_NAMES = {
    "number": "a number", "integer": "a whole number", "bool": "true or false",
    "string": "a string", "duration": "a duration (500, 500it, 5ep or 10%)",
    "count": "a whole number or inf", "schedule": "a schedule", "durations": "a list of durations",
    "numbers": "a list of numbers", "numbers_tuple": "a tuple of numbers", "any": "a number or a schedule",
}


@dataclass(frozen=True)
class Check:
    """A range or choice a parameter value must satisfy; ``text`` is shown in errors."""

    test: Callable[[Any], bool]
    text: str

    def __call__(self, value) -> bool:
        try:
            return bool(self.test(value))
        except TypeError:
            return False


positive = Check(lambda v: v > 0, "> 0")
nonnegative = Check(lambda v: v >= 0, ">= 0")
finite_positive = Check(lambda v: 0 < v < math.inf, "> 0 and finite")


def between(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Check:
    """A check ``low <= v <= high``, either end optionally open."""
    lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
    return Check(lambda v: (v > low if low_open else v >= low) and (v < high if high_open else v <= high),
                 f"in {lo}{low:g}, {high:g}{hi}")


def one_of(*choices) -> Check:
    """A check that the value is one of ``choices``."""
    return Check(lambda v: v in choices, "one of " + ", ".join(f'"{c}"' if isinstance(c, str) else str(c)
                                                                for c in choices))


@dataclass(frozen=True)
class Param:
    """One parameter of a node."""

    name: str
    kind: str  # a key of KIND_NAMES
    default: Any = REQUIRED  # REQUIRED, BASE or a value
    check: Optional[Check] = None

    def describe(self) -> str:
        if self.default is REQUIRED:
            return self.name
        default = self.default
        if isinstance(default, str):
            default = f'"{default}"'
        elif isinstance(default, bool):
            default = str(default).lower()
        elif isinstance(default, float) and math.isinf(default):
            default = "inf"
        return f"{self.name}={default}"


@dataclass(frozen=True)
class NodeSpec:
    """Everything the registry knows about one node.

    ``kind`` is ``"schedule"``, ``"optimizer"`` or ``"function"``. A schedule node has either
    ``evaluate(xp, t, *params)`` (a pure formula) or ``build(values, context) -> Curve`` (for
    nodes that hold state or evaluate a sub-schedule). ``horizon`` names the parameter that
    gives the node's natural length (SPEC §4.3). ``source`` is filled in by the registry.
    """

    name: str
    kind: str
    params: Tuple[Param, ...]
    doc: str
    evaluate: Optional[Callable] = None
    build: Optional[Callable] = None
    aliases: Tuple[str, ...] = ()
    horizon: Optional[str] = None
    variadic: bool = False  # functions such as min/max take any number of arguments
    extra: Mapping[str, Any] = field(default_factory=dict)  # kind-specific data (optimizers)
    source: str = ""

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def signature(self) -> str:
        if self.variadic:
            return f"{self.name}({self.params[0].name}, ...)"
        return f"{self.name}({', '.join(p.describe() for p in self.params)})"

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)

    def with_source(self, source: str) -> "NodeSpec":
        return replace(self, source=source)


def _kind(annotation, where: str) -> str:
    if annotation in _KINDS:
        return _KINDS[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, Sequence) and args and args[0] in _LIST_KINDS:
        return _LIST_KINDS[args[0]]
    if origin is tuple:
        return "numbers_tuple"
    if annotation is Any:
        return "any"
    raise TypeError(f"{where}: unsupported annotation {annotation!r}; use float, int, bool, str, Duration, "
                    "Count, ScheduleArg, list[Duration], list[float] or tuple[float, ...]")


def params_from_signature(function: Callable, skip: int, checks: Mapping[str, Check]) -> Tuple[Param, ...]:
    """Parameters declared by a typed signature, after its first ``skip`` arguments."""
    where = getattr(function, "__name__", repr(function))
    hints = inspect.get_annotations(function, eval_str=True)
    declared = list(inspect.signature(function).parameters.values())[skip:]
    params = []
    for p in declared:
        if p.name not in hints:
            raise TypeError(f"{where}: parameter {p.name!r} needs a type annotation")
        default = REQUIRED if p.default is inspect.Parameter.empty else p.default
        params.append(Param(p.name, _kind(hints[p.name], where), default, checks.get(p.name)))
    unknown = set(checks) - {p.name for p in params}
    if unknown:
        raise TypeError(f"{where}: checks name unknown parameters {sorted(unknown)}")
    return tuple(params)


def _doc(function: Callable) -> str:
    return inspect.cleandoc(function.__doc__ or "")


def schedule_node(name: str | None = None, *, aliases: Sequence[str] = (), horizon: str | None = None,
                  checks: Mapping[str, Check] | None = None) -> Callable[[Callable], NodeSpec]:
    """Declare a schedule node from ``evaluate(xp, t, *params)``; returns its :class:`NodeSpec`."""

    def declare(function: Callable) -> NodeSpec:
        params = params_from_signature(function, 2, checks or {})
        _check_horizon(function, horizon, params)
        return NodeSpec(name or function.__name__, "schedule", params, _doc(function), evaluate=function,
                        aliases=tuple(aliases), horizon=horizon)

    return declare


def built_schedule_node(name: str | None = None, *, aliases: Sequence[str] = (), horizon: str | None = None,
                        checks: Mapping[str, Check] | None = None) -> Callable[[Callable], NodeSpec]:
    """Declare a schedule node from ``build(context, *params) -> Curve`` (stateful or higher-order)."""

    def declare(function: Callable) -> NodeSpec:
        params = params_from_signature(function, 1, checks or {})
        _check_horizon(function, horizon, params)
        return NodeSpec(name or function.__name__, "schedule", params, _doc(function), build=function,
                        aliases=tuple(aliases), horizon=horizon)

    return declare


def function_node(name: str | None = None, *, variadic: bool = False) -> Callable[[Callable], NodeSpec]:
    """Declare a pointwise function (``min``, ``floor`` ...) from ``evaluate(xp, *values)``."""

    def declare(function: Callable) -> NodeSpec:
        params = params_from_signature(function, 1, {})
        return NodeSpec(name or function.__name__.rstrip("_"), "function", params, _doc(function),
                        evaluate=function, variadic=variadic)

    return declare


def optimizer_node(name: str | None = None, *, checks: Mapping[str, Check] | None = None,
                   **extra) -> Callable[[Callable], NodeSpec]:
    """Declare an optimizer node from a typed factory ``make(*hyperparameters) -> update rule``.

    Hyperparameters annotated ``float`` (or ``tuple[float, ...]``) may be given as schedules in a
    string; ``extra`` carries optimizer-specific data for the optimizer layer and the bridges.
    """

    def declare(function: Callable) -> NodeSpec:
        params = params_from_signature(function, 0, checks or {})
        return NodeSpec(name or function.__name__, "optimizer", params, _doc(function), build=function,
                        extra=dict(extra))

    return declare


def _check_horizon(function: Callable, horizon: str | None, params: Tuple[Param, ...]) -> None:
    if horizon is not None and not any(p.name == horizon and p.kind == "duration" for p in params):
        raise TypeError(f"{function.__name__}: horizon {horizon!r} must name a Duration parameter")
