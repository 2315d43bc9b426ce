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

Counting updates right (README, "Counting steps right"): ``follow_optimizer=True`` advances the
schedule from a post-step hook on the optimizer, once per real update (gradient accumulation,
a step that ``GradScaler`` skipped, a stray ``step()`` call need no care); ``step(tokens=n)``
and ``advance(tokens=n)`` feed a token (or sample) clock; ``total="auto"`` waits for a trainer
(``lrdsl.bridges.lightning``, ``lrdsl.bridges.transformers``) to give the number of updates;
under ``torch.distributed``, ``report()`` reduces the metric across ranks and ``check_ranks()``
raises when the ranks disagree.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import re
import warnings
import weakref
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from ._common import BridgeError, is_stateful, require
from ._optim import counterpart, parse

torch = require("torch", "torch", "lrdsl.bridges.torch")
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau  # noqa: E402

from .. import resume, variables  # noqa: E402
from ..clock import FACTORS  # noqa: E402
from ..counters import EXACT_INTS, counter  # noqa: E402
from ..errors import LRDSLError, ParameterError, ScheduleChangeWarning, UnitError  # noqa: E402
from ..parser import parse as parse_text  # noqa: E402
from ..schedule import Schedule, compile_schedule, report_to  # noqa: E402
from ..schema import (  # noqa: E402
    Anything,
    Int,
    Invalid,
    ListOf,
    MapOf,
    Maybe,
    Number,
    OneOf,
    Record,
    Schema,
    Text,
    Where,
    read_table,
    restoring,
    validate,
)
from ..text import describe, shorten  # noqa: E402
from ..updates import AUTO, AUTO_ROUTES  # noqa: E402
from ..vocabulary import UNIT_WORDS  # noqa: E402

INTERVALS = ("step", "epoch")
REDUCTIONS = ("mean", "max", "min", "none")
COUNTS = {"tokens": "tok", "samples": "sp"}  # the cumulative counts a ScheduleLR can be fed, and their units
_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_STATE_VERSION = 3  # 2 added the token and sample counts, 3 the history of amendments; older states load
_CONFIG_KEYS = ("texts", "bases", "steps_per_epoch", "total", "variables", "tokens_per_step", "samples_per_step")

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
    if (
        not isinstance(value, (list, tuple))
        or len(value) != count
        or not all(v is None or isinstance(v, str) for v in value)
    ):
        raise BridgeError(
            f"schedule for {key!r}: expected one lrdsl string, or a list with one string (or None) "
            f"per param group ({count} groups), got {describe(value)}"
        )
    return list(value)


Counts = Dict[str, Optional[float]]  # "tokens"/"samples" -> the cumulative count fed so far (None: never fed)


def _is_auto(total) -> bool:
    return isinstance(total, str) and total == AUTO


def _counted(schedules: Mapping[str, List[Optional[Schedule]]], counts: Counts) -> Tuple[str, ...]:
    """The cumulative counts the schedules are read by: those fed so far, and those a schedule's clock runs on."""
    units = {s.clock.unit for per_group in schedules.values() for s in per_group if s is not None}
    return tuple(name for name, unit in COUNTS.items() if counts[name] is not None or unit in units)


def _reader(schedule: Optional[Schedule], by_epoch: bool, counted: Tuple[str, ...], counts: Counts):
    """``point -> value`` of ``schedule`` (None where not scheduled): by the counts named in ``counted``
    (read from ``counts`` at each call; one never fed is 0), else by the update counter ``point``
    (epochs when ``by_epoch``)."""
    if schedule is None:
        return None
    if counted:
        return lambda point: schedule(**{name: counts[name] or 0.0 for name in counted})
    if by_epoch:
        return lambda point: schedule(epoch=point)
    return schedule.__call__


def _distinct(schedules: List[Optional[Schedule]], calls: list) -> List[Tuple[Callable, List[int]]]:
    """``(call, group indices)`` for each distinct schedule of the groups: groups whose schedules are
    one compiled curve (the same string, options and base: a cached compile) are evaluated once per
    step. A schedule with metric state is compiled for itself, so it is never shared."""
    plan: Dict[int, Tuple[Callable, List[int]]] = {}
    for index, (schedule, call) in enumerate(zip(schedules, calls)):
        if schedule is not None:
            plan.setdefault(id(schedule.curve), (call, []))[1].append(index)
    return list(plan.values())


class _Step(NamedTuple):
    """What a counted update does for one distinct schedule: ``at`` the compiled curve's scalar
    evaluator when the schedule is read by the update counter as it is (else None), ``call`` the
    reader of :func:`_reader`, and the param-group key (``name``, tuple ``item``) and the groups
    it is written to."""

    at: Optional[Callable[[float], float]]
    call: Callable[[int], float]
    schedule: Schedule
    name: str
    item: Optional[int]
    indices: Tuple[int, ...]
    key: str


def _steps(key: str, schedules: List[Optional[Schedule]], calls: list, direct: bool) -> List[_Step]:
    """The :class:`_Step` of each distinct schedule of hyperparameter ``key``; ``direct``: the
    schedules are read by the update counter (a schedule whose clock counts updates unconverted
    is then evaluated by its curve)."""
    name, item = _split_key(key)
    steps = []
    for call, indices in _distinct(schedules, calls):
        schedule = schedules[indices[0]]
        assert schedule is not None
        at = schedule.curve.at if direct and schedule.clock.ratio("it") == (1.0, 1.0) else None
        steps.append(_Step(at, call, schedule, name, item, tuple(indices), key))
    return steps


def _copied_lr(value: Any) -> Any:
    """A param group's lr as ``_last_lr`` keeps it: a tensor copied, anything else as it is."""
    return value.clone() if isinstance(value, torch.Tensor) else value


def _check_counters(schedules: Mapping[str, List[Optional[Schedule]]], interval: str, counts: Counts) -> None:
    """Raise a UnitError saying what to pass if a schedule cannot be read by the counter it will be read by."""
    counted = _counted(schedules, counts)
    for per_group in schedules.values():
        for schedule in per_group:
            try:
                read = _reader(schedule, interval == "epoch", counted, dict.fromkeys(COUNTS, 0.0))
                if read is not None:
                    read(0)
            except UnitError:
                assert schedule is not None
                if counted:
                    names = " and ".join(counted)
                    raise UnitError(
                        f"schedule {schedule.expression!r} counts {UNIT_WORDS[schedule.clock.unit]}, but this "
                        f"ScheduleLR reads the {names} count (fed with step({counted[0]}=n) or advance(), or the "
                        f"clock of another schedule); pass {' and '.join(FACTORS[COUNTS[n]] for n in counted)}= "
                        "to convert, or write its durations in the unit fed"
                    ) from None
                raise UnitError(
                    f"schedule {schedule.expression!r} counts iterations, but interval='epoch' "
                    "advances the epoch counter; pass steps_per_epoch= (iterations are then "
                    "converted to epochs) or use interval='step'"
                ) from None


_MAX_COUNT = 2**63 - 1  # torch's counters in a state: any int64 (updates past it cannot be reached)
_STATE_HINT = "pass the dict that ScheduleLR.state_dict() returned (saved with the checkpoint), unchanged"


class _Rate(Schema):
    """A saved learning rate: a finite number, or a tensor holding one (torch keeps a tensor lr as
    one); a number comes back as a float, a tensor as a detached copy."""

    expected = "a finite number, or a tensor of one finite number"

    def check(self, value, path):
        if not isinstance(value, torch.Tensor):
            return Number().check(value, path)
        if value.layout is not torch.strided or value.device.type == "meta" or value.numel() != 1:
            raise self.refuse(value, path)  # a sparse or meta tensor holds no number to read
        if not value.is_floating_point() or not bool(torch.isfinite(value).all()):
            raise self.refuse(value, path)
        return value.detach().clone()


class _Option(Schema):
    """A saved factor or total: None, a finite number >= 0 (a Python int stays an int, as given to the
    constructor), or, for ``total``, a string such as ``'90ep'`` or ``'auto'``."""

    def __init__(self, text: bool = False):
        self.text = text
        self.expected = "None, a finite number >= 0" + (" or a string such as '90ep'" if text else "")

    def check(self, value, path):
        if value is None or (self.text and isinstance(value, str)):
            return value
        try:
            number = Number(min=0).check(value, path)
        except Invalid:
            raise self.refuse(value, path) from None
        return int(value) if isinstance(value, (int, np.integer)) else number


class _Variables(Schema):
    """A saved ``variables`` table, checked as the one given to :func:`lrdsl.compile` is
    (:func:`lrdsl.variables.table`: bounded plain data), and kept as a checkpoint keeps it."""

    expected = "a table of names to numbers, booleans, strings or lists of them"

    def check(self, value, path):
        try:
            return variables.saved(variables.table(value))
        except ParameterError as error:
            raise Invalid(path, str(error)) from None


def _table(state: Any) -> Any:
    """A saved state that is a mapping, as a plain dict of its items (what is loaded, or deferred, is
    then this copy); a mapping whose methods raise is refused. Anything else is returned as it is,
    for the checks that refuse it."""
    if not isinstance(state, Mapping):
        return state
    try:
        return read_table(state, "", "a state_dict()")
    except Invalid as invalid:
        raise BridgeError(f"load_state_dict(): the state {invalid.message}; {_STATE_HINT}") from None


def _state_schema(groups: int, version: int) -> Record:
    """What ``ScheduleLR.state_dict()`` returns (state format ``version``), for ``groups`` param groups:
    plain data, whose options are checked again by compiling the saved strings."""
    keys = Where(Text(), lambda key: bool(_KEY.match(key)), "a param-group key such as 'lr' or 'betas[0]'")
    factor = _Option()
    fields = {
        "lrdsl_version": OneOf(version),
        "last_epoch": Int(min=-1, max=_MAX_COUNT),
        "_step_count": Int(max=_MAX_COUNT),
        "_last_lr": ListOf(_Rate(), groups),
        "base_lrs": ListOf(_Rate(), groups),
        "interval": OneOf(*INTERVALS),
        "texts": MapOf(keys, ListOf(Maybe(Text()), groups)),
        "bases": MapOf(keys, ListOf(Number(), groups)),
        "steps_per_epoch": factor,
        "total": _Option(text=True),
        "variables": _Variables(),
        "nodes": MapOf(keys, ListOf(Maybe(ListOf(Anything())), groups)),  # each checked by its schedule when loaded
    }
    optional = {"history": MapOf(keys, ListOf(Maybe(ListOf(resume.HISTORY_ENTRY)), groups))} if version >= 3 else {}
    if version >= 2:
        fields.update(
            {
                "tokens_per_step": factor,
                "samples_per_step": factor,
                "tokens": Maybe(Number(min=0)),
                "samples": Maybe(Number(min=0)),
            }
        )
    return Record(fields, optional=optional)


def _choices() -> str:
    return "build the scheduler with on_change= to choose: " + "; ".join(
        f"{name!r}: {meaning}" for name, meaning in resume.POLICIES.items() if name != "error"
    )


def _hook(scheduler: ScheduleLR, register: Callable, method: Callable):
    """Register ``method(scheduler)`` as an optimizer step hook that holds the scheduler weakly (a
    scheduler that is gone does nothing); the hook's handle."""
    ref = weakref.ref(scheduler)

    def hook(optimizer, args, kwargs) -> None:
        alive = ref()
        if alive is not None:
            method(alive)

    return register(hook)


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def _reduce(metric, how: str) -> float:
    """``metric`` reduced across the ranks of the process group (``how``: mean, max or min)."""
    dist = torch.distributed
    try:
        value = float(metric)
    except (TypeError, ValueError):
        raise LRDSLError(f"report(): the metric must be a number, got {describe(metric)}") from None
    tensor = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    dist.all_reduce(tensor, op={"mean": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}[how])
    return tensor.item() / dist.get_world_size() if how == "mean" else tensor.item()


def _disagreement(digests: List[int], facts: List[Dict[str, str]]) -> str:
    """The message naming the ranks that differ from the largest group of ranks that agree, and how."""
    groups: Dict[int, List[int]] = {}
    for rank, digest in enumerate(digests):
        groups.setdefault(digest, []).append(rank)
    agree = max(groups.values(), key=len)  # the first of the largest: the one with the lowest rank
    odd = [rank for rank in range(len(digests)) if rank not in agree]
    first = agree[0]
    differences = [
        f"{what}: rank {first} has {shorten(facts[first][what], 200)}, rank {rank} has {shorten(value, 200)}"
        for what in facts[first]
        for rank in odd[:3]
        for value in [facts[rank][what]]
        if value != facts[first][what]
    ]
    return (
        f"check_ranks(): rank(s) {', '.join(map(str, odd))} disagree with rank(s) {', '.join(map(str, agree))}: "
        + "; ".join(differences)
        + ". Every rank must run the same schedules and options and count the same updates (report metrics "
        "with a reduce, feed global token counts)"
    )


def _collective_device():
    """Where tensors of a collective live: the current CUDA device under NCCL, else the CPU."""
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# -- the scheduler ---------------------------------------------------------------------------------


class ScheduleLR(LRScheduler):
    """A ``torch.optim`` scheduler whose learning rate (and optionally other hyperparameters) follow
    lrdsl strings.

    Args:
        optimizer: the wrapped optimizer.
        schedule: the learning-rate schedule, one lrdsl string, or one per param group (``None``
            leaves a group's lr alone); ``None`` schedules no lr at all.
        interval: ``"step"`` — the counter counts optimizer updates; ``"epoch"`` — it counts epochs
            (``step()`` once per epoch).
        steps_per_epoch, total, variables, tokens_per_step, samples_per_step: as for
            :func:`lrdsl.compile`; ``total="auto"`` waits for a trainer to give the number of updates
            (:meth:`resolve_total`).
        base: the incoming base of every group; default each group's own value (its ``lr``, or
            for other hyperparameters their value when the scheduler was created).
        hyperparameters: other param-group keys to schedule, e.g. ``{"momentum": "..."}``,
            ``{"betas[0]": "..."}``; each value as ``schedule``.
        last_epoch: as in torch; prefer ``load_state_dict`` to resume.
        registry: the node registry (default: built-ins and plugins).
        follow_optimizer: ``False`` (torch's way): call ``step()`` after every ``optimizer.step()``
            (every epoch with ``interval="epoch"``). ``True``: the scheduler counts an update from
            a post-step hook on the optimizer, exactly once per ``optimizer.step()`` that ran, and
            ``step()`` does nothing (warning once). The optimizer holds the scheduler: it keeps
            counting while the optimizer lives, whether or not the scheduler is kept.
        check_ranks_every: under ``torch.distributed``, :meth:`check_ranks` every that many counted
            updates (None: never by itself).
        on_change: what :meth:`load_state_dict` does with a checkpoint saved from other strings or
            options (:mod:`lrdsl.resume`): ``"error"`` (default), ``"continue"``, ``"smooth"`` or
            ``"checkpoint"`` (the saved strings win, torch's behaviour, with a warning).

    The k-th update uses the values at counter k. A schedule on a token or sample clock, or any
    schedule once tokens (samples) are fed, is read by the cumulative count fed before the update
    (``step(tokens=n)`` after it, or ``advance(tokens=n)`` before ``optimizer.step()``).
    """

    last_epoch: int  # torch's counters, as this class reads and restores them
    _step_count: int
    _last_lr: List[Any]

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
        tokens_per_step=None,
        samples_per_step=None,
        follow_optimizer: bool = False,
        check_ranks_every: Optional[int] = None,
        on_change: str = "error",
    ):
        if interval not in INTERVALS:
            raise BridgeError(
                f"interval={interval!r}: expected 'step' (step() once per optimizer update) or "
                "'epoch' (step() once per epoch)"
            )
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise BridgeError(f"ScheduleLR needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
        if not isinstance(follow_optimizer, bool):
            raise BridgeError(f"follow_optimizer={follow_optimizer!r:.40}: expected True or False")
        if follow_optimizer and interval != "step":
            raise BridgeError(
                "follow_optimizer=True counts optimizer updates, so it needs interval='step' (a schedule in "
                "epochs then takes steps_per_epoch=)"
            )
        if check_ranks_every is not None and (
            isinstance(check_ranks_every, bool) or not isinstance(check_ranks_every, int) or check_ranks_every < 1
        ):
            raise BridgeError(f"check_ranks_every={check_ranks_every!r:.40}: expected None or a whole number >= 1")
        self.interval = interval
        self.follow_optimizer = follow_optimizer
        self.check_ranks_every = check_ranks_every
        self.on_change = resume.policy(on_change)
        self._registry = registry
        self._counts: Counts = dict.fromkeys(COUNTS)
        self._fed: set = set()  # the counts fed since the last counted update
        self._started = self._warned = self._stepping = False
        self._waiting: Any = None  # while total is "auto": the pre-step hook that refuses an update
        self._deferred: Optional[Mapping[str, Any]] = None  # a checkpoint loaded while the total is pending
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
                "tokens_per_step": tokens_per_step,
                "samples_per_step": samples_per_step,
            }
        )
        super().__init__(optimizer, last_epoch)  # torch's first step() sets the values for update 0
        self._started = True
        self._sync_pending()
        if follow_optimizer:  # the optimizer holds the scheduler: it counts updates while the optimizer lives
            optimizer.register_step_pre_hook(lambda optimizer, args, kwargs: self._refuse_unfed())
            optimizer.register_step_post_hook(lambda optimizer, args, kwargs: self._update())

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
        self._schedules = self._compile(config, self.interval, self._counts)
        self._config = config
        self._plan()

    def _compile(self, config: Dict[str, Any], interval: str, counts: Counts) -> Dict[str, List[Optional[Schedule]]]:
        """The schedules of ``config`` (changes nothing on ``self``), checked against ``interval`` and
        the counts they will be read by. While the total is ``"auto"`` the strings are only parsed
        and every schedule is None: the hyperparameters stay as they are."""
        if _is_auto(config["total"]):
            for texts in config["texts"].values():
                for text in texts:
                    if text is not None:
                        parse_text(text)
            return {key: [None] * len(texts) for key, texts in config["texts"].items()}
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
                    tokens_per_step=config["tokens_per_step"],
                    samples_per_step=config["samples_per_step"],
                    on_change=self.on_change,
                )
                for text, base in zip(texts, config["bases"][key])
            ]
        _check_counters(schedules, interval, counts)
        return schedules

    def _plan(self) -> None:
        """Precompute, per hyperparameter, one ``counter -> value`` call per group (None: not scheduled),
        and what a counted update runs: :class:`_Step` per distinct schedule, lr first."""
        self._counted = _counted(self._schedules, self._counts)
        by_epoch = self.interval == "epoch"
        read = functools.partial(_reader, by_epoch=by_epoch, counted=self._counted, counts=self._counts)
        self._calls = {key: [read(s) for s in per_group] for key, per_group in self._schedules.items()}
        direct = not (self._counted or by_epoch)  # read by the update counter
        self._steps = [
            step for key, calls in self._calls.items() for step in _steps(key, self._schedules[key], calls, direct)
        ]
        self._others = [step for step in self._steps if step.key != "lr"]
        # what _next runs: each distinct schedule evaluated into its slot of _values_next, then written
        self._evaluations = [(number, step.at, step.call, step.schedule) for number, step in enumerate(self._steps)]
        self._writes = [
            (number, step.name, step.item, index) for number, step in enumerate(self._steps) for index in step.indices
        ]
        self._values_next: List[float] = [0.0] * len(self._steps)

    def _all(self):
        return [s for per_group in self._schedules.values() for s in per_group if s is not None]

    @property
    def schedules(self) -> Dict[str, List[Optional[Schedule]]]:
        """The compiled :class:`lrdsl.Schedule` of each hyperparameter, one per param group (or None;
        all None while the total is ``"auto"``)."""
        return self._schedules

    @property
    def tokens(self) -> Optional[float]:
        """The cumulative token count fed (``step(tokens=)``, ``advance(tokens=)``); None if never fed."""
        return self._counts["tokens"]

    @property
    def samples(self) -> Optional[float]:
        """The cumulative sample count fed; None if never fed."""
        return self._counts["samples"]

    # -- the training length from a trainer ---------------------------------------------------------
    @property
    def pending(self) -> bool:
        """Whether the total is still ``"auto"``, waiting for :meth:`resolve_total`."""
        return _is_auto(self._config["total"])

    def resolve_total(self, total) -> None:
        """Set the training length of a scheduler built with ``total="auto"`` and apply the values of
        the current counter (update 0 before training). Trainers call it: the callbacks of
        :mod:`lrdsl.bridges.lightning` and :mod:`lrdsl.bridges.transformers` give their number of
        updates. Until then the hyperparameters are left as they are, and an optimizer update (or
        ``step()``) raises an :class:`~lrdsl.LRDSLError` naming the ways to give the total."""
        if not self.pending:
            raise BridgeError(f"resolve_total(): this scheduler's total is {self._config['total']!r}, not 'auto'")
        pending = self._schedules, self._config
        with self._kept():  # the values at the current counter may fail: then still pending, nothing changed
            config = {**self._config, "total": total}
            schedules = self._compile(config, self.interval, self._counts)  # total="auto" again: still pending
            self._schedules, self._config = schedules, config
            self._plan()
            if self._deferred is None:
                self._apply_all()
        deferred, self._deferred = self._deferred, None
        if deferred is not None:  # its load sets the values at its counter
            try:
                self.load_state_dict(deferred)
            except LRDSLError:
                (self._schedules, self._config), self._deferred = pending, deferred
                self._plan()
                raise
        self._sync_pending()

    def _sync_pending(self) -> None:
        """Hold the pre-step hook that refuses an update exactly while the total is pending, and say
        whether ``step()`` counts an update (not while pending, not when following the optimizer)."""
        if self.pending and self._waiting is None:
            self._waiting = _hook(self, self.optimizer.register_step_pre_hook, ScheduleLR._refuse_pending)
        elif not self.pending and self._waiting is not None:
            self._waiting.remove()
            self._waiting = None
        self._stepping = not (self.pending or self.follow_optimizer)  # step() counts an update

    def _refuse_pending(self) -> None:
        raise LRDSLError(f"ScheduleLR: an optimizer update came before the training length was known; {AUTO_ROUTES}")

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

    def step(self, epoch: Optional[int] = None, *, tokens=None, samples=None) -> None:
        """Count one update (one epoch with ``interval="epoch"``) whose ``tokens`` and ``samples`` (when
        given) are added to the cumulative counts, and set the values for the next one.

        With ``follow_optimizer=True`` the optimizer's hook counts updates, and this call does
        nothing but warn once (a trainer that steps its schedulers may keep doing so); counts are
        then fed with :meth:`advance` before ``optimizer.step()``.
        """
        if self._stepping:  # the training loop's case: started, stepped by hand, total known
            if tokens is None and samples is None:
                self._update(epoch)
            else:
                self._counted_update(epoch, tokens, samples)
            return
        if not self._started:  # torch's first step() in __init__: the values for update 0
            super().step()
            self._apply_others()
            return
        if self.follow_optimizer:
            if tokens is not None or samples is not None:
                raise BridgeError(
                    "step(tokens=/samples=) with follow_optimizer=True: the optimizer's hook counts each "
                    "update as it runs; feed its counts with sched.advance(tokens=n) before optimizer.step()"
                )
            if not self._warned:
                self._warned = True
                warnings.warn(
                    "ScheduleLR(follow_optimizer=True) counts every optimizer update by itself; this step() "
                    "call and later ones are ignored (a trainer that steps its schedulers may keep doing so)",
                    UserWarning,
                    stacklevel=2,
                )
            return
        self._refuse_pending()

    def advance(self, *, tokens=None, samples=None) -> None:
        """Add ``tokens`` and ``samples`` (numbers >= 0; a 0-d tensor will do) to the cumulative counts,
        changing no value now: the values for the next update are set when an update is counted,
        from the counts then. Call it per micro-batch or per update, before ``optimizer.step()``:
        the k-th update then uses the values at the counts seen before it. Counts are what the
        schedule's durations count: under ``torch.distributed``, the global count of the update.

        The first count fed makes the scheduler read every schedule by it (a schedule on another
        clock needs ``tokens_per_step=`` / ``samples_per_step=``: the UnitError says so, and
        nothing is changed).
        """
        given = {
            name: counter(value, name)
            for name, value in (("tokens", tokens), ("samples", samples))
            if value is not None
        }
        first = [name for name in given if self._counts[name] is None]
        if first and not self.pending:
            _check_counters(self._schedules, self.interval, {**self._counts, **dict.fromkeys(first, 0.0)})
        sums = {name: (self._counts[name] or 0.0) + value for name, value in given.items()}
        for name, total in sums.items():
            if not math.isfinite(total):
                raise BridgeError(
                    f"advance(): the cumulative {name} count {self._counts[name]!r} plus {given[name]!r} passes the "
                    f"largest float; feed counts of the run's scale"
                )
        self._counts.update(sums)
        self._fed.update(sums)
        if first:
            self._plan()

    def _counted_update(self, epoch: Optional[int], tokens, samples) -> None:
        """``step(tokens=, samples=)``: the counts fed and the update, all or nothing (a refused or
        failed update leaves the counts as they were)."""
        counts, fed, counted = dict(self._counts), set(self._fed), self._counted
        self.advance(tokens=tokens, samples=samples)
        try:
            self._update(epoch)
        except BaseException:
            self._counts.update(counts)  # in place: the readers hold this dict
            self._fed.clear()
            self._fed.update(fed)
            if _counted(self._schedules, self._counts) != counted:
                self._plan()
            raise

    def _refuse_unfed(self) -> None:
        """Following the optimizer: refuse its update before it runs when a count it needs was not fed."""
        if self._counted and not self.pending:
            self._check_fed()

    def _check_fed(self) -> None:
        """Raise a BridgeError when the schedules read a cumulative count that was not fed for this update."""
        unfed = [name for name in self._counted if name not in self._fed]
        if unfed:
            raise BridgeError(
                f"update {self.last_epoch}: the schedules are read by the cumulative {unfed[0]} count, but no "
                f"{unfed[0]} were counted for this update; call sched.step({unfed[0]}=n) after it, or "
                f"sched.advance({unfed[0]}=n) before optimizer.step() (follow_optimizer=True)"
            )

    def _update(self, epoch: Optional[int] = None) -> None:
        """Count one update: the counter moves by one and the values for the next update are set; an
        update whose values fail changes nothing (:meth:`_next` evaluates before it writes; torch's
        own ``step()`` is undone)."""
        if self._counted:
            self._check_fed()
        if epoch is None and self._step_count > 1:
            self._next()  # what torch's step() does once its first-call checks are behind it, without its overhead
        else:
            self._torch_step(epoch)
        if self._fed:
            self._fed.clear()
        if self.check_ranks_every and self.last_epoch % self.check_ranks_every == 0:
            self.check_ranks()

    def _next(self) -> None:
        """Move the counter by one and write every scheduled hyperparameter for the next update: what
        torch's ``step()`` does once its first-call checks are behind it (its ``_last_lr`` keeps a copy
        of a tensor lr), without its per-step overhead. Each distinct schedule is evaluated once, by
        its curve where it can be (a finite float >= 0 at a counter a float holds exactly; the
        schedule's position then set as ``Schedule.__call__`` sets it), else through the schedule,
        which converts another number, handles what the curve's float arithmetic refuses and
        raises for a bad value. Every value is evaluated before the counter moves and anything is
        written, so a failing one changes nothing. A value replaces a float in the group dict;
        anything else (a tensor, a tuple item) goes through :func:`_write`. The param groups are
        read at every step, since ``optimizer.load_state_dict`` replaces them."""
        point: int = self.last_epoch + 1
        values = self._values_next
        t = float(point) if point < EXACT_INTS else None
        for number, at, call, schedule in self._evaluations:
            value = None
            if at is not None and t is not None:
                try:
                    value = at(t)
                except (ArithmeticError, ValueError):
                    value = None
            if type(value) is float and 0.0 <= value < math.inf:
                schedule.position = t
            else:
                value = call(point)
            values[number] = value
        self._step_count += 1
        self.last_epoch = point
        groups = self.optimizer.param_groups
        for number, name, item, index in self._writes:
            group = groups[index]
            if item is None and type(group[name]) is float:
                group[name] = values[number]
            else:
                _write(group, name, item, values[number])
        self._last_lr = [lr if type(lr) is float else _copied_lr(lr) for lr in [group["lr"] for group in groups]]

    def _torch_step(self, epoch: Optional[int]) -> None:
        """torch's ``step()`` (the first updates, and an explicit ``epoch``) and the other
        hyperparameters; when a value fails, the counters, the values written and ``_last_lr`` are
        put back."""
        last_epoch: int = self.last_epoch
        step_count: int = self._step_count
        last: List[Any] = self._last_lr
        groups = self.optimizer.param_groups
        before = {key: [read_value(group, key) for group in groups] for key in self._config["texts"]}
        try:
            super().step(epoch)
            self._apply_others()
        except BaseException:
            self.last_epoch = last_epoch
            self._step_count = step_count
            self._last_lr = last
            for key, values in before.items():
                for group, value in zip(groups, values):
                    write_value(group, key, value)
            raise

    def _apply_others(self) -> None:
        """Write the hyperparameters other than the lr at the current counter."""
        point, groups = self.last_epoch, self.optimizer.param_groups
        for step in self._others:
            value = step.call(point)
            for index in step.indices:
                _write(groups[index], step.name, step.item, value)

    def _apply_all(self) -> None:
        for group, value in zip(self.optimizer.param_groups, self._values("lr")):
            write_value(group, "lr", value)
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]
        self._apply_others()

    # -- amending the running schedule ----------------------------------------------------------
    def amend(self, text: PerGroup, at=None, total=None) -> List[Optional[Schedule]]:
        """Install, for every param group, the learning-rate schedule that follows the current one up
        to ``at`` (default: the current counter) and ``text`` (one string, or one per group; None
        keeps a group's) after it, from the value there: ``Schedule.amend`` (docs/language.md §13).
        ``total`` replaces the training length; the scheduler must then schedule the lr alone (the
        other hyperparameters' durations would move). The amendments are kept in ``state_dict()``.
        Returns the new schedules."""
        if self.pending:
            raise BridgeError(f"amend(): the training length is not known yet; {AUTO_ROUTES}")
        if total is not None and len(self._schedules) > 1:
            raise BridgeError(
                f"amend(total=...): this scheduler also schedules {sorted(set(self._schedules) - {'lr'})}, whose "
                "durations a new total would move; amend without total= (write the new part's durations absolutely)"
            )
        texts = _per_group(text, len(self.optimizer.param_groups), "lr")
        if at is None:  # each schedule at the current counter (groups that share a curve read it once per step)
            for call in self._calls["lr"]:
                if call is not None:
                    call(self.last_epoch)
        if total is not None and any(new is None and old is not None for old, new in zip(self._schedules["lr"], texts)):
            raise BridgeError("amend(total=...): a new total needs a new text for every scheduled param group")
        with self._kept():  # a new text that fails at the counter leaves the old schedules installed
            amended = [
                old if new is None or old is None else old.amend(new, at=at, total=total)
                for old, new in zip(self._schedules["lr"], texts)
            ]
            self._schedules = {**self._schedules, "lr": amended}
            lr_texts = [old if s is None else s.expression for old, s in zip(self._config["texts"]["lr"], amended)]
            self._config = {
                **self._config,
                "texts": {**self._config["texts"], "lr": lr_texts},
                "total": self._config["total"] if total is None else total,
            }
            self._plan()
            self._apply_all()
        return amended

    # -- metric-driven nodes -----------------------------------------------------------------------
    def report(self, metric: float, reduce: str = "mean") -> None:
        """Feed a metric (e.g. validation loss) to metric-driven nodes (``plateau``) of every schedule.

        The hyperparameters are updated at once (the counter does not move). Under
        ``torch.distributed``, a scheduler with metric-driven nodes first reduces the metric across
        the ranks (``reduce``: ``"mean"``, ``"max"``, ``"min"``, or ``"none"`` for a metric that is
        already global), so every rank cuts on the same report: every rank must then call it.
        """
        if reduce not in REDUCTIONS:
            raise BridgeError(f"report(): reduce={reduce!r:.40}; expected one of {', '.join(map(repr, REDUCTIONS))}")
        try:
            metric = metric.item() if hasattr(metric, "item") else metric  # a tensor or an array of one number
        except Exception:
            raise BridgeError(f"report(): the metric must be one number, got {describe(metric)}") from None
        if reduce != "none" and _distributed() and any(is_stateful(s) for s in self._all()):
            metric = _reduce(metric, reduce)
        with self._kept():  # a failed report, or a value the reports make fail, changes no schedule
            report_to(self._all(), metric)
            self._apply_all()

    # -- ranks that agree --------------------------------------------------------------------------
    def _facts(self) -> Dict[str, str]:
        """What every rank must agree on, as text: the schedules (canonical), the options, the
        counters, the values the optimizer holds and the state of metric-driven nodes."""
        config, groups = self._config, self.optimizer.param_groups
        options = {k: v for k, v in config.items() if k not in ("texts", "variables")}
        return {
            "schedules": repr(
                {
                    key: [text if s is None else s.expression for text, s in zip(config["texts"][key], per_group)]
                    for key, per_group in self._schedules.items()
                }
            ),
            "options": repr((self.interval, sorted(options.items()), sorted(config["variables"].items(), key=str))),
            "update": str(self.last_epoch),
            "counts": repr(self._counts),
            "values": repr({key: [read_value(group, key) for group in groups] for key in config["texts"]}),
            "state": repr([schedule.state_dict()["nodes"] for schedule in self._all()]),  # plateau's
        }

    def check_ranks(self) -> None:
        """Under ``torch.distributed``, raise an :class:`~lrdsl.LRDSLError` naming the ranks whose
        schedules, options, counters, current values or metric-driven state (plateau's) differ from
        the others' (a hash of them is gathered from every rank; every rank must call it). Without a
        process group it does nothing.
        """
        if not _distributed():
            return
        dist = torch.distributed
        facts = self._facts()
        digest = hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).digest()
        mine = torch.tensor([int.from_bytes(digest[:8], "little", signed=True)], device=_collective_device())
        gathered = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, mine)
        digests = [int(item.item()) for item in gathered]
        if len(set(digests)) > 1:
            everyone: List[Any] = [None] * len(digests)
            dist.all_gather_object(everyone, facts)
            raise LRDSLError(_disagreement(digests, everyone))

    # -- checkpoints -------------------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Counters (updates, and the cumulative token and sample counts), the strings and options,
        and metric-driven state: plain data (``weights_only``-safe)."""
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
            "tokens_per_step": config["tokens_per_step"],
            "samples_per_step": config["samples_per_step"],
            **self._counts,
            "history": {
                k: [None if s is None else [dict(entry) for entry in s.history] for s in v]
                for k, v in self._schedules.items()
            },
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict` (states of formats 1 and 2, from before the history of
        amendments, load too). A checkpoint saved from other strings or options is handled by the
        ``on_change`` policy, schedule by schedule (:mod:`lrdsl.resume`): ``"error"`` refuses,
        showing the differences; ``"continue"`` and ``"smooth"`` keep the position and use this
        scheduler's strings; ``"checkpoint"`` takes the saved ones. A state that does not fit
        raises a :class:`BridgeError` (or the error compiling its strings) and changes nothing."""
        state_dict = _table(state_dict)
        version = state_dict.get("lrdsl_version") if isinstance(state_dict, dict) else None
        if type(version) is not int or version not in (1, 2, _STATE_VERSION):
            raise BridgeError(
                f"load_state_dict(): this state was not saved by lrdsl's ScheduleLR (state format {_STATE_VERSION})"
            )
        checked = validate(
            _state_schema(len(self.optimizer.param_groups), version), state_dict, BridgeError, "load_state_dict()"
        )
        keys = sorted(self._config["texts"])
        for table in ("texts", "bases", "nodes", "history"):
            if table in checked and sorted(checked[table]) != keys:
                raise BridgeError(
                    f"load_state_dict(): the state's {table!r} are for {sorted(checked[table])}, but this "
                    f"scheduler schedules {keys}: a checkpoint sets only what the scheduler was built "
                    f"to schedule; {_STATE_HINT}"
                )
        interval, config = checked["interval"], {key: checked.get(key) for key in _CONFIG_KEYS}
        counts: Counts = {name: checked.get(name) for name in COUNTS}
        histories = checked.get("history") or {key: [None] * len(texts) for key, texts in config["texts"].items()}
        if _is_auto(config["total"]) and not self.pending:  # saved before the run's length was known
            config = {**config, "total": self._config["total"]}
        elif self.pending and not _is_auto(config["total"]):
            self._defer(state_dict, checked)
            return
        with self._kept():  # a failure anywhere below (the values at the saved counter) changes nothing
            changed = config != self._config or interval != self.interval
            if not changed:
                schedules = self._schedules
                try:
                    _check_counters(schedules, interval, counts)
                except UnitError as error:
                    raise UnitError(f"load_state_dict(): {error}") from None
                self._load_nodes(schedules, checked["nodes"], histories)
            else:
                try:
                    saved = self._compile(config, interval, counts)
                except LRDSLError as error:
                    raise type(error)(f"load_state_dict(): the saved schedules do not compile: {error}") from None
                if self.on_change == "checkpoint":
                    self._load_nodes(saved, checked["nodes"], histories)
                    warnings.warn(self._ignored(config, interval), ScheduleChangeWarning, stacklevel=2)
                    schedules = saved
                else:
                    config = self._resume_changed(saved, checked, counts, histories)
                    schedules, interval = self._schedules, self.interval
            self.interval, self._schedules, self._config = interval, schedules, config
            self._take_counters(checked)
            self._fed.clear()
            self._plan()
            self._apply_all()  # the values at the saved counter, from the schedules that now run
        self._sync_pending()

    @contextlib.contextmanager
    def _kept(self) -> Iterator[None]:
        """Run the block; if it raises, put the scheduler back as it was: its schedules (what they are
        compiled from, positions, histories, node states: :func:`lrdsl.resume.rolled_back`), its
        configuration and counters, and the hyperparameters it wrote into the param groups."""
        attributes, counts, fed = dict(self.__dict__), dict(self._counts), set(self._fed)
        groups = self.optimizer.param_groups
        values = {key: [read_value(group, key) for group in groups] for key in self._config["texts"]}
        try:
            with resume.rolled_back(self._all()):
                yield
        except BaseException:
            self.__dict__.update(attributes)
            self._counts.update(counts)  # the same dict and set, which the planned reads hold
            self._fed.clear()
            self._fed.update(fed)
            for key, per_group in values.items():
                for group, value in zip(groups, per_group):
                    write_value(group, key, value)
            raise

    def _defer(self, state: Mapping[str, Any], checked: Mapping[str, Any]) -> None:
        """A checkpoint loaded while the total is pending (a trainer restores it before it gives the
        run's length): take its counters now, and compare its schedules with this scheduler's, under
        the ``on_change`` policy, when :meth:`resolve_total` knows the total."""
        self._deferred = state
        self._take_counters(checked)

    def _take_counters(self, checked: Mapping[str, Any]) -> None:
        """The counters of a checked state: updates, the token and sample counts, torch's own."""
        self._counts.update({name: checked.get(name) for name in COUNTS})
        self.last_epoch, self._step_count = checked["last_epoch"], checked["_step_count"]
        self._last_lr, self.base_lrs = checked["_last_lr"], checked["base_lrs"]

    @staticmethod
    def _load_nodes(schedules: Mapping[str, List[Optional[Schedule]]], nodes: Mapping[str, list], histories) -> None:
        """Load the saved states of metric-driven nodes and the histories into ``schedules``, all or none."""
        loaded = [
            (schedule, state, history)
            for key, per_group in schedules.items()
            for schedule, state, history in zip(per_group, nodes[key], histories[key])
            if schedule is not None
        ]
        try:
            with restoring([schedule for schedule, _, _ in loaded]):
                for schedule, state, history in loaded:
                    schedule.load_state_dict({**schedule.state_dict(), "nodes": state or [], "history": history or []})
        except LRDSLError as error:
            raise BridgeError(
                f"load_state_dict(): the saved state of a metric-driven node does not fit: {error}; {_STATE_HINT}"
            ) from None

    def _resume_changed(self, saved, checked: Mapping[str, Any], counts: Counts, histories) -> Dict[str, Any]:
        """Under "error", "continue" or "smooth": resume each schedule of this scheduler from the saved
        one of the same hyperparameter and group (each plan made, and every refusal raised, before
        anything changes); the configuration that then runs (a smoothed schedule's text is its own)."""
        if checked["interval"] != self.interval:
            raise BridgeError(
                f"load_state_dict(): the checkpoint counts {checked['interval']}s (interval={checked['interval']!r}), "
                f"this scheduler {self.interval}s; only on_change='checkpoint' takes the saved interval"
            )
        counted = _counted(saved, counts)
        plans = []
        for key, per_group in self._schedules.items():
            for group, (now, before) in enumerate(zip(per_group, saved[key])):
                where = f"load_state_dict() ({key!r} of param group {group})"
                if now is None or before is None:
                    if now is not before and self.on_change == "error":
                        shown = ["not scheduled" if s is None else repr(s.expression) for s in (before, now)]
                        raise BridgeError(f"{where}: saved {shown[0]}, now {shown[1]}; {_choices()}")
                    continue
                read = _reader(before, self.interval == "epoch", counted, counts)
                if checked["last_epoch"] >= 0:
                    read(checked["last_epoch"])  # sets its position: where the checkpoint stood
                history = histories[key][group] or []
                state = {**before.state_dict(), "nodes": checked["nodes"][key][group], "history": history}
                plans.append((key, group, resume.plan(now, state, where)))
        texts = {key: list(per_group) for key, per_group in self._config["texts"].items()}
        with resume.rolled_back(self._all()):
            for key, group, plan in plans:
                plan.apply()
                if plan.target is not now:
                    texts[key][group] = plan.schedule.expression
        return {**self._config, "texts": texts}

    def _ignored(self, config: Mapping[str, Any], interval: str) -> str:
        """The warning of on_change='checkpoint': what of this scheduler the checkpoint replaced."""
        found = [
            f"{key}: saved {resume.shown(key, config[key])}, now {resume.shown(key, self._config[key])}"
            for key in _CONFIG_KEYS
            if config[key] != self._config[key]
        ]
        if interval != self.interval:
            found.append(f"interval: saved {interval!r}, now {self.interval!r}")
        return (
            "load_state_dict(): on_change='checkpoint' uses the checkpoint's schedules and ignores this "
            f"scheduler's ({'; '.join(found)})"
        )

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
    follow_optimizer: bool = False,
    check_ranks_every: Optional[int] = None,
) -> TorchOptimizer:
    """A ``torch.optim`` optimizer for an lrdsl optimizer string, and the :class:`ScheduleLR` that drives
    every scheduled hyperparameter.

    ``params`` is what torch optimizers take: parameters, or a list of groups
    ``{"params": [...], "weight_decay": 0, "lr": "0.1 * $main"}`` whose other keys override the
    string's hyperparameters (numbers, or lrdsl strings for schedules). Schedules give absolute
    values (incoming base 1.0, docs/language.md §11). Step the scheduler after every ``optimizer.step()``
    (``interval="step"``) or every epoch (``"epoch"``), or let it follow the optimizer
    (``follow_optimizer``, ``check_ranks_every``: as for :class:`ScheduleLR`)::

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
        follow_optimizer=follow_optimizer,
        check_ranks_every=check_ranks_every,
    )
    return TorchOptimizer(built, scheduler)


__all__ = ["INTERVALS", "ReportMetric", "ScheduleLR", "TorchOptimizer", "optimizer", "read_value", "write_value"]
