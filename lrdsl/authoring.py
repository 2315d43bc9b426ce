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
ranges come from ``checks``; the docstring is the node's documentation. The registry validates
every declaration when it is registered and every use of the node in a string against it.

- :func:`schedule_node`: a pure formula ``f(xp, t, *params)``;
- :func:`built_schedule_node`: ``build(context, *params) -> Curve``, for stateful nodes and
  nodes that take a sub-schedule;
- :func:`function_node`: a pointwise function ``f(xp, *values)`` (``min``, ``floor``);
- :func:`optimizer_node`: an optimizer's update rule ``update(param, grad, state, *hyper)``.

Formulas decide boundaries with the exact helpers re-exported here from :mod:`lrdsl.exact`
(:func:`floor_div`, :func:`ceil_div`, :func:`fraction`, :func:`periods`), so a node gives the
same values under ``jax.jit`` in float32 as in NumPy float64.

Return the declared specs from an ``@lrdsl.hookimpl def lrdsl_nodes()`` (:mod:`lrdsl.hookspecs`);
docs/writing-a-plugin.md is the full guide.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, get_args, get_origin

from .errors import PluginError
from .text import show_value
from .exact import ceil_div, floor_div, fraction, periods  # noqa: F401  (part of the authoring API)


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

    def default_text(self) -> str:
        """The default as written in a signature (``b``: the incoming base); '' when required."""
        default = self.default
        if default is REQUIRED:
            return ""
        if isinstance(default, tuple):
            return "(" + ", ".join(map(show_value, default)) + ")"
        return show_value(default)

    def describe(self) -> str:
        """``name`` or ``name=default``, as in a signature."""
        return f"{self.name}={self.default_text()}" if self.default is not REQUIRED else self.name


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
    of_quotient: Optional[Callable] = None  # functions: f(xp, a, b) used for f(a / b), b a positive constant
    extra: Mapping[str, Any] = field(default_factory=dict)  # kind-specific data (optimizers)
    source: str = ""

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    @property
    def names(self) -> Tuple[str, ...]:
        """The name, then the aliases."""
        return (self.name, *self.aliases)

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
    raise PluginError(f"{where}: unsupported annotation {annotation!r}; use float, int, bool, str, Duration, "
                    "Count, ScheduleArg, list[Duration], list[float] or tuple[float, ...]")


def params_from_signature(function: Callable, skip: int, checks: Mapping[str, Check]) -> Tuple[Param, ...]:
    """Parameters declared by a typed signature, after its first ``skip`` arguments."""
    where = getattr(function, "__name__", repr(function))
    hints = inspect.get_annotations(function, eval_str=True)
    declared = list(inspect.signature(function).parameters.values())[skip:]
    params = []
    for p in declared:
        if p.name not in hints:
            raise PluginError(f"{where}: parameter {p.name!r} needs a type annotation")
        default = REQUIRED if p.default is inspect.Parameter.empty else p.default
        params.append(Param(p.name, _kind(hints[p.name], where), default, checks.get(p.name)))
    for key, check in checks.items():
        if not isinstance(check, Check):
            raise PluginError(f"{where}: checks[{key!r}] is a {type(check).__name__}; use positive, nonnegative, "
                              "finite_positive, between(...), one_of(...) or Check(test, text)")
    unknown = set(checks) - {p.name for p in params}
    if unknown:
        raise PluginError(f"{where}: checks name unknown parameters {sorted(unknown)}")
    return tuple(params)


def _doc(function: Callable) -> str:
    return inspect.cleandoc(function.__doc__ or "")


def _schedule_declaration(role: str, skip: int, name, aliases, horizon, checks) -> Callable[[Callable], NodeSpec]:
    """A decorator turning ``function`` into a schedule NodeSpec whose ``role`` is evaluate or build."""

    def declare(function: Callable) -> NodeSpec:
        params = params_from_signature(function, skip, checks or {})
        _check_horizon(function, horizon, params)
        return NodeSpec(name or function.__name__, "schedule", params, _doc(function), aliases=tuple(aliases),
                        horizon=horizon, **{role: function})

    return declare


def schedule_node(name: str | None = None, *, aliases: Sequence[str] = (), horizon: str | None = None,
                  checks: Mapping[str, Check] | None = None) -> Callable[[Callable], NodeSpec]:
    """Declare a schedule node from ``evaluate(xp, t, *params)``; returns its :class:`NodeSpec`."""
    return _schedule_declaration("evaluate", 2, name, aliases, horizon, checks)


def built_schedule_node(name: str | None = None, *, aliases: Sequence[str] = (), horizon: str | None = None,
                        checks: Mapping[str, Check] | None = None) -> Callable[[Callable], NodeSpec]:
    """Declare a schedule node from ``build(context, *params) -> Curve`` (stateful or higher-order)."""
    return _schedule_declaration("build", 1, name, aliases, horizon, checks)


def function_node(name: str | None = None, *, variadic: bool = False,
                  of_quotient: Callable | None = None) -> Callable[[Callable], NodeSpec]:
    """Declare a pointwise function (``min``, ``floor`` ...) from ``evaluate(xp, *values)``.

    ``of_quotient(xp, a, b)``, when given, computes the function of ``a / b`` for a positive
    constant ``b`` more exactly than ``evaluate`` of the rounded quotient could: ``floor(it / 7)``
    is :func:`lrdsl.exact.floor_div`, exact at every multiple of 7 on every backend.
    """

    def declare(function: Callable) -> NodeSpec:
        params = params_from_signature(function, 1, {})
        return NodeSpec(name or function.__name__.rstrip("_"), "function", params, _doc(function),
                        evaluate=function, variadic=variadic, of_quotient=of_quotient)

    return declare


def optimizer_node(name: str | None = None, *, aliases: Sequence[str] = (),
                   checks: Mapping[str, Check] | None = None, requires: Sequence[Check] = (),
                   fixed: Sequence[str] = (), **extra) -> Callable[[Callable], NodeSpec]:
    """Declare an optimizer node from its update rule ``update(param, grad, state, *hyperparameters)``.

    The signature after ``param, grad, state`` declares the hyperparameters (names, order,
    defaults, types: ``float``, ``bool``, ``int``, ``str``, ``tuple[float, float]``) as for schedule
    nodes, and the docstring (with the update formula) is the node's documentation::

        import numpy as np
        from lrdsl.authoring import between, nonnegative, optimizer_node
        from lrdsl.optim.kernels import ema

        @optimizer_node(checks={"lr": nonnegative, "beta": between(0, 1, high_open=True)})
        def signum(param, grad, state, lr: float = 1e-3, beta: float = 0.9):
            '''Signum: m ← β·m + (1−β)·g;  θ ← θ − lr·sign(m).'''
            m = state.zeros("momentum")
            ema(m, grad, beta)
            step = np.sign(m, out=state.scratch(0))
            step *= -lr
            param += step

    Each step calls ``update`` once per parameter array with the array to update in place, its
    gradient (read-only), its :class:`lrdsl.optim.ParamState` (``state.step``, saved entries,
    ``state.scratch(i)`` temporaries, ``state.pair(name)`` for an (old, new) buffer pair swapped
    when the step succeeds) and the hyperparameters' values at this iteration. A step with a
    non-finite result is undone for every parameter.

    - A ``float`` hyperparameter, and each item of a ``tuple[float, ...]`` one, may be a schedule
      in the string (compiled with incoming base 1.0, evaluated at every step); ``fixed`` names
      the float hyperparameters that must stay numbers (e.g. a value used only when the state
      is created).
    - ``checks`` give ranges, checked on constants once and on every value a schedule takes.
    - ``requires`` are :class:`Check` s of the dict of all values (``Check(lambda h: ..., "nesterov
      needs momentum > 0")``), for constraints between hyperparameters.
    - ``extra`` carries data for the framework bridges, in ``spec.extra``.
    """

    def declare(function: Callable) -> NodeSpec:
        where = getattr(function, "__name__", repr(function))
        params = params_from_signature(function, 3, checks or {})
        floats = {p.name for p in params if p.kind in ("number", "numbers_tuple")}
        if set(fixed) - floats:
            raise PluginError(f"{where}: fixed names {sorted(set(fixed) - floats)}, which are not float hyperparameters")
        if not all(isinstance(check, Check) for check in requires):
            raise PluginError(f"{where}: requires must be Check(test, text) objects")
        return NodeSpec(name or function.__name__, "optimizer", params, _doc(function), build=function,
                        aliases=tuple(aliases),
                        extra={"requires": tuple(requires), "fixed": frozenset(fixed), **extra})

    return declare


def _check_horizon(function: Callable, horizon: str | None, params: Tuple[Param, ...]) -> None:
    if horizon is not None and not any(p.name == horizon and p.kind == "duration" for p in params):
        raise PluginError(f"{function.__name__}: horizon {horizon!r} must name a Duration parameter")
