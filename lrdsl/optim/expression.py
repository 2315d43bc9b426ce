"""Optimizer expressions → :class:`OptimizerConfig`: the node and each hyperparameter's value.

This is the layer the bridges (PyTorch, optax, Keras) build on: it parses and validates an
optimizer string against the registry and hands back plain values and compiled schedules,
with nothing NumPy-specific in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

from .. import ast, templates
from ..binding import Binder, out_of_range
from ..clock import make_clock
from ..compiler import compile_expr, compile_sub
from ..context import Context, located
from ..errors import LRDSLError, ParameterError
from ..parser import parse, pointed
from ..plugins import default_registry
from ..printer import to_text
from ..registry import Registry
from ..schedule import Schedule, compile_schedule
from ..specs import Check, OptimizerSpec, Param
from ..text import shorten
from ..variables import table as variable_table

Number = Union[float, Schedule]
Value = Union[float, int, bool, str, Schedule, Tuple[Number, ...]]


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
    - ``spec``: its :class:`~lrdsl.specs.OptimizerSpec` (parameters, defaults, documentation, the
      update rule in ``spec.update``, data for the bridges in ``spec.bridges``);
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
    spec: OptimizerSpec
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
                raise out_of_range(
                    f"{self.name}(): ",
                    entry.label,
                    f"{entry.schedule.expression} (= {value:g} at iteration {iteration})",
                    entry.check.text,
                )
            if entry.item is None:
                values[entry.index] = value
            else:
                items = list(values[entry.index])
                items[entry.item] = value
                values[entry.index] = tuple(items)
        self._require(values, f" at iteration {iteration}")
        return values

    def _require(self, values: Sequence[Any], when: str = "") -> None:
        if self.spec.requires:
            by_name = dict(zip(self.hyperparameters, values))
            for check in self.spec.requires:
                if not check(by_name):
                    raise ParameterError(f"{self.text}: {check.text}{when}")


def parse_optimizer(
    text,
    steps_per_epoch=None,
    total=None,
    variables=None,
    overrides: Optional[Mapping[str, Any]] = None,
    registry: Optional[Registry] = None,
    *,
    tokens_per_step=None,
    samples_per_step=None,
    on_change: str = "error",
) -> OptimizerConfig:
    """Parse and validate an optimizer expression such as ``"adamw(lr=warmup(5%) then cosine(), weight_decay=0.05)"``.

    ``text`` is a string or a parsed :class:`~lrdsl.ast.Call`. ``steps_per_epoch``, ``total``,
    ``variables``, ``tokens_per_step``, ``samples_per_step`` and ``on_change`` are those of :func:`lrdsl.compile`
    (the optimizer counts iterations: a schedule in tokens needs ``tokens_per_step``); every
    scheduled hyperparameter is compiled
    with them and with incoming base 1.0 (docs/language.md §11). ``overrides`` replace or add
    hyperparameters (a parameter group's ``{"weight_decay": 0}``): values are numbers, booleans,
    tuples, or lrdsl strings such as ``"warmup(T=100, base=0.01) then cosine()"``. Tuple items
    (``betas``) may be schedules too: ``betas=(0.95 - 0.1 * cosine(T=1000), 0.999)``.

    Every hyperparameter is checked here (its type, its range, the node's constraints such as
    ``nesterov`` needing momentum; a schedule at iteration 0), so a config that parses is one an
    optimizer can run. Raises an :class:`~lrdsl.LRDSLError` subclass; unknown optimizer or
    hyperparameter names suggest the closest ones.
    """
    tree = parse(text) if isinstance(text, str) else text
    try:
        return _optimizer_config(
            tree,
            registry or default_registry(),
            variable_table(variables),
            overrides,
            on_change,
            dict(
                steps_per_epoch=steps_per_epoch,
                total=total,
                tokens_per_step=tokens_per_step,
                samples_per_step=samples_per_step,
            ),
        )
    except LRDSLError as error:
        raise pointed(error, text) if isinstance(text, str) else error from None


def _optimizer_config(tree, registry: Registry, variables: dict, overrides, on_change: str, factors: dict):
    """:func:`parse_optimizer` of a parsed expression."""
    templates.refuse(tree, variables)
    if isinstance(tree, ast.Variable):
        raise ParameterError(f"{to_text(tree)}: write the optimizer call itself, not a variable")
    if not isinstance(tree, ast.Call):
        raise ParameterError(
            f"an optimizer is written as a call such as 'adamw(lr=1e-3)', not "
            f"{shorten(to_text(tree))!r}; optimizers: {', '.join(registry.names('optimizer'))}"
        )
    spec = registry.get(tree.name, kinds=("optimizer",))
    assert isinstance(spec, OptimizerSpec)  # get() was asked for an optimizer node
    clock = make_clock([tree], **factors)
    total_length = clock.convert(*clock.total, "total") if clock.total else None
    ctx = Context(registry=registry, clock=clock, variables=variables, lr0=1.0, base=1.0, phase_length=total_length)
    options = dict(factors, variables=variables, registry=registry, on_change=on_change)

    def schedule(node: ast.Expr, label: str) -> Schedule:
        if label.split("[")[0] in spec.fixed:
            raise ParameterError(
                f"{spec.name}(){located(tree)}: {label} must be a number fixed in time, not a "
                f"schedule: {shorten(to_text(node))}"
            )
        return compile_schedule(node, base=1.0, **options)

    binder = Binder(compile_expr, compile_sub, schedule=schedule)
    given = binder.arguments(tree, spec)
    if overrides:
        where = f"{spec.name}(){located(tree)}: "
        replaced = {key: _as_tree(value, spec.param(key), f"{where}override {key}") for key, value in overrides.items()}
        kept = tuple((key, node) for key, node in given.items() if key not in replaced)
        tree = ast.Call(spec.name, (), kept + tuple(replaced.items()), tree.pos)
        given = binder.arguments(tree, spec)
    order = [p.name for p in spec.params]
    canonical = ast.Call(spec.name, (), tuple(sorted(given.items(), key=lambda kv: order.index(kv[0]))))
    values = binder.values(tree, spec, ctx, given)
    hyperparameters: Dict[str, Value] = {param.name: value for param, value in zip(spec.params, values)}
    config = OptimizerConfig(
        spec.name, spec, hyperparameters, to_text(canonical), tuple(values), tuple(_schedules_in(spec, values))
    )
    if config._scheduled:
        config.positional(0)  # unit errors, ranges and constraints at the first step
    else:
        config._require(config._constants)
    return config


def _schedules_in(spec: OptimizerSpec, values: Sequence[Any]) -> Iterator[_Scheduled]:
    """Where the hyperparameter values hold schedules: a whole value, or an item of a tuple."""
    for index, (param, value) in enumerate(zip(spec.params, values)):
        items = enumerate(value) if isinstance(value, tuple) else [(None, value)]
        for item, entry in items:
            if isinstance(entry, Schedule):
                label = param.name if item is None else f"{param.name}[{item}]"
                yield _Scheduled(index, item, label, entry, param.check)


def _as_tree(value: Any, param: Optional[Param], where: str) -> ast.Expr:
    """A parameter-group override as an expression: numbers, booleans, tuples or lrdsl strings."""
    if isinstance(value, ast.Expr):
        return value
    if isinstance(value, bool):
        return ast.Boolean(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return ast.Number(value if isinstance(value, int) else float(value))
        except LRDSLError:
            raise ParameterError(f"{where}={str(value)[:40]}: expected a finite number") from None
    if hasattr(value, "dtype") and getattr(value, "shape", None) == ():
        return _as_tree(value.item(), param, where)  # a numpy scalar
    if isinstance(value, str):
        if param is not None and param.kind.name == "string":
            return ast.String(value)
        try:
            return parse(value)
        except LRDSLError as error:
            raise type(error)(f"{where}: {error}") from None
    if isinstance(value, (tuple, list)):
        return ast.TupleExpr(tuple(_as_tree(item, None, where) for item in value))
    raise ParameterError(
        f"{where} is a {type(value).__name__}; expected a number, a boolean, a tuple or an lrdsl string"
    )


__all__ = ["OptimizerConfig", "parse_optimizer"]
