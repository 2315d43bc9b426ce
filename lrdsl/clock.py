"""Time units (docs/language.md §4): which counter a schedule runs on, and converting durations to it.

A schedule counts time in one unit, its clock: iterations (optimizer updates, ``it``), epochs
(``ep``), tokens (``tok``) or samples (``sp``). A schedule that mentions only one of epochs,
tokens or samples -- in its durations, its identifiers or its ``total`` -- runs on that unit
when the host gave no factor to convert it to iterations; otherwise it runs on iterations,
and the other units are converted with the factors the host gave: ``steps_per_epoch``
(iterations per epoch), ``tokens_per_step`` and ``samples_per_step`` (per iteration). Every
duration is turned into clock units at compile time, so evaluation is plain arithmetic.

A token or sample clock is read from the host's cumulative count (``sched(tokens=n)``), so
the schedule stays continuous when the batch size changes during the run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, Mapping, Optional, Tuple

from . import ast
from .errors import LRDSLError, UnitError
from .parser import parse
from .text import describe, shorten
from .updates import AUTO, AUTO_ROUTES
from .vocabulary import UNIT_WORDS

FACTORS = {"ep": "steps_per_epoch", "tok": "tokens_per_step", "sp": "samples_per_step"}
"""The host's option that converts each unit to iterations."""

Ratio = Tuple[float, float]  # (num, den): one unit is num / den of another


@dataclass(frozen=True)
class Clock:
    """The clock of one schedule: its unit, how each unit converts to iterations, and ``total``."""

    unit: str  # "it", "ep", "tok" or "sp"
    rates: Mapping[str, Ratio] = field(default_factory=dict)  # unit -> (num, den): one unit is num/den iterations
    total: Optional[Tuple[float, str]] = None  # (value, unit) as the host gave it

    @property
    def steps_per_epoch(self) -> Optional[float]:
        return self.rates["ep"][0] if "ep" in self.rates else None

    def ratio(self, unit: str) -> Optional[Ratio]:
        """Clock units per one ``unit``, as (num, den); None if the host gave no factor for it."""
        if unit == self.unit:
            return (1.0, 1.0)
        if unit not in self.rates or self.unit not in self.rates:
            return None
        (n_unit, d_unit), (n_clock, d_clock) = self.rates[unit], self.rates[self.unit]
        return (n_unit * d_clock, d_unit * n_clock)

    def convert(self, value: float, unit: str, what: str) -> float:
        """``value`` in ``unit`` ("it", "ep", "tok", "sp" or "%") expressed in clock units."""
        if unit == "%":
            if self.total is None:
                raise UnitError(
                    f"{what}: {value:g}% needs the training length; pass total= "
                    "(iterations, or a duration such as '90ep' or '3e11tok')"
                )
            amount, unit = self.total
            value = amount * value / 100
        ratio = self.ratio(unit)
        if ratio is None:
            missing = FACTORS.get(unit if unit not in self.rates else self.unit, "steps_per_epoch")
            raise UnitError(
                f"{what}: {value:g} {UNIT_WORDS[unit]} cannot be measured on this schedule's "
                f"{UNIT_WORDS[self.unit]} clock; pass {missing}= (or write the duration in {UNIT_WORDS[self.unit]})"
            )
        return float(value * ratio[0] / ratio[1])


def _units(nodes: Iterable[ast.Expr], total_unit: Optional[str]) -> set:
    """Units mentioned anywhere in the trees (durations and the identifiers it/ep/tok/sp)."""
    found = set()
    for node in (node for tree in nodes for node in ast.walk(tree)):
        if isinstance(node, ast.Duration):
            found.add(total_unit if node.unit == "%" else node.unit)
        elif isinstance(node, ast.Name) and node.name in UNIT_WORDS:
            found.add(node.name)
    found.discard(None)
    return found


def parse_total(total) -> Optional[Tuple[float, str]]:
    """``total`` as (value, unit): an int/float of iterations, or a string such as '90ep' or '3e11tok'."""
    if total is None:
        return None
    if isinstance(total, str) and total == AUTO:
        raise LRDSLError(AUTO_ROUTES)
    if isinstance(total, str):
        try:
            node = parse(total)
        except LRDSLError as error:
            raise LRDSLError(f"total={total[:40]!r}: {error}") from None
        if isinstance(node, ast.Number):
            value, unit = node.value, "it"
        elif isinstance(node, ast.Duration) and node.unit != "%":
            value, unit = node.value, node.unit
        else:
            raise LRDSLError(
                f"total={total!r:.40}: expected a training length such as 10000, '10000it', '90ep' or '3e11tok'"
            )
    elif real(total) is not None:
        value, unit = total, "it"
    else:
        raise LRDSLError(f"total={shown(total)}: expected a number of iterations or a string such as '90ep'")
    length = real(value)
    if length is None or not (0 < length < math.inf):
        raise LRDSLError(f"total={shown(total)}: the training length must be positive and finite")
    return length, unit


def _factor(name: str, value) -> float:
    number = real(value)
    if number is None or not 0 < number < math.inf:
        raise LRDSLError(f"{name}={shown(value)}: expected a positive number")
    return number


def real(value) -> Optional[float]:
    """A host's option (``base``, ``total``, a factor) as a float: None unless it is an int or a float
    (not a bool); an int too large for a float is ``inf``, which every range check refuses."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf
    except Exception:  # an int or float subclass whose __float__ fails: not a number to use
        return None


def shown(value) -> str:
    """A host's option for a message: the repr of a string or a number cut to 40 characters; anything
    else (an int of thousands of digits, which repr refuses; a container, whose repr may fail or
    never end) described within bounds."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return describe(value)
    if type(value) in (str, int, float, bool):
        return shorten(repr(value), 40)
    return describe(value)


def make_clock(
    trees: Iterable[ast.Expr], steps_per_epoch=None, total=None, tokens_per_step=None, samples_per_step=None
) -> Clock:
    """The clock for a schedule whose text (and variables) are ``trees``, with the host's factors."""
    given = {"ep": steps_per_epoch, "tok": tokens_per_step, "sp": samples_per_step}
    rates: Dict[str, Ratio] = {"it": (1.0, 1.0)}
    for unit, value in given.items():
        if value is not None:
            factor = _factor(FACTORS[unit], value)
            rates[unit] = (factor, 1.0) if unit == "ep" else (1.0, factor)  # an epoch is spe iterations
    parsed_total = parse_total(total)
    units = _units(trees, parsed_total[1] if parsed_total else None)
    if parsed_total is not None:
        units.add(parsed_total[1])  # total="90ep" makes a unitless schedule run on epochs
    (only,) = units if len(units) == 1 else (None,)
    unit = only if only is not None and only != "it" and only not in rates else "it"
    return Clock(unit, rates, parsed_total)
