"""Optimizer strings for the bridges: parsing (through :mod:`lrdsl.optim`) and counterpart lookup.

Each bridge keeps a table from lrdsl optimizer node names (docs/language.md §11, PyTorch's names and
hyperparameters) to its framework's optimizer. A node outside the table — or a
hyperparameter value the framework's optimizer cannot express — is a :class:`BridgeError`
that says so and lists the nodes that do have a counterpart.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..optim import OptimizerConfig, parse_optimizer
from ..schedule import Schedule
from ._common import BridgeError


def parse(text, *, steps_per_epoch=None, total=None, variables=None, overrides=None, registry=None) -> OptimizerConfig:
    """The validated optimizer expression (schedules compiled with incoming base 1.0, docs/language.md §11)."""
    return parse_optimizer(
        text, steps_per_epoch=steps_per_epoch, total=total, variables=variables, overrides=overrides, registry=registry
    )


def counterpart(config: OptimizerConfig, table: Mapping[str, Any], framework: str):
    """``table[config.name]``, or a BridgeError listing the optimizers ``framework`` has."""
    if config.name in table:
        return table[config.name]
    raise BridgeError(
        f"optimizer {config.name!r} has no counterpart in {framework}; optimizers with one: {', '.join(sorted(table))}"
    )


def require(config: OptimizerConfig, framework: str, name: str, allowed: Callable[[Any], bool], what: str) -> None:
    """Raise a BridgeError when hyperparameter ``name`` has a value ``framework`` cannot express."""
    value = config.hyperparameters[name]
    if isinstance(value, Schedule) or not allowed(value):
        shown = (
            value.expression
            if isinstance(value, Schedule)
            else str(value).lower()
            if isinstance(value, bool)
            else value
        )
        raise BridgeError(f"{config.text}: {framework}'s {config.name} has no equivalent of {name}={shown}; {what}")


def nonzero(value: Any) -> bool:
    """A hyperparameter that is a schedule or a number other than 0 (e.g. weight decay in use)."""
    return isinstance(value, Schedule) or value != 0


def only_scheduled(config: OptimizerConfig, names: Iterable[str], framework: str) -> None:
    """Raise a BridgeError if a hyperparameter other than ``names`` is a schedule."""
    allowed = set(names)
    for label, schedule in config.schedules():
        if label.split("[")[0] not in allowed:
            raise BridgeError(
                f"{config.text}: {framework} can schedule only {', '.join(sorted(allowed))}, not "
                f"{label} = {schedule.expression}"
            )


__all__ = ["counterpart", "nonzero", "only_scheduled", "parse", "require"]
