"""In-place NumPy building blocks the update rules are written with.

Every function writes into arrays it is given (``out=`` ufuncs), so a step allocates
nothing; the ``*_into`` forms write a new value into ``out`` and leave their inputs as they were
(what the staged rules of :mod:`lrdsl.optim.staged` need). Scalars are Python floats, which
keep a float32 array float32 (NEP 50).
"""

from __future__ import annotations

import numpy as np


def ema(average: np.ndarray, value: np.ndarray, beta: float) -> None:
    """``average ← beta·average + (1 − beta)·value``, in place, without a temporary."""
    np.subtract(average, value, out=average)
    average *= beta
    average += value


def ema_into(out: np.ndarray, average: np.ndarray, value: np.ndarray, beta: float) -> np.ndarray:
    """``out ← beta·average + (1 − beta)·value`` (``average`` is only read; bitwise equal to :func:`ema`)."""
    np.subtract(average, value, out=out)
    out *= beta
    out += value
    return out


def ema_square_into(
    out: np.ndarray, average: np.ndarray, value: np.ndarray, beta: float, tmp: np.ndarray
) -> np.ndarray:
    """``out ← beta·average + (1 − beta)·value²`` (``tmp`` is overwritten; ``average`` is only read)."""
    np.multiply(value, value, out=tmp)
    return ema_into(out, average, tmp, beta)


def ema_square(average: np.ndarray, value: np.ndarray, beta: float, tmp: np.ndarray) -> None:
    """``average ← beta·average + (1 − beta)·value²`` (``tmp`` is overwritten)."""
    np.multiply(value, value, out=tmp)
    ema(average, tmp, beta)


def with_l2(param: np.ndarray, grad: np.ndarray, weight_decay: float, tmp: np.ndarray) -> np.ndarray:
    """``grad + weight_decay·param`` (coupled L2 decay) in ``tmp``; ``grad`` itself when the decay is 0."""
    if weight_decay == 0:
        return grad
    np.multiply(param, weight_decay, out=tmp)
    tmp += grad
    return tmp


def add_scaled_into(out: np.ndarray, base: np.ndarray, alpha: float, x: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """``out ← base + alpha·x`` (``tmp`` is overwritten; it may be ``x``, and ``out`` may be ``base``)."""
    np.multiply(x, alpha, out=tmp)
    return np.add(base, tmp, out=out)


def add_scaled(param: np.ndarray, alpha: float, x: np.ndarray, tmp: np.ndarray) -> None:
    """``param ← param + alpha·x`` (``tmp`` is overwritten; it may be ``x`` itself)."""
    add_scaled_into(param, param, alpha, x, tmp)


def add_scaled_ratio_into(
    out: np.ndarray, base: np.ndarray, alpha: float, numerator: np.ndarray, denominator: np.ndarray, tmp: np.ndarray
) -> np.ndarray:
    """``out ← base + alpha·numerator/denominator`` (``tmp`` may be the denominator; ``out`` may be ``base``)."""
    np.divide(numerator, denominator, out=tmp)
    tmp *= alpha
    return np.add(base, tmp, out=out)


def add_scaled_ratio(
    param: np.ndarray, alpha: float, numerator: np.ndarray, denominator: np.ndarray, tmp: np.ndarray
) -> None:
    """``param ← param + alpha·numerator/denominator`` (torch's ``addcdiv_``; ``tmp`` may be the denominator)."""
    add_scaled_ratio_into(param, param, alpha, numerator, denominator, tmp)


def sqrt_plus(x: np.ndarray, divisor: float, eps: float, out: np.ndarray) -> np.ndarray:
    """``√x / divisor + eps`` into ``out`` (the Adam family's denominator); returns ``out``."""
    np.sqrt(x, out=out)
    if divisor != 1.0:
        out /= divisor
    out += eps
    return out
