"""Keras 3 bridge: an lrdsl string as a serialisable ``LearningRateSchedule``.

::

    import lrdsl.bridges.keras  # registers the class, also before keras.models.load_model
    from lrdsl.bridges.keras import LRDSLSchedule

    lr = LRDSLSchedule("warmup(5%) then cosine(end=1e-5)", base=1e-3, total=2000)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")

Keras calls the schedule with the optimizer's iteration count (0 for the first update). The
schedule is evaluated with ``keras.ops``, so it works on every backend, inside compiled
train steps too. ``get_config()`` holds the string and its compile options, and the class
is registered as ``"lrdsl>LRDSLSchedule"``, so ``model.save`` / ``keras.models.load_model``
round-trip it. Metric-driven nodes (``plateau``) are refused: use Keras's
``ReduceLROnPlateau`` callback instead.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional

from ._common import refuse_stateful, require
from ._optim import counterpart, only_scheduled, parse
from ._optim import require as require_value

keras = require(
    "keras",
    "keras",
    "lrdsl.bridges.keras",
    hint="Keras 3 needs a backend: set KERAS_BACKEND=torch or KERAS_BACKEND=jax (and install it), "
    "or install tensorflow",
)

from ..schedule import Schedule, compile_schedule  # noqa: E402


class KerasNamespace:
    """``keras.ops`` seen as the array namespace lrdsl's vectorised evaluator is written against."""

    pi = math.pi
    e = math.e
    inf = math.inf

    @staticmethod
    def asarray(values, dtype=None):
        return keras.ops.convert_to_tensor(values, dtype=dtype)

    def __getattr__(self, name: str):
        return getattr(keras.ops, name)


_LearningRateSchedule: Any = keras.optimizers.schedules.LearningRateSchedule  # imported at run time: Any to mypy


@keras.saving.register_keras_serializable(package="lrdsl")
class LRDSLSchedule(_LearningRateSchedule):
    """A Keras learning-rate schedule compiled from an lrdsl expression.

    The arguments are those of :func:`lrdsl.compile` (``base`` is the incoming base, 1.0 by
    default, so ``"warmup(T=100, base=1e-3) then ..."`` or ``base=1e-3`` give absolute rates).
    ``counter`` says what the schedule is called with: ``"it"``, the optimizer's iteration (as
    Keras does), or -- in a custom training loop -- ``"ep"``, ``"tok"`` or ``"sp"``.
    ``registry`` (plugin nodes registered in-process) is not part of ``get_config()``: a reloaded
    model finds its nodes in the default registry.

    A Keras checkpoint (``model.save``) holds ``get_config()``, and ``load_model`` rebuilds the saved
    schedule. To resume into a *new* schedule instead, save ``state_dict(optimizer.iterations)``
    with the checkpoint and call ``load_state_dict`` on the new one before training: ``on_change``
    then decides as for :meth:`lrdsl.Schedule.load_state_dict` (docs in :mod:`lrdsl.resume`), and
    ``get_config()`` describes the schedule that runs.
    """

    def __init__(
        self,
        schedule: str,
        base: float = 1.0,
        steps_per_epoch=None,
        total=None,
        variables: Optional[Mapping[str, Any]] = None,
        name: str = "LRDSLSchedule",
        registry=None,
        counter: str = "it",
        tokens_per_step=None,
        samples_per_step=None,
        on_change: str = "error",
    ):
        super().__init__()
        self.schedule = schedule
        self.base = base
        self.steps_per_epoch = steps_per_epoch
        self.total = total
        self.variables = dict(variables or {})
        self.name = name
        self.counter, self.tokens_per_step, self.samples_per_step = counter, tokens_per_step, samples_per_step
        self.compiled = compile_schedule(
            schedule,
            base=base,
            steps_per_epoch=steps_per_epoch,
            total=total,
            variables=self.variables,
            registry=registry,
            tokens_per_step=tokens_per_step,
            samples_per_step=samples_per_step,
            on_change=on_change,
        )
        refuse_stateful(self.compiled, "Keras", "use keras.callbacks.ReduceLROnPlateau instead")
        self._over = self.compiled.array_function(KerasNamespace(), counter)

    def state_dict(self, iterations=None) -> Dict[str, Any]:
        """The schedule's state (:meth:`lrdsl.Schedule.state_dict`) at ``iterations``, the optimizer's
        count (``optimizer.iterations``, in the unit of ``counter``), as plain data."""
        state = self.compiled.state_dict()
        if iterations is not None:
            point = float(keras.ops.convert_to_numpy(iterations))
            state["position"] = {"unit": self.counter, "time": point}
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`, under ``on_change`` when the state is of another schedule;
        call it before the first training step (a compiled train step keeps the schedule it traced)."""
        self.compiled.load_state_dict(state)
        options = self.compiled.options
        self.schedule, self.base, self.total = self.compiled.expression, options.base, options.total
        self.steps_per_epoch, self.variables = options.steps_per_epoch, dict(options.variables)
        self.tokens_per_step, self.samples_per_step = options.tokens_per_step, options.samples_per_step
        self._over = self.compiled.array_function(KerasNamespace(), self.counter)

    def __call__(self, step):
        dtype = keras.backend.floatx()
        return keras.ops.cast(self._over(keras.ops.cast(step, dtype)), dtype)

    def get_config(self) -> Dict[str, Any]:
        return {
            "schedule": self.schedule,
            "base": self.base,
            "steps_per_epoch": self.steps_per_epoch,
            "total": self.total,
            "variables": dict(self.variables),
            "name": self.name,
            "counter": self.counter,
            "tokens_per_step": self.tokens_per_step,
            "samples_per_step": self.samples_per_step,
            "on_change": self.compiled.on_change,
        }

    def __repr__(self) -> str:
        return f"LRDSLSchedule({self.schedule!r}, base={self.base!r})"


# -- optimizers ------------------------------------------------------------------------------------
# lrdsl optimizer -> (Keras class, Keras argument for each lrdsl hyperparameter). Keras's update
# rules differ from torch's in details (PEERS §7.2: epsilon placement, SGD velocity, decoupled
# weight decay), so torch's coupled weight decay, dampening and lr_decay are refused rather
# than mapped to something else.

_ADAM = {"betas": ("beta_1", "beta_2"), "eps": "epsilon"}
KERAS_OPTIMIZERS = {
    "sgd": ("SGD", {"momentum": "momentum", "nesterov": "nesterov"}),
    "adam": ("Adam", {**_ADAM, "amsgrad": "amsgrad"}),
    "adamw": ("AdamW", {**_ADAM, "amsgrad": "amsgrad", "weight_decay": "weight_decay"}),
    "adamax": ("Adamax", _ADAM),
    "nadam": ("Nadam", _ADAM),
    "rmsprop": ("RMSprop", {"alpha": "rho", "momentum": "momentum", "eps": "epsilon", "centered": "centered"}),
    "adagrad": ("Adagrad", {"initial_accumulator_value": "initial_accumulator_value", "eps": "epsilon"}),
    "adadelta": ("Adadelta", {"rho": "rho", "eps": "epsilon"}),
    "lion": ("Lion", {"betas": ("beta_1", "beta_2"), "weight_decay": "weight_decay"}),
}
_MUST_BE_ZERO = {
    "weight_decay": "Keras's weight_decay is decoupled (w -= lr*wd*w), not torch's L2 term; use "
    "adamw, or weight_decay=0",
    "dampening": "Keras's SGD has no dampening",
    "lr_decay": "Keras's Adagrad has no lr_decay",
}


def optimizer(text, *, steps_per_epoch=None, total=None, variables: Optional[Mapping[str, Any]] = None, registry=None):
    """The Keras optimizer for an lrdsl optimizer string; a scheduled ``lr`` becomes an :class:`LRDSLSchedule`.

    Keras schedules only the learning rate, so another scheduled hyperparameter is refused.
    The hyperparameters keep their values; Keras's update rules differ from torch's in small
    documented ways (epsilon placement, SGD velocity).
    """
    config = parse(text, steps_per_epoch=steps_per_epoch, total=total, variables=variables, registry=registry)
    name, arguments = counterpart(config, KERAS_OPTIMIZERS, "Keras")
    only_scheduled(config, ("lr",), "Keras")
    h = config.hyperparameters
    for key, why in _MUST_BE_ZERO.items():
        if key in h and key not in arguments:
            require_value(config, "Keras", key, lambda v: v == 0, why)
    if config.name == "nadam":
        require_value(config, "Keras", "momentum_decay", lambda v: v == 4e-3, "Keras's Nadam fixes it at 4e-3")
    kwargs: Dict[str, Any] = {}
    for key, target in arguments.items():
        value = h[key]
        if isinstance(value, tuple):  # betas: one Keras argument per item
            kwargs.update(zip(target, value))
        else:
            kwargs[target] = value
    if kwargs.get("weight_decay") == 0:
        kwargs["weight_decay"] = None
    lr = h["lr"]
    if isinstance(lr, Schedule):
        lr = LRDSLSchedule(
            lr.expression,
            base=1.0,
            steps_per_epoch=steps_per_epoch,
            total=total,
            variables=variables,
            registry=registry,
        )
    return getattr(keras.optimizers, name)(learning_rate=lr, **kwargs)


__all__ = ["KERAS_OPTIMIZERS", "KerasNamespace", "LRDSLSchedule", "optimizer"]
