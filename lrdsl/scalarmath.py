"""The array namespace of the scalar evaluator: NumPy's names over plain Python floats.

A node formula written against ``xp`` runs unchanged with ``xp=SCALAR`` (one float, fast,
``math`` underneath) and with ``xp=numpy`` or ``jax.numpy`` (arrays). Only the names node
formulas need are here; each behaves like its NumPy namesake on floats.
"""

import math
from types import SimpleNamespace


def _where(condition, if_true, if_false):
    return if_true if condition else if_false


def _clip(value, low, high):
    return min(max(value, low), high)


def _sign(value):
    return (value > 0) - (value < 0)


SCALAR = SimpleNamespace(
    minimum=min, maximum=max, where=_where, clip=_clip, abs=abs, sign=_sign,
    floor=math.floor, ceil=math.ceil, sqrt=math.sqrt, log=math.log, log2=math.log2, exp=math.exp,
    expm1=math.expm1, log1p=math.log1p,
    cos=math.cos, sin=math.sin, tanh=math.tanh, power=math.pow,
    pi=math.pi, e=math.e, inf=math.inf,
)
