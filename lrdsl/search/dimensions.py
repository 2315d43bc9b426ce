"""One distribution of a search template, as a dimension of the search space.

``uniform(lo, hi, step=None)``, ``loguniform(lo, hi)``, ``intuniform(lo, hi, step=1)`` and
``choice(a, b, ...)``. Bounds are numbers or durations of one unit (``uniform(1%, 10%)``); a
sampled value is written back in that unit. A dimension turns a value (given by a user, Optuna or
Ray Tune) into the literal that replaces its call in the template:

- ``uniform``: lo ≤ v ≤ hi, on the grid lo + k·step when ``step`` is given;
- ``loguniform``: 0 < lo ≤ v ≤ hi, sampled uniformly in log v;
- ``intuniform``: an integer lo ≤ v ≤ hi, on the grid lo + k·step;
- ``choice``: one of the options, given by its canonical text (or, for a number option, the number).

A continuous value (``uniform`` without ``step``, ``loguniform``) is written with 4 significant
digits, kept within the bounds: ``0.3772``, not ``0.37718136113035894``, so every trial's string
reads well; it is this string that the trial runs and records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Union

from .. import ast
from ..context import located
from ..errors import LRDSLError, TemplateError
from ..parser import parse
from ..printer import to_text
from ..text import describe, shorten
from ..vocabulary import DISTRIBUTIONS

Value = Union[int, float, str]
SIGNIFICANT = 4  # digits a continuous value is written with
TOLERANCE = 1e-9  # relative: a value this close to a bound or a grid point is on it
SIGNATURES = {
    "uniform": ("lo", "hi", "step"),
    "loguniform": ("lo", "hi"),
    "intuniform": ("lo", "hi", "step"),
}


@dataclass(frozen=True)
class Dimension:
    """One distribution of a template: its stable ``name`` (see :mod:`lrdsl.search.space`), ``kind``
    (the distribution's name), bounds ``low``/``high``/``step`` in ``unit`` (None: plain numbers),
    ``options`` (a choice's canonical texts) and ``parent``: ``(choice name, option index)`` when the
    dimension only exists in one option of a choice, else None."""

    name: str
    kind: str
    call: ast.Call = field(compare=False, repr=False)
    low: Optional[float] = None
    high: Optional[float] = None
    step: Optional[float] = None
    unit: Optional[str] = None
    integral: bool = False  # the values are written as ints (intuniform, or a step grid of ints)
    options: Tuple[str, ...] = ()
    parent: Optional[Tuple[str, int]] = None

    @property
    def where(self) -> str:
        """``uniform(1%, 10%) (line 1, column 8) [warmup.T]``, for messages."""
        return f"{shorten(to_text(self.call), 50)}{located(self.call)} [{self.name}]"

    def first(self) -> Value:
        """The value a check starts from: the low end, or the first option."""
        return self.options[0] if self.kind == "choice" else self._number(self.low)

    def alternatives(self) -> Tuple[Value, ...]:
        """The other values a check compiles: the high end, or every other option."""
        return self.options[1:] if self.kind == "choice" else (self._number(self.high),)

    def option_index(self, value) -> int:
        """The index of the option ``value`` names (its text, or the number of a number option)."""
        for index, option in enumerate(self.options):
            if _same_option(option, value):
                return index
        raise TemplateError(
            f"{self.where}: {describe(value)} is not one of its options; options: {', '.join(self.options)}"
        )

    def literal(self, value, snap: bool = False) -> ast.Expr:
        """The literal that replaces the call for a sampled ``value`` (checked against the bounds;
        with ``snap``, moved to the nearest grid point within them first, as Ray's q-distributions
        round to multiples of the step, not to lo + k·step)."""
        if self.kind == "choice":
            return self.call.args[self.option_index(value)]
        number = self._read(value)
        assert self.low is not None and self.high is not None  # a numeric dimension has bounds
        if snap:
            number = min(max(number, self.low), self.high)
            if self.step:
                number = self.low + round((number - self.low) / self.step) * self.step
        slack = TOLERANCE * max(abs(self.low), abs(self.high), 1.0)
        if not self.low - slack <= number <= self.high + slack:
            raise TemplateError(f"{self.where}: {value!r} is outside [{self.low:g}, {self.high:g}]")
        if self.step:
            steps = (number - self.low) / self.step
            if abs(steps - round(steps)) > 1e-6:
                raise TemplateError(
                    f"{self.where}: {value!r} is not on its grid lo + k·step ({self.low:g} + k·{self.step:g})"
                )
            number = self.low + round(steps) * self.step
        else:
            number = float(f"{number:.{SIGNIFICANT}g}")  # readable strings: 0.3772, not 0.37718136113035894
        number = min(max(number, self.low), self.high)
        shown = self._number(number)
        return ast.Number(shown) if self.unit is None else ast.Duration(shown, self.unit)

    def _number(self, value):
        return round(value) if self.integral else float(value)

    def _read(self, value) -> float:
        if isinstance(value, str) and self.unit is not None:
            try:
                node: Optional[ast.Expr] = parse(value)
            except LRDSLError:
                node = None
            if isinstance(node, ast.Duration) and node.unit == self.unit:
                return float(node.value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            unit = f" (in {self.unit}, or a duration such as '5{self.unit}')" if self.unit else ""
            raise TemplateError(f"{self.where}: expected a finite number{unit}, got {describe(value)}")
        if self.integral and float(value) != round(value):
            raise TemplateError(f"{self.where}: expected an integer, got {value!r}")
        return float(value)


def _same_option(option: str, value) -> bool:
    if isinstance(value, str):
        try:
            return value == option or to_text(parse(value)) == option
        except LRDSLError:
            return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        node = parse(option)
        return isinstance(node, ast.Number) and node.value == value
    return False


# -- reading a distribution call ----------------------------------------------------------------------


def dimension(call: ast.Call, name: str, parent: Optional[Tuple[str, int]], duration: bool) -> Dimension:
    """The dimension of the distribution ``call``, its bounds checked (TemplateError with the position);
    ``duration``: it stands where a duration is expected (after ``for``, a duration parameter)."""
    where = f"{call.name}(){located(call)} [{name}]"
    if call.name == "choice":
        if call.kwargs or len(call.args) < 2:
            raise TemplateError(f"{where}: a choice takes two or more options, by position: choice(a, b, ...)")
        options = tuple(to_text(option) for option in call.args)
        repeated = sorted({option for option in options if options.count(option) > 1})
        if repeated:
            raise TemplateError(f"{where}: option {repeated[0]} is given more than once")
        for number, option in enumerate(call.args, start=1):
            if duration and not _is_length(option):
                raise TemplateError(
                    f"{where}: a duration (500, 500it, 5ep or 10%) is expected here, but option {number} is "
                    f"{shorten(to_text(option), 40)}"
                )
        return Dimension(name, "choice", call, options=options, parent=parent)
    bound = _bind(call, where)
    if "lo" not in bound or "hi" not in bound:
        raise TemplateError(f"{where}: expects {call.name}({', '.join(SIGNATURES[call.name][:2])}, ...)")
    (low, unit), (high, high_unit) = _bound(bound["lo"], where, "lo"), _bound(bound["hi"], where, "hi")
    if unit != high_unit:
        raise TemplateError(f"{where}: lo and hi must be in the same unit, got {_unit(unit)} and {_unit(high_unit)}")
    if unit is not None and not duration:
        raise TemplateError(
            f"{where}: bounds in {unit} give durations, and a duration is only allowed where a length is "
            "expected (after 'for', or a duration parameter such as warmup's T); write plain numbers"
        )
    if not low < high:
        raise TemplateError(f"{where}: lo must be below hi, got lo={low:g} and hi={high:g}")
    if call.name == "loguniform" and not low > 0:
        raise TemplateError(f"{where}: lo must be > 0 for a log-uniform distribution, got {low:g}")
    step, step_unit = _bound(bound["step"], where, "step") if "step" in bound else (None, None)
    if step_unit not in (None, unit):
        raise TemplateError(f"{where}: step must be in the bounds' unit ({_unit(unit)}), got {_unit(step_unit)}")
    if step is None and call.name == "intuniform":
        step = 1
    if step is not None and not step > 0:
        raise TemplateError(f"{where}: step must be > 0, got {step:g}")
    integral = all(isinstance(v, int) for v in (low, high, step)) if step is not None else False
    if call.name == "intuniform" and not integral:
        raise TemplateError(f"{where}: lo, hi and step must be whole numbers, got {low!r}, {high!r}, {step!r}")
    if step is not None and abs((high - low) / step - round((high - low) / step)) > 1e-6:
        raise TemplateError(f"{where}: hi - lo ({high - low:g}) must be a whole number of steps of {step:g}")
    return Dimension(name, call.name, call, float(low), float(high), step, unit, integral, parent=parent)


def _is_length(node: ast.Expr) -> bool:
    """A literal a duration position takes: a number, a duration, or a distribution of them."""
    return isinstance(node, (ast.Number, ast.Duration)) or (isinstance(node, ast.Call) and node.name in DISTRIBUTIONS)


def _bind(call: ast.Call, where: str) -> Dict[str, ast.Expr]:
    names = SIGNATURES[call.name]
    if len(call.args) > len(names):
        raise TemplateError(f"{where}: takes at most {len(names)} arguments: {call.name}({', '.join(names)})")
    bound = dict(zip(names, call.args))
    for key, value in call.kwargs:
        if key not in names or key in bound:
            raise TemplateError(f"{where}: unexpected argument {key!r}; arguments: {call.name}({', '.join(names)})")
        bound[key] = value
    return bound


def _bound(node: ast.Expr, where: str, what: str):
    """``(value, unit)`` of a bound: a number (unit None) or a duration."""
    if isinstance(node, ast.Number):
        return node.value, None
    if isinstance(node, ast.Duration):
        return node.value, node.unit
    raise TemplateError(
        f"{where}: {what} must be a number or a duration (500it, 5ep, 10%) written out, "
        f"not {shorten(to_text(node), 40)}"
    )


def _unit(unit: Optional[str]) -> str:
    return "a plain number" if unit is None else f"'{unit}'"
