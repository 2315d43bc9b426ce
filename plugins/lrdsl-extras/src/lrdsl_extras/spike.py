"""spike_guard: a metric-driven node, cutting the learning rate when a reported loss spikes."""

import math

from lrdsl import LRDSLError
from lrdsl.authoring import Built, Check, between, built_schedule_node
from lrdsl.schema import Int, Maybe, Number, Record, validate

_STATE = Record({"best": Maybe(Number()), "cuts": Int()})


class SpikeGuard:
    """The state of one spike_guard: the best metric so far and the cuts made (a StatefulNode)."""

    def __init__(self, base: float, threshold: float, factor: float):
        self.base, self.threshold, self.factor = base, threshold, factor
        self.best, self.cuts = math.inf, 0

    @property
    def value(self) -> float:
        return self.base * self.factor**self.cuts

    def report(self, metric: float) -> None:
        if metric > self.threshold * self.best:
            self.cuts += 1
        self.best = min(self.best, metric)

    def state_dict(self) -> dict:
        return {"best": None if math.isinf(self.best) else self.best, "cuts": self.cuts}

    def load_state_dict(self, state) -> None:
        checked = validate(_STATE, state, LRDSLError, "spike_guard: load_state_dict()")  # all or nothing
        self.best = math.inf if checked["best"] is None else checked["best"]
        self.cuts = checked["cuts"]


@built_schedule_node(
    stateful=True, checks={"threshold": Check(lambda v: v > 1, "> 1"), "factor": between(0, 1, high_open=True)}
)
def spike_guard(ctx, threshold: float = 2.0, factor: float = 0.5) -> Built:
    """Loss-spike guard: b · factor^n, n = the reports whose metric exceeded threshold × the best so far.

    - feed it with ``sched.report(loss)``; it never raises the learning rate again
    - threshold > 1: how far above the best loss a report must be to count as a spike
    - factor in [0, 1): the cut per spike
    - metric-driven: it must be the last phase (``warmup(5%) then spike_guard()``)
    """
    guard = SpikeGuard(ctx.base, threshold, factor)
    return Built(
        lambda xp, t: 0 * t + guard.value,
        scalar=lambda t: guard.value,
        label=f"spike_guard(threshold={threshold:g}, factor={factor:g})",
        states=(guard,),
        timeless=True,
    )
