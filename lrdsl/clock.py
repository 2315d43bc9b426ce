"""Time units (docs/language.md §4): which counter a schedule runs on, and converting durations to it.

A schedule has one clock unit. It counts epochs when it mentions only epochs (``5ep``, ``ep``)
and the host gave no ``steps_per_epoch``; otherwise it counts iterations, and epoch durations
are converted with ``steps_per_epoch``. Every duration is turned into the clock unit at
compile time, so evaluation is plain arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

from . import ast
from .errors import LRDSLError, UnitError
from .parser import parse
from .vocabulary import UNIT_WORDS


@dataclass(frozen=True)
class Clock:
    unit: str  # "it" or "ep"
    steps_per_epoch: Optional[float]
    total: Optional[Tuple[float, str]]  # (value, unit) as the host gave it

    def convert(self, value: float, unit: str, what: str) -> float:
        """``value`` in ``unit`` ("it", "ep" or "%") expressed in clock units."""
        if unit == "%":
            if self.total is None:
                raise UnitError(
                    f"{what}: {value:g}% needs the training length; pass total= "
                    "(iterations, or a duration such as '90ep')"
                )
            amount, unit = self.total
            value = amount * value / 100
        if unit == self.unit:
            return float(value)
        if self.steps_per_epoch is None:
            raise UnitError(
                f"{what}: {value:g} {UNIT_WORDS[unit]} cannot be measured on this schedule's "
                f"{UNIT_WORDS[self.unit]} clock; pass steps_per_epoch= (or write the duration "
                f"in {UNIT_WORDS[self.unit]})"
            )
        return float(value * self.steps_per_epoch if unit == "ep" else value / self.steps_per_epoch)

    def scale(self, counter: str) -> Optional[float]:
        """Clock units per unit of ``counter`` ("it" or "ep"); None if it cannot be converted."""
        if counter == self.unit:
            return 1.0
        if self.steps_per_epoch is None:
            return None
        return 1.0 / self.steps_per_epoch if counter == "it" else float(self.steps_per_epoch)


def _units(nodes: Iterable[ast.Expr], total_unit: Optional[str]) -> set:
    """Units mentioned anywhere in the trees (durations and the identifiers it/ep)."""
    found = set()
    for node in (node for tree in nodes for node in ast.walk(tree)):
        if isinstance(node, ast.Duration):
            found.add(total_unit if node.unit == "%" else node.unit)
        elif isinstance(node, ast.Name) and node.name in UNIT_WORDS:
            found.add(node.name)
    found.discard(None)
    return found


def parse_total(total) -> Optional[Tuple[float, str]]:
    """``total`` as (value, unit): an int/float of iterations, or a string such as '90ep' or '5000'."""
    if total is None:
        return None
    if isinstance(total, str):
        node = parse(total)
        if isinstance(node, ast.Number):
            value, unit = node.value, "it"
        elif isinstance(node, ast.Duration) and node.unit != "%":
            value, unit = node.value, node.unit
        else:
            raise LRDSLError(f"total={total!r:.40}: expected a training length such as 10000, '10000it' or '90ep'")
    elif isinstance(total, (int, float)) and not isinstance(total, bool):
        value, unit = total, "it"
    else:
        raise LRDSLError(f"total={total!r:.40}: expected a number of iterations or a string such as '90ep'")
    try:
        value = float(value)
    except OverflowError:
        value = math.inf
    if not (0 < value < math.inf):
        raise LRDSLError(f"total={total!r:.40}: the training length must be positive and finite")
    return value, unit


def make_clock(trees: Iterable[ast.Expr], steps_per_epoch=None, total=None) -> Clock:
    """The clock for a schedule whose text (and variables) are ``trees``."""
    if steps_per_epoch is not None:
        if (
            isinstance(steps_per_epoch, bool)
            or not isinstance(steps_per_epoch, (int, float))
            or not 0 < steps_per_epoch < math.inf
        ):
            raise LRDSLError(f"steps_per_epoch={steps_per_epoch!r}: expected a positive number")
        steps_per_epoch = float(steps_per_epoch)
    parsed_total = parse_total(total)
    units = _units(trees, parsed_total[1] if parsed_total else None)
    if parsed_total is not None:
        units.add(parsed_total[1])  # total="90ep" makes a unitless schedule run on epochs
    by_epochs = steps_per_epoch is None and units == {"ep"}
    return Clock("ep" if by_epochs else "it", steps_per_epoch, parsed_total)
