"""The NumPy optimizer (SPEC §7): ``lrdsl.optimizer(text, params)``, then ``opt.step(grads)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..errors import ArrayError, EvaluationError, LRDSLError
from ..registry import Registry
from .config import OptimizerConfig, parse_optimizer
from .params import GradientMatcher, collect
from .state import ParamState, ScratchPool

FORMAT = "lrdsl.optimizer/1"


@dataclass(frozen=True)
class ParamGroup:
    """Parameters sharing one configuration: ``config`` and the indices of their arrays."""

    config: OptimizerConfig
    indices: tuple


class Optimizer:
    """Updates NumPy arrays in place with an optimizer node driven by lrdsl schedules.

    Built by :func:`optimizer`. ``step(grads)`` is one update; the k-th call (k = 0, 1, ...) uses
    every hyperparameter's value at iteration k. Before anything is changed, a step checks the
    gradients (count, shape, dtype, finite) and evaluates and checks every scheduled
    hyperparameter; a step that raises leaves parameters and optimizer state as they were.
    """

    def __init__(self, text, params, steps_per_epoch=None, total=None, variables=None,
                 registry: Optional[Registry] = None):
        groups = collect(params)
        self.groups: List[ParamGroup] = []
        slots = []
        for number, (group_slots, overrides) in enumerate(groups):
            try:
                config = parse_optimizer(text, steps_per_epoch, total, variables, overrides, registry)
            except LRDSLError as error:
                if len(groups) == 1 and not overrides:
                    raise
                raise type(error)(f"parameter group {number}: {error}") from None
            self.groups.append(ParamGroup(config, tuple(range(len(slots), len(slots) + len(group_slots)))))
            slots.extend(group_slots)
        self._slots = slots
        self._grads = GradientMatcher(slots)
        pool = ScratchPool(slot.array for slot in slots)
        self._states = [ParamState(slot.array, pool) for slot in slots]
        self._plan = [(group.config.spec.build, group.config.positional,
                       [(slots[i].array, self._states[i], i) for i in group.indices]) for group in self.groups]
        self.iteration = 0  # the number of steps taken; the next step uses the values at this iteration

    # -- stepping --------------------------------------------------------------------------------
    def step(self, grads) -> None:
        """Update every parameter in place from its gradient (``None`` skips one)."""
        matched = self._grads.match(grads)
        iteration = self.iteration
        values = [positional(iteration) for _, positional, _ in self._plan]
        for (rule, _, members), hyper in zip(self._plan, values):
            for param, state, index in members:
                grad = matched[index]
                if grad is None:
                    continue
                state.step += 1
                rule(param, grad, state, *hyper)
                if not _finite(param):
                    raise EvaluationError(f"step {iteration} overflowed and made parameter {self._slots[index].label} "
                                          "non-finite; check the hyperparameters (a huge lr or weight_decay?)")
        self.iteration = iteration + 1

    # -- hyperparameters -------------------------------------------------------------------------
    def hyperparameters(self, group: int = 0) -> Dict[str, Any]:
        """Every hyperparameter of ``group`` as the next step will use it (schedules evaluated)."""
        return self.groups[group].config.values(self.iteration)

    @property
    def lr(self) -> float:
        """The learning rate the next step will use (of the first parameter group; see :attr:`lrs`)."""
        return self.hyperparameters(0)["lr"]

    @property
    def lrs(self) -> List[float]:
        """The learning rate the next step will use, per parameter group."""
        return [self.hyperparameters(i)["lr"] for i in range(len(self.groups))]

    def report(self, metric: float) -> None:
        """Feed a metric to metric-driven schedules (``plateau``) in any hyperparameter."""
        for group in self.groups:
            for _, schedule in group.config.schedules():
                schedule.report(metric)

    # -- saving ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A snapshot (arrays copied) of everything needed to resume: pickle it or ``np.savez`` it.

        Parameters are not included (save them with the model), as in PyTorch.
        """
        return {"format": FORMAT,
                "groups": [group.config.text for group in self.groups],
                "iteration": self.iteration,
                "params": [state.state_dict() for state in self._states],
                "schedules": [[schedule.state_dict() for _, schedule in group.config.schedules()]
                              for group in self.groups]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`; everything is checked before anything is replaced."""
        if not isinstance(state, Mapping) or state.get("format") != FORMAT:
            raise ArrayError("load_state_dict(): expected a dict written by Optimizer.state_dict() "
                             f"(format {FORMAT!r})")
        texts = [group.config.text for group in self.groups]
        if list(state.get("groups", ())) != texts:
            raise ArrayError(f"load_state_dict(): the state is for {list(state.get('groups', ()))}, but this "
                             f"optimizer is {texts}")
        iteration = state.get("iteration")
        params = state.get("params")
        schedules = state.get("schedules")
        if isinstance(iteration, bool) or not isinstance(iteration, (int, np.integer)) or iteration < 0:
            raise ArrayError(f"load_state_dict(): iteration must be a whole number >= 0, got {iteration!r}")
        if not isinstance(params, Sequence) or len(params) != len(self._states):
            count = len(params) if isinstance(params, Sequence) else "no"
            raise ArrayError(f"load_state_dict(): the state has {count} parameter states, but this optimizer has "
                             f"{len(self._states)} parameters")
        checked = [(s, saved.get("step"), s.check_state(saved, slot.label))
                   for s, saved, slot in zip(self._states, params, self._slots)]
        owned = [list(group.config.schedules()) for group in self.groups]
        if not isinstance(schedules, Sequence) or [len(s) for s in schedules] != [len(s) for s in owned]:
            raise ArrayError("load_state_dict(): the schedule states do not match this optimizer's schedules")
        for group_schedules, saved_group in zip(owned, schedules):
            for (_, schedule), saved in zip(group_schedules, saved_group):
                schedule.load_state_dict(saved)
        for param_state, step, entries in checked:
            param_state.load(step, entries)
        self.iteration = int(iteration)

    def __repr__(self) -> str:
        texts = "; ".join(group.config.text for group in self.groups)
        return f"Optimizer({texts!r}, params={len(self._slots)}, iteration={self.iteration})"


def _finite(array: np.ndarray) -> bool:
    """Whether every element is finite, in one pass and without allocating (a sum; min/max if in doubt)."""
    if math.isfinite(np.add.reduce(array, axis=None)):
        return True
    return bool(math.isfinite(array.min()) and math.isfinite(array.max()))


def optimizer(text, params, steps_per_epoch=None, total=None, variables=None,
              registry: Optional[Registry] = None) -> Optimizer:
    """An optimizer over NumPy arrays from an lrdsl string (SPEC §6, §7).

    ``text``: ``"adamw(lr=warmup(5%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)"``.
    ``params``: an array, a list of arrays, a dict ``{name: array}``, or a list of groups
    ``[{"params": [...], "weight_decay": 0}, ...]`` whose other keys override hyperparameters
    (numbers, booleans, tuples or lrdsl strings). ``steps_per_epoch``, ``total`` and ``variables``
    are those of :func:`lrdsl.compile`, used for every scheduled hyperparameter.
    """
    return Optimizer(text, params, steps_per_epoch, total, variables, registry)
