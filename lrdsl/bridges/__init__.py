"""Bridges: the same lrdsl string drives PyTorch, JAX/optax and Keras training.

Each bridge is its own module and imports its framework only when it is imported, so
``import lrdsl`` never loads torch, jax or keras:

- :mod:`lrdsl.bridges.torch` — ``ScheduleLR`` (a ``torch.optim.lr_scheduler.LRScheduler``)
  and ``optimizer()`` (a ``torch.optim`` optimizer plus its scheduler);
- :mod:`lrdsl.bridges.jax` — ``schedule()`` (a jittable ``step -> lr``) and ``optimizer()``
  (an optax transformation, scheduled hyperparameters through ``optax.inject_hyperparams``);
- :mod:`lrdsl.bridges.keras` — ``LRDSLSchedule`` (a serialisable
  ``keras.optimizers.schedules.LearningRateSchedule``) and ``optimizer()``.

Importing a bridge whose framework is missing raises :class:`MissingExtraError`, which names
the extra to install (``pip install lrdsl[torch]``).
"""

from ._common import BridgeError, MissingExtraError

__all__ = ["BridgeError", "MissingExtraError"]
