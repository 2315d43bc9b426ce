"""The NumPy optimizer (docs/language.md §13): ``lrdsl.optimizer(text, params)``, then ``opt.step(grads)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from ..errors import ArrayError, EvaluationError, LRDSLError, PluginError
from ..guard import malformed
from ..registry import Registry
from ..schema import Anything, Int, Items, ListOf, OneOf, Record, Text, Where, restoring, validate
from .expression import OptimizerConfig, parse_optimizer
from .params import GradientMatcher, Slot, collect
from .state import ParamState, SavedState, ScratchPool, finite

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

    def __init__(
        self,
        text,
        params,
        steps_per_epoch=None,
        total=None,
        variables=None,
        registry: Optional[Registry] = None,
        **factors,
    ):
        groups = collect(params)
        self.groups: List[ParamGroup] = []
        slots: List[Slot] = []
        for number, (group_slots, overrides) in enumerate(groups):
            try:
                config = parse_optimizer(text, steps_per_epoch, total, variables, overrides, registry, **factors)
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
        self._plan = [
            (
                group.config.spec.update,
                group.config.positional,
                group.config.spec,
                [(slots[i].array, self._states[i], i) for i in group.indices],
            )
            for group in self.groups
        ]
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
                for (rule, _, spec, members), hyper in zip(self._plan, values):
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
                                raise EvaluationError(self._non_finite(spec.name, index, iteration, where))
                        if spec.source != "lrdsl":  # a plugin's rule: what it left must be loadable later
                            problem = malformed(state.as_left(), param, spec.state)
                            if problem:
                                raise PluginError(
                                    f"node {spec.name!r} from plugin {spec.source!r} left {problem} at step "
                                    f"{iteration}; the step was undone"
                                )
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
        first = self._fp_errors[0] if self._fp_errors else ""
        cause = {
            "overflow": "overflow",
            "invalid value": "0/0 or another invalid operation such as inf - inf",
            "divide by zero": "division by zero",
        }.get(first, "a non-finite result")
        what = "parameter" if where == "parameter" else f"the optimizer state {where!r} of parameter"
        return (
            f"{name}() produced a non-finite value ({cause}) in {what} {self._slots[index].label} at step "
            f"{iteration}; the step was undone (parameters and optimizer state are unchanged). Check the "
            "hyperparameters (a huge lr or weight_decay overflows; eps=0 gives 0/0 where gradients are 0) "
            "or clip the gradients"
        )

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
        return {
            "format": FORMAT,
            "groups": [group.config.text for group in self.groups],
            "iteration": self.iteration,
            "params": [state.state_dict() for state in self._states],
            "schedules": [[schedule.state_dict() for _, schedule in group.config.schedules()] for group in self.groups],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`; everything is checked before anything is replaced.

        Raises :class:`~lrdsl.errors.ArrayError` when ``state`` is not such a dict for this
        optimizer (other format, other optimizer, other parameters, a malformed part); the
        optimizer is then unchanged.
        """
        texts = [group.config.text for group in self.groups]
        owned = [list(group.config.schedules()) for group in self.groups]
        schema = Record(
            {
                "format": OneOf(FORMAT),
                "groups": Where(ListOf(Text()), lambda groups: groups == texts, f"the optimizer texts {texts}"),
                "iteration": Int(),
                "params": Items(self._saved_states(), f"one state per parameter ({len(self._states)})"),
                "schedules": Items(
                    [ListOf(Anything(), len(group)) for group in owned],
                    "one list per parameter group, each with one state per scheduled hyperparameter "
                    f"({[len(group) for group in owned]})",
                ),
            }
        )
        checked = validate(schema, state, ArrayError, "load_state_dict()")
        where = ""
        try:
            with restoring([schedule for group in owned for _, schedule in group]):
                for number, (group, saved) in enumerate(zip(owned, checked["schedules"])):
                    for (label, schedule), node_state in zip(group, saved):
                        where = f"the schedule of {label}" + (f" in parameter group {number}" if len(owned) > 1 else "")
                        schedule.load_state_dict(node_state)
        except LRDSLError as error:
            raise ArrayError(
                f"load_state_dict(): the saved state of {where} does not fit "
                f"({str(error).replace('load_state_dict(): ', '')})"
            ) from None
        for param_state, saved in zip(self._states, checked["params"]):
            param_state.load(saved["step"], saved["entries"])
        self.iteration = checked["iteration"]

    def _saved_states(self) -> List[SavedState]:
        """What the saved state of each parameter must be, in parameter order."""
        return [
            SavedState(self._slots[i].array, group.config.name, group.config.spec.state, group.config.hyperparameters)
            for group in self.groups
            for i in group.indices
        ]

    def __repr__(self) -> str:
        texts = "; ".join(group.config.text for group in self.groups)
        return f"Optimizer({texts!r}, params={len(self._slots)}, iteration={self.iteration})"


def optimizer(
    text,
    params,
    steps_per_epoch=None,
    total=None,
    variables=None,
    registry: Optional[Registry] = None,
    *,
    tokens_per_step=None,
    samples_per_step=None,
) -> Optimizer:
    """An optimizer over NumPy arrays from an lrdsl string (docs/language.md §11, §13).

    ``text``: ``"adamw(lr=warmup(5%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)"``.
    ``params``: an array, a list of arrays, a dict ``{name: array}``, or a list of groups
    ``[{"params": [...], "weight_decay": 0}, ...]`` whose other keys override hyperparameters
    (numbers, booleans, tuples or lrdsl strings). ``steps_per_epoch``, ``total``, ``variables``,
    ``tokens_per_step`` and ``samples_per_step`` are those of :func:`lrdsl.compile`, used for every
    scheduled hyperparameter.
    """
    return Optimizer(
        text,
        params,
        steps_per_epoch,
        total,
        variables,
        registry,
        tokens_per_step=tokens_per_step,
        samples_per_step=samples_per_step,
    )
