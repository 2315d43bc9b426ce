"""Optimizers written as lrdsl strings, run on NumPy arrays.

- :func:`parse_optimizer` → :class:`OptimizerConfig`: the validated node and hyperparameters
  (plain values and compiled schedules), for the framework bridges;
- :func:`optimizer` → :class:`Optimizer`: the NumPy implementation (``step``, ``lr``,
  ``state_dict``);
- :class:`ParamState`: what an update rule declared with
  :func:`lrdsl.authoring.optimizer_node` keeps per parameter array.

The update rules themselves are the optimizer nodes (``lrdsl.builtin.optimizers``), built
from the in-place kernels of :mod:`lrdsl.optim.kernels`.
"""

from .expression import OptimizerConfig, parse_optimizer
from .optimizer import Optimizer, ParamGroup, optimizer
from .state import ParamState

__all__ = ["Optimizer", "OptimizerConfig", "ParamGroup", "ParamState", "optimizer", "parse_optimizer"]
