"""What a schedule was compiled with besides its text: the base, the host's clock options and
its variables. A checkpoint saves them with the expression (:mod:`lrdsl.resume`), so a resume can
tell whether the schedule it is loaded into is the one that was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, List, Mapping, Optional, Tuple

from .clock import Clock
from .errors import LRDSLError
from .printer import number_text
from .schema import Invalid, Maybe, Number, Record, Schema, Text
from .variables import Value, saved, table


def whole(value: float):
    """``value`` as an int when it is a whole number below 1e9, for readable text (``80000``, not
    ``80000.0``); larger ones stay floats, which print shortest in scientific form (``9.9e10``)."""
    return int(value) if float(value).is_integer() and abs(value) < 1e9 else value


def duration_text(value: float, unit: str) -> str:
    """A duration as lrdsl writes it: ``10000it``, ``90ep``, ``3e11tok``."""
    return f"{number_text(whole(value))}{unit}"


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
    def of(cls, base: float, clock: Clock, variables: Mapping[str, Value]) -> CompileOptions:
        """The options a schedule was compiled with, read back from its clock; ``variables`` as
        :func:`lrdsl.variables.table` made them."""
        rates = clock.rates
        return cls(
            base=float(base),
            steps_per_epoch=rates["ep"][0] if "ep" in rates else None,
            total=duration_text(*clock.total) if clock.total else None,
            tokens_per_step=rates["tok"][1] if "tok" in rates else None,
            samples_per_step=rates["sp"][1] if "sp" in rates else None,
            variables=saved(variables),
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


class Variables(Schema):
    """A saved ``variables`` table: what :func:`lrdsl.variables.table` accepts (bounded plain data),
    as a checkpoint keeps it (lists)."""

    expected = "a table of names to numbers, booleans, strings or lists of them"

    def check(self, value, path):
        if not isinstance(value, Mapping):
            raise self.refuse(value, path)
        try:
            return saved(table(value))
        except LRDSLError as error:
            raise Invalid(path, f"is refused: {error}") from None


OPTIONS_SCHEMA = Record(
    {
        "base": Number(min=0),
        "steps_per_epoch": Maybe(Number(min=0)),
        "total": Maybe(Text()),
        "tokens_per_step": Maybe(Number(min=0)),
        "samples_per_step": Maybe(Number(min=0)),
        "variables": Variables(),
    }
)
"""The options as :meth:`CompileOptions.as_dict` saves them."""
