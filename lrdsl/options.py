"""What a schedule was compiled with besides its text: the base, the host's clock options and
its variables. A checkpoint saves them with the expression (:mod:`lrdsl.resume`), so a resume can
tell whether the schedule it is loaded into is the one that was saved.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass, field, fields
from typing import Any, List, Mapping, Optional, Tuple

import numpy as np

from .clock import Clock
from .printer import number_text
from .schema import Anything, MapOf, Maybe, Number, Record, Text


def whole(value: float):
    """``value`` as an int when it is a whole number below 1e9, for readable text (``80000``, not
    ``80000.0``); larger ones stay floats, which print shortest in scientific form (``9.9e10``)."""
    return int(value) if float(value).is_integer() and abs(value) < 1e9 else value


def duration_text(value: float, unit: str) -> str:
    """A duration as lrdsl writes it: ``10000it``, ``90ep``, ``3e11tok``."""
    return f"{number_text(whole(value))}{unit}"


def plain(value: Any) -> Any:
    """A variable's value as plain data (NumPy scalars as numbers, sequences as lists), so a state
    holding it goes through JSON."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, bytes)) or not isinstance(value, SequenceABC):
        return value
    return [plain(item) for item in value]


@dataclass(frozen=True, eq=True)
class CompileOptions:
    """The compile options of one schedule, normalised so equal options compare equal: the
    factors as floats, ``total`` as a duration text (``"10000it"``, ``"90ep"``)."""

    base: float = 1.0
    steps_per_epoch: Optional[float] = None
    total: Optional[str] = None
    tokens_per_step: Optional[float] = None
    samples_per_step: Optional[float] = None
    variables: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, base: float, clock: Clock, variables: Mapping[str, Any]) -> CompileOptions:
        """The options a schedule was compiled with, read back from its clock."""
        rates = clock.rates
        return cls(
            base=float(base),
            steps_per_epoch=rates["ep"][0] if "ep" in rates else None,
            total=duration_text(*clock.total) if clock.total else None,
            tokens_per_step=rates["tok"][1] if "tok" in rates else None,
            samples_per_step=rates["sp"][1] if "sp" in rates else None,
            variables={name: plain(value) for name, value in variables.items()},
        )

    def as_dict(self) -> dict:
        """Plain data for a checkpoint; also the keyword arguments of :func:`lrdsl.compile` that give
        these options back."""
        return {
            f.name: (dict(self.variables) if f.name == "variables" else getattr(self, f.name)) for f in fields(self)
        }

    def replaced(self, **changes) -> CompileOptions:
        """These options with some changed (``total=``, ...)."""
        return CompileOptions(**{**self.as_dict(), **changes})

    def changes(self, other: CompileOptions) -> List[Tuple[str, Any, Any]]:
        """``(name, mine, other's)`` for every option that differs."""
        return [
            (f.name, getattr(self, f.name), getattr(other, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]


OPTIONS_SCHEMA = Record(
    {
        "base": Number(min=0),
        "steps_per_epoch": Maybe(Number(min=0)),
        "total": Maybe(Text()),
        "tokens_per_step": Maybe(Number(min=0)),
        "samples_per_step": Maybe(Number(min=0)),
        "variables": MapOf(Text(), Anything()),
    }
)
"""The options as :meth:`CompileOptions.as_dict` saves them."""
