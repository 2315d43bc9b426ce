"""The JAX/optax bridge: jitted schedules against the NumPy evaluator and optax's own schedules."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp

import lrdsl
from lrdsl.bridges import BridgeError
from lrdsl.bridges.jax import schedule

STEPS = np.arange(0, 130)


@pytest.mark.parametrize(
    "text, options",
    [
        ("warmup(T=10) then cosine(T=90, end=1e-5)", {"base": 3e-4}),
        ("step(base=0.1, s=10) then exp(s=5)", {}),
        ("warmup(5%) then cosine(end=0.01 * base)", {"base": 0.5, "total": 120}),
        ("0.5 * linear(T=50) + 0.25 * cosine(T=20) * base", {"base": 2.0}),
        ("warmup(T=1ep) then step(s=2ep, gamma=0.5)", {"steps_per_epoch": 7}),
        ("0.01", {}),
    ],
)
def test_jitted_values_match_numpy(text, options):
    lr = jax.jit(schedule(text, **options))
    values = np.array([lr(k) for k in STEPS[:40]] + list(jax.vmap(lr)(jnp.asarray(STEPS[40:]))))
    assert values.dtype == np.float32
    expected = lrdsl.compile(text, **options).values(STEPS)
    np.testing.assert_allclose(values, expected, rtol=2e-6, atol=1e-7 * expected.max())  # float32 rounding


@pytest.mark.parametrize(
    "text, peer",
    [
        ("cosine(T=100, end=0.1 * base)", optax.cosine_decay_schedule(0.3, decay_steps=100, alpha=0.1)),
        ("linear(T=50, start=0.2, end=0.01)", optax.linear_schedule(0.2, 0.01, transition_steps=50)),
        ("exp(s=7, rate=0.5)", optax.exponential_decay(0.3, transition_steps=7, decay_rate=0.5)),
        ("exp(s=7, rate=0.5, staircase=true)", optax.exponential_decay(0.3, 7, 0.5, staircase=True)),
        (
            "warmup(T=10, start=0.01) then cosine(T=90, end=1e-3)",
            optax.warmup_cosine_decay_schedule(0.01, 0.3, warmup_steps=10, decay_steps=100, end_value=1e-3),
        ),
        (
            "warmup(T=20, start=0.0) then exp(s=15, rate=0.7)",
            optax.warmup_exponential_decay_schedule(0.0, 0.3, 20, 15, 0.7),
        ),
    ],
)
def test_matches_optax_schedules_live(text, peer):
    ours = jax.vmap(jax.jit(schedule(text, base=0.3)))(jnp.asarray(STEPS))
    np.testing.assert_allclose(np.asarray(ours), np.asarray(jax.vmap(peer)(jnp.asarray(STEPS))), rtol=2e-6, atol=1e-8)


def test_epoch_counter_and_compiled_schedule():
    sched = lrdsl.compile("step(s=3ep, gamma=0.5)", base=1.0)
    by_epoch = schedule(sched, counter="ep")
    assert by_epoch.schedule is sched
    np.testing.assert_allclose([jax.jit(by_epoch)(e) for e in range(7)], [1, 1, 1, 0.5, 0.5, 0.5, 0.25])


def test_x64_gives_float64():
    jax.config.update("jax_enable_x64", True)
    try:
        lr = jax.jit(schedule("warmup(T=3) then cosine(T=1000000)", base=3e-4))
        value = lr(jnp.asarray(500001, dtype=jnp.int64))
        assert value.dtype == jnp.float64
        assert float(value) == pytest.approx(
            lrdsl.compile("warmup(T=3) then cosine(T=1000000)", base=3e-4)(500001), rel=1e-12
        )
        assert schedule("cosine(T=10)", dtype=jnp.float32)(3).dtype == jnp.float32
    finally:
        jax.config.update("jax_enable_x64", False)


def test_drives_an_optax_optimizer_step_by_step():
    text = "warmup(T=3) then cosine(T=7)"
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule(text, base=0.1))
    params = {"w": jnp.ones(3)}
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        updates, state = tx.update({"w": jnp.ones(3)}, state, params)  # a constant gradient of 1
        return optax.apply_updates(params, updates), state

    used = []
    for _ in range(10):
        params, state = step(params, state)
        used.append(float(state.hyperparams["learning_rate"]))  # the rate of the update just made
    expected = lrdsl.compile(text, base=0.1).values(np.arange(10))  # the k-th update uses schedule(k)
    np.testing.assert_allclose(used, expected, rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(np.asarray(params["w"]), 1 - expected.sum(), rtol=1e-5)


def test_metric_driven_schedules_are_refused():
    with pytest.raises(BridgeError, match="plateau.*reduce_on_plateau"):
        schedule("plateau(factor=0.5)")


# -- the optimizer factory -------------------------------------------------------------------------


@pytest.fixture
def x64():
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


@pytest.mark.parametrize(
    "text, tolerance",
    [
        ("sgd(lr=warmup(T=3, base=0.1) then cosine(T=10), momentum=0.9, weight_decay=0.01)", 1e-13),
        ("sgd(lr=0.05, momentum=linear(T=10, start=0.5, end=0.9), nesterov=true)", 1e-13),
        (
            "adam(lr=warmup(T=3, base=0.01) then exp(s=10, rate=0.5), betas=(0.95 - 0.1 * cosine(T=10), 0.999), "
            "weight_decay=0.01)",
            1e-13,
        ),
        (
            "adamw(lr=warmup(T=3, base=0.01) then exp(s=10, rate=0.5), weight_decay=linear(T=20, start=0.1, end=0))",
            1e-13,
        ),
        ("adamax(lr=cosine(T=20, base=0.01), weight_decay=0.02)", 1e-13),
        ("rmsprop(lr=cosine(T=20, base=0.01), momentum=0.5)", 1e-13),
        ("rmsprop(lr=0.01, centered=true, weight_decay=0.1)", 1e-13),
        ("adadelta(lr=cosine(T=20, base=1.0), weight_decay=0.1)", 1e-13),
        ("lion(lr=cosine(T=20, base=1e-3), weight_decay=0.1)", 1e-13),
        ("radam(lr=cosine(T=20, base=0.01))", 1e-8),  # optax adds eps at another place
        ("adagrad(lr=cosine(T=20, base=0.1))", 1e-8),  # optax: rsqrt(s + eps), torch: 1 / (sqrt(s) + eps)
    ],
)
def test_optax_factory_matches_the_numpy_optimizer(x64, text, tolerance):
    from lrdsl.bridges.jax import optimizer

    grads = np.random.default_rng(0).normal(size=(20, 5))
    reference_params = np.linspace(-1, 1, 5)
    reference = lrdsl.optimizer(text, [reference_params])
    tx = optimizer(text)
    params = jnp.linspace(-1, 1, 5)
    state = tx.init(params)

    @jax.jit
    def update(params, state, grad):
        updates, state = tx.update(grad, state, params)
        return optax.apply_updates(params, updates), state

    for grad in grads:
        reference.step([grad.copy()])
        params, state = update(params, state, jnp.asarray(grad))
    np.testing.assert_allclose(np.asarray(params), reference_params, rtol=0, atol=tolerance)
    assert set(state.hyperparams) >= {"learning_rate"}


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "nadam()",
            "'nadam' has no counterpart in optax; optimizers with one: adadelta, adagrad, adam, adamax, adamw, "
            "lion, radam, rmsprop, sgd",
        ),
        ("adam(amsgrad=true)", "amsgrad=true"),
        ("sgd(lr=0.1, momentum=0.9, dampening=0.5)", "dampening=0.5"),
        ("adagrad(lr_decay=0.1)", "lr_decay"),
        ("sgd(lr=plateau())", "plateau"),
    ],
)
def test_optax_factory_refuses_what_optax_cannot_do(text, match):
    from lrdsl.bridges.jax import optimizer

    with pytest.raises(BridgeError, match=match):
        optimizer(text)
