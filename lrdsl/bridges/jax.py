"""JAX / optax bridge: an lrdsl string as a jittable ``step -> value`` function.

::

    from lrdsl.bridges.jax import schedule

    lr = schedule("warmup(5%) then cosine(end=1e-5)", base=3e-4, total=10_000)
    tx = optax.adamw(learning_rate=lr)       # any optax ``ScalarOrSchedule``
    jax.jit(lr)(100)                          # a float32 scalar (float64 when x64 is enabled)

The function is the schedule's vectorised evaluator written against ``jax.numpy``
(:meth:`lrdsl.Schedule.array_function`), so it traces, jits and vmaps; its values are those
of ``Schedule.values`` in the chosen dtype. ``count`` is the optimizer update number (optax
starts at 0, the k-th update uses ``schedule(k)``) or, with ``counter="ep"``, an epoch.
Metric-driven nodes (``plateau``) cannot run inside a jitted step and are refused.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ._common import refuse_stateful, require
from ._optim import counterpart, nonzero, parse
from ._optim import require as require_value

jax = require("jax", "jax", "lrdsl.bridges.jax")
jnp = require("jax.numpy", "jax", "lrdsl.bridges.jax")
optax = require("optax", "jax", "lrdsl.bridges.jax")

from ..schedule import Schedule, compile_schedule  # noqa: E402


def default_dtype():
    """float64 when ``jax_enable_x64`` is on, else float32 (JAX's own default)."""
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def schedule(
    text_or_schedule,
    *,
    base: float = 1.0,
    steps_per_epoch=None,
    total=None,
    variables: Optional[Mapping[str, Any]] = None,
    counter: str = "it",
    dtype=None,
    registry=None,
    tokens_per_step=None,
    samples_per_step=None,
) -> Callable:
    """A jittable ``count -> value`` for an lrdsl expression (or a compiled :class:`lrdsl.Schedule`).

    ``base``, ``steps_per_epoch``, ``total``, ``variables``, ``tokens_per_step`` and
    ``samples_per_step`` are those of :func:`lrdsl.compile` (ignored when a Schedule is given);
    ``counter`` says what ``count`` is: ``"it"`` (the update number), ``"ep"`` (an epoch), or
    ``"tok"``/``"sp"`` (the cumulative tokens or samples seen); ``dtype`` defaults to
    :func:`default_dtype`.
    """
    if isinstance(text_or_schedule, Schedule):
        sched = text_or_schedule
    else:
        sched = compile_schedule(
            text_or_schedule,
            base=base,
            steps_per_epoch=steps_per_epoch,
            total=total,
            variables=variables,
            registry=registry,
            tokens_per_step=tokens_per_step,
            samples_per_step=samples_per_step,
        )
    refuse_stateful(
        sched,
        "JAX",
        "use optax.contrib.reduce_on_plateau, or drive the schedule from Python "
        "(Schedule.report) and pass its value as a hyperparameter",
    )
    over = sched.array_function(jnp, counter)
    out_dtype = dtype or default_dtype()

    def value(count):
        return jnp.asarray(over(jnp.asarray(count, out_dtype)), out_dtype)

    value.__name__ = "lrdsl_schedule"
    value.__doc__ = f"lrdsl schedule {sched.expression!r} (base={sched.base!r}) of the optax count."
    value.schedule = sched  # type: ignore[attr-defined]  # a function attribute
    return value


# -- optimizers ------------------------------------------------------------------------------------
# Each entry maps an lrdsl optimizer (torch's names and update rules) to the optax transformation
# with the same update: (inner factory with explicit hyperparameter arguments, their values, static
# argument names). torch's coupled weight decay (g <- g + wd*theta) is optax.add_decayed_weights
# before the rule, added only when the decay is in use (it needs params in update()).


def _l2(transformation, weight_decay, used: bool):
    return optax.chain(optax.add_decayed_weights(weight_decay), transformation) if used else transformation


def _sgd(config):
    h = config.hyperparameters
    require_value(config, "optax", "dampening", lambda v: v == 0, "optax.sgd has no dampening; use dampening=0")
    l2, uses_momentum = nonzero(h["weight_decay"]), nonzero(h["momentum"])

    def sgd(learning_rate, momentum, weight_decay, nesterov):
        return _l2(
            optax.sgd(learning_rate, momentum=momentum if uses_momentum else None, nesterov=nesterov), weight_decay, l2
        )

    return (
        sgd,
        {
            "learning_rate": h["lr"],
            "momentum": h["momentum"],
            "weight_decay": h["weight_decay"],
            "nesterov": h["nesterov"],
        },
        ("nesterov",),
    )


def _adam_like(rule):
    def build(config):
        h = config.hyperparameters
        if "amsgrad" in h:
            require_value(
                config,
                "optax",
                "amsgrad",
                lambda v: not v,
                "optax.amsgrad keeps the maximum of the "
                "bias-corrected second moment, torch of the raw one; use amsgrad=false",
            )
        l2 = nonzero(h["weight_decay"])

        def adam_like(learning_rate, b1, b2, eps, weight_decay):
            return _l2(rule(learning_rate, b1, b2, eps), weight_decay, l2)

        b1, b2 = h["betas"]
        return (
            adam_like,
            {"learning_rate": h["lr"], "b1": b1, "b2": b2, "eps": h["eps"], "weight_decay": h["weight_decay"]},
            (),
        )

    return build


def _adamw(config):
    h = config.hyperparameters
    require_value(config, "optax", "amsgrad", lambda v: not v, "optax.adamw has no amsgrad; use amsgrad=false")

    def adamw(learning_rate, b1, b2, eps, weight_decay):
        return optax.adamw(learning_rate, b1, b2, eps, weight_decay=weight_decay)

    b1, b2 = h["betas"]
    return adamw, {"learning_rate": h["lr"], "b1": b1, "b2": b2, "eps": h["eps"], "weight_decay": h["weight_decay"]}, ()


def _rmsprop(config):
    h = config.hyperparameters
    l2, uses_momentum = nonzero(h["weight_decay"]), nonzero(h["momentum"])

    def rmsprop(learning_rate, decay, eps, weight_decay, momentum, centered):
        # torch keeps the lr outside the momentum buffer: theta -= lr * (mu*b + g/(sqrt(v)+eps)).
        scale = optax.scale_by_stddev if centered else optax.scale_by_rms
        parts = [scale(decay=decay, eps=eps, initial_scale=0.0, eps_in_sqrt=False)]
        if uses_momentum:
            parts.append(optax.trace(decay=momentum))
        return _l2(optax.chain(*parts, optax.scale_by_learning_rate(learning_rate)), weight_decay, l2)

    return (
        rmsprop,
        {
            "learning_rate": h["lr"],
            "decay": h["alpha"],
            "eps": h["eps"],
            "weight_decay": h["weight_decay"],
            "momentum": h["momentum"],
            "centered": h["centered"],
        },
        ("centered",),
    )


def _adadelta(config):
    h = config.hyperparameters
    l2 = nonzero(h["weight_decay"])

    def adadelta(learning_rate, rho, eps, weight_decay):
        return _l2(
            optax.chain(optax.scale_by_adadelta(rho=rho, eps=eps), optax.scale_by_learning_rate(learning_rate)),
            weight_decay,
            l2,
        )

    return adadelta, {"learning_rate": h["lr"], "rho": h["rho"], "eps": h["eps"], "weight_decay": h["weight_decay"]}, ()


def _adagrad(config):
    h = config.hyperparameters
    require_value(config, "optax", "lr_decay", lambda v: v == 0, "optax.adagrad has no lr_decay; use lr_decay=0")
    l2 = nonzero(h["weight_decay"])

    def adagrad(learning_rate, weight_decay, eps):
        return _l2(
            optax.adagrad(learning_rate, initial_accumulator_value=h["initial_accumulator_value"], eps=eps),
            weight_decay,
            l2,
        )

    return adagrad, {"learning_rate": h["lr"], "weight_decay": h["weight_decay"], "eps": h["eps"]}, ()


def _lion(config):
    h = config.hyperparameters

    def lion(learning_rate, b1, b2, weight_decay):
        return optax.lion(learning_rate, b1, b2, weight_decay=weight_decay)

    b1, b2 = h["betas"]
    return lion, {"learning_rate": h["lr"], "b1": b1, "b2": b2, "weight_decay": h["weight_decay"]}, ()


OPTAX_OPTIMIZERS = {
    "sgd": _sgd,
    "adam": _adam_like(optax.adam),
    "adamw": _adamw,
    "adamax": _adam_like(optax.adamax),
    "radam": _adam_like(optax.radam),
    "rmsprop": _rmsprop,
    "adadelta": _adadelta,
    "adagrad": _adagrad,
    "lion": _lion,
}


def optimizer(
    text, *, steps_per_epoch=None, total=None, variables: Optional[Mapping[str, Any]] = None, dtype=None, registry=None
):
    """The optax transformation for an lrdsl optimizer string, e.g.
    ``"adamw(lr=warmup(5%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)"``.

    Every hyperparameter goes through ``optax.inject_hyperparams``, so scheduled ones (any float,
    and each of ``betas``) follow their lrdsl schedule (absolute values: incoming base 1.0) and
    all of them can be read in ``state.hyperparams``. Pass ``params`` to ``update()`` when a
    weight decay is in use. For several parameter groups, build one per group and combine them
    with ``optax.multi_transform``.
    """
    config = parse(text, steps_per_epoch=steps_per_epoch, total=total, variables=variables, registry=registry)
    inner, values, static = counterpart(config, OPTAX_OPTIMIZERS, "optax")(config)
    arguments = {
        name: schedule(value, dtype=dtype) if isinstance(value, Schedule) else value for name, value in values.items()
    }
    return optax.inject_hyperparams(inner, static_args=static, hyperparam_dtype=dtype)(**arguments)


__all__ = ["OPTAX_OPTIMIZERS", "default_dtype", "optimizer", "schedule"]
