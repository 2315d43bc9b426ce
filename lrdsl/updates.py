"""Counting optimizer updates: ``lrdsl.steps(...)``, and what ``total="auto"`` needs.

The most common way a run gets the wrong learning rate is a wrong count of updates, not a wrong
formula. :func:`steps` counts them the way PyTorch's ``DataLoader`` and ``DistributedSampler``
cut a dataset, so ``total`` and ``steps_per_epoch`` match the updates the loop really makes.
No framework is imported.
"""

from __future__ import annotations

from typing import Dict, Optional

from .errors import LRDSLError

AUTO = "auto"
"""``total="auto"``: the training length is taken from the trainer (``lrdsl.bridges``)."""

AUTO_ROUTES = (
    'total="auto" is the training length a trainer knows, and no trainer gave it: with Lightning, add '
    "lrdsl.bridges.lightning.LRDSLCallback() to the Trainer's callbacks; with the transformers Trainer, "
    "use lrdsl.bridges.transformers.LRDSLTrainer (or its LRDSLCallback); in plain PyTorch, count the "
    "updates: lrdsl.compile(text, **lrdsl.steps(dataset_size=..., batch_size=..., epochs=...))"
)
"""The error for a ``total="auto"`` that nothing resolved: the three routes that resolve it."""


def _whole(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise LRDSLError(f"steps(): {name}={value!r:.40}: expected a whole number >= {low}")
    return value


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def steps(
    dataset_size: int,
    batch_size: int,
    epochs: Optional[int] = None,
    accumulate: int = 1,
    world_size: int = 1,
    drop_last: bool = False,
) -> Dict[str, int]:
    """The number of optimizer updates per epoch (and in all), as the options of :func:`lrdsl.compile`:
    ``{"steps_per_epoch": n}``, plus ``"total": n * epochs`` when ``epochs`` is given::

        sched = lrdsl.compile("warmup(5%) then cosine(end=1e-5)",
                              **lrdsl.steps(dataset_size=50_000, batch_size=128, epochs=90))

    Counted as PyTorch does, one rank's share:

    - a ``DistributedSampler`` (its default ``drop_last=False``) gives each of the ``world_size``
      ranks ``ceil(dataset_size / world_size)`` samples, padding with repeated ones;
    - the ``DataLoader`` cuts those into ``ceil(samples / batch_size)`` batches, or
      ``floor(...)`` with ``drop_last=True`` (its own ``drop_last``);
    - with ``accumulate`` batches per update, a last partial window still makes an update
      (``ceil(batches / accumulate)``), as Lightning, the transformers Trainer and accelerate do:
      a loop that steps only after full windows makes ``batches // accumulate`` updates instead.

    ``dataset_size``, ``batch_size`` (per rank), ``accumulate`` and ``world_size`` are whole numbers
    >= 1, ``epochs`` a whole number >= 1 or None. An epoch without a single update (``drop_last``
    with fewer samples than a batch) is an :class:`~lrdsl.LRDSLError`.

    >>> steps(dataset_size=1000, batch_size=32, epochs=3, accumulate=4)
    {'steps_per_epoch': 8, 'total': 24}
    """
    size, batch = _whole("dataset_size", dataset_size), _whole("batch_size", batch_size)
    window, world = _whole("accumulate", accumulate), _whole("world_size", world_size)
    count = None if epochs is None else _whole("epochs", epochs)
    if not isinstance(drop_last, bool):
        raise LRDSLError(f"steps(): drop_last={drop_last!r:.40}: expected True or False")
    samples = _ceil_div(size, world)
    batches = samples // batch if drop_last else _ceil_div(samples, batch)
    if batches == 0:
        raise LRDSLError(
            f"steps(): each rank gets {samples} sample(s), fewer than one batch of {batch}, and drop_last=True "
            "drops it: an epoch would make no update"
        )
    per_epoch = _ceil_div(batches, window)
    if count is None:
        return {"steps_per_epoch": per_epoch}
    return {"steps_per_epoch": per_epoch, "total": per_epoch * count}


__all__ = ["AUTO", "AUTO_ROUTES", "steps"]
