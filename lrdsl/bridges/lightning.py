"""Lightning: ``total="auto"`` resolved from the Trainer's own count of optimizer updates.

::

    from lrdsl.bridges.lightning import LRDSLCallback
    from lrdsl.bridges.torch import ScheduleLR

    def configure_optimizers(self):                      # in the LightningModule
        opt = torch.optim.AdamW(self.parameters(), lr=3e-4)
        sched = ScheduleLR(opt, "warmup(5%) then cosine(end=1e-5)", total="auto", follow_optimizer=True)
        return {"optimizer": opt, "lr_scheduler": sched.lightning_config()}

    trainer = lightning.Trainer(max_epochs=10, accumulate_grad_batches=4, callbacks=[LRDSLCallback()])

``total`` becomes ``trainer.estimated_stepping_batches`` — the updates Lightning will make, counting
``accumulate_grad_batches``, the devices' share of the data, ``max_epochs`` and ``max_steps`` — so
``5%`` is 5% of the updates. (The same number can be given directly in ``configure_optimizers``:
``total=self.trainer.estimated_stepping_batches``.)
"""

from __future__ import annotations

import math
from typing import Any

from ._common import BridgeError, require

lightning = require("lightning.pytorch", "lightning", "lrdsl.bridges.lightning")

from .torch import ScheduleLR  # noqa: E402

_Callback: Any = lightning.Callback  # imported at run time: Any to mypy


def trainer_total(trainer: Any, scheduler: ScheduleLR) -> Any:
    """The training length a Lightning ``trainer`` will run, in the unit ``scheduler`` counts: its
    optimizer updates (``interval="step"``), or ``"<max_epochs>ep"`` (``interval="epoch"``)."""
    if scheduler.interval == "epoch":
        if not trainer.max_epochs or trainer.max_epochs < 0:
            raise BridgeError('total="auto" with interval="epoch" needs a Trainer with max_epochs')
        return f"{trainer.max_epochs}ep"
    updates = trainer.estimated_stepping_batches
    if not math.isfinite(updates):
        raise BridgeError(
            'total="auto": this Trainer trains without end (max_epochs=-1, no max_steps, or an iterable '
            "dataset without max_steps), so it knows no number of updates; give max_steps or a total"
        )
    return int(updates)


class LRDSLCallback(_Callback):
    """Resolves ``total="auto"`` of every :class:`~lrdsl.bridges.torch.ScheduleLR` the Trainer holds, at
    ``on_train_start`` — after a checkpoint is restored (whose total wins) and before the first
    update, whose learning rate it sets. Only schedulers stepped once per update (``frequency=1``)
    are resolved; another frequency is a :class:`BridgeError`."""

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        for config in trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if isinstance(scheduler, ScheduleLR) and scheduler.pending:
                if config.frequency != 1:
                    raise BridgeError(
                        f'total="auto" with a Lightning scheduler frequency of {config.frequency}: the Trainer '
                        "counts updates, not scheduler steps; use frequency=1 or give total="
                    )
                scheduler.resolve_total(trainer_total(trainer, scheduler))


__all__ = ["LRDSLCallback", "trainer_total"]
