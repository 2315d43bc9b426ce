"""Optimizer expressions → :class:`OptimizerConfig`: the node and each hyperparameter's value.

This is the layer the bridges (PyTorch, optax, Keras) build on: it parses and validates an
optimizer string against the registry and hands back plain values and compiled schedules,
with nothing NumPy-specific in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .. import ast
from ..authoring import Check, NodeSpec, Param
from ..clock import make_clock
from ..compiler import Context, bind, compile_expr, resolve, variable_tree
from ..errors import LRDSLError, ParameterError
from ..parser import parse
from ..plugins import default_registry
from ..printer import to_text
from ..registry import Registry
from ..schedule import Schedule, compile_schedule

Number = Union[float, Schedule]
Value = Union[float, int, bool, str, Schedule, Tuple[Number, ...]]

_NOT_NUMBERS = (ast.String, ast.Boolean, ast.ListExpr, ast.TupleExpr, ast.Duration)


@dataclass(frozen=True)
class _Scheduled:
    index: int  # position of the hyperparameter in the node's parameter list
    item: Optional[int]  # position inside a tuple hyperparameter, or None
    label: str  # "lr", "betas[0]"
    schedule: Schedule
    check: Optional[Check]


@dataclass(frozen=True)
class OptimizerConfig:
    """An optimizer expression, parsed and validated.

    - ``name``: the node's canonical name (``"adamw"``, also when an alias was written);
    - ``spec``: its :class:`~lrdsl.authoring.NodeSpec` (parameters, defaults, documentation, the
      update rule in ``spec.build``, plugin data in ``spec.extra``);
    - ``hyperparameters``: every hyperparameter by name, in the node's order, defaults filled in.
      A value is a ``float``, ``bool``, ``int`` or ``str``; a :class:`~lrdsl.Schedule` when the
      string gave a schedule (compiled with incoming base 1.0, evaluated at the global iteration);
      or a ``tuple`` (``betas``) whose items are floats or Schedules;
    - ``text``: the canonical text with the given (not the default) hyperparameters by name,
      group overrides included: ``adamw(lr=0.001, weight_decay=0)``.

    Built by :func:`parse_optimizer`. ``values(k)`` gives every hyperparameter's plain value at
    iteration ``k``, checked against the node's ranges and constraints.
    """

    name: str
    spec: NodeSpec
    hyperparameters: Mapping[str, Value]
    text: str
    _constants: Tuple[Any, ...] = field(repr=False, compare=False, default=())
    _scheduled: Tuple[_Scheduled, ...] = field(repr=False, compare=False, default=())

    @property
    def scheduled(self) -> Tuple[str, ...]:
        """Names of the hyperparameters that are (or hold) schedules."""
        return tuple(dict.fromkeys(self.spec.params[s.index].name for s in self._scheduled))

    def schedules(self) -> Iterator[Tuple[str, Schedule]]:
        """``(label, schedule)`` for every schedule, e.g. ``("lr", ...)``, ``("betas[0]", ...)``."""
        return ((s.label, s.schedule) for s in self._scheduled)

    def values(self, iteration: int = 0) -> Dict[str, Any]:
        """Every hyperparameter's value for the update at ``iteration`` (schedules evaluated)."""
        return dict(zip(self.hyperparameters, self.positional(iteration)))

    def positional(self, iteration: int) -> Sequence[Any]:
        """The values of :meth:`values` in the node's parameter order (the update rule's arguments).

        Raises :class:`~lrdsl.errors.ParameterError` when a schedule leaves its allowed range or
        breaks a constraint at ``iteration``, and EvaluationError when it cannot be evaluated.
        """
        if not self._scheduled:
            return self._constants
        values = list(self._constants)
        for entry in self._scheduled:
            try:
                value = entry.schedule(iteration)
            except LRDSLError as error:
                raise type(error)(f"{self.name}(): {entry.label} = {entry.schedule.expression}: {error}") from None
            if entry.check is not None and not entry.check(value):
                raise ParameterError(f"{self.name}(): {entry.label} = {entry.schedule.expression} is {value:g} at "
                                     f"iteration {iteration}, out of range; allowed: {entry.check.text}")
            if entry.item is None:
                values[entry.index] = value
            else:
                items = list(values[entry.index])
                items[entry.item] = value
                values[entry.index] = tuple(items)
        self._require(values, f" at iteration {iteration}")
        return values

    def _require(self, values: Sequence[Any], when: str = "") -> None:
        requires = self.spec.extra.get("requires", ())
        if requires:
            by_name = dict(zip(self.hyperparameters, values))
            for check in requires:
                if not check(by_name):
                    raise ParameterError(f"{self.text}: {check.text}{when}")


def parse_optimizer(text, steps_per_epoch=None, total=None, variables=None,
                    overrides: Optional[Mapping[str, Any]] = None,
                    registry: Optional[Registry] = None) -> OptimizerConfig:
    """Parse and validate an optimizer expression such as ``"adamw(lr=warmup(5%) then cosine(), weight_decay=0.05)"``.

    ``text`` is a string or a parsed :class:`~lrdsl.ast.Call`. ``steps_per_epoch``, ``total`` and
    ``variables`` are those of :func:`lrdsl.compile`; every scheduled hyperparameter is compiled
    with them and with incoming base 1.0 (SPEC §6). ``overrides`` replace or add hyperparameters
    (a parameter group's ``{"weight_decay": 0}``): values are numbers, booleans, tuples, or lrdsl
    strings such as ``"warmup(T=100, base=0.01) then cosine()"``. Tuple items (``betas``) may be
    schedules too: ``betas=(0.95 - 0.1 * cosine(T=1000), 0.999)``.

    Every hyperparameter is checked here (its type, its range, the node's constraints such as
    ``nesterov`` needing momentum; a schedule at iteration 0), so a config that parses is one an
    optimizer can run. Raises an :class:`~lrdsl.LRDSLError` subclass; unknown optimizer or
    hyperparameter names suggest the closest ones.
    """
    registry = registry or default_registry()
    tree = parse(text) if isinstance(text, str) else text
    if isinstance(tree, ast.Variable):
        raise ParameterError(f"{to_text(tree)}: write the optimizer call itself, not a variable")
    if not isinstance(tree, ast.Call):
        raise ParameterError(f"an optimizer is written as a call such as 'adamw(lr=1e-3)', not "
                             f"{to_text(tree)[:80]!r}; optimizers: {', '.join(registry.names('optimizer'))}")
    spec = registry.get(tree.name, kinds=("optimizer",))
    variables = dict(variables or {})
    clock = make_clock([tree], steps_per_epoch, total)
    total_length = clock.convert(*clock.total, "total") if clock.total else None
    ctx = Context(registry=registry, clock=clock, variables=variables, lr0=1.0, base=1.0, phase_length=total_length)
    where = f"{spec.name}(){ctx.where(tree)}: "

    given = bind(tree, spec, ctx)
    if overrides:
        replaced = {key: _as_tree(value, spec.param(key), f"{where}override {key}") for key, value in overrides.items()}
        kept = tuple((key, node) for key, node in given.items() if key not in replaced)
        given = bind(ast.Call(spec.name, (), kept + tuple(replaced.items())), spec, ctx)
    order = [p.name for p in spec.params]
    canonical = ast.Call(spec.name, (), tuple(sorted(given.items(), key=lambda kv: order.index(kv[0]))))

    compiler = _Resolver(spec, ctx, where, dict(steps_per_epoch=steps_per_epoch, total=total,
                                                 variables=variables, registry=registry))
    hyperparameters: Dict[str, Value] = {}
    for index, param in enumerate(spec.params):
        hyperparameters[param.name] = compiler.value(index, param, given.get(param.name))
    config = OptimizerConfig(spec.name, spec, hyperparameters, to_text(canonical),
                             tuple(hyperparameters.values()), tuple(compiler.scheduled))
    if config._scheduled:
        config.positional(0)  # unit errors, ranges and constraints at the first step
    else:
        config._require(config._constants)
    return config


class _Resolver:
    """Turns each bound argument into a plain value or a Schedule, checking ranges."""

    def __init__(self, spec: NodeSpec, ctx: Context, where: str, compile_options: Dict[str, Any]):
        self.spec, self.ctx, self.where = spec, ctx, where
        self.options = compile_options
        self.fixed = spec.extra.get("fixed", frozenset())
        self.scheduled: List[_Scheduled] = []

    def value(self, index: int, param: Param, node: Optional[ast.Expr]) -> Value:
        if node is None or param.kind not in ("number", "numbers_tuple"):
            return resolve(param, node, self.spec, self.ctx, self.where)
        if isinstance(node, ast.Variable):
            node = variable_tree(node, self.ctx)
        if param.kind == "number":
            return self.number(index, None, param, param.name, node)
        if not isinstance(node, (ast.TupleExpr, ast.ListExpr)):
            raise ParameterError(f"{self.where}parameter {param.name} expects a tuple such as "
                                 f"{_example(param)}, got {to_text(node)[:80]}")
        if isinstance(param.default, tuple) and len(node.items) != len(param.default):
            raise ParameterError(f"{self.where}parameter {param.name} expects {len(param.default)} items, such "
                                 f"as {_example(param)}, got {len(node.items)}: {to_text(node)[:80]}")
        return tuple(self.number(index, i, param, f"{param.name}[{i}]", item) for i, item in enumerate(node.items))

    def number(self, index: int, item: Optional[int], param: Param, label: str, node: ast.Expr) -> Number:
        if isinstance(node, ast.Variable):
            node = variable_tree(node, self.ctx)
        text = to_text(node)
        if isinstance(node, _NOT_NUMBERS):
            raise ParameterError(f"{self.where}parameter {label} expects a number or a schedule, got "
                                 f"{text[:80]}")
        curve = compile_expr(node, self.ctx)
        if curve.constant is not None:
            value = float(curve.constant)
            if not math.isfinite(value) or (param.check is not None and not param.check(value)):
                shown = text if isinstance(node, ast.Number) else f"{text} (= {value:g})"
                allowed = param.check.text if param.check is not None else "a finite number"
                raise ParameterError(f"{self.where}{label}={shown} is out of range; allowed: {allowed}")
            return value
        if param.name in self.fixed:
            raise ParameterError(f"{self.where}{label} must be a number fixed in time, not a schedule: {text[:80]}")
        schedule = compile_schedule(node, base=1.0, **self.options)
        self.scheduled.append(_Scheduled(index, item, label, schedule, param.check))
        return schedule


def _example(param: Param) -> str:
    if isinstance(param.default, tuple):
        return "(" + ", ".join(f"{v:g}" for v in param.default) + ")"
    return "(0.9, 0.999)"


def _as_tree(value: Any, param: Optional[Param], where: str) -> ast.Expr:
    """A parameter-group override as an expression: numbers, booleans, tuples or lrdsl strings."""
    if isinstance(value, ast.Expr):
        return value
    if isinstance(value, bool):
        return ast.Boolean(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ParameterError(f"{where}={value!r}: expected a finite number")
        return ast.Number(value if isinstance(value, int) else float(value))
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return _as_tree(value.item(), param, where)  # a numpy scalar
    if isinstance(value, str):
        if param is not None and param.kind == "string":
            return ast.String(value)
        try:
            return parse(value)
        except LRDSLError as error:
            raise type(error)(f"{where}: {error}") from None
    if isinstance(value, (tuple, list)):
        return ast.TupleExpr(tuple(_as_tree(item, None, where) for item in value))
    raise ParameterError(f"{where} is a {type(value).__name__}; expected a number, a boolean, a tuple or an "
                         "lrdsl string")


__all__ = ["OptimizerConfig", "parse_optimizer"]
