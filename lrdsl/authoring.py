"""The public API for declaring nodes: built-in ones and plugins' use exactly this.

A schedule node is one NumPy-friendly function of local time, written against an array
namespace ``xp``. The scalar evaluator passes :data:`lrdsl.scalarmath.SCALAR` (plain floats,
``math``) and the vectorised one passes ``numpy`` (or ``jax.numpy``), so the formula is
written once::

    from lrdsl.authoring import BASE, Duration, fraction, positive, schedule_node

    @schedule_node(horizon="T", checks={"T": positive})
    def tanh_decay(xp, t, T: Duration, base: float = BASE):
        \"\"\"Tanh decay: base · (1 − tanh(3·min(t,T)/T)).\"\"\"
        return base * (1 - xp.tanh(3 * fraction(xp, t, T)))

The parameters' names, order, defaults and types come from the signature (after ``xp, t``);
ranges come from ``checks``; the docstring is the node's documentation. The decorated
function stays a plain function (call it to unit-test the formula); its declaration is
``tanh_decay.lrdsl_spec`` (:func:`spec_of`). The registry validates every use of the node in a
string against it.

- :func:`schedule_node`: a pure formula ``f(xp, t, *params)``;
- :func:`built_schedule_node`: ``build(ctx, *params) -> Built``, for nodes with state fed by
  reported metrics (:class:`StatefulNode`) and nodes that take a schedule argument;
- :func:`function_node`: a pointwise function ``f(xp, *values)`` (``min``, ``floor``);
- :func:`optimizer_node`: an optimizer's update rule ``update(param, grad, state, *hyper)``.

Formulas decide boundaries with the exact helpers re-exported here from :mod:`lrdsl.exact`
(:func:`floor_div`, :func:`ceil_div`, :func:`fraction`, :func:`remaining`, :func:`linear_between`,
:func:`cosine_between`, :func:`periods`, :func:`power`), so a node gives the same values under
``jax.jit`` in float32 as in NumPy float64.

Return the decorated functions from an ``@lrdsl.hookimpl def lrdsl_nodes()`` (:mod:`lrdsl.hookspecs`);
docs/writing-a-plugin.md is the full guide.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable, Dict, Mapping, Sequence, Tuple, get_args, get_origin

from . import kinds
from .built import Built, NodeContext, StatefulNode, SubSchedule
from .errors import PluginError
from .exact import (
    ceil_div,
    cosine_between,
    floor_div,
    fraction,
    linear_between,
    one_minus_power,
    periods,
    poly_between,
    power,
    remaining,
)
from .specs import (
    BASE,
    REQUIRED,
    SPEC_ATTRIBUTE,
    Check,
    FunctionSpec,
    NodeSpec,
    OptimizerSpec,
    Param,
    SameAs,
    ScheduleSpec,
    StateEntry,
    between,
    finite_positive,
    nonnegative,
    one_of,
    positive,
    spec_of,
)

# The annotations of node parameters are what the function receives, for type checkers too.

Duration = Annotated[float, "duration"]
"""Annotation: a length of time (a bare number is iterations; ``5ep``; ``10%``), received in clock units."""

Count = Annotated[float, "count"]
"""Annotation: a whole number of repetitions, or ``inf``."""

ScheduleArg = SubSchedule
"""Annotation: a sub-schedule argument (``repeat``'s ``x``), received as a :class:`SubSchedule`."""

_ANNOTATIONS: Dict[Any, kinds.Kind] = {
    float: kinds.KINDS["number"],
    int: kinds.KINDS["integer"],
    bool: kinds.KINDS["bool"],
    str: kinds.KINDS["string"],
    Duration: kinds.KINDS["duration"],
    Count: kinds.KINDS["count"],
    ScheduleArg: kinds.KINDS["schedule"],
    Any: kinds.KINDS["any"],
}
_LIST_ANNOTATIONS: Dict[Any, kinds.Kind] = {Duration: kinds.KINDS["durations"], float: kinds.KINDS["numbers"]}


def _kind(annotation, where: str) -> kinds.Kind:
    if annotation in _ANNOTATIONS:
        return _ANNOTATIONS[annotation]
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (list, Sequence) and args and args[0] in _LIST_ANNOTATIONS:
        return _LIST_ANNOTATIONS[args[0]]
    if origin is tuple:
        return kinds.KINDS["numbers_tuple"]
    raise PluginError(
        f"{where}: unsupported annotation {annotation!r}; use float, int, bool, str, Duration, "
        "Count, ScheduleArg, list[Duration], list[float] or tuple[float, ...]"
    )


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
            raise PluginError(
                f"{where}: checks[{key!r}] is a {type(check).__name__}; use positive, nonnegative, "
                "finite_positive, between(...), one_of(...) or Check(test, text)"
            )
    unknown = set(checks) - {p.name for p in params}
    if unknown:
        raise PluginError(f"{where}: checks name unknown parameters {sorted(unknown)}")
    return tuple(params)


def _declared(function: Callable, spec: NodeSpec) -> Callable:
    """``function`` itself, carrying ``spec`` (so it stays callable and testable as written)."""
    setattr(function, SPEC_ATTRIBUTE, spec)
    return function


def _doc(function: Callable) -> str:
    return inspect.cleandoc(function.__doc__ or "")


def schedule_node(
    name: str | None = None,
    *,
    aliases: Sequence[str] = (),
    horizon: str | None = None,
    checks: Mapping[str, Check] | None = None,
) -> Callable[[Callable], Callable]:
    """Declare a schedule node from its formula ``f(xp, t, *params)``."""

    def declare(function: Callable) -> Callable:
        params = params_from_signature(function, 2, checks or {})
        return _declared(
            function,
            ScheduleSpec(
                name or function.__name__, params, _doc(function), tuple(aliases), formula=function, horizon=horizon
            ),
        )

    return declare


def built_schedule_node(
    name: str | None = None,
    *,
    aliases: Sequence[str] = (),
    horizon: str | None = None,
    checks: Mapping[str, Check] | None = None,
    stateful: bool = False,
) -> Callable[[Callable], Callable]:
    """Declare a schedule node from ``build(ctx, *params) -> Built`` (see :mod:`lrdsl.built`).

    ``stateful=True`` when the node keeps state fed by reported metrics: each compiled
    schedule then gets its own (the node is never served from the compile cache).
    """

    def declare(function: Callable) -> Callable:
        params = params_from_signature(function, 1, checks or {})
        return _declared(
            function,
            ScheduleSpec(
                name or function.__name__,
                params,
                _doc(function),
                tuple(aliases),
                build=function,
                horizon=horizon,
                stateful=stateful,
            ),
        )

    return declare


def function_node(
    name: str | None = None, *, variadic: bool = False, of_quotient: Callable | None = None
) -> Callable[[Callable], Callable]:
    """Declare a pointwise function (``min``, ``floor`` ...) from ``evaluate(xp, *values)``.

    ``of_quotient(xp, a, b)``, when given, computes the function of ``a / b`` for a positive
    constant ``b`` more exactly than ``evaluate`` of the rounded quotient could: ``floor(it / 7)``
    is :func:`lrdsl.exact.floor_div`, exact at every multiple of 7 on every backend.
    """

    def declare(function: Callable) -> Callable:
        params = params_from_signature(function, 1, {})
        return _declared(
            function,
            FunctionSpec(
                name or function.__name__.rstrip("_"),
                params,
                _doc(function),
                evaluate=function,
                variadic=variadic,
                of_quotient=of_quotient,
            ),
        )

    return declare


def optimizer_node(
    name: str | None = None,
    *,
    aliases: Sequence[str] = (),
    checks: Mapping[str, Check] | None = None,
    requires: Sequence[Check] = (),
    fixed: Sequence[str] = (),
    state: Mapping[str, StateEntry] | None = None,
    **bridges,
) -> Callable[[Callable], Callable]:
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
    - ``state`` declares the entries the rule keeps per parameter, ``{"exp_avg": StateEntry(),
      "exp_avg_sq": StateEntry(check=nonnegative)}`` (:class:`StateEntry`): a checkpoint that
      lacks one, has another, or breaks a range is refused before anything is loaded, and a
      step that leaves a declared entry malformed is undone.
    - other keyword arguments are data for the framework bridges, in ``spec.bridges``.
    """

    def declare(function: Callable) -> Callable:
        params = params_from_signature(function, 3, checks or {})
        return _declared(
            function,
            OptimizerSpec(
                name or function.__name__,
                params,
                _doc(function),
                tuple(aliases),
                update=function,
                requires=tuple(requires),
                fixed=frozenset(fixed),
                state=state,
                bridges=bridges,
            ),
        )

    return declare


__all__ = [
    "BASE",
    "Built",
    "Check",
    "Count",
    "Duration",
    "NodeContext",
    "SameAs",
    "ScheduleArg",
    "StateEntry",
    "StatefulNode",
    "SubSchedule",
    "between",
    "built_schedule_node",
    "ceil_div",
    "cosine_between",
    "finite_positive",
    "floor_div",
    "fraction",
    "function_node",
    "linear_between",
    "nonnegative",
    "one_minus_power",
    "one_of",
    "optimizer_node",
    "periods",
    "poly_between",
    "positive",
    "power",
    "remaining",
    "schedule_node",
    "spec_of",
]
