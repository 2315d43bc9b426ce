"""The NumPy optimizer (SPEC §7): ``lrdsl.optimizer(text, params)``, then ``opt.step(grads)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..errors import ArrayError, EvaluationError, LRDSLError
from ..registry import Registry
from ..text import describe as _describe
from .expression import OptimizerConfig, parse_optimizer
from .params import GradientMatcher, collect
from .state import ParamState, ScratchPool, finite

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
        self._plan = [(group.config.spec.update, group.config.positional, group.config.name,
                       [(slots[i].array, self._states[i], i) for i in group.indices]) for group in self.groups]
        self._fp_errors: List[str] = []  # floating-point errors flagged by the update being run
        self.iteration = 0  # the number of steps taken; the next step uses the values at this iteration

    # -- stepping --------------------------------------------------------------------------------
    def step(self, grads) -> None:
        """Update every parameter in place from its gradient (``None`` skips one).

        A step is all or nothing: when an update leaves a parameter or its state non-finite
        (overflow, 0/0), :class:`~lrdsl.errors.EvaluationError` is raised (instead of NumPy
        warnings) and every parameter of the step and its state are restored first; the same
        when an update rule raises. Costs one copy of each parameter per step (undo buffers are
        allocated at the first step); saved arrays a rule changes in place are copied too, those
        written through :meth:`ParamState.pair` (every built-in rule) are not.
        """
        matched = self._grads.match(grads)
        iteration = self.iteration
        values = [positional(iteration) for _, positional, _, _ in self._plan]
        errors = self._fp_errors
        begun: List[ParamState] = []
        try:
            with np.errstate(over="call", invalid="call", divide="call", under="ignore", call=self._flag):
                for (rule, _, name, members), hyper in zip(self._plan, values):
                    for param, state, index in members:
                        grad = matched[index]
                        if grad is None:
                            continue
                        state.begin()
                        begun.append(state)
                        errors.clear()
                        state.step += 1
                        rule(param, grad, state, *hyper)
                        if errors or not finite(param):  # a flagged update: check its state too
                            where = None if finite(param) else "parameter"
                            where = where or state.non_finite()
                            if where is not None:
                                raise EvaluationError(self._non_finite(name, index, iteration, where))
        except BaseException:
            for state in begun:
                state.rollback()
            raise
        finally:
            errors.clear()
        for state in begun:
            state.commit()
        self.iteration = iteration + 1

    def _flag(self, kind: str, flag: int) -> None:
        """The ``np.errstate`` callback: remember which floating-point errors an update raised."""
        self._fp_errors.append(kind)

    def _non_finite(self, name: str, index: int, iteration: int, where: str) -> str:
        first = self._fp_errors[0] if self._fp_errors else None
        cause = {"overflow": "overflow", "invalid value": "0/0 or another invalid operation such as inf - inf",
                 "divide by zero": "division by zero"}.get(first, "a non-finite result")
        what = "parameter" if where == "parameter" else f"the optimizer state {where!r} of parameter"
        return (f"{name}() produced a non-finite value ({cause}) in {what} {self._slots[index].label} at step "
                f"{iteration}; the step was undone (parameters and optimizer state are unchanged). Check the "
                "hyperparameters (a huge lr or weight_decay overflows; eps=0 gives 0/0 where gradients are 0) "
                "or clip the gradients")

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
        """Resume from :meth:`state_dict`; everything is checked before anything is replaced.

        Raises :class:`~lrdsl.errors.ArrayError` when ``state`` is not such a dict for this
        optimizer (other format, other optimizer, other parameters, a malformed part); the
        optimizer is then unchanged.
        """
        expected = "expected the dict written by Optimizer.state_dict() (format {!r}) for this optimizer".format(FORMAT)
        if not isinstance(state, Mapping) or state.get("format") != FORMAT:
            raise ArrayError(f"load_state_dict(): got {_describe(state)}; {expected}")
        texts = [group.config.text for group in self.groups]
        groups = state.get("groups")
        if not _is_list(groups) or not all(isinstance(text, str) for text in groups):
            raise ArrayError(f"load_state_dict(): 'groups' is {_describe(groups)}; expected a list of the optimizer "
                             f"texts {texts}")
        if list(groups) != texts:
            raise ArrayError(f"load_state_dict(): the state is for {list(groups)}, but this optimizer is {texts}")
        iteration = state.get("iteration")
        if isinstance(iteration, bool) or not isinstance(iteration, (int, np.integer)) or iteration < 0:
            raise ArrayError(f"load_state_dict(): 'iteration' must be a whole number >= 0, got {iteration!r:.80}")
        params = state.get("params")
        if not _is_list(params):
            raise ArrayError(f"load_state_dict(): 'params' is {_describe(params)}; expected a list with one state "
                             f"per parameter ({len(self._states)})")
        if len(params) != len(self._states):
            raise ArrayError(f"load_state_dict(): the state has {len(params)} parameter states, but this optimizer "
                             f"has {len(self._states)} parameters")
        checked = [(s, s.check_state(saved, slot.label)) for s, saved, slot in zip(self._states, params, self._slots)]
        owned = [list(group.config.schedules()) for group in self.groups]
        schedules = state.get("schedules")
        counts = [len(group) for group in owned]
        if not _is_list(schedules) or not all(_is_list(group) for group in schedules) \
                or [len(group) for group in schedules] != counts:
            raise ArrayError(f"load_state_dict(): 'schedules' is {_describe(schedules)}; expected one list per "
                             f"parameter group holding each scheduled hyperparameter's state (counts {counts})")
        before = [[schedule.state_dict() for _, schedule in group] for group in owned]
        where = ""
        try:
            for number, (group, saved_group) in enumerate(zip(owned, schedules)):
                for (label, schedule), saved in zip(group, saved_group):
                    where = f"the schedule of {label}" + (f" in parameter group {number}" if len(owned) > 1 else "")
                    schedule.load_state_dict(saved)
        except Exception as error:  # a malformed schedule state: put back the ones already loaded
            for group, saved_group in zip(owned, before):
                for (_, schedule), saved in zip(group, saved_group):
                    schedule.load_state_dict(saved)
            reason = str(error).replace("load_state_dict(): ", "")
            if not isinstance(error, LRDSLError):
                reason = f"{type(error).__name__}: {reason}"
            raise ArrayError(f"load_state_dict(): the saved state of {where} does not fit ({reason}); "
                             f"{expected}") from None
        for param_state, (step, entries) in checked:
            param_state.load(step, entries)
        self.iteration = int(iteration)

    def __repr__(self) -> str:
        texts = "; ".join(group.config.text for group in self.groups)
        return f"Optimizer({texts!r}, params={len(self._slots)}, iteration={self.iteration})"


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple))


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
