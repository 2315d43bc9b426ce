"""Optimizers written as lrdsl strings, run on NumPy arrays.

- :func:`parse_optimizer` → :class:`OptimizerConfig`: the validated node and hyperparameters
  (plain values and compiled schedules), for the framework bridges;
- :func:`optimizer` → :class:`Optimizer`: the NumPy implementation (``step``, ``lr``,
  ``state_dict``);
- :class:`ParamState`: what an update rule declared with
  :func:`lrdsl.authoring.optimizer_node` keeps per parameter array.

The update rules themselves are the optimizer nodes (``lrdsl.builtin.optimizers``), built
from the in-place kernels of :mod:`lrdsl.optim.kernels`. The names above are loaded from their
modules on first use (PEP 562), so that the built-in nodes, which import the kernels when the
registry is built, do not load the optimizer machinery with them.
"""

import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time they come from __getattr__
    from .expression import OptimizerConfig, parse_optimizer
    from .optimizer import Optimizer, ParamGroup, optimizer
    from .state import ParamState

__all__ = ["Optimizer", "OptimizerConfig", "ParamGroup", "ParamState", "optimizer", "parse_optimizer"]
_MODULES = {
    "OptimizerConfig": "expression",
    "parse_optimizer": "expression",
    "Optimizer": "optimizer",
    "ParamGroup": "optimizer",
    "optimizer": "optimizer",
    "ParamState": "state",
}


def __getattr__(name: str) -> Any:
    """Each name of ``__all__``, imported from its module the first time it is read."""
    if name not in _MODULES:
        raise AttributeError(f"module 'lrdsl.optim' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """This package, whose name ``optimizer`` stays the function when its module of the same name is
    imported (the import system then records the module under that name: it is ignored), as when
    the names were imported eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if not (name == "optimizer" and isinstance(value, types.ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
