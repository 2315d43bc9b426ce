"""The built-in optimizer nodes (docs/language.md §11), registered through the same hook as any plugin.

Each node is its update rule on NumPy arrays, written with the in-place kernels of
:mod:`lrdsl.optim.kernels` (no allocation after the first step). Names, defaults and
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
from ..hookspecs import hookimpl
from ..optim.kernels import add_scaled, add_scaled_ratio, ema_into, ema_square_into, sqrt_plus, with_l2

_BETAS = between(0, 1, high_open=True)
_ADAM_CHECKS = {"lr": nonnegative, "betas": _BETAS, "eps": nonnegative, "weight_decay": nonnegative}
_MOMENTS = {"exp_avg": StateEntry(), "exp_avg_sq": StateEntry(check=nonnegative)}
_ADAM_STATE = {**_MOMENTS, "max_exp_avg_sq": StateEntry(check=nonnegative, when="amsgrad")}
_NESTEROV = Check(
    lambda h: not h["nesterov"] or (h["momentum"] > 0 and h["dampening"] == 0),
    "nesterov=true needs momentum > 0 and dampening = 0",
)


@optimizer_node(
    checks={"lr": nonnegative, "momentum": nonnegative, "dampening": between(0, 1), "weight_decay": nonnegative},
    requires=(_NESTEROV,),
    state={"momentum_buffer": StateEntry(when="momentum")},
)
def sgd(
    param,
    grad,
    state,
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
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    direction = g
    if momentum != 0:
        first = "momentum_buffer" not in state
        old, buf = state.pair("momentum_buffer")
        if first:
            np.copyto(buf, g)
        else:
            np.multiply(old, momentum, out=buf)
            if dampening == 0:
                buf += g
            else:
                add_scaled(buf, 1 - dampening, g, state.scratch(1))
        if nesterov:
            direction = np.multiply(buf, momentum, out=state.scratch(1))
            direction += g
        else:
            direction = buf
    add_scaled(param, -lr, direction, state.scratch(2))


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
    state,
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
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    old, total = state.pair("sum", initial_accumulator_value)
    tmp = state.scratch(1)
    np.multiply(g, g, out=tmp)
    np.add(old, tmp, out=total)
    clr = lr / (1 + (state.step - 1) * lr_decay)
    add_scaled_ratio(param, -clr, g, sqrt_plus(total, 1.0, eps, tmp), tmp)


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
    state,
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
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    old_sq, square_avg = state.pair("square_avg")
    denom = state.scratch(1)
    ema_square_into(square_avg, old_sq, g, alpha, denom)
    if centered:
        old_avg, grad_avg = state.pair("grad_avg")
        ema_into(grad_avg, old_avg, g, alpha)
        np.multiply(grad_avg, grad_avg, out=denom)
        np.subtract(square_avg, denom, out=denom)
        sqrt_plus(denom, 1.0, eps, denom)
    else:
        sqrt_plus(square_avg, 1.0, eps, denom)
    if momentum > 0:
        old_buf, buf = state.pair("momentum_buffer")
        np.multiply(old_buf, momentum, out=buf)
        np.divide(g, denom, out=denom)
        buf += denom
        add_scaled(param, -lr, buf, denom)
    else:
        add_scaled_ratio(param, -lr, g, denom, denom)


@optimizer_node(
    checks={"lr": nonnegative, "rho": between(0, 1), "eps": positive, "weight_decay": nonnegative},
    state={"square_avg": StateEntry(check=nonnegative), "acc_delta": StateEntry(check=nonnegative)},
)
def adadelta(param, grad, state, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0):
    """Adadelta (torch.optim.Adadelta).

    g ← g + λθ;  v ← ρv + (1−ρ)g²;  Δ = √(u + ε) / √(v + ε) · g;  u ← ρu + (1−ρ)Δ²;  θ ← θ − γΔ

    eps must be > 0 (torch accepts 0): with eps=0, Δ = √u/√v·g is 0 from the start (u = 0) and
    stays 0, so the parameters would never move.
    """
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    (old_sq, square_avg), (old_acc, acc_delta) = state.pair("square_avg"), state.pair("acc_delta")
    delta, tmp = state.scratch(1), state.scratch(2)
    ema_square_into(square_avg, old_sq, g, rho, tmp)
    np.add(square_avg, eps, out=tmp)
    np.sqrt(tmp, out=tmp)
    np.add(old_acc, eps, out=delta)
    np.sqrt(delta, out=delta)
    delta /= tmp
    delta *= g
    ema_square_into(acc_delta, old_acc, delta, rho, tmp)
    add_scaled(param, -lr, delta, delta)


def adam_update(param, grad, state, lr, betas, eps, weight_decay, amsgrad, decoupled):
    """The Adam family's step: coupled (Adam) or decoupled (AdamW) weight decay, optional AMSGrad."""
    beta1, beta2 = betas
    if decoupled:
        if weight_decay != 0:
            param *= 1 - lr * weight_decay
        g = grad
    else:
        g = with_l2(param, grad, weight_decay, state.scratch(0))
    (old_avg, exp_avg), (old_sq, exp_avg_sq) = state.pair("exp_avg"), state.pair("exp_avg_sq")
    tmp = state.scratch(1)
    ema_into(exp_avg, old_avg, g, beta1)
    ema_square_into(exp_avg_sq, old_sq, g, beta2, tmp)
    if amsgrad:
        old_max, max_sq = state.pair("max_exp_avg_sq")
        np.maximum(old_max, exp_avg_sq, out=max_sq)
        exp_avg_sq = max_sq
    step = state.step
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    denom = sqrt_plus(exp_avg_sq, math.sqrt(bias_correction2), eps, tmp)
    add_scaled_ratio(param, -lr / bias_correction1, exp_avg, denom, tmp)


@optimizer_node(checks=_ADAM_CHECKS, state=_ADAM_STATE)
def adam(
    param,
    grad,
    state,
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
    adam_update(param, grad, state, lr, betas, eps, weight_decay, amsgrad, decoupled=False)


@optimizer_node(checks=_ADAM_CHECKS, state=_ADAM_STATE)
def adamw(
    param,
    grad,
    state,
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
    adam_update(param, grad, state, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


@optimizer_node(checks=_ADAM_CHECKS, state={"exp_avg": StateEntry(), "exp_inf": StateEntry(check=nonnegative)})
def adamax(
    param,
    grad,
    state,
    lr: float = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
):
    """Adamax (torch.optim.Adamax), Adam with the infinity norm.

    g ← g + λθ;  m ← β₁m + (1−β₁)g;  u ← max(β₂u, |g| + ε);  θ ← θ − γ/(1−β₁ᵗ) · m/u
    """
    beta1, beta2 = betas
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    (old_avg, exp_avg), (old_inf, exp_inf) = state.pair("exp_avg"), state.pair("exp_inf")
    tmp = state.scratch(1)
    ema_into(exp_avg, old_avg, g, beta1)
    np.multiply(old_inf, beta2, out=exp_inf)
    np.abs(g, out=tmp)
    tmp += eps
    np.maximum(exp_inf, tmp, out=exp_inf)
    add_scaled_ratio(param, -lr / (1 - beta1**state.step), exp_avg, exp_inf, tmp)


@optimizer_node(
    checks={**_ADAM_CHECKS, "momentum_decay": nonnegative},
    state={**_MOMENTS, "mu_product": StateEntry(array=False, check=between(0, 1))},
)
def nadam(
    param,
    grad,
    state,
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
    step = state.step
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    mu_product = state["mu_product"] = state.get("mu_product", 1.0) * mu
    (old_avg, exp_avg), (old_sq, exp_avg_sq) = state.pair("exp_avg"), state.pair("exp_avg_sq")
    denom, tmp = state.scratch(1), state.scratch(2)
    ema_into(exp_avg, old_avg, g, beta1)
    ema_square_into(exp_avg_sq, old_sq, g, beta2, tmp)
    np.divide(exp_avg_sq, 1 - beta2**step, out=denom)
    sqrt_plus(denom, 1.0, eps, denom)
    add_scaled_ratio(param, -lr * (1 - mu) / (1 - mu_product), g, denom, tmp)
    add_scaled_ratio(param, -lr * mu_next / (1 - mu_product * mu_next), exp_avg, denom, tmp)


@optimizer_node(checks=_ADAM_CHECKS, state=_MOMENTS)
def radam(
    param,
    grad,
    state,
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
    step = state.step
    g = with_l2(param, grad, weight_decay, state.scratch(0))
    (old_avg, exp_avg), (old_sq, exp_avg_sq) = state.pair("exp_avg"), state.pair("exp_avg_sq")
    tmp = state.scratch(1)
    ema_into(exp_avg, old_avg, g, beta1)
    ema_square_into(exp_avg_sq, old_sq, g, beta2, tmp)
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * beta2**step / bias_correction2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        scale = lr * rect * math.sqrt(bias_correction2) / bias_correction1
        add_scaled_ratio(param, -scale, exp_avg, sqrt_plus(exp_avg_sq, 1.0, eps, tmp), tmp)
    else:
        add_scaled(param, -lr / bias_correction1, exp_avg, tmp)


@optimizer_node(
    checks={"lr": nonnegative, "betas": between(0, 1), "weight_decay": nonnegative}, state={"exp_avg": StateEntry()}
)
def lion(param, grad, state, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0):
    """Lion (optax.lion): the sign of an interpolated momentum, decoupled weight decay.

    u = sign(β₁m + (1−β₁)g);  θ ← θ − γ(u + λθ);  m ← β₂m + (1−β₂)g
    """
    beta1, beta2 = betas
    old_avg, exp_avg = state.pair("exp_avg")
    update, tmp = state.scratch(0), state.scratch(1)
    np.multiply(old_avg, beta1, out=update)
    add_scaled(update, 1 - beta1, grad, tmp)
    np.sign(update, out=update)
    if weight_decay != 0:
        add_scaled(update, weight_decay, param, tmp)
    add_scaled(param, -lr, update, update)
    ema_into(exp_avg, old_avg, grad, beta2)


@hookimpl
def lrdsl_nodes():
    return [sgd, adagrad, rmsprop, adadelta, adam, adamw, adamax, nadam, radam, lion]
