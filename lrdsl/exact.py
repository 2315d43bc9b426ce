"""Time arithmetic that is exact on every backend: floors, fractions and period starts.

A node formula runs as plain floats (``sched(i)``), NumPy arrays (``values()``) and traced
JAX or Keras tensors, in float64 or float32. Compiled backends do not divide the way Python
does: XLA turns ``t / s`` into ``t * (1/s)``, so ``floor(49 / 49)`` can be 0 and
``min(t, T) / T`` can miss 1 by an ulp; a float32 tolerance written for float64 vanishes.
The helpers here decide *which* step, period or phase applies with comparisons of exact
products instead, so a boundary at an integer counter lands on the same iteration everywhere:

- :func:`floor_div`, :func:`ceil_div`: ``floor(t / s)``, ``ceil(t / s)``, corrected so that
  ``k·s <= t < (k+1)·s`` holds in the array's own arithmetic;
- :func:`fraction` and :func:`remaining`: ``min(t, T) / T`` and ``1`` minus it, in [0, 1],
  exactly 1 and 0 from ``t = T`` on (so a node with a horizon holds exactly its end value past
  it, and ``remaining ** p`` is never NaN), each computed without cancellation;
- :func:`linear_between`, :func:`cosine_between`, :func:`poly_between`: a straight line, a half
  cosine or a polynomial from one value to another over a horizon, convex combinations precise
  near both ends;
- :func:`power`, :func:`one_minus_power`: a constant raised to a growing power, without
  float32's error in the constant, and one minus it without cancellation;
- :func:`periods`: the period containing ``t`` when period k lasts ``length · mult^k``, from a
  table of period starts computed once in float64 (exact for integer lengths and multipliers).

Each takes the array namespace ``xp`` first, like a node formula, and is part of the
authoring API (:mod:`lrdsl.authoring`) for plugin nodes. For the scalar forms of the built-in
nodes (:func:`lrdsl.scalarmath.scalar_form`), :func:`linear_at`, :func:`cosine_at` and
:meth:`Periods.scalar_locate` are the same arithmetic on one float with the constants bound.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from typing import Any, Callable, List, NamedTuple, Optional, Tuple

import numpy as np

from .scalarmath import SCALAR

_TABLE_PERIODS = 4096  # period starts tabulated; later ones come from the closed form
_EXACT_LIMIT = 2.0**53  # beyond this a float64 no longer holds every integer


def _direct(xp) -> bool:
    """Whether ``xp`` computes in float64 and divides correctly rounded (Python floats, NumPy).

    These take the direct formulas: ``t / T`` is exactly 1 at ``t = T`` and ``floor(49/49)``
    is 1. Compiled and float32 backends (``jax.numpy``, Keras ops) take the guarded forms.
    """
    return xp is SCALAR or xp is np


def floor_div(xp, t, s):
    """``floor(t / s)`` for ``s > 0``, exact whenever ``t`` and ``s`` are integers (any backend).

    On a compiled backend the quotient's floor is corrected by one where rounding put it on
    the wrong side: the result ``k`` satisfies ``k·s <= t < (k+1)·s`` as the backend computes
    the products. Python floats and NumPy divide exactly (``//``, ``floor_divide``).
    """
    if xp is SCALAR:
        return t // s
    if xp is np:
        return np.floor_divide(t, s)
    k = xp.floor(t / s)
    k = xp.where((k + 1) * s <= t, k + 1, k)
    return xp.where(k * s > t, k - 1, k)


def ceil_div(xp, t, s):
    """``ceil(t / s)`` for ``s > 0``, exact whenever ``t`` and ``s`` are integers (any backend)."""
    return -floor_div(xp, -t, s)


def fraction(xp, t, T):
    """``min(t, T) / T`` for ``t >= 0``, ``T > 0``: in [0, 1], and exactly 1 from ``t = T`` on."""
    if xp is SCALAR:
        return t / T if t < T else 1.0
    if xp is np:
        done = t / T
        return np.minimum(done, 1.0, out=done) if type(done) is np.ndarray else np.minimum(done, 1.0)
    return xp.where(t < T, xp.minimum(t / T, 1.0), 1.0)


def remaining(xp, t, T):
    """``1 − fraction(t, T)``, computed as ``(T − t) / T``: exactly 1 at ``t = 0`` and 0 from
    ``t = T`` on, with full relative precision near ``T`` (where ``1 − t/T`` would cancel: a
    float32 value near the end of a decay keeps its digits)."""
    if xp is SCALAR:
        return (T - t) / T if t < T else 0.0
    if xp is np:
        return np.maximum((T - t) / T, 0.0)
    return xp.where(t <= 0, 1.0, xp.where(t < T, xp.maximum((T - t) / T, 0.0), 0.0))


def linear_between(xp, start, end, t, T):
    """A straight line from ``start`` at ``t = 0`` to ``end`` at ``t = T``, then ``end``.

    ``start·(1 − f) + end·f`` with ``f = fraction(t, T)``: a convex combination (never below
    both ends by rounding); on float32 and compiled backends ``1 − f`` is :func:`remaining`,
    so a small value near either end keeps its digits.
    """
    done = fraction(xp, t, T)
    left = 1 - done if _direct(xp) else remaining(xp, t, T)
    return start * left + end * done


def poly_between(xp, start, end, t, T, power: float):
    """A polynomial from ``start`` at ``t = 0`` to ``end`` at ``t = T``, then ``end``.

    ``start·c + end·(1 − c)`` with ``c = (1 − f)^power``, ``f = fraction(t, T)``: a convex
    combination, exactly ``end`` from ``T`` on. On float32 and compiled backends ``1 − c`` is
    ``−expm1(power·log1p(−f))``, so a value rising from a small ``start`` keeps its digits.
    """
    if power == 0:  # (1 − f)^0 = 1: start throughout, as torch's PolynomialLR with power 0
        return start + 0 * t
    c = remaining(xp, t, T) ** power
    if _direct(xp):
        return start * c + end * (1 - c)
    done = fraction(xp, t, T)
    rest = xp.where(done < 1, -xp.expm1(power * xp.log1p(-xp.minimum(done, 0.5))), 1.0)
    rest = xp.where(done <= 0.5, rest, 1 - c)  # past the middle, c is small and 1 − c cancels no digit
    return start * c + end * rest


def cosine_between(xp, start, end, t, T):
    """A half cosine from ``start`` at ``t = 0`` to ``end`` at ``t = T``, then ``end``.

    ``start·w + end·(1 − w)`` with ``w = (1 + cos(π·f))/2``, ``f = fraction(t, T)``: a convex
    combination, exactly ``end`` from ``T`` on. On float32 and compiled backends the smaller
    weight is ``sin²(π/2·min(f, 1 − f))``, with ``1 − f`` from :func:`remaining`, and the
    larger one 1 minus it, so a value near either end keeps its digits (one sine per point).
    """
    if xp is SCALAR:  # fraction(SCALAR, t, T) inline: the common case of sched(i)
        weight = (1 + math.cos(math.pi * (t / T if t < T else 1.0))) / 2
        return start * weight + end * (1 - weight)
    done = fraction(xp, t, T)
    if xp is np and type(done) is np.ndarray:  # fraction made it: the same operations, in place
        half: np.ndarray = done
        half *= np.pi
        np.cos(half, out=half)
        half += 1
        half /= 2
        return start * half + end * (1 - half)
    if _direct(xp):
        half = (1 + xp.cos(xp.pi * done)) / 2
        return start * half + end * (1 - half)
    small = xp.sin(xp.pi / 2 * xp.minimum(done, remaining(xp, t, T))) ** 2
    first_half = done <= 0.5
    return start * xp.where(first_half, 1 - small, small) + end * xp.where(first_half, small, 1 - small)


def linear_at(start: float, end: float, T: float, scale: Optional[float] = None) -> Callable[[float], float]:
    """:func:`linear_between` ``(SCALAR, start, end, t, T)`` as a function of the float ``t`` alone,
    its constants bound: the same arithmetic, for the scalar forms of nodes; times ``scale`` when
    given (``0.1 * warmup(...)`` in one call)."""
    final = start * (1 - 1.0) + end * 1.0
    if scale is None:

        def at(t: float) -> float:
            if t < T:
                done = t / T
                return start * (1 - done) + end * done
            return final

        return at
    final_scaled = final * scale

    def scaled(t: float) -> float:
        if t < T:
            done = t / T
            return (start * (1 - done) + end * done) * scale
        return final_scaled

    return scaled


def cosine_at(start: float, end: float, T: float, scale: Optional[float] = None) -> Callable[[float], float]:
    """:func:`cosine_between` ``(SCALAR, start, end, t, T)`` as a function of the float ``t`` alone,
    its constants bound: the same arithmetic, for the scalar forms of nodes; times ``scale`` when
    given (``0.5 * cosine(...)`` in one call)."""
    pi, cos = math.pi, math.cos
    half = (1 + cos(pi * 1.0)) / 2
    final = start * half + end * (1 - half)
    if scale is None:

        def at(t: float) -> float:
            if t < T:
                half = (1 + cos(pi * (t / T))) / 2
                return start * half + end * (1 - half)
            return final

        return at
    final_scaled = final * scale

    def scaled(t: float) -> float:
        if t < T:
            half = (1 + cos(pi * (t / T))) / 2
            return (start * half + end * (1 - half)) * scale
        return final_scaled

    return scaled


def one_minus_power(xp, base: float, exponent):
    """``1 − base ** exponent`` for a constant ``base >= 0``, as ``−expm1(exponent · log(base))``: no
    cancellation where the power is near 1 (small exponents, or a base near 1)."""
    if base == 0:
        return xp.where(exponent == 0, 0.0, 1.0)
    return -xp.expm1(exponent * math.log(base))


def power(xp, base: float, exponent):
    """``base ** exponent`` for a constant ``base >= 0``.

    Float32 and compiled backends take ``exp(exponent · log(base))`` with the logarithm taken
    in float64 on the host: raising the float32 rounding of ``base`` to a large power would
    multiply its error (``0.999`` is off by 1.3e-8 in float32, ``0.999 ** 2000`` then by 2.6e-5).
    """
    if _direct(xp):
        return base**exponent
    if base == 0:
        return xp.where(exponent == 0, 1.0, 0.0)
    return xp.exp(exponent * math.log(base))


def to_clock(xp, points, num: float, den: float):
    """``points · num / den`` (a counter in clock units), snapped to the nearest integer when within
    4 ulps of it.

    ``sched(epoch=i / spe)`` then lands on iteration ``i`` even though ``i / spe`` was rounded
    (``0.57 · 100`` is 56.99999999999999 in float64); the same for tokens and samples.
    """
    t = points * num / den
    nearest = xp.floor(t + 0.5)
    return xp.where(xp.abs(t - nearest) <= 4 * _ulp(xp, t), nearest, t)


def _ulp(xp, t):
    """The spacing of floats at ``t`` in the dtype of ``t`` (float64 for Python floats)."""
    eps = np.finfo(getattr(t, "dtype", np.float64)).eps
    return float(eps) * xp.maximum(xp.abs(t), 1.0)


@functools.lru_cache(maxsize=256)
def periods(length: float, mult: float, count: float) -> Periods:
    """The :class:`Periods` of ``count`` periods (``inf`` allowed), period k lasting ``length · mult^k``.

    Cached: a formula may call it on every evaluation.
    """
    return Periods(length, mult, count)


class Period(NamedTuple):
    """Where a time falls among :class:`Periods` (floats, or arrays of them)."""

    k: Any  # the period's index (a whole number)
    tau: Any  # the time into the period, in [0, span]
    span: Any  # the period's length, length · mult^k
    stretch: Any  # mult^k: period k runs at 1/stretch of the first one's pace


class Periods:
    """Periods of geometrically growing (or shrinking) length: period k lasts ``length · mult^k``.

    Period k starts at ``S_k = length · (mult^k − 1) / (mult − 1)`` (``k · length`` when mult
    is 1). The starts of the first periods are tabulated at construction by summing the
    lengths in float64, which is exact for integer lengths and multipliers (torch's
    ``T_0``/``T_mult``); :meth:`locate` looks ``t`` up in that table (``bisect`` for floats,
    ``searchsorted`` for arrays), so a restart at an integer iteration is exact in float32
    and float64 alike. Periods beyond the table (only when ``mult`` is within 1% of 1 or
    below 1, after 4096 periods) come from the closed form.
    """

    def __init__(self, length: float, mult: float, count: float):
        self.length, self.mult, self.count = float(length), float(mult), count
        starts: List[float] = [0.0]
        stretches: List[float] = []
        if mult != 1:
            while len(stretches) < min(count, _TABLE_PERIODS) and starts[-1] < _EXACT_LIMIT:
                stretches.append(self.mult ** len(stretches))
                starts.append(starts[-1] + self.length * stretches[-1])
        self.starts, self.stretches = starts, stretches
        self.spans = [self.length * stretch for stretch in stretches]
        self.tabulated = len(stretches)  # periods 0 .. tabulated-1 come from the table
        self.end = starts[-1] if self.tabulated == count else self._last_end()
        self._arrays = (np.asarray(starts), np.asarray(self.spans), np.asarray(stretches))

    def _last_end(self) -> float:
        """When the last of ``count`` periods ends (inf for infinitely many, or past float range)."""
        try:
            return self._closed_start(SCALAR, self.count) if math.isfinite(self.count) else math.inf
        except OverflowError:
            return math.inf

    def locate(self, xp, t) -> Period:
        """The :class:`Period` containing ``t``.

        Periods are half-open (at a period's start the new period applies). After the last
        of ``count`` periods time stops at its end: ``k = count − 1`` and ``tau = span``.
        ``k`` is a float (or float array).
        """
        if self.end < math.inf or xp is not np:
            t = xp.minimum(t, self.end)
        if self.mult == 1:
            k = xp.minimum(floor_div(xp, t, self.length), self.count - 1)
            return Period(k, t - k * self.length, self.length, 1.0)
        if xp is SCALAR:
            return self._locate_scalar(t)
        return self._locate_array(xp, t)

    def _locate_scalar(self, t: float):
        if self.tabulated < self.count and t >= self.starts[-1]:
            return self._closed(SCALAR, t)
        k = min(bisect.bisect_right(self.starts, t) - 1, self.tabulated - 1)
        span = self.spans[k]
        return Period(float(k), min(t - self.starts[k], span), span, self.stretches[k])

    def scalar_locate(self) -> Callable[[float], Tuple[float, float, float, float]]:
        """``locate(SCALAR, t)`` as a function of the float ``t`` alone, the table bound: the same
        period (``bisect`` on the tabulated starts), without the dispatch of each call."""
        end, count = self.end, self.count
        if self.mult == 1:
            length = self.length

            def uniform(t: float):
                if t > end:
                    t = end
                k = t // length
                if k > last:
                    k = last
                return k, t - k * length, length, 1.0

            last = count - 1

            return uniform
        starts, spans, stretches, last = self.starts, self.spans, self.stretches, self.tabulated - 1
        closed = self._closed
        table_end = starts[-1] if self.tabulated < count else math.inf  # where the closed form takes over
        find = bisect.bisect_right

        def tabulated(t: float):
            if t > end:
                t = end
            if t >= table_end:
                return closed(SCALAR, t)
            k = find(starts, t) - 1
            if k > last:
                k = last
            span = spans[k]
            tau = t - starts[k]
            return float(k), tau if tau < span else span, span, stretches[k]

        return tabulated

    def sorted_pieces(self, t) -> Optional[List[Tuple[int, int, int]]]:
        """``[(k, low, high), ...]``: the periods ``k`` that the points of ``t`` lie in, each with its
        points ``t[low:high]``, when ``t`` is a sorted 1-D NumPy array within the table of starts
        (so a formula can work period by period on slices); else None."""
        if type(t) is not np.ndarray or t.ndim != 1 or not t.size or self.mult == 1:
            return None
        if not t[-1] < self.starts[-1] or (t.size > 1 and not (t[1:] >= t[:-1]).all()):
            return None
        edges = [0, *np.searchsorted(t, self._arrays[0][1 : self.tabulated], side="left").tolist(), t.size]
        return [(k, low, high) for k, (low, high) in enumerate(itertools.pairwise(edges)) if high > low]

    def _locate_array(self, xp, t):
        if xp is np:
            return self._locate_numpy(t)
        index = xp.clip(xp.searchsorted(xp.asarray(self.starts), t, side="right") - 1, 0, self.tabulated - 1)
        span = xp.take(xp.asarray(self.spans), index)
        near = Period(
            index + 0.0,
            xp.minimum(t - xp.take(xp.asarray(self.starts), index), span),
            span,
            xp.take(xp.asarray(self.stretches), index),
        )
        if self.tabulated == self.count:
            return near
        beyond, far = t >= self.starts[-1], self._closed(xp, t)
        return Period(*(xp.where(beyond, b, a) for a, b in zip(near, far)))

    def _locate_numpy(self, t):
        """:meth:`_locate_array` for NumPy: the closed form only at the points past the table (often
        none), and no more passes over the array than the lookup needs."""
        starts, spans, stretches = self._arrays
        shape = np.shape(t)
        t = np.asarray(t).reshape(-1)
        index = np.searchsorted(starts, t, side="right")
        index -= 1
        np.clip(index, 0, self.tabulated - 1, out=index)
        span = spans.take(index)
        tau = np.subtract(t, starts.take(index))
        np.minimum(tau, span, out=tau)
        found = (index.astype(np.float64), tau, span, stretches.take(index))
        if self.tabulated < self.count:
            beyond = t >= self.starts[-1]
            if beyond.any():
                for near, far in zip(found, self._closed(np, t[beyond])):
                    near[beyond] = far
        return Period(*(part.reshape(shape) for part in found))

    def _closed(self, xp, t):
        """The period of ``t`` from the closed form, for periods past the table."""
        k = xp.floor(xp.log1p(t * (self.mult - 1) / self.length) / math.log(self.mult))
        k = xp.where(t < self._closed_start(xp, k), k - 1, k)
        k = xp.where(t >= self._closed_start(xp, k + 1), k + 1, k)
        k = xp.clip(k, self.tabulated, self.count - 1)
        stretch = self.mult**k
        span = self.length * stretch
        return Period(k, xp.clip(t - self._closed_start(xp, k), 0.0, span), span, stretch)

    def _closed_start(self, xp, k):
        """``S_k`` in closed form; for mult near 1, ``mult^k − 1`` is computed with expm1."""
        if self.mult == 1:
            return k * self.length
        grown = xp.expm1(k * math.log(self.mult)) if abs(self.mult - 1) < 0.5 else self.mult**k - 1
        return self.length * grown / (self.mult - 1)
