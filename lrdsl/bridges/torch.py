"""PyTorch bridge: an lrdsl string as a ``torch.optim.lr_scheduler.LRScheduler``.

::

    from lrdsl.bridges.torch import ScheduleLR

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = ScheduleLR(opt, "warmup(5%) then cosine(end=1e-5)", total=10_000)
    for batch in data:
        ...; opt.step(); sched.step()          # one step() per optimizer update

Each parameter group's own learning rate is that group's incoming base (docs/language.md §5): the
schedule is compiled once per group with ``base=group["lr"]`` (or ``base=`` when given).
``interval="step"`` (default) makes ``step()`` advance the iteration counter, ``"epoch"``
the epoch counter; durations in ``ep`` follow ``steps_per_epoch``. ``state_dict()`` holds
the string, the counters and the state of metric-driven nodes, so a checkpoint resumes
exactly. Other hyperparameters (``momentum``, ``weight_decay``, ``betas[0]``) can be
scheduled in the same scheduler with ``hyperparameters={"momentum": "..."}``.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from ._common import BridgeError, require
from ._optim import counterpart, parse

torch = require("torch", "torch", "lrdsl.bridges.torch")
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau  # noqa: E402

from ..errors import LRDSLError, UnitError  # noqa: E402
from ..schedule import Schedule, compile_schedule  # noqa: E402
from ..schema import Anything, Int, ListOf, MapOf, Maybe, Number, OneOf, Record, Text, Where, restoring, validate  # noqa: E402

INTERVALS = ("step", "epoch")
_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_STATE_VERSION = 1

GroupText = Union[str, None]
PerGroup = Union[GroupText, Sequence[GroupText]]


# -- reading and writing a hyperparameter of a param group ------------------------------------------


def _split_key(key: str) -> Tuple[str, Optional[int]]:
    match = _KEY.match(key) if isinstance(key, str) else None
    if not match:
        raise BridgeError(f"hyperparameter {key!r}: expected a param-group key such as 'lr', 'momentum' or 'betas[0]'")
    return match.group(1), None if match.group(2) is None else int(match.group(2))


def read_value(group: Mapping[str, Any], key: str) -> float:
    """``group[key]`` as a float; ``key`` may index a tuple (``betas[0]``)."""
    name, index = _split_key(key)
    if name not in group:
        numeric = sorted(k for k, v in group.items() if isinstance(v, (int, float, tuple)) and k != "params")
        raise BridgeError(
            f"the optimizer's param groups have no hyperparameter {name!r}; they have: {', '.join(numeric)}"
        )
    value = group[name]
    if index is not None:
        if not isinstance(value, (tuple, list)) or index >= len(value):
            raise BridgeError(f"hyperparameter {key!r}: {name} is {value!r}, which has no item {index}")
        value = value[index]
    return float(value)


def write_value(group: Dict[str, Any], key: str, value: float) -> None:
    """Set ``group[key]`` (a tensor in place, a tuple item by rebuilding the tuple)."""
    _write(group, *_split_key(key), value)


def _write(group: Dict[str, Any], name: str, index: Optional[int], value: float) -> None:
    if index is not None:
        items = list(group[name])
        if isinstance(items[index], torch.Tensor):
            items[index].fill_(value)
        else:
            items[index] = value
        group[name] = type(group[name])(items)
    elif isinstance(group[name], torch.Tensor):
        group[name].fill_(value)
    else:
        group[name] = value


def _per_group(value: PerGroup, count: int, key: str) -> List[GroupText]:
    if value is None or isinstance(value, str):
        return [value] * count
    items = list(value)
    if len(items) != count or not all(v is None or isinstance(v, str) for v in items):
        raise BridgeError(
            f"schedule for {key!r}: expected one lrdsl string, or a list with one string (or None) "
            f"per param group ({count} groups), got {value!r}"
        )
    return items


def _check_epoch_interval(schedules: Mapping[str, List[Optional[Schedule]]]) -> None:
    for per_group in schedules.values():
        for schedule in per_group:
            if schedule is None:
                continue
            try:
                schedule(epoch=0)
            except UnitError:
                raise UnitError(
                    f"schedule {schedule.expression!r} counts iterations, but interval='epoch' "
                    "advances the epoch counter; pass steps_per_epoch= (iterations are then "
                    "converted to epochs) or use interval='step'"
                ) from None


_STATE_HINT = "pass the dict that ScheduleLR.state_dict() returned (saved with the checkpoint), unchanged"


def _state_schema(groups: int) -> Record:
    """What ``ScheduleLR.state_dict()`` returns, for an optimizer with ``groups`` param groups."""
    per_group = ListOf(Anything(), groups)
    keys = Where(Text(), lambda key: bool(_KEY.match(key)), "a param-group key such as 'lr' or 'betas[0]'")
    return Record(
        {
            "lrdsl_version": OneOf(_STATE_VERSION),
            "last_epoch": Int(min=-1),
            "_step_count": Int(),
            "_last_lr": per_group,  # numbers, or tensors for a tensor lr
            "base_lrs": per_group,
            "interval": OneOf(*INTERVALS),
            "texts": MapOf(keys, ListOf(Maybe(Text()), groups)),
            "bases": MapOf(keys, ListOf(Number(), groups)),
            "steps_per_epoch": Anything(),  # checked by compiling the saved strings
            "total": Anything(),
            "variables": MapOf(Text(), Anything()),
            "nodes": MapOf(keys, per_group),
        }
    )


# -- the scheduler ---------------------------------------------------------------------------------


class ScheduleLR(LRScheduler):
    """A ``torch.optim`` scheduler whose learning rate (and optionally other hyperparameters) follow
    lrdsl strings.

    Args:
        optimizer: the wrapped optimizer.
        schedule: the learning-rate schedule, one lrdsl string, or one per param group (``None``
            leaves a group's lr alone); ``None`` schedules no lr at all.
        interval: ``"step"`` — ``step()`` advances the iteration counter (call it after every
            ``optimizer.step()``); ``"epoch"`` — it advances the epoch counter.
        steps_per_epoch, total, variables: as for :func:`lrdsl.compile`.
        base: the incoming base of every group; default each group's own value (its ``lr``, or
            for other hyperparameters their value when the scheduler was created).
        hyperparameters: other param-group keys to schedule, e.g. ``{"momentum": "..."}``,
            ``{"betas[0]": "..."}``; each value as ``schedule``.
        last_epoch: as in torch; prefer ``load_state_dict`` to resume.
        registry: the node registry (default: built-ins and plugins).
    """

    def __init__(
        self,
        optimizer,
        schedule: PerGroup,
        *,
        interval: str = "step",
        steps_per_epoch=None,
        total=None,
        variables: Optional[Mapping[str, Any]] = None,
        base: Optional[float] = None,
        hyperparameters: Optional[Mapping[str, PerGroup]] = None,
        last_epoch: int = -1,
        registry=None,
    ):
        if interval not in INTERVALS:
            raise BridgeError(
                f"interval={interval!r}: expected 'step' (step() once per optimizer update) or "
                "'epoch' (step() once per epoch)"
            )
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise BridgeError(f"ScheduleLR needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
        self.interval = interval
        self._registry = registry
        groups = optimizer.param_groups
        texts = {"lr": _per_group(schedule, len(groups), "lr")}
        for key, value in (hyperparameters or {}).items():
            _split_key(key)
            texts[key] = _per_group(value, len(groups), key)
        bases = {key: [self._initial(group, key, base) for group in groups] for key in texts}
        self._configure(
            {
                "texts": texts,
                "bases": bases,
                "steps_per_epoch": steps_per_epoch,
                "total": total,
                "variables": dict(variables or {}),
            }
        )
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _initial(group: Dict[str, Any], key: str, base: Optional[float]) -> float:
        """The group's base for ``key``: ``base``, else its value when first scheduled (kept in the group)."""
        if base is not None:
            return float(base)
        if key == "lr":
            return float(group.get("initial_lr", group["lr"]))
        return float(group.setdefault(f"initial_{key}", read_value(group, key)))

    def _configure(self, config: Dict[str, Any]) -> None:
        """Compile every (hyperparameter, group) schedule of ``config``."""
        self._schedules = self._compile(config, self.interval)
        self._config = config
        self._plan()

    def _compile(self, config: Dict[str, Any], interval: str) -> Dict[str, List[Optional[Schedule]]]:
        """The schedules of ``config`` (changes nothing on ``self``), checked against ``interval``."""
        schedules: Dict[str, List[Optional[Schedule]]] = {}
        for key, texts in config["texts"].items():
            schedules[key] = [
                None
                if text is None
                else compile_schedule(
                    text,
                    base=base,
                    steps_per_epoch=config["steps_per_epoch"],
                    total=config["total"],
                    variables=config["variables"],
                    registry=self._registry,
                )
                for text, base in zip(texts, config["bases"][key])
            ]
        if interval == "epoch":
            _check_epoch_interval(schedules)
        return schedules

    def _plan(self) -> None:
        """Precompute, per hyperparameter, one ``counter -> value`` call per group (None: not scheduled)."""
        by_epoch = self.interval == "epoch"

        def call(schedule):
            if schedule is None:
                return None
            return (lambda point: schedule(epoch=point)) if by_epoch else schedule.__call__

        self._calls = {key: [call(s) for s in per_group] for key, per_group in self._schedules.items()}
        self._others = [(*_split_key(key), calls) for key, calls in self._calls.items() if key != "lr"]

    def _all(self):
        return [s for per_group in self._schedules.values() for s in per_group if s is not None]

    @property
    def schedules(self) -> Dict[str, List[Optional[Schedule]]]:
        """The compiled :class:`lrdsl.Schedule` of each hyperparameter, one per param group (or None)."""
        return self._schedules

    # -- values ------------------------------------------------------------------------------------
    def _values(self, key: str) -> List[Any]:
        point = self.last_epoch
        return [
            group[key] if call is None else call(point)
            for group, call in zip(self.optimizer.param_groups, self._calls[key])
        ]

    def get_lr(self) -> List[Any]:
        """The learning rate of every group at the current counter (absolute, not chainable)."""
        return self._values("lr")

    def step(self, epoch: Optional[int] = None) -> None:
        """Advance the counter by one (iteration or epoch, per ``interval``) and set the hyperparameters."""
        super().step(epoch)
        self._apply_others()

    def _apply_others(self) -> None:
        point = self.last_epoch
        groups = self.optimizer.param_groups
        for name, index, calls in self._others:
            for group, call in zip(groups, calls):
                if call is not None:
                    _write(group, name, index, call(point))

    def _apply_all(self) -> None:
        for group, value in zip(self.optimizer.param_groups, self._values("lr")):
            write_value(group, "lr", value)
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]
        self._apply_others()

    # -- metric-driven nodes -----------------------------------------------------------------------
    def report(self, metric: float) -> None:
        """Feed a metric (e.g. validation loss) to metric-driven nodes (``plateau``) of every schedule.

        The hyperparameters are updated at once (the counter does not move). In distributed
        training, report the same (all-reduced) metric on every rank.
        """
        if hasattr(metric, "item"):
            metric = metric.item()
        for schedule in self._all():
            schedule.report(metric)
        self._apply_all()

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Counters, the strings and options, and metric-driven state: plain data (``weights_only``-safe)."""
        config = self._config
        return {
            "lrdsl_version": _STATE_VERSION,
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "_last_lr": list(self._last_lr),
            "base_lrs": list(self.base_lrs),
            "interval": self.interval,
            "texts": {k: list(v) for k, v in config["texts"].items()},
            "bases": {k: list(v) for k, v in config["bases"].items()},
            "steps_per_epoch": config["steps_per_epoch"],
            "total": config["total"],
            "variables": dict(config["variables"]),
            "nodes": {
                k: [None if s is None else s.state_dict()["nodes"] for s in v] for k, v in self._schedules.items()
            },
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`. As in torch, the checkpoint wins: a scheduler built with another
        string or other options takes the saved ones. A state that does not fit raises a
        :class:`BridgeError` (or the error compiling its strings) and changes nothing."""
        if not isinstance(state_dict, Mapping) or state_dict.get("lrdsl_version") != _STATE_VERSION:
            raise BridgeError(
                f"load_state_dict(): this state was not saved by lrdsl's ScheduleLR (state format {_STATE_VERSION})"
            )
        checked = validate(
            _state_schema(len(self.optimizer.param_groups)), state_dict, BridgeError, "load_state_dict()"
        )
        keys = sorted(self._config["texts"])
        for table in ("texts", "bases", "nodes"):
            if sorted(checked[table]) != keys:
                raise BridgeError(
                    f"load_state_dict(): the state's {table!r} are for {sorted(checked[table])}, but this "
                    f"scheduler schedules {keys}: a checkpoint sets only what the scheduler was built "
                    f"to schedule; {_STATE_HINT}"
                )
        interval = checked["interval"]
        config = {
            "texts": checked["texts"],
            "bases": checked["bases"],
            "steps_per_epoch": checked["steps_per_epoch"],
            "total": checked["total"],
            "variables": checked["variables"],
        }
        fresh = config != self._config
        if fresh:
            try:
                schedules = self._compile(config, interval)
            except LRDSLError as error:
                raise type(error)(f"load_state_dict(): the saved schedules do not compile: {error}") from None
        else:
            schedules = self._schedules
            if interval == "epoch":
                _check_epoch_interval(schedules)
        loaded = [
            (schedule, nodes)
            for key, per_group in schedules.items()
            for schedule, nodes in zip(per_group, checked["nodes"][key])
            if schedule is not None
        ]
        try:
            with restoring([schedule for schedule, _ in loaded]):
                for schedule, nodes in loaded:
                    schedule.load_state_dict({"expression": schedule.expression, "base": schedule.base, "nodes": nodes})
        except LRDSLError as error:
            raise BridgeError(
                f"load_state_dict(): the saved state of a metric-driven node does not fit: {error}; {_STATE_HINT}"
            ) from None
        self.interval = interval
        if fresh:
            self._schedules, self._config = schedules, config
        self._plan()
        self.last_epoch, self._step_count = checked["last_epoch"], checked["_step_count"]
        self._last_lr, self.base_lrs = checked["_last_lr"], checked["base_lrs"]

    # -- Lightning ---------------------------------------------------------------------------------
    def lightning_config(self, frequency: int = 1) -> Dict[str, Any]:
        """The ``lr_scheduler`` dict of Lightning's ``configure_optimizers``: steps every batch or epoch,
        per ``interval``."""
        return {"scheduler": self, "interval": self.interval, "frequency": frequency}

    def lightning_report_config(self, monitor: str) -> Dict[str, Any]:
        """A second Lightning scheduler dict that reports the logged metric ``monitor`` to this scheduler
        after each validation, for metric-driven nodes (``plateau``)::

            return [opt], [sched.lightning_config(), sched.lightning_report_config("val_loss")]
        """
        return {
            "scheduler": ReportMetric(self),
            "monitor": monitor,
            "interval": "epoch",
            "frequency": 1,
            "reduce_on_plateau": True,
        }

    def __repr__(self) -> str:
        texts = {k: v[0] if len(set(v)) == 1 else v for k, v in self._config["texts"].items()}
        return f"ScheduleLR({texts!r}, interval={self.interval!r}, last_epoch={self.last_epoch})"


class ReportMetric(ReduceLROnPlateau):
    """Adapter for Lightning's metric-driven scheduler slot: ``step(metric)`` is ``ScheduleLR.report``.

    It is a ``ReduceLROnPlateau`` only so that Lightning passes it the monitored metric; it
    holds no state of its own (the ScheduleLR's ``state_dict`` has the plateau state).
    """

    def __init__(self, scheduler: ScheduleLR):
        # No super().__init__(): that would set up a second, unused plateau on the optimizer.
        self.scheduler = scheduler
        self.optimizer = scheduler.optimizer

    def step(self, metrics, epoch=None) -> None:
        self.scheduler.report(metrics)

    def get_last_lr(self) -> List[Any]:
        return self.scheduler.get_last_lr()

    def state_dict(self) -> Dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        pass


# -- optimizers ------------------------------------------------------------------------------------

TORCH_OPTIMIZERS = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adadelta": "Adadelta",
    "adam": "Adam",
    "adamw": "AdamW",
    "adamax": "Adamax",
    "nadam": "NAdam",
    "radam": "RAdam",
}


class TorchOptimizer(NamedTuple):
    """What :func:`optimizer` builds: the ``torch.optim`` optimizer and the scheduler of its schedules."""

    optimizer: Any
    scheduler: ScheduleLR

    def lightning(self) -> Dict[str, Any]:
        """The dict Lightning's ``configure_optimizers`` returns."""
        return {"optimizer": self.optimizer, "lr_scheduler": self.scheduler.lightning_config()}


def _groups(params) -> List[Dict[str, Any]]:
    if isinstance(params, (torch.Tensor, str, bytes, Mapping)):
        raise BridgeError(
            f"params is one {type(params).__name__}; expected what torch optimizers take: an iterable "
            "of tensors such as model.parameters() or [weight], or a list of groups "
            "[{'params': [...], ...}]"
        )
    try:
        params = list(params) if not isinstance(params, (list, tuple)) else params
    except TypeError:
        raise BridgeError(
            f"params ({type(params).__name__}) is not iterable; expected an iterable of "
            "tensors such as model.parameters(), or a list of groups [{'params': [...], ...}]"
        ) from None
    if not params:
        raise BridgeError(
            "params is empty: the optimizer would have no parameters to update (a generator such "
            "as model.parameters() can be used only once; the model may have no parameters); "
            "pass the tensors to optimize, e.g. model.parameters()"
        )
    if params and all(isinstance(group, Mapping) for group in params):
        for number, group in enumerate(params):
            if "params" not in group:
                raise BridgeError(
                    f"parameter group {number} has no 'params' entry; a group is {{'params': [...], 'lr': ..., ...}}"
                )
        return [dict(group) for group in params]
    return [{"params": params}]


def optimizer(
    text,
    params,
    *,
    interval: str = "step",
    steps_per_epoch=None,
    total=None,
    variables: Optional[Mapping[str, Any]] = None,
    registry=None,
) -> TorchOptimizer:
    """A ``torch.optim`` optimizer for an lrdsl optimizer string, and the :class:`ScheduleLR` that drives
    every scheduled hyperparameter.

    ``params`` is what torch optimizers take: parameters, or a list of groups
    ``{"params": [...], "weight_decay": 0, "lr": "0.1 * $main"}`` whose other keys override the
    string's hyperparameters (numbers, or lrdsl strings for schedules). Schedules give absolute
    values (incoming base 1.0, docs/language.md §11). Step the scheduler after every ``optimizer.step()``
    (``interval="step"``) or every epoch (``"epoch"``)::

        opt, sched = lrdsl.bridges.torch.optimizer(
            "adamw(lr=warmup(5%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)",
            model.parameters(), total=10_000)
    """
    options = {
        "steps_per_epoch": steps_per_epoch,
        "total": total,
        "variables": dict(variables or {}),
        "registry": registry,
    }
    groups = _groups(params)
    configs = []
    for number, group in enumerate(groups):
        overrides = {k: v for k, v in group.items() if k != "params"}
        try:
            configs.append(parse(text, overrides=overrides, **options))
        except LRDSLError as error:
            if len(groups) == 1:
                raise
            raise type(error)(f"parameter group {number}: {error}") from None
    cls = getattr(torch.optim, counterpart(configs[0], TORCH_OPTIMIZERS, "torch.optim"))
    torch_groups = [{"params": group["params"], **config.values(0)} for group, config in zip(groups, configs)]
    try:
        built = cls(torch_groups)
    except (TypeError, ValueError) as error:  # torch's own checks of the parameters (not tensors, non-leaf, ...)
        raise BridgeError(f"torch.optim.{cls.__name__} refused the parameters: {error}") from None
    labels = list(dict.fromkeys(label for config in configs for label, _ in config.schedules()))
    by_label = [dict(config.schedules()) for config in configs]
    texts = {label: [None if label not in found else found[label].expression for found in by_label] for label in labels}
    scheduler = ScheduleLR(
        built,
        texts.pop("lr", None),
        interval=interval,
        base=1.0,
        hyperparameters=texts,
        steps_per_epoch=steps_per_epoch,
        total=total,
        variables=variables,
        registry=registry,
    )
    return TorchOptimizer(built, scheduler)


__all__ = ["INTERVALS", "ReportMetric", "ScheduleLR", "TorchOptimizer", "optimizer", "read_value", "write_value"]
