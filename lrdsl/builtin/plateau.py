"""The metric-driven ``plateau`` node: torch ReduceLROnPlateau, report by report.

Its value does not depend on time but on the metrics reported so far, so it is a stateful
node: :class:`PlateauState` sits in ``Curve.stateful`` and ``Schedule.report`` feeds it.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..authoring import Built, between, built_schedule_node, nonnegative, one_of
from ..errors import LRDSLError
from ..schema import MAX_COUNT, Int, Maybe, Number, OneOf, Record, validate
from .nodeutil import describe_call


class PlateauState:
    """Counts the reductions that reported metrics cause, with torch ReduceLROnPlateau's rules.

    A metric is *better* than the best so far when (mode, threshold_mode):
    min/rel ``m < best·(1 − threshold)``, min/abs ``m < best − threshold``,
    max/rel ``m > best·(1 + threshold)``, max/abs ``m > best + threshold``.
    Reports that are not better count as bad (none during cooldown); when more than
    ``patience`` bad reports accumulate, the value becomes ``max(value·factor, min)`` if that
    lowers it by more than ``eps``, and a cooldown of ``cooldown`` reports starts.
    """

    def __init__(
        self,
        base: float,
        factor: float,
        patience: int,
        threshold: float,
        threshold_mode: str,
        mode: str,
        cooldown: int,
        min_value: float,
        eps: float,
        label: str,
    ):
        self.base, self.factor, self.patience = base, factor, patience
        self.threshold, self.threshold_mode, self.mode = threshold, threshold_mode, mode
        self.cooldown, self.min_value, self.eps, self.label = cooldown, min_value, eps, label
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_reports = 0
        self.cooldown_left = 0
        self.reports = 0
        self.reductions = 0
        self.value = base

    def is_better(self, metric: float) -> bool:
        best, threshold = self.best, self.threshold
        if self.mode == "min":
            return metric < (best * (1 - threshold) if self.threshold_mode == "rel" else best - threshold)
        return metric > (best * (1 + threshold) if self.threshold_mode == "rel" else best + threshold)

    def reduced(self, value: float) -> float:
        """The value after one reduction (unchanged if the cut would be <= eps)."""
        new = max(value * self.factor, self.min_value)
        return new if value - new > self.eps else value

    def report(self, metric: float) -> None:
        """Take one metric (one torch ``scheduler.step(metric)``). The counts stop at
        :data:`~lrdsl.schema.MAX_COUNT`, the largest a state holds (only a crafted checkpoint gets there)."""
        self.reports = min(self.reports + 1, MAX_COUNT)
        if self.is_better(metric):
            self.best = metric
            self.bad_reports = 0
        else:
            self.bad_reports = min(self.bad_reports + 1, MAX_COUNT)
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_reports = 0
        if self.bad_reports > self.patience:
            new = self.reduced(self.value)
            if new != self.value:
                self.value = new
                self.reductions = min(self.reductions + 1, MAX_COUNT)
            self.cooldown_left = self.cooldown
            self.bad_reports = 0

    def state_dict(self) -> dict:
        """Counters and the current value (JSON-friendly: the best metric is None before the first report)."""
        return {
            "node": "plateau",
            "best": self.best if math.isfinite(self.best) else None,
            "bad_reports": self.bad_reports,
            "cooldown_left": self.cooldown_left,
            "reports": self.reports,
            "reductions": self.reductions,
            "value": self.value,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`: every field is checked before any is taken (O(1) in the counts)."""
        low = min(self.base, self.min_value)
        schema = Record(
            {
                "node": OneOf("plateau"),
                "best": Maybe(Number()),
                "bad_reports": Int(),
                "cooldown_left": Int(),
                "reports": Int(),
                "reductions": Int(),
                "value": Number(min=low, max=self.base),
            }
        )
        checked = validate(schema, state, LRDSLError, f"{self.label}: load_state_dict()")
        if (checked["reductions"] == 0) != (checked["value"] == self.base):
            raise LRDSLError(
                f"{self.label}: load_state_dict(): the state has {checked['reductions']} reductions "
                f"but the value {checked['value']!r} from base {self.base!r}; it is not a state of "
                "this schedule"
            )
        best = checked["best"]
        self.best = (math.inf if self.mode == "min" else -math.inf) if best is None else best
        self.bad_reports, self.cooldown_left = checked["bad_reports"], checked["cooldown_left"]
        self.reports, self.reductions, self.value = checked["reports"], checked["reductions"], checked["value"]


@built_schedule_node(
    stateful=True,
    checks={
        "factor": between(0, 1, high_open=True),
        "patience": nonnegative,
        "threshold": nonnegative,
        "threshold_mode": one_of("rel", "abs"),
        "mode": one_of("min", "max"),
        "cooldown": nonnegative,
        "min": nonnegative,
        "eps": nonnegative,
    },
)
def plateau(
    ctx,
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    mode: str = "min",
    cooldown: int = 0,
    min: float = 0.0,
    eps: float = 1e-8,
) -> Built:
    """Reduce on plateau: b · factor^k (never cut below ``min``), k = reductions caused by reported metrics.

    Feed it with ``sched.report(metric)`` once per evaluation. A report is bad unless the
    metric beats the best so far by ``threshold`` (relative: best·(1 ∓ threshold), or
    absolute: best ∓ threshold, for mode "min"/"max"); after more than ``patience``
    consecutive bad reports the value becomes max(value·factor, min), applied only if that
    lowers it by more than ``eps``; then ``cooldown`` reports are ignored.

    - factor in [0, 1); patience, cooldown: whole numbers >= 0; threshold, min, eps >= 0
    - mode "min" (lower is better) or "max"; threshold_mode "rel" or "abs"
    - state: ``sched.state_dict()`` holds the counters; a resumed schedule continues exactly
    - metric-driven, so it must be the last phase (its end value is not known in advance)
    - matches torch ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode,
      cooldown, min_lr=min, eps) report by report; timm PlateauLRScheduler defaults to
      mode "max": write ``plateau(mode="max")``
    """
    label = describe_call(
        "plateau",
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        mode=mode,
        cooldown=cooldown,
        min=min,
        eps=eps,
    )
    state = PlateauState(ctx.base, factor, patience, threshold, threshold_mode, mode, cooldown, min, eps, label)
    return Built(
        lambda xp, t: 0.0 * t + state.value, scalar=lambda t: state.value, label=label, states=(state,), timeless=True
    )
