"""The schedule catalog (docs/language.md §10) beyond the core nodes: step lists, polynomial, inverse sqrt.

The cyclical nodes (``sgdr``, ``cyclic``, ``onecycle``, ``repeat``) live in
:mod:`lrdsl.builtin.cyclical` and the metric-driven ``plateau`` in :mod:`lrdsl.builtin.plateau`;
this module's hook registers all of them. ``b`` is the incoming base (docs/language.md §5); durations
arrive in the schedule's clock unit.
"""

from __future__ import annotations

import itertools

from ..authoring import BASE, Built, Duration, built_schedule_node, nonnegative, positive, schedule_node
from ..errors import ParameterError
from ..exact import poly_between
from .cyclical import cyclic, onecycle, repeat, sgdr
from .nodeutil import describe_call
from .plateau import plateau


def count_reached(xp, t, points):
    """How many of ``points`` are <= t (duplicates count twice), as a float or an array."""
    reached = 0.0 * t
    for point in points:
        reached = reached + xp.where(t >= point, 1.0, 0.0)
    return reached


@schedule_node(checks={"at": nonnegative, "gamma": nonnegative, "base": nonnegative})
def multistep(xp, t, at: list[Duration], gamma: float = 0.1, base: float = BASE):
    """Multi-step decay: base · gamma^n, n = number of milestones in ``at`` that are <= t.

    - at: a list of durations >= 0, in any order; a repeated milestone counts twice
    - gamma >= 0: the factor applied at each milestone (default 0.1)
    - the decay applies *at* t == milestone (half-open, like torch and optax)
    - no natural length: as a non-final phase it needs ``for``
    - matches torch MultiStepLR(milestones=at, gamma=gamma) (which also counts duplicates);
      timm MultiStepLRScheduler decays one step early: write ``at=[m − 1, ...]``
    """
    return base * gamma ** count_reached(xp, t, at)


def _piecewise_formula(xp, t, at, values):
    out = values[0] + 0.0 * t
    for boundary, value in zip(at, values[1:]):
        out = xp.where(t >= boundary, value, out)
    return out


@built_schedule_node(checks={"at": nonnegative, "values": nonnegative})
def piecewise(ctx, at: list[Duration], values: list[float]) -> Built:
    """Piecewise constant: values[k] on [at[k−1], at[k]) (values[0] before at[0]).

    - at: a list of n non-decreasing durations >= 0
    - values: n + 1 numbers >= 0 (absolute values, not factors of the base)
    - the boundary belongs to the right segment: the new value applies at t == at[k]
    - no natural length: as a non-final phase it needs ``for``
    - matches optax piecewise_constant_schedule (whose scales are cumulative products:
      ``(0.1, {3: 2.0, 6: 0.5})`` is ``piecewise(at=[3, 6], values=[0.1, 0.2, 0.1])``); Keras
      PiecewiseConstantDecay keeps the old value at the boundary: shift ``at`` by one step
    """
    if len(values) != len(at) + 1:
        raise ParameterError(
            f"piecewise(): values must have one more entry than at (a value before the "
            f"first boundary and one after each); got {len(at)} boundaries and "
            f"{len(values)} values"
        )
    if any(later < earlier for earlier, later in itertools.pairwise(at)):
        raise ParameterError(f"piecewise(): at must be in increasing order, got [{', '.join(f'{a:g}' for a in at)}]")
    return Built(
        lambda xp, t: _piecewise_formula(xp, t, at, values), label=describe_call("piecewise", at=at, values=values)
    )


@schedule_node(horizon="T", checks={"T": positive, "power": nonnegative, "end": nonnegative, "base": nonnegative})
def poly(xp, t, T: Duration, power: float = 1.0, end: float = 0.0, base: float = BASE):
    """Polynomial decay: end + (base − end) · (1 − min(t, T)/T)^power, then holds ``end``.

    - T > 0: its length (natural length: T); power >= 0; end >= 0 (end > base rises)
    - matches torch PolynomialLR(total_iters=T, power) (end 0), Keras
      PolynomialDecay(base, decay_steps=T, end_learning_rate=end, power) (whose default end is
      1e-4), optax polynomial_schedule and timm PolyLRScheduler (power 0.5 by default there)
    """
    return poly_between(xp, base, end, t, T, power)


@schedule_node(aliases=("inverse_sqrt",), checks={"warmup": positive, "base": nonnegative})
def rsqrt(xp, t, warmup: Duration, base: float = BASE):
    """Inverse square root: base · t/warmup for t < warmup, then base · sqrt(warmup/t).

    - warmup > 0: the length of the linear warmup, also the time scale of the decay
    - continuous at t = warmup (value base); no natural length (it keeps decaying)
    - matches HF get_inverse_sqrt_schedule(num_warmup_steps=warmup) (timescale = warmup);
      another timescale τ is ``warmup(T=W) then base / sqrt(1 + it/τ)``
    """
    ramp = t / warmup
    decay = xp.sqrt(warmup / xp.maximum(t, warmup))
    return base * xp.where(t < warmup, ramp, decay)


def lrdsl_nodes():  # the hook: marked @lrdsl.hookimpl when pluggy loads (lrdsl.plugins.load_plugins)
    return [multistep, piecewise, poly, sgdr, cyclic, onecycle, rsqrt, repeat, plateau]
