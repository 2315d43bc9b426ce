"""HF transformers: an lrdsl schedule for the ``Trainer``, its ``%`` taken from the Trainer's own count of
optimizer updates.

::

    from lrdsl.bridges.transformers import LRDSLTrainer

    trainer = LRDSLTrainer(model=model, args=args, train_dataset=data,
                           lr_schedule="warmup(5%) then cosine(end=1e-5)")   # base: args.learning_rate
    trainer.train()

The schedule's ``total`` is the ``num_training_steps`` the Trainer passes to ``create_scheduler``:
``args.max_steps``, or the epochs times the updates per epoch (``gradient_accumulation_steps``
counted, a last partial window included). The Trainer steps the scheduler once per update and not
after an update that mixed precision skipped. A Trainer that cannot be subclassed (or a
``ScheduleLR(..., total="auto")`` passed in ``optimizers=``) takes :class:`LRDSLCallback` instead.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ._common import BridgeError, require

transformers = require("transformers", "transformers", "lrdsl.bridges.transformers")

from .torch import ScheduleLR  # noqa: E402

_Trainer: Any = transformers.Trainer  # imported at run time: Any to mypy
_TrainerCallback: Any = transformers.TrainerCallback


def _resolve(scheduler: Any, updates: int) -> None:
    """Give ``updates`` as the total of ``scheduler`` if it is a ScheduleLR waiting for it."""
    if isinstance(scheduler, ScheduleLR) and scheduler.pending:
        scheduler.resolve_total(updates)


class LRDSLTrainer(_Trainer):
    """A ``transformers.Trainer`` whose learning rate follows ``lr_schedule`` (an lrdsl string; its base is
    each param group's lr, ``args.learning_rate``), with ``total`` the Trainer's number of update
    steps. ``lr_schedule_options`` are further options of
    :class:`~lrdsl.bridges.torch.ScheduleLR` (``variables``, ``steps_per_epoch``,
    ``hyperparameters``, ...). Without ``lr_schedule`` it is a plain Trainer that resolves the
    ``total="auto"`` of a ScheduleLR given in ``optimizers=``."""

    lr_scheduler: Any  # the Trainer's attribute

    def __init__(
        self, *args: Any, lr_schedule: Optional[str] = None, lr_schedule_options: Optional[Mapping] = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        if lr_schedule is not None and self.lr_scheduler is not None:
            raise BridgeError("LRDSLTrainer: give lr_schedule= or a scheduler in optimizers=, not both")
        if lr_schedule_options and "total" in lr_schedule_options:
            raise BridgeError("LRDSLTrainer: the total is the Trainer's number of update steps; leave it out")
        self.lr_schedule = lr_schedule
        self.lr_schedule_options = dict(lr_schedule_options or {})

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
        """The :class:`ScheduleLR` of ``lr_schedule`` over ``num_training_steps`` updates (the Trainer's
        own count); without ``lr_schedule``, the Trainer's scheduler (a pending ScheduleLR resolved)."""
        if self.lr_schedule is None:
            _resolve(self.lr_scheduler, num_training_steps)
            return super().create_scheduler(num_training_steps, optimizer)
        if self.lr_scheduler is None:
            self.lr_scheduler = ScheduleLR(
                optimizer if optimizer is not None else self.optimizer,
                self.lr_schedule,
                total=num_training_steps,
                **self.lr_schedule_options,
            )
            self._created_lr_scheduler = True  # the Trainer makes a new one for each train()
        return self.lr_scheduler


class LRDSLCallback(_TrainerCallback):
    """Resolves ``total="auto"`` of the Trainer's :class:`ScheduleLR` (given in ``optimizers=``) from
    ``state.max_steps``, the Trainer's number of update steps, when training begins."""

    def on_train_begin(self, args: Any, state: Any, control: Any, lr_scheduler: Any = None, **kwargs: Any) -> None:
        _resolve(lr_scheduler, state.max_steps)


__all__ = ["LRDSLCallback", "LRDSLTrainer"]
