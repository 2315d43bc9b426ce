"""What the registry knows about a node: its parameters, and how each kind of node runs.

A node is declared once (with the decorators of :mod:`lrdsl.authoring`) and becomes one of

- :class:`ScheduleSpec`: a schedule node, a pure ``formula(xp, t, *params)`` or a
  ``build(ctx, *params)`` returning :class:`lrdsl.authoring.Built` (stateful or higher-order);
- :class:`FunctionSpec`: a pointwise function ``evaluate(xp, *values)`` (``min``, ``floor``);
- :class:`OptimizerSpec`: an optimizer's ``update(param, grad, state, *hyperparameters)``.

A spec checks itself when it is made, so a malformed declaration fails in the plugin that
declared it, with a :class:`~lrdsl.errors.PluginError` that says what to fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, FrozenSet, Mapping, Optional, Tuple

from .errors import PluginError
from .kinds import FORMULA_KINDS, Kind
from .text import show_value
from .vocabulary import RESERVED

# -- ranges -----------------------------------------------------------------------------------------


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
    return Check(
        lambda v: (v > low if low_open else v >= low) and (v < high if high_open else v <= high),
        f"in {lo}{low:g}, {high:g}{hi}",
    )


def one_of(*choices) -> Check:
    """A check that the value is one of ``choices``."""
    return Check(lambda v: v in choices, "one of " + ", ".join(map(show_value, choices)))


# -- defaults ---------------------------------------------------------------------------------------


class _Sentinel:
    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


# The defaults below are typed Any: each is a valid default of a parameter of any type
# (``base: float = BASE``), for type checkers too.

BASE: Any = _Sentinel("b")
"""A default meaning "the incoming base b" (docs/language.md §5)."""

REQUIRED: Any = _Sentinel("required")
"""No default: the parameter must be given (a horizon left unset takes its phase's length)."""


class SameAsDefault:
    """The default made by :func:`SameAs`: the value of the earlier parameter ``name``."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


def SameAs(name: str) -> Any:
    """A default that copies another (earlier) parameter's value: ``down: Duration = SameAs("up")``."""
    return SameAsDefault(name)


# -- parameters -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a node: its name, :class:`~lrdsl.kinds.Kind`, default and allowed range."""

    name: str
    kind: Kind
    default: Any = REQUIRED  # REQUIRED, BASE, SameAs(...) or a value of the kind
    check: Optional[Check] = None

    def default_text(self) -> str:
        """The default as written in a signature (``b``: the incoming base); '' when required."""
        default = self.default
        if default is REQUIRED:
            return ""
        if isinstance(default, (_Sentinel, SameAsDefault)):
            return repr(default)
        if isinstance(default, tuple):
            return "(" + ", ".join(map(show_value, default)) + ")"
        return show_value(default)

    def describe(self) -> str:
        """``name`` or ``name=default``, as in a signature."""
        return f"{self.name}={self.default_text()}" if self.default is not REQUIRED else self.name


# -- nodes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """What every node has: names, parameters, documentation and (filled in by the registry) its source."""

    kind: ClassVar[str] = ""
    name: str
    params: Tuple[Param, ...]
    doc: str
    aliases: Tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        what = f"node {self.name!r}"
        if not isinstance(self.aliases, tuple) or not all(
            isinstance(n, str) and n.isidentifier() for n in (self.name, *self.aliases)
        ):
            raise PluginError(f"{what}: its name and aliases ({self.aliases!r}, a tuple) must be identifiers")
        reserved = [n for n in self.names if n in RESERVED]
        if reserved:
            raise PluginError(f"{what}: {reserved[0]!r} is reserved by the language ({', '.join(RESERVED)})")
        if not isinstance(self.doc, str) or not self.doc.strip():
            raise PluginError(f"{what} has no documentation; give its function a docstring (first line: a summary)")
        if not isinstance(self.params, tuple) or not all(isinstance(p, Param) for p in self.params):
            raise PluginError(f"{what}: params must be a tuple of lrdsl.specs.Param")
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise PluginError(f"{what}: parameter names {names} repeat")
        for param in self.params:
            _check_param(param, names, what)

    @property
    def summary(self) -> str:
        """The first line of the documentation."""
        return self.doc.strip().splitlines()[0]

    @property
    def names(self) -> Tuple[str, ...]:
        """The name, then the aliases."""
        return (self.name, *self.aliases)

    def signature(self) -> str:
        return f"{self.name}({', '.join(p.describe() for p in self.params)})"

    def param(self, name: str) -> Optional[Param]:
        return next((p for p in self.params if p.name == name), None)

    def with_source(self, source: str) -> NodeSpec:
        return replace(self, source=source)


def _check_param(param: Param, names, what: str) -> None:
    where = f"{what}: parameter {param.name!r}"
    if not isinstance(param.kind, Kind):
        raise PluginError(f"{where} has kind {param.kind!r}, not one of lrdsl.kinds.KINDS")
    if param.check is not None and not isinstance(param.check, Check):
        raise PluginError(f"{where} has a check that is not an lrdsl.authoring.Check")
    default = param.default
    if isinstance(default, SameAsDefault):
        if default.name not in names[: names.index(param.name)]:
            raise PluginError(f"{where}: SameAs({default.name!r}) must name an earlier parameter")
    elif default is not REQUIRED and default is not BASE and not param.kind.accepts(default):
        raise PluginError(f"{where}: its default {default!r} is not {param.kind.text}")


@dataclass(frozen=True)
class ScheduleSpec(NodeSpec):
    """A schedule node: ``formula(xp, t, *params)``, or ``build(ctx, *params)`` for nodes that keep
    state fed by reported metrics or take a schedule argument. ``horizon`` names the duration
    parameter that is the node's natural length (docs/language.md §6); ``stateful`` nodes are
    compiled afresh for every Schedule, never shared through the compile cache."""

    kind: ClassVar[str] = "schedule"
    formula: Optional[Callable] = None
    build: Optional[Callable] = None
    horizon: Optional[str] = None
    stateful: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        what = f"node {self.name!r}"
        if (self.formula is None) == (self.build is None) or not callable(self.formula or self.build):
            raise PluginError(f"{what} needs exactly one callable: a formula or a build function")
        if self.formula is not None:
            for param in self.params:
                if param.kind.name not in FORMULA_KINDS:
                    raise PluginError(
                        f"{what}: parameter {param.name!r} is a schedule, which a formula cannot "
                        "take; declare the node with built_schedule_node"
                    )
        horizon = self.param(self.horizon) if self.horizon is not None else None
        if self.horizon is not None and (horizon is None or horizon.kind.name != "duration"):
            raise PluginError(f"{what}: horizon {self.horizon!r} must name a Duration parameter")


@dataclass(frozen=True)
class FunctionSpec(NodeSpec):
    """A pointwise function ``evaluate(xp, *values)``; ``variadic`` ones take any number of values.
    ``of_quotient(xp, a, b)`` is the function of ``a / b`` computed exactly (``floor``, ``ceil``)."""

    kind: ClassVar[str] = "function"
    evaluate: Callable = field(kw_only=True)
    variadic: bool = False
    of_quotient: Optional[Callable] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.evaluate):
            raise PluginError(f"node {self.name!r}: a function node needs evaluate(xp, *values)")
        if self.variadic and len(self.params) != 1:
            raise PluginError(f"node {self.name!r}: a variadic node declares exactly one (*args) parameter")

    def signature(self) -> str:
        return f"{self.name}({self.params[0].name}, ...)" if self.variadic else super().signature()


@dataclass(frozen=True)
class StateEntry:
    """One entry an optimizer's update rule keeps per parameter, declared so that a saved state can
    be checked completely before it is loaded.

    ``array``: an array shaped like the parameter (False: a number); ``check``: a range every element
    (or the number) satisfies, such as ``nonnegative`` for a second moment; ``when``: the name of
    the hyperparameter the entry depends on -- after the first step it exists where that
    hyperparameter is true or non-zero and not where it is false or 0, and may exist or not when a
    schedule gives it (``momentum_buffer`` with ``when="momentum"``).
    """

    array: bool = True
    check: Optional[Check] = None
    when: Optional[str] = None


@dataclass(frozen=True)
class OptimizerSpec(NodeSpec):
    """An optimizer node: ``update(param, grad, state, *hyperparameters)`` once per array and step.

    ``requires`` are checks of all hyperparameter values together; ``fixed`` names float
    hyperparameters that must not be schedules; ``state`` declares the entries the rule keeps per
    parameter (:class:`StateEntry`; None: undeclared, and a saved state is checked only for
    finite numbers and arrays of the parameter's shape); ``bridges`` carries data for framework bridges.
    """

    kind: ClassVar[str] = "optimizer"
    update: Callable = field(kw_only=True)
    requires: Tuple[Check, ...] = ()
    fixed: FrozenSet[str] = frozenset()
    state: Optional[Mapping[str, StateEntry]] = None
    bridges: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        what = f"node {self.name!r}"
        if not callable(self.update):
            raise PluginError(f"{what}: an optimizer node needs update(param, grad, state, *hyperparameters)")
        if not all(isinstance(check, Check) for check in self.requires):
            raise PluginError(f"{what}: requires must be Check(test, text) objects")
        if self.state is not None and not all(
            isinstance(name, str) and isinstance(entry, StateEntry) and (entry.when is None or self.param(entry.when))
            for name, entry in self.state.items()
        ):
            raise PluginError(f"{what}: state must map entry names to StateEntry(...), each 'when' naming a parameter")
        floats = {p.name for p in self.params if p.kind.name in ("number", "numbers_tuple")}
        if set(self.fixed) - floats:
            raise PluginError(
                f"{what}: fixed names {sorted(set(self.fixed) - floats)}, which are not float hyperparameters"
            )

    def may_be_scheduled(self, param: Param) -> bool:
        """Whether a string may give ``param`` as a schedule (a float, or tuple of floats, not fixed)."""
        return param.kind.name in ("number", "numbers_tuple") and param.name not in self.fixed


SPEC_ATTRIBUTE = "lrdsl_spec"
"""The attribute of a decorated node function that holds its spec."""


def spec_of(node: Any) -> NodeSpec:
    """The spec of ``node``: a spec itself, or a function decorated by :mod:`lrdsl.authoring`."""
    spec = node if isinstance(node, NodeSpec) else getattr(node, SPEC_ATTRIBUTE, None)
    if not isinstance(spec, NodeSpec):
        name = getattr(node, "__name__", type(node).__name__)
        raise PluginError(
            f"{name!r} is not a node: declare nodes with the decorators of lrdsl.authoring "
            "(schedule_node, built_schedule_node, function_node, optimizer_node)"
        )
    return spec
