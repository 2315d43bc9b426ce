"""Trajectories of every built-in optimizer against its peer (torch.optim, optax.lion), live.

Each case runs 60 steps in float64 on the same problem (two parameter groups, gradients
computed from the current parameters with a per-step perturbation) and compares every step
at rtol 1e-9. Scheduled hyperparameters are checked against a torch optimizer whose group
values are set by hand before each step, from closed forms written here.
"""

import math

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
torch = pytest.importorskip("torch")

import jax.numpy as jnp

import lrdsl

STEPS = 60
RTOL, ATOL = 1e-9, 1e-13


@pytest.fixture(autouse=True)
def torch_float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps NAdam's mu_product etc. in the default dtype
    yield
    torch.set_default_dtype(previous)


def initial(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [rng.normal(size=(4, 3)).astype(dtype), rng.normal(size=3).astype(dtype)]


_RNG = np.random.default_rng(1)
TARGETS = [_RNG.normal(size=(4, 3)), _RNG.normal(size=3)]
NOISE = [_RNG.normal(scale=0.3, size=(STEPS, 4, 3)), _RNG.normal(scale=0.3, size=(STEPS, 3))]


def gradients(params, k):
    """A smooth, non-quadratic loss's gradient plus per-step noise (as a minibatch would give)."""
    return [((p - t) * 0.8 + 0.2 * np.sin(3 * p) + n[k]).astype(p.dtype) for p, t, n in zip(params, TARGETS, NOISE)]


def run_lrdsl(text, dtype=np.float64, bias_overrides=None, **kwargs):
    params = initial(dtype)
    groups = [{"params": [params[0]]}, {"params": [params[1]], **(bias_overrides or {})}]
    opt = lrdsl.optimizer(text, groups, **kwargs)
    trajectory = []
    for k in range(STEPS):
        opt.step(gradients(params, k))
        trajectory.append([p.copy() for p in params])
    return trajectory


def run_torch(cls, kwargs, bias_overrides=None, schedule=None, dtype=torch.float64):
    tensors = [torch.tensor(p, dtype=dtype) for p in initial()]
    opt = cls([{"params": [tensors[0]]}, {"params": [tensors[1]], **(bias_overrides or {})}], foreach=False, **kwargs)
    trajectory = []
    for k in range(STEPS):
        if schedule is not None:
            for group in opt.param_groups:
                group.update(schedule(k))
        for t, g in zip(tensors, gradients([t.numpy() for t in tensors], k)):
            t.grad = torch.from_numpy(g)
        opt.step()
        trajectory.append([t.detach().numpy().copy() for t in tensors])
    return trajectory


def assert_same(ours, peer, rtol=RTOL, atol=ATOL):
    for k, (a, b) in enumerate(zip(ours, peer)):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {k}")


T = torch.optim
CASES = [
    ("sgd(lr=0.05)", T.SGD, dict(lr=0.05)),
    ("sgd(lr=0.05, momentum=0.9)", T.SGD, dict(lr=0.05, momentum=0.9)),
    ("sgd(lr=0.05, momentum=0.9, dampening=0.3)", T.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3)),
    ("sgd(lr=0.05, momentum=0.9, nesterov=true)", T.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (
        "sgd(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=true)",
        T.SGD,
        dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True),
    ),
    ("sgd(lr=0.05, weight_decay=0.1)", T.SGD, dict(lr=0.05, weight_decay=0.1)),
    ("adagrad()", T.Adagrad, {}),
    (
        "adagrad(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)",
        T.Adagrad,
        dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
    ),
    ("rmsprop()", T.RMSprop, {}),
    ("rmsprop(lr=0.01, alpha=0.9, centered=true)", T.RMSprop, dict(lr=0.01, alpha=0.9, centered=True)),
    ("rmsprop(lr=0.01, momentum=0.5, weight_decay=0.1)", T.RMSprop, dict(lr=0.01, momentum=0.5, weight_decay=0.1)),
    (
        "rmsprop(lr=0.01, momentum=0.5, centered=true, eps=1e-4)",
        T.RMSprop,
        dict(lr=0.01, momentum=0.5, centered=True, eps=1e-4),
    ),
    ("adadelta()", T.Adadelta, {}),
    (
        "adadelta(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)",
        T.Adadelta,
        dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
    ),
    ("adam(lr=0.05)", T.Adam, dict(lr=0.05)),
    (
        "adam(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)",
        T.Adam,
        dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    ("adam(lr=0.05, amsgrad=true)", T.Adam, dict(lr=0.05, amsgrad=True)),
    ("adamw(lr=0.05)", T.AdamW, dict(lr=0.05)),
    ("adamw(lr=0.05, weight_decay=0.3, amsgrad=true)", T.AdamW, dict(lr=0.05, weight_decay=0.3, amsgrad=True)),
    ("adamax()", T.Adamax, {}),
    (
        "adamax(lr=0.05, betas=(0.8, 0.95), weight_decay=0.1)",
        T.Adamax,
        dict(lr=0.05, betas=(0.8, 0.95), weight_decay=0.1),
    ),
    ("nadam()", T.NAdam, {}),
    (
        "nadam(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01)",
        T.NAdam,
        dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01),
    ),
    ("radam(lr=0.05)", T.RAdam, dict(lr=0.05)),
    ("radam(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)", T.RAdam, dict(lr=0.05, betas=(0.8, 0.9), weight_decay=0.1)),
]


@pytest.mark.parametrize("text,cls,kwargs", CASES, ids=[c[0] for c in CASES])
def test_trajectory_matches_torch(text, cls, kwargs):
    assert_same(run_lrdsl(text), run_torch(cls, kwargs))


def test_defaults_are_torchs():
    """Defaults come from docs/language.md §11, which are torch's: the default string reproduces the default class."""
    for text, cls in [
        ("sgd()", T.SGD),
        ("adam()", T.Adam),
        ("adamw()", T.AdamW),
        ("radam()", T.RAdam),
        ("adamax()", T.Adamax),
        ("nadam()", T.NAdam),
        ("rmsprop()", T.RMSprop),
    ]:
        assert_same(run_lrdsl(text), run_torch(cls, {}))


def test_parameter_groups_with_their_own_hyperparameters():
    text = "adamw(lr=0.05, weight_decay=0.5)"
    ours = run_lrdsl(text, bias_overrides={"weight_decay": 0, "lr": "0.01"})
    peer = run_torch(T.AdamW, dict(lr=0.05, weight_decay=0.5), bias_overrides={"weight_decay": 0, "lr": 0.01})
    assert_same(ours, peer)
    # the override changes the trajectory (the test can fail)
    plain = run_lrdsl(text)
    assert not np.allclose(ours[-1][1], plain[-1][1])
    np.testing.assert_array_equal(ours[-1][0], plain[-1][0])


def warmup_cosine(k, peak=0.1, warm=5, length=45):
    if k < warm:
        return peak * k / warm
    return peak * (1 + math.cos(math.pi * min(k - warm, length) / length)) / 2


SCHEDULED = [
    (
        "sgd(lr=warmup(T=5, base=0.1) then cosine(T=45), momentum=0.5 + 0.4 * cosine(T=50), "
        "weight_decay=1e-2 * exp(s=10, rate=0.5))",
        T.SGD,
        {},
        lambda k: dict(
            lr=warmup_cosine(k),
            momentum=0.5 + 0.4 * (1 + math.cos(math.pi * min(k, 50) / 50)) / 2,
            weight_decay=1e-2 * 0.5 ** (k / 10),
        ),
    ),
    (
        "sgd(lr=0.05, momentum=0.9 * warmup(T=10) for 10 then 0.9, dampening=0.2)",
        T.SGD,
        dict(dampening=0.2),
        lambda k: dict(lr=0.05, momentum=0.9 * min(k, 10) / 10),
    ),
    (
        "adam(lr=warmup(T=5, base=0.1) then cosine(T=45), betas=(0.85 + 0.1 * cosine(T=50), 0.999), amsgrad=true)",
        T.Adam,
        dict(amsgrad=True),
        lambda k: dict(lr=warmup_cosine(k), betas=(0.85 + 0.1 * (1 + math.cos(math.pi * min(k, 50) / 50)) / 2, 0.999)),
    ),
    (
        "adamw(lr=step(s=20, gamma=0.5, base=0.05), weight_decay=0.1 * exp(s=30, rate=0.1))",
        T.AdamW,
        {},
        lambda k: dict(lr=0.05 * 0.5 ** (k // 20), weight_decay=0.1 * 0.1 ** (k / 30)),
    ),
    (
        "nadam(lr=0.02, betas=(0.95 - 0.1 * warmup(T=30) for 30 then 0.85, 0.99))",
        T.NAdam,
        {},
        lambda k: dict(lr=0.02, betas=(0.95 - 0.1 * min(k, 30) / 30, 0.99)),
    ),
    (
        "rmsprop(lr=0.01 * exp(s=20, rate=0.5), alpha=0.9, momentum=0.2 + 0.6 * warmup(T=40), centered=true)",
        T.RMSprop,
        dict(alpha=0.9, centered=True),
        lambda k: dict(lr=0.01 * 0.5 ** (k / 20), momentum=0.2 + 0.6 * min(k, 40) / 40),
    ),
]


def torch_onecycle_lrs(max_lr, total):
    """The learning rates torch's own OneCycleLR gives, read from a throwaway optimizer."""
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=max_lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(dummy, max_lr=max_lr, total_steps=total, cycle_momentum=False)
    lrs = []
    for k in range(total):
        lrs.append(dummy.param_groups[0]["lr"])
        dummy.step()
        if k + 1 < total:
            scheduler.step()
    return lrs


ONECYCLE = torch_onecycle_lrs(0.1, STEPS)


def triangle(k, up):
    phase = k % (2 * up)
    return phase / up if phase <= up else (2 * up - phase) / up


SCHEDULED.append(
    (
        f"sgd(lr=onecycle(T={STEPS}, base=0.1), momentum=0.95 - 0.1 * cyclic(up=15, high=1), nesterov=true)",
        T.SGD,
        dict(momentum=0.9, nesterov=True),
        lambda k: dict(lr=ONECYCLE[k], momentum=0.95 - 0.1 * triangle(k, 15)),
    )
)


@pytest.mark.parametrize("text,cls,kwargs,schedule", SCHEDULED, ids=[c[0][:50] for c in SCHEDULED])
def test_scheduled_hyperparameters_match_torch_changed_by_hand(text, cls, kwargs, schedule):
    assert_same(run_lrdsl(text), run_torch(cls, kwargs, schedule=schedule))


def test_scheduled_momentum_with_nesterov_is_checked_at_every_step():
    with pytest.raises(lrdsl.LRDSLError, match="nesterov.*momentum > 0.*iteration 0"):
        lrdsl.optimizer("sgd(momentum=0.9 * warmup(T=10), nesterov=true)", [np.zeros(3)])


def test_float32_stays_float32_and_follows_torch_float32():
    ours = run_lrdsl("adam(lr=0.05, weight_decay=0.1)", dtype=np.float32)
    assert all(p.dtype == np.float32 for step in ours for p in step)
    peer = run_torch(T.Adam, dict(lr=0.05, weight_decay=0.1), dtype=torch.float32)
    assert_same(ours, peer, rtol=1e-3, atol=1e-4)  # float32 rounding, compounded over 60 steps


def run_optax_lion(learning_rate, b1, b2, weight_decay):
    with jax.enable_x64(True):
        tx = optax.lion(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)
        params = [jnp.asarray(p) for p in initial()]
        state = tx.init(params)
        trajectory = []
        for k in range(STEPS):
            grads = [jnp.asarray(g) for g in gradients([np.asarray(p) for p in params], k)]
            updates, state = tx.update(grads, state, params)
            params = optax.apply_updates(params, updates)
            assert params[0].dtype == jnp.float64
            trajectory.append([np.asarray(p) for p in params])
    return trajectory


@pytest.mark.parametrize(
    "text,lr,b1,b2,wd",
    [
        ("lion()", 1e-4, 0.9, 0.99, 0.0),
        ("lion(lr=0.01, betas=(0.8, 0.95), weight_decay=0.1)", 0.01, 0.8, 0.95, 0.1),
        (
            "lion(lr=exp(s=10, rate=0.5, base=0.01), weight_decay=0.05)",
            lambda c: 0.01 * 0.5 ** (jnp.asarray(c, jnp.float64) / 10),
            0.9,
            0.99,
            0.05,
        ),
    ],
)
def test_lion_matches_optax(text, lr, b1, b2, wd):
    assert_same(run_lrdsl(text), run_optax_lion(lr, b1, b2, wd))
