"""The array namespace of the scalar evaluator: NumPy's names over plain Python floats.

A node formula written against ``xp`` runs unchanged with ``xp=SCALAR`` (one float, fast,
``math`` underneath) and with ``xp=numpy`` or ``jax.numpy`` (arrays). The common names are
plain-float functions here; any other name falls back to NumPy's function (slower, same values),
so a formula written for NumPy always works in the scalar evaluator too.

A node may also declare a *scalar form* (:func:`scalar_form`): a function of its parameters that
returns ``t -> float`` with everything that depends only on the parameters computed once, for
``sched(i)``. It is the same arithmetic as the formula run with ``xp=SCALAR`` (tests/test_scalar_forms.py
checks every declared form against the formula over NumPy arrays).
"""

import math
from types import SimpleNamespace
from typing import Callable, Dict, Optional, Set

import numpy as np


def _where(condition, if_true, if_false):
    return if_true if condition else if_false


def _clip(value, low, high):
    return min(max(value, low), high)


def _floor(value):
    return float(math.floor(value))  # math.floor gives an int; a learning rate is always a float


def _ceil(value):
    return float(math.ceil(value))


def _sign(value):
    return (value > 0) - (value < 0)


class _ScalarNamespace(SimpleNamespace):
    def __getattr__(self, name):  # only for names not set below
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            value = getattr(np, name)
        except AttributeError:
            raise AttributeError(f"xp.{name}: neither the scalar evaluator nor NumPy has {name!r}") from None
        setattr(self, name, value)
        return value


SCALAR = _ScalarNamespace(
    minimum=min,
    maximum=max,
    where=_where,
    clip=_clip,
    abs=abs,
    sign=_sign,
    floor=_floor,
    ceil=_ceil,
    sqrt=math.sqrt,
    log=math.log,
    log2=math.log2,
    exp=math.exp,
    expm1=math.expm1,
    log1p=math.log1p,
    cos=math.cos,
    sin=math.sin,
    tan=math.tan,
    tanh=math.tanh,
    sinh=math.sinh,
    cosh=math.cosh,
    power=math.pow,
    pi=math.pi,
    e=math.e,
    inf=math.inf,
)


FORMS: Dict[Callable, Callable] = {}
"""The declared scalar forms, by the node formula they stand for."""

HOLDS: Dict[Callable, str] = {}
"""The parameter from whose value on a node's formula is constant (``T`` of ``cosine``), by formula."""

SCALES: Set[Callable] = set()
"""The formulas whose scalar form takes ``scale=c``: ``form(t) * c`` in one call."""


def scalar_form(
    formula: Callable, holds_from: Optional[str] = None, scales: bool = False
) -> Callable[[Callable], Callable]:
    """Declare the decorated ``factory(*params) -> (t -> float)`` as the plain-float form of the node
    formula ``formula(xp, t, *params)``: the compiler calls it once with the node's parameter
    values (in the node's order) and evaluates ``sched(i)`` with the function it returns.

    ``holds_from`` names the parameter from whose value on the formula gives the same value on
    every backend (a horizon the node holds after), so a last phase needs no hold of its own;
    ``scales``: the factory also takes ``scale=c`` and returns ``t -> form(t) * c`` (the same
    product), so ``c * node(...)`` costs no call of its own."""

    def declare(factory: Callable) -> Callable:
        FORMS[formula] = factory
        if holds_from is not None:
            HOLDS[formula] = holds_from
        if scales:
            SCALES.add(formula)
        return factory

    return declare
