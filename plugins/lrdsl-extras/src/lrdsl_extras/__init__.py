"""lrdsl-extras: an lrdsl plugin adding the tanh_decay, noam and spike_guard schedules and the signsgd optimizer."""

import numpy as np

import lrdsl
from lrdsl.authoring import BASE, Duration, fraction, nonnegative, optimizer_node, positive, remaining, schedule_node

from .spike import spike_guard


@schedule_node(horizon="T", checks={"T": positive, "k": positive, "end": nonnegative, "base": nonnegative})
def tanh_decay(xp, t, T: Duration, k: float = 3.0, end: float = 0.0, base: float = BASE):
    """Tanh decay: end + (base − end) · (1 − tanh(k·p) / tanh(k)), p = min(t, T)/T.

    - T > 0: its length (natural length: T); then it holds ``end``
    - k > 0: the steepness; larger k drops sooner
    - end >= 0: the final value
    - written as base·fall + end·rise with rise = tanh(k·p)/tanh(k) and
      fall = 1 − rise = sinh(k·(1 − p)) / (sinh(k)·cosh(k·p)), so neither term cancels (float32
      keeps its digits near both ends); exactly ``base`` at t = 0 and ``end`` from T on
    """
    done, left = fraction(xp, t, T), remaining(xp, t, T)
    rise = xp.tanh(k * done) / xp.tanh(k)
    fall = xp.minimum(xp.sinh(k * left) / (xp.sinh(k) * xp.cosh(k * done)), 1.0)
    return xp.where(done <= 0, base, xp.where(left <= 0, end, base * fall + end * rise))


@schedule_node(checks={"warmup": positive, "d_model": positive, "scale": nonnegative})
def noam(xp, t, warmup: Duration, d_model: float = 512.0, scale: float = 1.0):
    """Noam schedule: scale · d_model^−0.5 · min(n^−0.5, n · warmup^−1.5), n = t + 1.

    - warmup > 0: rises linearly for ``warmup`` steps, then decays as 1/sqrt(n)
    - d_model > 0: the model width; scale >= 0: a multiplier
    - n = t + 1 counts updates from 1, as in "Attention Is All You Need" (Vaswani et al., 2017)
    - no natural length; it ignores the incoming base
    """
    n = t + 1
    return scale * d_model**-0.5 * xp.minimum(n**-0.5, n * warmup**-1.5)


@optimizer_node(checks={"lr": nonnegative, "weight_decay": nonnegative})
def signsgd(param, grad, state, lr: float = 1e-3, weight_decay: float = 0.0):
    """Sign SGD: θ ← θ · (1 − lr·weight_decay) − lr · sign(g).

    - lr >= 0: the step size (a number or a schedule)
    - weight_decay >= 0: decoupled weight decay, as in AdamW
    - Bernstein et al., "signSGD: Compressed Optimisation for Non-Convex Problems" (2018)
    """
    if weight_decay:
        param *= 1 - lr * weight_decay
    step = np.sign(grad, out=state.scratch(0))
    step *= -lr
    param += step


@lrdsl.hookimpl
def lrdsl_nodes():
    return [tanh_decay, noam, spike_guard, signsgd]
