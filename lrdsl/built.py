"""The public protocol of built schedule nodes: what ``build(ctx, *params)`` receives and returns.

A schedule node whose value is not a pure formula of time -- one that keeps state fed by
reported metrics (``plateau``), or takes a schedule as an argument (``repeat``) -- is declared
with :func:`lrdsl.authoring.built_schedule_node`. Its ``build`` function is called once per
compile with a :class:`NodeContext` and the node's parameter values (a schedule argument
arrives as a :class:`SubSchedule`), and returns a :class:`Built`. State that reported metrics
change implements :class:`StatefulNode`; ``Schedule.report``, ``state_dict`` and
``load_state_dict`` reach it through ``Built.states``. docs/writing-a-plugin.md has a worked
example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Protocol, Tuple, runtime_checkable


@runtime_checkable
class StatefulNode(Protocol):
    """State a node keeps between reports. lrdsl calls these three methods and nothing else.

    - ``report(metric)``: one reported metric (a finite float), in the order reported;
    - ``state_dict()``: everything needed to resume, as plain data (numbers, strings, lists,
      dicts, None), so that it survives JSON, pickle and ``torch.load(weights_only=True)``;
    - ``load_state_dict(state)``: restore what ``state_dict`` returned. The state may come from
      an untrusted file: check it completely before changing anything, and raise an
      :class:`~lrdsl.LRDSLError` (the node's state is then unchanged).
    """

    def report(self, metric: float) -> None: ...

    def state_dict(self) -> Mapping[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True)
class NodeContext:
    """What a node's ``build`` may know about where it is compiled.

    ``base``: the incoming base b (docs/language.md §5); ``lr0``: the top-level base;
    ``phase_length``: the length of the enclosing phase in clock units (None if unbounded);
    ``unit``: the clock unit, ``"it"`` or ``"ep"``.
    """

    base: float
    lr0: float
    phase_length: Optional[float]
    unit: str


@dataclass(frozen=True)
class SubSchedule:
    """A schedule given as an argument (``repeat``'s ``x``), compiled with its own natural length.

    ``formula(xp, t)`` evaluates it at local times ``t`` (arrays, in the namespace ``xp``);
    ``scalar(t)`` at one float; ``length`` is its natural length in clock units (None if it has
    none); ``text`` its canonical text; ``states`` the stateful nodes inside it.
    """

    formula: Callable[[Any, Any], Any]
    scalar: Callable[[float], float]
    length: Optional[float]
    text: str
    states: Tuple[StatefulNode, ...] = ()


@dataclass(frozen=True)
class Built:
    """What ``build`` returns: the node's value as a function of its local time ``t``.

    - ``formula(xp, t)``: the value over arrays (numpy, jax.numpy, Keras ops), as for a
      schedule node's formula; with ``xp`` = lrdsl's float namespace it also gives floats;
    - ``scalar(t)``: optionally, a faster plain-float version for ``sched(i)``;
    - ``label``: how messages name the node, e.g. ``"plateau(factor=0.5)"``;
    - ``states``: the :class:`StatefulNode` objects this node (and its schedule arguments) keep;
    - ``timeless``: True when the value does not depend on time at all (only on reports), so
      the schedule can be evaluated by either counter.
    """

    formula: Callable[[Any, Any], Any]
    scalar: Optional[Callable[[float], float]] = None
    label: str = ""
    states: Tuple[StatefulNode, ...] = ()
    timeless: bool = False
