"""Compiled expressions: a function of local time, once for floats and once for arrays.

A :class:`Curve` holds two closures built at compile time:

- ``at(t) -> float`` for the training loop (plain Python floats, no NumPy),
- ``over(t, xp) -> array`` for whole arrays in the array namespace ``xp`` (numpy, jax.numpy).

Parameters are folded into the closures, so evaluation does no lookups or dispatch.
"""

from __future__ import annotations

import bisect
import math
import operator
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from .errors import EvaluationError
from .exact import power
from .scalarmath import FORMS, SCALAR, SCALES
from .text import shorten


class Curve:
    """A compiled expression of local time ``t`` (in clock units)."""

    __slots__ = (
        "at",
        "over",
        "constant",
        "label",
        "parts",
        "starts",
        "phase_ats",
        "end",
        "stateful",
        "timeless",
        "settles",
        "scaled",
    )

    def __init__(
        self,
        at: Callable,
        over: Callable,
        label,
        constant: Optional[float] = None,
        parts: Tuple = (),
        stateful: Tuple = (),
        timeless: Optional[bool] = None,
        end: float = math.inf,
        settles: float = math.inf,
        scaled: Optional[Callable[[float], Callable]] = None,
        dispatch: Optional[Tuple[Tuple[float, ...], Tuple[Callable, ...]]] = None,
    ):
        self.at = at
        self.over = over
        self.label = label  # what it was compiled from: an AST node or a string, printed only for errors
        self.constant = constant  # the value, when it does not depend on time
        self.parts = parts  # (start, curve) per phase, for sequences
        # where ``at`` is a dispatch over phases (a sequence of several): their starts and evaluators,
        # so that a host may dispatch itself (bisect on the starts); None otherwise. Tuples: a cached
        # curve is shared by every schedule compiled from the same text, in every thread.
        self.starts: Optional[Tuple[float, ...]] = dispatch[0] if dispatch else None
        self.phase_ats: Tuple[Callable, ...] = dispatch[1] if dispatch else ()
        self.end = end  # where a sequence's last phase ends (its start plus its length)
        self.stateful = stateful  # objects with report(), state_dict(), load_state_dict()
        # whether the value never depends on time (a constant, or only on reported metrics)
        self.timeless = constant is not None if timeless is None else timeless
        self.settles = settles  # the value is the same at every time from this one on (inf: unknown)
        self.scaled = scaled  # c -> (t -> at(t) * c) as one function, where the node provides it

    def describe(self, limit: int = 80) -> str:
        """The source text of this curve, shortened to ``limit`` characters."""
        return shorten(str(self.label), limit)

    def locate(self, t: float) -> Tuple[int, float, Curve]:
        """(phase number from 1, local time, phase curve) at ``t``; (1, t, self) if not a sequence."""
        if not self.parts:
            return 1, t, self
        index = max(bisect.bisect_right([start for start, _ in self.parts], t) - 1, 0)
        start, curve = self.parts[index]
        return index + 1, t - start, curve


def folded(compute: Callable[[], float], label) -> Curve:
    """A constant computed at compile time; a value that cannot be a number is an error there."""
    try:
        value = float(compute())
    except (ArithmeticError, ValueError) as error:
        reason = "a number too large for a float" if isinstance(error, OverflowError) else error
        raise EvaluationError(f"{label} cannot be computed: {reason}") from None
    if not math.isfinite(value):
        raise EvaluationError(f"{label} is {value!r}, not a finite number")
    return constant(value, label)


def constant(value: float, label) -> Curve:
    """A value that does not change over time."""
    return Curve(lambda t: value, lambda t, xp: value, label, constant=value)


def of_time(scalar: Callable[[float], float], array: Callable, label) -> Curve:
    """A curve given directly as its two closures (identifiers such as ``it``, ``progress``)."""
    return Curve(scalar, array, label)


def node(evaluate: Callable, values: Sequence, label, settles: float = math.inf) -> Curve:
    """A schedule node's formula ``evaluate(xp, t, *values)`` with its parameters bound; floats go
    through the node's scalar form where it declares one (:func:`lrdsl.scalarmath.scalar_form`).
    ``settles``: the time from which its value no longer changes, where the node declares one."""
    args = tuple(values)
    over = lambda t, xp: evaluate(xp, t, *args)  # noqa: E731
    form: Optional[Callable] = FORMS.get(evaluate)
    if form is None:
        scalar = SCALAR
        return Curve(lambda t: evaluate(scalar, t, *args), over, label, settles=settles)
    declared: Callable = form
    scaled = (lambda c: declared(*args, scale=c)) if evaluate in SCALES else None
    return Curve(declared(*args), over, label, settles=settles, scaled=scaled)


_scalar_pow = math.pow  # never a complex number, unlike **


_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

# ``f(t) op c`` (or ``c op f(t)`` when ``left``) as one closure, the operator inline: the common
# shapes ``0.1 * cosine(...)`` and ``step(...) + 1e-5`` cost one call more than the node itself
_WITH_CONSTANT = {
    "+": lambda f, c, left: lambda t: f(t) + c,  # addition and multiplication commute exactly
    "*": lambda f, c, left: lambda t: f(t) * c,
    "-": lambda f, c, left: (lambda t: c - f(t)) if left else (lambda t: f(t) - c),
    "/": lambda f, c, left: (lambda t: c / f(t)) if left else (lambda t: f(t) / c),
    "**": lambda f, c, left: (lambda t: _scalar_pow(c, f(t))) if left else (lambda t: _scalar_pow(f(t), c)),
}
_OF_TWO = {  # ``f(t) op g(t)``
    "+": lambda f, g: lambda t: f(t) + g(t),
    "-": lambda f, g: lambda t: f(t) - g(t),
    "*": lambda f, g: lambda t: f(t) * g(t),
    "/": lambda f, g: lambda t: f(t) / g(t),
    "**": lambda f, g: lambda t: _scalar_pow(f(t), g(t)),
}


def binary(op: str, left: Curve, right: Curve, label) -> Curve:
    """``left op right`` pointwise, folded when both sides are constant."""
    scalar_op: Callable = _scalar_pow if op == "**" else _OPERATORS[op]
    array_op = operator.pow if op == "**" else _OPERATORS[op]
    if left.constant is not None and right.constant is not None:
        return folded(lambda: scalar_op(left.constant, right.constant), label)
    stateful = left.stateful + right.stateful
    f, g = left.at, right.at
    F, G = left.over, right.over
    timeless = left.timeless and right.timeless
    if right.constant is not None:
        c = right.constant
        return Curve(
            left.scaled(c) if op == "*" and left.scaled else _WITH_CONSTANT[op](f, c, False),
            lambda t, xp: array_op(F(t, xp), c),
            label,
            stateful=stateful,
            timeless=timeless,
            settles=left.settles,
        )
    if left.constant is not None:
        c = left.constant
        if op == "**" and c >= 0:  # 0.998 ** floor(it / 5): float32 keeps the float64 constant's digits
            over = lambda t, xp: power(xp, c, G(t, xp))  # noqa: E731
        else:
            over = lambda t, xp: array_op(c, G(t, xp))  # noqa: E731
        return Curve(
            right.scaled(c) if op == "*" and right.scaled else _WITH_CONSTANT[op](g, c, True),
            over,
            label,
            stateful=stateful,
            timeless=timeless,
            settles=right.settles,
        )
    return Curve(
        _OF_TWO[op](f, g),
        lambda t, xp: array_op(F(t, xp), G(t, xp)),
        label,
        stateful=stateful,
        timeless=timeless,
    )


def negate(operand: Curve, label) -> Curve:
    """``-operand``."""
    if operand.constant is not None:
        return constant(-operand.constant, label)
    f, F = operand.at, operand.over
    return Curve(lambda t: -f(t), lambda t, xp: -F(t, xp), label, stateful=operand.stateful, timeless=operand.timeless)


def function(evaluate: Callable, arguments: Sequence[Curve], label) -> Curve:
    """A pointwise function ``evaluate(xp, *values)`` of its argument curves."""
    stateful = tuple(s for a in arguments for s in a.stateful)
    if all(a.constant is not None for a in arguments):
        return folded(lambda: evaluate(SCALAR, *(a.constant for a in arguments)), label)
    scalars = tuple(a.at for a in arguments)
    arrays = tuple(a.over for a in arguments)
    scalar = SCALAR
    if len(scalars) == 1:
        (f,) = scalars
        at = lambda t: evaluate(scalar, f(t))  # noqa: E731
    elif len(scalars) == 2:
        f, g = scalars
        at = lambda t: evaluate(scalar, f(t), g(t))  # noqa: E731
    else:
        at = lambda t: evaluate(scalar, *[f(t) for f in scalars])  # noqa: E731
    return Curve(
        at,
        lambda t, xp: evaluate(xp, *(F(t, xp) for F in arrays)),
        label,
        stateful=stateful,
        timeless=all(a.timeless for a in arguments),
    )


def held(curve: Curve, length: float) -> Curve:
    """``curve`` on [0, length], holding its value at ``length`` afterwards."""
    if curve.constant is not None or math.isinf(length) or curve.settles <= length:
        return curve  # already the same value at every time from ``length`` on
    f, F = curve.at, curve.over
    return Curve(
        lambda t: f(t if t < length else length),
        lambda t, xp: F(xp.minimum(t, length), xp),
        curve.label,
        parts=curve.parts,
        stateful=curve.stateful,
        timeless=curve.timeless,
        end=curve.end,
    )


def sequence(phases: Sequence[Tuple[float, float, Curve]], label) -> Curve:
    """Phases ``(start, length, curve)`` one after another; each curve sees its local time.

    At a boundary the new phase applies (half-open intervals); the last phase holds its end
    value past its length.
    """
    last_start, last_length, last = phases[-1]
    last = held(last, last_length)
    parts = tuple((start, curve) for start, _, curve in phases[:-1]) + ((last_start, last),)
    stateful = tuple(s for _, curve in parts for s in curve.stateful)
    end = last_start + last_length
    if len(phases) == 1:
        return Curve(last.at, last.over, label, last.constant, parts, stateful, last.timeless, end)
    starts = tuple(start for start, _ in parts)
    scalars = tuple(curve.at for _, curve in parts)
    if len(parts) == 2:
        first, second, boundary = scalars[0], scalars[1], starts[1]
        at = lambda t: first(t) if t < boundary else second(t - boundary)  # noqa: E731
    else:

        def at(t):
            index = bisect.bisect_right(starts, t) - 1
            return scalars[index](t - starts[index])

    def over(t, xp):
        if xp is np:
            return _over_numpy(t, parts)
        out = last.over(xp.maximum(t - last_start, 0.0), xp)
        for start, length, curve in reversed(phases[:-1]):
            local = xp.clip(t - start, 0.0, length)
            out = xp.where(t < start + length, curve.over(local, xp), out)
        return out

    return Curve(at, over, label, parts=parts, stateful=stateful, end=end, dispatch=(starts, scalars))


def _over_numpy(t, parts) -> np.ndarray:
    """The NumPy evaluation of a sequence: each phase computes only the points that lie in it, and a
    phase no point lies in is not evaluated (its formula may fail where it is never asked)."""
    t = np.asarray(t)
    flat = t.reshape(-1)
    if flat.size < 2 or (flat[1:] >= flat[:-1]).all():
        return _over_sorted(flat, parts).reshape(t.shape)
    phase = np.searchsorted([start for start, _ in parts], flat, side="right")
    phase -= 1
    np.maximum(phase, 0, out=phase)
    out = np.empty_like(flat)
    for number, (start, curve) in enumerate(parts):
        chosen = phase == number
        if chosen.any():
            local = flat[chosen]
            out[chosen] = curve.over(local - start if start else local, np)
    return out.reshape(t.shape)


def _over_sorted(t: np.ndarray, parts) -> np.ndarray:
    """The NumPy evaluation of a sequence on sorted times: each phase computes only its slice."""
    out = np.empty_like(t)
    starts = [start for start, _ in parts]
    edges = [0, *np.searchsorted(t, starts[1:], side="left").tolist(), t.size]
    for (start, curve), low, high in zip(parts, edges, edges[1:]):
        if high > low:
            local = t[low:high] - start if start else t[low:high]
            out[low:high] = curve.over(local, np)
    return out
