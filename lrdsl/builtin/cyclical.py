"""Cyclical schedule nodes (docs/language.md §10): ``sgdr``, ``repeat``, ``cyclic`` and ``onecycle``.

``sgdr`` and ``repeat`` share :func:`lrdsl.exact.periods`, which finds the period containing
``t`` when period k lasts ``length · mult^k`` (exactly at integer boundaries, on every
backend). ``cyclic`` and ``onecycle`` give torch's CyclicLR and OneCycleLR values step by
step, including their boundary conventions.
"""

from __future__ import annotations

import math

import numpy as np

from ..authoring import (
    BASE,
    Built,
    Check,
    Count,
    Duration,
    SameAs,
    ScheduleArg,
    SubSchedule,
    between,
    built_schedule_node,
    nonnegative,
    one_of,
    positive,
    schedule_node,
)
from ..errors import ParameterError
from ..exact import cosine_at, cosine_between, floor_div, linear_at, linear_between, one_minus_power, periods, power
from ..scalarmath import SCALAR, scalar_form
from ..text import shorten
from .nodeutil import describe_call

at_least_one = Check(lambda v: v >= 1, ">= 1")


# -- periods of geometrically growing length ------------------------------------------------------


def check_periods(name: str, length: float, mult: float, times: float) -> None:
    """Shrinking periods (mult < 1) add up to a finite time, so they need a finite count, and the
    last one (``length · mult^(times − 1)``) must still be a positive float: a period that
    underflows to 0 has no time in it to evaluate."""
    if mult < 1 and math.isinf(times):
        raise ParameterError(
            f"{name}(): mult={mult!r} < 1 shrinks every period, so infinitely many periods "
            "end after a finite time; give times=<a whole number> or use mult >= 1"
        )
    if mult < 1 and not length * mult ** (times - 1) > 0:
        raise ParameterError(
            f"{name}(): with mult={mult!r}, period {times:g} would last {length:g}·{mult!r}^{times - 1:g}, "
            "which is below the smallest float (0); give fewer times= or a mult closer to 1"
        )


# -- sgdr -----------------------------------------------------------------------------------------


def _sgdr(xp, t, T, mult, decay, end, times, base):
    table = periods(T, mult, times)
    pieces = table.sorted_pieces(t) if xp is np else None
    if pieces is None:
        k, tau, span, _ = table.locate(xp, t)
        return cosine_between(xp, base if decay == 1 else base * decay**k, end, tau, span)  # decay^k = 1: exact
    out = np.empty_like(t)
    for k, low, high in pieces:  # sorted times: each period's cosine on its slice, its constants plain floats
        span = table.spans[k]
        tau = np.subtract(t[low:high], table.starts[k])
        np.minimum(tau, span, out=tau)
        out[low:high] = cosine_between(np, base if decay == 1 else base * decay ** float(k), end, tau, span)
    return out


def _sgdr_at(T, mult, decay, end, times, base):
    """:func:`_sgdr` on one float: the period from the table of starts (``bisect``)."""
    locate = periods(T, mult, times).scalar_locate()

    def at(t):
        k, tau, span, _ = locate(t)
        return cosine_between(SCALAR, base if decay == 1 else base * decay**k, end, tau, span)

    return at


@built_schedule_node(
    checks={
        "T": positive,
        "mult": positive,
        "decay": nonnegative,
        "end": nonnegative,
        "times": at_least_one,
        "base": nonnegative,
    }
)
def sgdr(
    ctx,
    T: Duration,
    mult: float = 1.0,
    decay: float = 1.0,
    end: float = 0.0,
    times: Count = math.inf,
    base: float = BASE,
) -> Built:
    """Cosine annealing with warm restarts (SGDR).

    Cycle i (i = 0, 1, ...) lasts T·mult^i and is a cosine from base·decay^i down to ``end``:
    end + (base·decay^i − end) · (1 + cos(π·τ/(T·mult^i))) / 2, τ = time into the cycle.
    After ``times`` cycles the value is ``end``.

    - T > 0: the first cycle's length; mult > 0 (mult < 1 needs a finite ``times``)
    - decay >= 0: the peak's factor per cycle; end >= 0; times >= 1 or inf
    - no natural length: as a non-final phase it needs ``for``
    - matches torch CosineAnnealingWarmRestarts(T_0=T, T_mult=mult, eta_min=end), timm
      CosineLRScheduler(t_initial=T, cycle_mul=mult, cycle_decay=decay, cycle_limit=times,
      lr_min=end); Keras CosineDecayRestarts scales (base − end) rather than base by m_mul:
      ``α·lr + sgdr(T, mult=t_mul, decay=m_mul, base=(1 − α)·lr)``
    """
    check_periods("sgdr", T, mult, times)
    return Built(
        lambda xp, t: _sgdr(xp, t, T, mult, decay, end, times, base),
        scalar=_sgdr_at(T, mult, decay, end, times, base),
        label=describe_call("sgdr", T=T, mult=mult, decay=decay, end=end, times=times, base=base),
    )


# -- repeat ---------------------------------------------------------------------------------------


def _repeated(x: SubSchedule, times: float, mult: float, decay: float, label: str) -> Built:
    """``x`` repeated: period k stretched by mult^k and scaled by decay^k."""
    inner_scalar, inner_formula = x.scalar, x.formula
    table = periods(x.length, mult, times)
    locate, locate_at = table.locate, table.scalar_locate()

    def scalar(t):
        k, tau, _, stretch = locate_at(t)
        return decay**k * inner_scalar(tau / stretch)

    def formula(xp, t):
        period = locate(xp, t)
        return decay**period.k * inner_formula(xp, period.tau / period.stretch)

    return Built(formula, scalar=scalar, label=label, states=x.states)


@built_schedule_node(checks={"times": at_least_one, "mult": positive, "decay": nonnegative})
def repeat(ctx, x: ScheduleArg, times: Count = math.inf, mult: float = 1.0, decay: float = 1.0) -> Built:
    """Repeat a schedule: x's phase again and again, each period stretched and scaled.

    Period k (k = 0, 1, ...) lasts L·mult^k, L = x's length, and its value at time τ into
    the period is decay^k · x(τ / mult^k). After ``times`` periods the value holds where
    the last period ended (x's end value, times decay^(times−1)).

    - x: any schedule with a known length (a horizon such as cosine's T, a sequence of
      such phases, or ``x for <duration>``), including plugin nodes
    - times >= 1 or inf; mult > 0 (mult < 1 needs a finite ``times``); decay >= 0
    - no natural length: as a non-final phase it needs ``for``
    - matches HF cosine_with_restarts: ``warmup(T=W) then repeat(cosine(T=(T−W)/n), times=n)``
    """
    text = shorten(x.text, 60)
    if x.length is None or not math.isfinite(x.length):
        raise ParameterError(
            f"repeat(): x = {text} has no known length, so it cannot be repeated; give it "
            f"one: set its horizon (e.g. cosine(T=10)) or write 'repeat({text} for <duration>)'"
        )
    if x.length <= 0:
        raise ParameterError(f"repeat(): x = {text} has length {x.length:g}; a period must be positive")
    check_periods("repeat", x.length, mult, times)
    label = describe_call("repeat", text, times=times, mult=mult, decay=decay)
    return _repeated(x, times, mult, decay, label)


# -- cyclic ---------------------------------------------------------------------------------------


@schedule_node(
    checks={
        "up": positive,
        "down": nonnegative,
        "low": nonnegative,
        "high": nonnegative,
        "mode": one_of("triangular", "triangular2", "exp_range"),
        "gamma": nonnegative,
    }
)
def cyclic(
    xp,
    t,
    up: Duration,
    down: Duration = SameAs("up"),
    low: float = 0.0,
    high: float = BASE,
    mode: str = "triangular",
    gamma: float = 1.0,
):
    """Cyclical learning rate (Smith 2017), the values of torch CyclicLR.

    With P = up + down, k = floor(t/P) completed cycles and τ = t − k·P the time into the
    cycle: scale = τ/up while τ <= up, then (P − τ)/down, and
    value = low + (high − low) · scale · f, where f = 1 ("triangular"),
    1/2^k ("triangular2") or gamma^t ("exp_range"). (torch writes the same with
    x = 1 + t/P − cycle: scale = x/r if x <= r else (x − 1)/(r − 1), r = up/P.)

    - up > 0: the rising half-cycle; down >= 0 (default: equal to up)
    - low, high >= 0 (default high: the incoming base b); gamma >= 0 (exp_range only)
    - no natural length (it cycles while its phase lasts)
    - matches torch CyclicLR(base_lr=low, max_lr=high, step_size_up=up, step_size_down=down,
      mode=mode, gamma=gamma) at every iteration
    """
    period = up + down
    k = floor_div(xp, t, period)
    tau = t - k * period
    if down == 0:
        scale, unscale = tau / up, (up - tau) / up
    else:
        rising = tau <= up
        scale = xp.where(rising, tau / up, (period - tau) / down)
        unscale = xp.where(rising, (up - tau) / up, (tau - up) / down)  # 1 − scale, without cancelling
    factor, unfactor = _amplitude(xp, mode, gamma, k, t)
    # low + (high − low)·scale·factor as a convex combination: no cancellation when high < low
    return low * (unscale + scale * unfactor) + high * (scale * factor)


def _amplitude(xp, mode: str, gamma: float, k, t):
    """``(f, 1 − f)``: the factor of cyclic's amplitude in cycle ``k`` at time ``t``, by mode."""
    if mode == "triangular":
        return 1.0, 0.0
    if mode == "triangular2":
        factor = 0.5**k
        return factor, 1 - factor  # exact: a power of 2
    return power(xp, gamma, t), one_minus_power(xp, gamma, t)


@scalar_form(cyclic)
def _cyclic_at(up, down, low, high, mode, gamma):
    period = up + down
    if mode == "triangular" and down == 0:  # f = 1: low·unscale + high·scale, the same value
        return lambda t: low * ((up - (t - t // period * period)) / up) + high * ((t - t // period * period) / up)
    if mode == "triangular":

        def triangular(t):
            tau = t - t // period * period
            if tau <= up:
                return low * ((up - tau) / up) + high * (tau / up)
            return low * ((tau - up) / down) + high * ((period - tau) / down)

        return triangular

    def scaled(t):
        k = t // period
        tau = t - k * period
        if down == 0 or tau <= up:
            scale, unscale = tau / up, (up - tau) / up
        else:
            scale, unscale = (period - tau) / down, (tau - up) / down
        factor, unfactor = _amplitude(SCALAR, mode, gamma, k, t)
        return low * (unscale + scale * unfactor) + high * (scale * factor)

    return scaled


# -- onecycle -------------------------------------------------------------------------------------


def anneal_between(xp, start: float, end: float, t, T, how: str):
    """torch OneCycleLR's annealing from ``start`` to ``end`` over ``T`` steps, as convex
    combinations of the two ends (float32 keeps the digits of a tiny end value, which
    ``start + (end − start)·p`` would cancel)."""
    return (cosine_between if how == "cos" else linear_between)(xp, start, end, t, T)


def onecycle_phases(T: float, pct: float, three_phase: bool):
    """The end steps of torch OneCycleLR's phases for total_steps = T."""
    if three_phase:
        return (pct * T - 1, 2 * pct * T - 2, T - 1)
    return (pct * T - 1, T - 1)


@schedule_node(
    horizon="T",
    checks={
        "T": at_least_one,
        "pct": between(0, 1, low_open=True, high_open=True),
        "div": positive,
        "final_div": positive,
        "anneal": one_of("cos", "linear"),
        "base": nonnegative,
    },
)
def onecycle(
    xp,
    t,
    T: Duration,
    pct: float = 0.3,
    div: float = 25.0,
    final_div: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
    base: float = BASE,
):
    """One-cycle policy, exactly as torch OneCycleLR(max_lr=base, total_steps=T) computes it.

    With initial = base/div and low = initial/final_div, the phases end at steps
    e1 = pct·T − 1 (rising initial → base) and T − 1 (falling base → low); with
    three_phase: e1, e2 = 2·pct·T − 2 (base → initial) and T − 1 (initial → low). In the
    phase from s to e the value is anneal(start, end, (t − s)/(e − s)), with
    anneal = end + (start − end)·(1 + cos(π·p))/2 ("cos") or start + (end − start)·p
    ("linear"). From T − 1 on the value holds ``low`` (torch stops at step T).

    - T >= 1: total steps (natural length: T); pct in (0, 1); div, final_div > 0
    - base >= 0: the peak (torch's max_lr), default the incoming base b
    - matches torch OneCycleLR(max_lr, total_steps=T, pct_start=pct, anneal_strategy=anneal,
      div_factor=div, final_div_factor=final_div, three_phase) at every step 0..T−1;
      optax's onecycle schedules peak at int(pct·T): see docs/equivalence.md
    """
    levels, ends = _onecycle_levels(T, pct, div, final_div, three_phase, base), onecycle_phases(T, pct, three_phase)
    t = xp.minimum(t, T - 1)
    values, start = [], 0.0
    for number, end in enumerate(ends):
        if end > start:
            # at the phase's end, local time is exactly its span: t − start rounds in float32
            local = xp.where(t >= end, end - start, t - start)
            values.append(anneal_between(xp, levels[number], levels[number + 1], local, end - start, anneal))
        else:  # an empty phase is at its end at once
            values.append(levels[number + 1] + 0 * t)
        start = end
    out = values[-1]
    for end, value in zip(reversed(ends[:-1]), reversed(values[:-1])):
        out = xp.where(t <= end, value, out)
    return out


def _onecycle_levels(T, pct, div, final_div, three_phase, base):
    """The values at the starts and ends of onecycle's phases."""
    initial = base / div
    return (initial, base, initial, initial / final_div) if three_phase else (initial, base, initial / final_div)


@scalar_form(onecycle, holds_from="T")  # from T − 1 on
def _onecycle_at(T, pct, div, final_div, anneal, three_phase, base):
    """onecycle on one float: the phase is picked first and only its anneal computed."""
    levels, ends = _onecycle_levels(T, pct, div, final_div, three_phase, base), onecycle_phases(T, pct, three_phase)
    phases, start = [], 0.0
    for number, end in enumerate(ends):
        if end > start:
            how = cosine_at if anneal == "cos" else linear_at
            phases.append((end, start, how(levels[number], levels[number + 1], end - start)))
        else:  # an empty phase is at its end at once
            phases.append((end, start, _fixed(levels[number + 1] + 0 * 0.0)))
        start = end
    last = T - 1
    (end1, _, first), *middle, (_, start_last, final) = phases
    if not middle:
        return lambda t: first(t) if t <= end1 else final((t if t < last else last) - start_last)

    def at(t):
        t = min(t, last)
        for end, start, anneal in phases[:-1]:
            if t <= end:
                return anneal(t - start)
        return final(t - start_last)

    return at


def _fixed(value: float):
    return lambda t: value
