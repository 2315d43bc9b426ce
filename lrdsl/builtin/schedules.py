"""The core schedule nodes (docs/language.md §10): formulas of local time ``t`` written once against ``xp``.

``b`` is the incoming base (docs/language.md §5); durations arrive in the schedule's clock unit.
Each node's scalar form (:func:`lrdsl.scalarmath.scalar_form`) follows it: the formula's
arithmetic on one float, its parameters bound, for ``sched(i)``.
"""

from ..authoring import BASE, Duration, nonnegative, positive, schedule_node
from ..exact import cosine_at, cosine_between, floor_div, linear_at, linear_between
from ..scalarmath import scalar_form


@schedule_node(checks={"value": nonnegative})
def constant(xp, t, value: float = BASE):
    """Constant: value.

    - value >= 0 (default: the incoming base b)
    """
    return value + 0 * t


@scalar_form(constant)
def _constant_at(value):
    fixed = value + 0 * 0.0
    return lambda t: fixed


@schedule_node(horizon="s", checks={"s": positive, "c": nonnegative, "base": nonnegative})
def power(xp, t, s: Duration, c: float = 1.0, base: float = BASE):
    """Power scheduling: base / (1 + t/s)^c.

    - s > 0: the period (natural length of the phase: one period)
    - c >= 0: the exponent
    - matches the "power scheduling" of the seed (Géron, Hands-On ML ch. 11)
    """
    return base / (1 + t / s) ** c


@scalar_form(power)
def _power_at(s, c, base):
    return lambda t: base / (1 + t / s) ** c


@schedule_node(aliases=("time_based",), checks={"d": nonnegative, "s": positive, "base": nonnegative})
def inverse_time(xp, t, d: float, s: Duration = 1, staircase: bool = False, base: float = BASE):
    """Inverse-time decay: base / (1 + d·p), p = t/s (floored if staircase).

    - d >= 0: the decay rate; s > 0: the decay period (default one iteration)
    - no natural length: it keeps decaying while its phase lasts
    - matches Keras InverseTimeDecay(base, decay_steps=s, decay_rate=d, staircase)
    """
    p = floor_div(xp, t, s) if staircase else t / s
    return base / (1 + d * p)


@scalar_form(inverse_time)
def _inverse_time_at(d, s, staircase, base):
    if staircase:
        return lambda t: base / (1 + d * (t // s))
    return lambda t: base / (1 + d * (t / s))


@schedule_node(
    "exp", aliases=("exponential",), horizon="s", checks={"s": positive, "rate": nonnegative, "base": nonnegative}
)
def exponential(xp, t, s: Duration, rate: float = 0.1, staircase: bool = False, base: float = BASE):
    """Exponential decay: base · rate^p, p = t/s (floored if staircase).

    - s > 0: the period over which the value is multiplied by ``rate`` (natural length: s)
    - rate >= 0
    - matches Keras ExponentialDecay(base, decay_steps=s, decay_rate=rate, staircase);
      ``exp(s=1, rate=γ)`` is torch ExponentialLR(gamma=γ)
    """
    p = floor_div(xp, t, s) if staircase else t / s
    return base * rate**p


@scalar_form(exponential)
def _exponential_at(s, rate, staircase, base):
    if staircase:
        return lambda t: base * rate ** (t // s)
    return lambda t: base * rate ** (t / s)


@schedule_node(horizon="s", checks={"s": positive, "gamma": nonnegative, "base": nonnegative})
def step(xp, t, s: Duration, gamma: float = 0.1, base: float = BASE):
    """Step decay: base · gamma^floor(t/s).

    - s > 0: the step size (natural length: one period s); gamma >= 0
    - matches torch StepLR(step_size=s, gamma=gamma)
    """
    return base * gamma ** floor_div(xp, t, s)


@scalar_form(step)
def _step_at(s, gamma, base):
    return lambda t: base * gamma ** (t // s)


@schedule_node(horizon="T", checks={"T": positive, "start": nonnegative, "end": nonnegative})
def linear(xp, t, T: Duration, start: float = BASE, end: float = 0.0):
    """Linear ramp: start + (end − start) · min(t, T)/T, then holds ``end``.

    - T > 0: its length (natural length: T); start, end >= 0; a rising ramp (end > start) is valid
    - matches optax linear_schedule(start, end, T)
    """
    return linear_between(xp, start, end, t, T)  # a convex combination: never below 0 by rounding


@scalar_form(linear, holds_from="T", scales=True)
def _linear_at(T, start, end, scale=None):
    return linear_at(start, end, T, scale)


@schedule_node(horizon="T", checks={"T": positive, "start": nonnegative, "base": nonnegative})
def warmup(xp, t, T: Duration, start: float = 0.0, base: float = BASE):
    """Linear warmup: start + (base − start) · min(t, T)/T, then holds ``base``.

    - T > 0: its length (natural length: T); start >= 0
    - matches torch LinearLR(start_factor=start/base, end_factor=1, total_iters=T)
    """
    return linear_between(xp, start, base, t, T)


@scalar_form(warmup, holds_from="T", scales=True)
def _warmup_at(T, start, base, scale=None):
    return linear_at(start, base, T, scale)


@schedule_node(horizon="T", checks={"T": positive, "end": nonnegative, "base": nonnegative})
def cosine(xp, t, T: Duration, end: float = 0.0, base: float = BASE):
    """Cosine annealing: end + (base − end) · (1 + cos(π · min(t, T)/T)) / 2, then holds ``end``.

    - T > 0: its length (natural length: T); end >= 0 (end > base gives a rising half-cosine)
    - matches torch CosineAnnealingLR(T_max=T, eta_min=end) for t <= T (torch is periodic
      past T_max; lrdsl holds), optax cosine_decay_schedule and Keras CosineDecay
    """
    return cosine_between(xp, base, end, t, T)


@scalar_form(cosine, holds_from="T", scales=True)
def _cosine_at(T, end, base, scale=None):
    return cosine_at(base, end, T, scale)


def lrdsl_nodes():  # the hook: marked @lrdsl.hookimpl when pluggy loads (lrdsl.plugins.load_plugins)
    return [constant, power, inverse_time, exponential, step, linear, warmup, cosine]
