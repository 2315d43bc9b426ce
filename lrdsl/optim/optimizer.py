"""The NumPy optimizer (docs/language.md §13): ``lrdsl.optimizer(text, params)``, then ``opt.step(grads)``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from .. import resume
from ..errors import ArrayError, EvaluationError, LRDSLError, PluginError, ScheduleChangeWarning
from ..guard import malformed
from ..registry import Registry
from ..resume import POLICIES, policy
from ..schedule import report_to
from ..schema import MAX_COUNT, Anything, Int, Items, ListOf, OneOf, Record, Text, validate
from .expression import OptimizerConfig, parse_optimizer
from .params import GradientMatcher, Slot, collect
from .staged import BlockBuffers, Plan, is_staged, keeps_results
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
        on_change: str = "error",
        **factors,
    ):
        groups = collect(params)
        self.on_change = policy(on_change)
        self._options = dict(
            steps_per_epoch=steps_per_epoch, total=total, variables=variables, registry=registry, on_change=on_change
        )
        self._options.update(factors)
        self.groups: List[ParamGroup] = []
        slots: List[Slot] = []
        for number, (group_slots, overrides) in enumerate(groups):
            try:
                config = parse_optimizer(text, overrides=overrides, **self._options)
            except LRDSLError as error:
                if len(groups) == 1 and not overrides:
                    raise
                raise type(error)(f"parameter group {number}: {error}") from None
            self.groups.append(ParamGroup(config, tuple(range(len(slots), len(slots) + len(group_slots)))))
            slots.extend(group_slots)
        self._slots = slots
        self._grads = GradientMatcher(slots)
        self._pool = ScratchPool(slot.array for slot in slots)
        self._states = [ParamState(slot.array, self._pool) for slot in slots]
        self._plan = self._planned()
        self._buffers = BlockBuffers(
            (param, keeps_results(rule)) for rule, _, _, members in self._plan for param, _, _ in members
        )
        self._fp_errors: List[str] = []  # floating-point errors flagged by the update being run
        self.iteration = 0  # the number of steps taken; the next step uses the values at this iteration

    @property
    def _staged(self) -> bool:
        """Whether every group's rule is staged (checked, then applied: :mod:`lrdsl.optim.staged`)."""
        return all(is_staged(rule) for rule, _, _, _ in self._plan)

    def _planned(self) -> list:
        """What a step runs per group: the update rule, its hyperparameters and the arrays."""
        return [
            (
                group.config.spec.update,
                group.config.positional,
                group.config.spec,
                [(self._slots[i].array, self._states[i], i) for i in group.indices],
            )
            for group in self.groups
        ]

    # -- stepping --------------------------------------------------------------------------------
    def step(self, grads) -> None:
        """Update every parameter in place from its gradient (``None`` skips one).

        A step is all or nothing: when an update would leave a parameter or its state non-finite
        (overflow, 0/0), :class:`~lrdsl.errors.EvaluationError` is raised (instead of NumPy
        warnings) and every parameter of the step and its state are as they were; the same when
        an update rule raises. The built-in rules (:mod:`lrdsl.optim.staged`) check the whole
        step before writing anything, which costs no copy of the parameters or the state; a
        plugin's rule runs as a transaction (:class:`ParamState`): one copy of each parameter
        per step, and of the saved arrays it changes in place.
        """
        matched = self._grads.match(grads)
        iteration = self.iteration
        if iteration >= MAX_COUNT or any(state.step >= MAX_COUNT for state in self._states):
            raise EvaluationError(
                "step(): the optimizer has taken 2**53 steps (a checkpoint may say so), the most a count "
                "can hold exactly; nothing was changed"
            )
        values = [positional(iteration) for _, positional, _, _ in self._plan]
        if self._staged:
            self._checked_step(matched, values, iteration)
        else:
            self._transaction_step(matched, values, iteration)
        self.iteration = iteration + 1

    def _checked_step(self, matched, values, iteration: int) -> None:
        """A step of staged rules: every parameter checked, then every one applied."""
        errors, buffers = self._fp_errors, self._buffers
        plans: List[Plan] = []
        try:
            with np.errstate(over="call", invalid="call", divide="call", under="ignore", call=self._flag):
                for rule, spec, hyper, param, state, index, grad in self._updates(matched, values):
                    errors.clear()
                    plan = Plan(param, grad, state, index)
                    plan.run(rule, hyper, buffers)
                    where = plan.fault(bool(errors), buffers)
                    if where is not None:
                        raise EvaluationError(self._non_finite(spec.name, index, iteration, where))
                    plans.append(plan)
        finally:
            errors.clear()
        with np.errstate(all="ignore"):  # the same operations as checked: nothing to report
            for plan in plans:
                plan.apply(buffers)

    def _updates(self, matched, values):
        """``(rule, spec, hyperparameters, param, state, index, grad)`` of every parameter that has a
        gradient this step, in the optimizer's order."""
        for (rule, _, spec, members), hyper in zip(self._plan, values):
            for param, state, index in members:
                grad = matched[index]
                if grad is not None:
                    yield rule, spec, hyper, param, state, index, grad

    def _transaction_step(self, matched, values, iteration: int) -> None:
        """A step of plugin rules, each update undone when the step fails."""
        errors = self._fp_errors
        begun: List[ParamState] = []
        try:
            with np.errstate(over="call", invalid="call", divide="call", under="ignore", call=self._flag):
                for rule, spec, hyper, param, state, index, grad in self._updates(matched, values):
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
                        lent = [("the parameter", param), ("the gradient", grad), *state.lent()]
                        problem = malformed(state.as_left(), param, spec.state, lent)
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

    @property
    def nbytes(self) -> int:
        """Bytes the optimizer holds besides the parameters: the saved state of every parameter
        and the scratch buffers (for the built-in rules, the state PyTorch keeps and one buffer
        no larger than the parameters: :class:`lrdsl.optim.staged.BlockBuffers`)."""
        return sum(state.nbytes for state in self._states) + self._pool.nbytes + self._buffers.nbytes

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
        """Feed a metric to metric-driven schedules (``plateau``) in any hyperparameter; a failed
        report changes none of them."""
        report_to([schedule for group in self.groups for _, schedule in group.config.schedules()], metric)

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
            "schedules": [
                [self._schedule_state(schedule) for _, schedule in group.config.schedules()] for group in self.groups
            ],
        }

    def _schedule_state(self, schedule) -> dict:
        """A schedule's state at the optimizer's position: the iteration of the next step."""
        return {**schedule.state_dict(), "position": {"unit": "it", "time": float(self.iteration)}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`; everything is checked before anything is replaced.

        A state saved with other optimizer texts (another schedule, another hyperparameter) or
        other compile options is handled by ``on_change`` (:mod:`lrdsl.resume`), schedule by
        schedule at the saved iteration; another optimizer node is always refused. Raises
        :class:`~lrdsl.errors.ArrayError` when ``state`` is not such a dict for this optimizer
        (other format, other parameters, a malformed part); the optimizer is then unchanged.
        """
        header = validate(
            Record(
                {
                    "format": OneOf(FORMAT),
                    "groups": ListOf(Text(), len(self.groups)),
                    "iteration": Int(),
                    "params": Anything(),
                    "schedules": Anything(),
                }
            ),
            state,
            ArrayError,
            "load_state_dict()",
        )
        configs = self._configs_for(header["groups"])
        owned = [[label for label, _ in saved.schedules()] for _, saved in configs]
        schema = Record(
            {
                "format": OneOf(FORMAT),
                "groups": Anything(),
                "iteration": Int(),
                "params": Items(self._saved_states(configs), f"one state per parameter ({len(self._states)})"),
                "schedules": Items(
                    [ListOf(resume.STATE_SCHEMA, len(labels)) for labels in owned],
                    "one list per parameter group, each with one state per scheduled hyperparameter "
                    f"({[len(labels) for labels in owned]})",
                ),
            }
        )
        checked = validate(schema, state, ArrayError, "load_state_dict()")
        position = {"unit": "it", "time": float(checked["iteration"])}
        plans = []
        for number, ((config, _), labels, saved) in enumerate(zip(configs, owned, checked["schedules"])):
            by_label = dict(zip(labels, saved))
            for label, schedule in config.schedules():
                where = f"the schedule of {label}" + (f" in parameter group {number}" if len(configs) > 1 else "")
                if label not in by_label:
                    _warn(f"load_state_dict(): {where} has no saved state; it runs as written from the saved iteration")
                    continue
                saved_state = {**by_label[label], "position": position}
                plans.append((where, resume.plan(schedule, saved_state, f"load_state_dict(): {where}")))
        try:
            with resume.rolled_back([plan.schedule for _, plan in plans]):
                for where, plan in plans:  # noqa: B007 -- ``where`` names the failing one below
                    plan.apply()
        except LRDSLError as error:  # a metric-driven node refused its part
            raise ArrayError(
                f"load_state_dict(): the saved state of {where} does not fit "
                f"({str(error).replace('load_state_dict(): ', '')})"
            ) from None
        self.groups = [ParamGroup(config, group.indices) for (config, _), group in zip(configs, self.groups)]
        self._plan = self._planned()
        for param_state, saved in zip(self._states, checked["params"]):
            param_state.load(saved["step"], saved["entries"])
        self.iteration = checked["iteration"]

    def _configs_for(self, saved_texts: List[str]) -> List[Tuple[OptimizerConfig, OptimizerConfig]]:
        """Per group, ``(the configuration to run, the one the state was saved with)``: this
        optimizer's own unless its text changed and ``on_change`` says otherwise."""
        configs, changed = [], []
        for number, (group, text) in enumerate(zip(self.groups, saved_texts)):
            if text == group.config.text:
                configs.append((group.config, group.config))
                continue
            try:
                saved = parse_optimizer(text, **self._options)
            except LRDSLError as error:
                raise ArrayError(
                    f"load_state_dict(): parameter group {number} was saved as {text!r:.200}, which does not "
                    f"compile here: {error}"
                ) from None
            if saved.name != group.config.name:
                raise ArrayError(
                    f"load_state_dict(): parameter group {number} was saved from {saved.name}(), this optimizer is "
                    f"{group.config.name}(); their states differ, so a checkpoint resumes the same optimizer node"
                )
            changed.append(f"parameter group {number}: saved {text!r}, now {group.config.text!r}")
            configs.append((saved if self.on_change == "checkpoint" else group.config, saved))
        if changed and self.on_change == "error":
            choices = "; ".join(f"{name!r}: {meaning}" for name, meaning in POLICIES.items() if name != "error")
            raise LRDSLError(
                "load_state_dict(): the checkpoint was saved with another optimizer text: "
                + "; ".join(changed)
                + f". Build the optimizer with on_change= to choose: {choices}"
            )
        if changed:
            kept = "the checkpoint's" if self.on_change == "checkpoint" else "this optimizer's"
            _warn(f"load_state_dict(): {'; '.join(changed)}; on_change={self.on_change!r} runs {kept}")
        return configs

    def _saved_states(self, configs) -> List[SavedState]:
        """What the saved state of each parameter must be, in parameter order, for the state saved
        with each group's configuration (``configs``: ``(running, saved)`` per group)."""
        return [
            SavedState(self._slots[i].array, saved.name, saved.spec.state, saved.hyperparameters)
            for group, (_, saved) in zip(self.groups, configs)
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
    on_change: str = "error",
) -> Optimizer:
    """An optimizer over NumPy arrays from an lrdsl string (docs/language.md §11, §13).

    ``text``: ``"adamw(lr=warmup(5%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)"``.
    ``params``: an array, a list of arrays, a dict ``{name: array}``, or a list of groups
    ``[{"params": [...], "weight_decay": 0}, ...]`` whose other keys override hyperparameters
    (numbers, booleans, tuples or lrdsl strings). ``steps_per_epoch``, ``total``, ``variables``,
    ``tokens_per_step`` and ``samples_per_step`` are those of :func:`lrdsl.compile`, used for every
    scheduled hyperparameter; ``on_change`` says what ``load_state_dict`` does with a checkpoint
    saved with another text or other options (:mod:`lrdsl.resume`).
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
        on_change=on_change,
    )


def _warn(message: str) -> None:
    warnings.warn(message, ScheduleChangeWarning, stacklevel=3)
