"""The built-in optimizer nodes (docs/language.md §11), registered through the same hook as any plugin.

Each node is its update rule on NumPy arrays, staged (:mod:`lrdsl.optim.staged`): it returns
``new_state(b)`` and ``new_param(b)``, run block by block to check the whole step before
anything is written, then to apply it; written with the kernels of :mod:`lrdsl.optim.kernels`
(no allocation after the first step). Names, defaults and
updates are PyTorch's (``torch.optim``, single-tensor path); ``lion`` is ``optax.lion``.
Notation: θ parameter, g gradient, t = ``state.step`` (1 on the first update), γ lr,
λ weight_decay. Any float hyperparameter, and each item of ``betas``, may be a schedule; the
value at the current iteration is used, including in bias corrections (as when a PyTorch
scheduler writes ``group["betas"]``).

``eps=0`` is allowed wherever it can work, as in PyTorch: the denominator is then 0 only for
an element whose gradients have all been exactly 0 (or whose averages underflowed to 0), where
the update is 0/0. lrdsl does not write that NaN as torch would: the step raises
:class:`~lrdsl.errors.EvaluationError` and leaves parameters and state unchanged. ``adadelta``
needs ``eps > 0``: with ``eps=0`` its update √(u+ε)/√(v+ε)·g is 0 from the start (u = 0) and
stays 0, so the parameters would never move.
"""

from __future__ import annotations

import math

import numpy as np

from ..authoring import Check, StateEntry, between, nonnegative, optimizer_node, positive
from ..optim.kernels import add_scaled, add_scaled_into, add_scaled_ratio_into, ema_into, ema_square_into, sqrt_plus
from ..optim.staged import staged

_BETAS = between(0, 1, high_open=True)
_ADAM_CHECKS = {"lr": nonnegative, "betas": _BETAS, "eps": nonnegative, "weight_decay": nonnegative}
_MOMENTS = {"exp_avg": StateEntry(), "exp_avg_sq": StateEntry(check=nonnegative)}
_ADAM_STATE = {**_MOMENTS, "max_exp_avg_sq": StateEntry(check=nonnegative, when="amsgrad")}
_NESTEROV = Check(
    lambda h: not h["nesterov"] or (h["momentum"] > 0 and h["dampening"] == 0),
    "nesterov=true needs momentum > 0 and dampening = 0",
)


@staged(recompute=True)  # θ − γb: two operations, cheaper than keeping the result and copying it
@optimizer_node(
    checks={"lr": nonnegative, "momentum": nonnegative, "dampening": between(0, 1), "weight_decay": nonnegative},
    requires=(_NESTEROV,),
    state={"momentum_buffer": StateEntry(when="momentum")},
)
def sgd(
    param,
    grad,
    plan,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
):
    """Stochastic gradient descent with momentum (torch.optim.SGD).

    g ← g + λθ;  b ← g on the first step with momentum μ ≠ 0, then b ← μb + (1−τ)g;
    g ← g + μb if nesterov else b;  θ ← θ − γg   (τ dampening; nesterov needs μ > 0, τ = 0)
    """
    buf = plan.array("momentum_buffer") if momentum != 0 else None
    first = buf is not None and plan.first("momentum_buffer")

    def new_state(b):
        if buf is None:
            return
        g, new = b.decayed(weight_decay), b.new[buf]
        if first:
            np.copyto(new, g)
            return
        np.multiply(b.old[buf], momentum, out=new)
        if dampening == 0:
            new += g
        else:
            add_scaled(new, 1 - dampening, g, b.tmp[0])

    def new_param(b):
        g = direction = b.decayed(weight_decay)
        if buf is not None:
            direction = b.new[buf]
            if nesterov:
                direction = np.multiply(direction, momentum, out=b.tmp[1])
                direction += g
        add_scaled_into(b.out, b.p, -lr, direction, b.tmp[2])

    return new_state, new_param


@staged
@optimizer_node(
    checks={
        "lr": nonnegative,
        "lr_decay": nonnegative,
        "weight_decay": nonnegative,
        "initial_accumulator_value": nonnegative,
        "eps": nonnegative,
    },
    fixed=("initial_accumulator_value",),
    state={"sum": StateEntry(check=nonnegative)},
)
def adagrad(
    param,
    grad,
    plan,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
):
    """Adagrad (torch.optim.Adagrad).

    g ← g + λθ;  γ̃ = γ / (1 + (t−1)·lr_decay);  s ← s + g²  (s starts at initial_accumulator_value);
    θ ← θ − γ̃·g / (√s + ε)
    """
    total = plan.array("sum", initial_accumulator_value)
    clr = lr / (1 + (plan.step - 1) * lr_decay)

    def new_state(b):
        g, tmp = b.decayed(weight_decay), b.tmp[0]
        np.multiply(g, g, out=tmp)
        np.add(b.old[total], tmp, out=b.new[total])

    def new_param(b):
        denom = sqrt_plus(b.new[total], 1.0, eps, b.tmp[0])
        add_scaled_ratio_into(b.out, b.p, -clr, b.decayed(weight_decay), denom, denom)

    return new_state, new_param


@staged
@optimizer_node(
    checks={
        "lr": nonnegative,
        "alpha": between(0, 1),
        "eps": nonnegative,
        "weight_decay": nonnegative,
        "momentum": nonnegative,
    },
    state={
        "square_avg": StateEntry(check=nonnegative),
        "grad_avg": StateEntry(when="centered"),
        "momentum_buffer": StateEntry(when="momentum"),
    },
)
def rmsprop(
    param,
    grad,
    plan,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
):
    """RMSprop (torch.optim.RMSprop); ε is added after the square root.

    g ← g + λθ;  v ← αv + (1−α)g²;  if centered: ḡ ← αḡ + (1−α)g, ṽ = v − ḡ², else ṽ = v;
    with momentum μ > 0: b ← μb + g/(√ṽ + ε), θ ← θ − γb;  otherwise θ ← θ − γ·g/(√ṽ + ε)
    """
    square = plan.array("square_avg")
    average = plan.array("grad_avg") if centered else None
    buf = plan.array("momentum_buffer") if momentum > 0 else None

    def denominator(b):
        """√ṽ + ε into ``b.tmp[0]`` (from the new averages)."""
        denom = b.tmp[0]
        if average is None:
            return sqrt_plus(b.new[square], 1.0, eps, denom)
        np.multiply(b.new[average], b.new[average], out=denom)
        np.subtract(b.new[square], denom, out=denom)
        return sqrt_plus(denom, 1.0, eps, denom)

    def new_state(b):
        g = b.decayed(weight_decay)
        ema_square_into(b.new[square], b.old[square], g, alpha, b.tmp[0])
        if average is not None:
            ema_into(b.new[average], b.old[average], g, alpha)
        if buf is not None:
            denom = denominator(b)
            np.multiply(b.old[buf], momentum, out=b.new[buf])
            np.divide(g, denom, out=denom)
            b.new[buf] += denom

    def new_param(b):
        if buf is not None:
            add_scaled_into(b.out, b.p, -lr, b.new[buf], b.tmp[0])
        else:
            denom = denominator(b)
            add_scaled_ratio_into(b.out, b.p, -lr, b.decayed(weight_decay), denom, denom)

    return new_state, new_param


@staged(recompute=True)  # θ − γΔ (Δ comes from new_state): cheaper than keeping the result
@optimizer_node(
    checks={"lr": nonnegative, "rho": between(0, 1), "eps": positive, "weight_decay": nonnegative},
    state={"square_avg": StateEntry(check=nonnegative), "acc_delta": StateEntry(check=nonnegative)},
)
def adadelta(param, grad, plan, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0):
    """Adadelta (torch.optim.Adadelta).

    g ← g + λθ;  v ← ρv + (1−ρ)g²;  Δ = √(u + ε) / √(v + ε) · g;  u ← ρu + (1−ρ)Δ²;  θ ← θ − γΔ

    eps must be > 0 (torch accepts 0): with eps=0, Δ = √u/√v·g is 0 from the start (u = 0) and
    stays 0, so the parameters would never move.
    """
    square, acc = plan.array("square_avg"), plan.array("acc_delta")

    def new_state(b):
        """The new averages; Δ is left in ``b.tmp[0]``."""
        g = b.decayed(weight_decay)
        delta, tmp = b.tmp[0], b.tmp[1]
        ema_square_into(b.new[square], b.old[square], g, rho, tmp)
        np.add(b.new[square], eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(b.old[acc], eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= tmp
        delta *= g
        ema_square_into(b.new[acc], b.old[acc], delta, rho, tmp)

    def new_param(b):
        add_scaled_into(b.out, b.p, -lr, b.tmp[0], b.tmp[1])

    return new_state, new_param


def adam_update(plan, lr, betas, eps, weight_decay, amsgrad, decoupled):
    """The Adam family's stages: coupled (Adam) or decoupled (AdamW) weight decay, optional AMSGrad."""
    beta1, beta2 = betas
    avg, square = plan.array("exp_avg"), plan.array("exp_avg_sq")
    top = plan.array("max_exp_avg_sq") if amsgrad else None
    step = plan.step
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    l2 = 0.0 if decoupled else weight_decay
    shrink = 1 - lr * weight_decay if decoupled and weight_decay != 0 else None

    def new_state(b):
        g = b.decayed(l2)
        ema_into(b.new[avg], b.old[avg], g, beta1)
        ema_square_into(b.new[square], b.old[square], g, beta2, b.tmp[0])
        if top is not None:
            np.maximum(b.old[top], b.new[square], out=b.new[top])

    def new_param(b):
        base = b.p
        if shrink is not None:
            base = np.multiply(b.p, shrink, out=b.out)
        denom = sqrt_plus(b.new[square if top is None else top], math.sqrt(bias_correction2), eps, b.tmp[0])
        add_scaled_ratio_into(b.out, base, -lr / bias_correction1, b.new[avg], denom, denom)

    return new_state, new_param


@staged
@optimizer_node(checks=_ADAM_CHECKS, state=_ADAM_STATE)
def adam(
    param,
    grad,
    plan,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
):
    """Adam (torch.optim.Adam), weight decay as an L2 term of the gradient.

    g ← g + λθ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  m̂ = m/(1−β₁ᵗ);  v̂ = v/(1−β₂ᵗ)
    (amsgrad: v̂max ← max(v̂max, v), v̂ = v̂max/(1−β₂ᵗ));  θ ← θ − γ·m̂/(√v̂ + ε)
    """
    return adam_update(plan, lr, betas, eps, weight_decay, amsgrad, decoupled=False)


@staged
@optimizer_node(checks=_ADAM_CHECKS, state=_ADAM_STATE)
def adamw(
    param,
    grad,
    plan,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
):
    """AdamW (torch.optim.AdamW): decoupled weight decay scaled by the learning rate.

    θ ← θ − γλθ, then Adam's step without the L2 term:
    m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − γ·m̂/(√v̂ + ε)  (amsgrad as in adam)
    """
    return adam_update(plan, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


@staged
@optimizer_node(checks=_ADAM_CHECKS, state={"exp_avg": StateEntry(), "exp_inf": StateEntry(check=nonnegative)})
def adamax(
    param,
    grad,
    plan,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
):
    """Adamax (torch.optim.Adamax), Adam with the infinity norm.

    g ← g + λθ;  m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  θ ← θ − γ/(1−β₁ᵗ) · m/u
    """
    beta1, beta2 = betas
    avg, norm = plan.array("exp_avg"), plan.array("exp_inf")
    scale = -lr / (1 - beta1**plan.step)

    def new_state(b):
        g, tmp = b.decayed(weight_decay), b.tmp[0]
        ema_into(b.new[avg], b.old[avg], g, beta1)
        np.multiply(b.old[norm], beta2, out=b.new[norm])
        np.abs(g, out=tmp)
        tmp += eps
        np.maximum(b.new[norm], tmp, out=b.new[norm])

    def new_param(b):
        add_scaled_ratio_into(b.out, b.p, scale, b.new[avg], b.new[norm], b.tmp[0])

    return new_state, new_param


@staged
@optimizer_node(
    checks={**_ADAM_CHECKS, "momentum_decay": nonnegative},
    state={**_MOMENTS, "mu_product": StateEntry(array=False, check=between(0, 1))},
)
def nadam(
    param,
    grad,
    plan,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
):
    """NAdam (torch.optim.NAdam), Adam with Nesterov momentum and momentum decay ψ.

    g ← g + λθ;  μₜ = β₁(1 − ½·0.96^(tψ));  Πₜ = μ₁⋯μₜ;  m, v as in Adam;  v̂ = v/(1−β₂ᵗ);
    θ ← θ − γ(1−μₜ)/(1−Πₜ) · g/(√v̂ + ε) − γμₜ₊₁/(1−Πₜμₜ₊₁) · m/(√v̂ + ε)
    """
    beta1, beta2 = betas
    step = plan.step
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = plan["mu_product"] = plan.get("mu_product", 1.0) * mu
    avg, square = plan.array("exp_avg"), plan.array("exp_avg_sq")
    bias_correction2 = 1 - beta2**step

    def new_state(b):
        g = b.decayed(weight_decay)
        ema_into(b.new[avg], b.old[avg], g, beta1)
        ema_square_into(b.new[square], b.old[square], g, beta2, b.tmp[0])

    def new_param(b):
        denom, tmp = b.tmp[0], b.tmp[1]
        np.divide(b.new[square], bias_correction2, out=denom)
        sqrt_plus(denom, 1.0, eps, denom)
        add_scaled_ratio_into(b.out, b.p, -lr * (1 - mu) / (1 - mu_product), b.decayed(weight_decay), denom, tmp)
        add_scaled_ratio_into(b.out, b.out, -lr * mu_next / (1 - mu_product * mu_next), b.new[avg], denom, tmp)

    return new_state, new_param


@staged
@optimizer_node(checks=_ADAM_CHECKS, state=_MOMENTS)
def radam(
    param,
    grad,
    plan,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
):
    """RAdam (torch.optim.RAdam), Adam with the variance of the adaptive rate rectified.

    g ← g + λθ;  m, v as in Adam;  ρ∞ = 2/(1−β₂) − 1;  ρₜ = ρ∞ − 2tβ₂ᵗ/(1−β₂ᵗ);
    if ρₜ > 5: r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ)), θ ← θ − γ·r·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε);
    otherwise θ ← θ − γ·m/(1−β₁ᵗ)
    """
    beta1, beta2 = betas
    step = plan.step
    avg, square = plan.array("exp_avg"), plan.array("exp_avg_sq")
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
    rectified = rho_t > 5.0
    if rectified:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        scale = lr * rect * math.sqrt(bias_correction2) / bias_correction1

    def new_state(b):
        g = b.decayed(weight_decay)
        ema_into(b.new[avg], b.old[avg], g, beta1)
        ema_square_into(b.new[square], b.old[square], g, beta2, b.tmp[0])

    def new_param(b):
        tmp = b.tmp[0]
        if rectified:
            add_scaled_ratio_into(b.out, b.p, -scale, b.new[avg], sqrt_plus(b.new[square], 1.0, eps, tmp), tmp)
        else:
            add_scaled_into(b.out, b.p, -lr / bias_correction1, b.new[avg], tmp)

    return new_state, new_param


@staged
@optimizer_node(
    checks={"lr": nonnegative, "betas": between(0, 1), "weight_decay": nonnegative}, state={"exp_avg": StateEntry()}
)
def lion(param, grad, plan, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
    """Lion (optax.lion): the sign of an interpolated momentum, decoupled weight decay.

    u = sign(β₁m + (1−β₁)g);  θ ← θ − γ(u + λθ);  m ← β₂m + (1−β₂)g
    """
    beta1, beta2 = betas
    avg = plan.array("exp_avg")

    def new_state(b):
        """The new momentum; u is left in ``b.tmp[1]`` (from the momentum before it) for new_param."""
        if b.update:
            interpolated, update = b.tmp[0], b.tmp[1]
            np.multiply(b.old[avg], beta1, out=interpolated)
            add_scaled(interpolated, 1 - beta1, b.g, update)
            np.sign(interpolated, out=update)  # into another array: in place is several times slower
        ema_into(b.new[avg], b.old[avg], b.g, beta2)

    def new_param(b):
        update = b.tmp[1]
        if weight_decay != 0:
            add_scaled(update, weight_decay, b.p, b.tmp[0])
        add_scaled_into(b.out, b.p, -lr, update, update)

    return new_state, new_param


def lrdsl_nodes():  # the hook: marked @lrdsl.hookimpl when pluggy loads (lrdsl.plugins.load_plugins)
    return [sgd, adagrad, rmsprop, adadelta, adam, adamw, adamax, nadam, radam, lion]
