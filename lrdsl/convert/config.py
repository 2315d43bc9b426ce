"""``from_config`` and ``from_file``: the JSON forms of the peers' schedules, told apart by their keys.

- a DeepSpeed scheduler block ``{"type": ..., "params": {...}}``, or a DeepSpeed config holding
  one under ``"scheduler"``;
- a serialized Keras schedule ``{"class_name": ..., "config": {...}}``;
- HF training arguments ``{"lr_scheduler_type": ..., "num_warmup_steps": ...,
  "num_training_steps": ..., "lr_scheduler_kwargs": {...}}`` (``warmup_steps`` and ``max_steps``,
  the ``TrainingArguments`` names, are read too).

Every error names the key, and from a file the file: ``ds.json: scheduler.params.warmup_type: ...``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import LRDSLError
from .deepspeed import from_deepspeed
from .fields import Fields, describe
from .keras import from_keras
from .transformers import convert as convert_hf

_FORMS = (
    '{"type": ..., "params": {...}} (DeepSpeed), {"class_name": ..., "config": {...}} (Keras) '
    'or {"lr_scheduler_type": ..., ...} (HF transformers)'
)


def from_config(data: Any) -> str:
    """The lrdsl string of a peer's scheduler configuration (a dict read from JSON)."""
    if not isinstance(data, dict):
        raise LRDSLError(f"expected a scheduler configuration, one of {_FORMS}; got {describe(data)}")
    if "type" in data or isinstance(data.get("scheduler"), dict):
        return from_deepspeed(data)
    if "class_name" in data:
        return from_keras(data)
    if "lr_scheduler_type" in data:
        return _from_hf(data)
    raise LRDSLError(f"cannot tell which library the keys {sorted(data)} belong to; expected {_FORMS}")


def _from_hf(data: dict) -> str:
    f = Fields(data, "")
    name = f.raw("lr_scheduler_type")
    warmup = _either(f, "num_warmup_steps", "warmup_steps")
    training = _either(f, "num_training_steps", "max_steps")
    kwargs = _either(f, "lr_scheduler_kwargs", "scheduler_specific_kwargs")
    f.done()
    where = "lr_scheduler_kwargs" if "lr_scheduler_kwargs" in data else "scheduler_specific_kwargs"
    if kwargs is not None and not isinstance(kwargs, dict):
        raise LRDSLError(f"{where}: expected a mapping, got {describe(kwargs)}")
    return convert_hf(name, warmup, training, kwargs or {}, "lr_scheduler_type", where)


def _either(f: Fields, name: str, alias: str):
    if name in f.data and alias in f.data:
        raise f.error(alias, f"give {name} or {alias}, not both")
    return f.raw(alias, None) if alias in f.data else f.raw(name, None)


def from_file(path) -> str:
    """:func:`from_config` of a JSON file; errors start with the file's name."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise LRDSLError(f"{path}: cannot read it: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise LRDSLError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    try:
        return from_config(data)
    except LRDSLError as error:
        raise LRDSLError(f"{path}: {error}") from None
