"""The arrays an optimizer updates: parameter groups in, gradients checked against them.

``params`` is given in the forms PyTorch users know, plus names:

- one array, a list of arrays, or a dict ``{name: array}``;
- a list of groups ``[{"params": [...], "weight_decay": 0}, ...]``: each group's ``"params"`` is
  any of the forms above and its other keys override the optimizer's hyperparameters.

Gradients come in the same order: one array (one parameter), a list with one entry per
parameter (groups concatenated in order), or a dict by name when every parameter has a name.
``None`` skips a parameter for this step, as a missing ``.grad`` does in PyTorch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import ArrayError, did_you_mean
from ..schema import Anything, ListOf, MapOf, Text, Where, validate
from ..text import describe as _describe


@dataclass(frozen=True)
class Slot:
    """One parameter array and how errors refer to it."""

    array: np.ndarray
    label: str  # "'W'", "params[2]", "group 1 params[0]"
    name: Optional[str]


def _arrays(value: Any, prefix: str) -> List[Slot]:
    if isinstance(value, np.ndarray):
        return [Slot(value, f"{prefix}params[0]", None)]
    if isinstance(value, Mapping):
        return [Slot(array, repr(name), str(name)) for name, array in value.items()]
    if isinstance(value, (list, tuple)):
        return [Slot(array, f"{prefix}params[{i}]", None) for i, array in enumerate(value)]
    raise ArrayError(
        f"optimizer(): {prefix}params must be a NumPy array, a list of arrays, a dict "
        f"{{name: array}} or a list of groups {{'params': [...], ...}}; got {_describe(value)}"
    )


GROUP = Where(
    MapOf(Text(), Anything()),
    lambda group: "params" in group,
    "a group {'params': [arrays...], 'lr': ..., ...} (its keys: 'params' and hyperparameter names)",
)


def collect(params: Any) -> List[Tuple[List[Slot], Dict[str, Any]]]:
    """``[(slots, overrides), ...]``, one entry per parameter group, every array checked."""
    if not isinstance(params, (np.ndarray, Mapping, list, tuple, str)) and hasattr(params, "__iter__"):
        params = list(params)  # a generator, as model.parameters() is in PyTorch
    if isinstance(params, (list, tuple)) and params and all(isinstance(g, Mapping) for g in params):
        groups = []
        for number, group in enumerate(validate(ListOf(GROUP), params, ArrayError, "optimizer()", "params")):
            overrides = {k: v for k, v in group.items() if k != "params"}
            groups.append((_arrays(group["params"], f"group {number} " if len(params) > 1 else ""), overrides))
    else:
        groups = [(_arrays(params, ""), {})]
    seen: List[Tuple[np.ndarray, str]] = []
    names: Dict[str, str] = {}
    for slots, _ in groups:
        for slot in slots:
            array = slot.array
            if not isinstance(array, np.ndarray):
                raise ArrayError(
                    f"optimizer(): parameter {slot.label} is {_describe(array)}; expected a NumPy array "
                    "of floats (np.asarray(x, dtype=np.float32))"
                )
            if not np.issubdtype(array.dtype, np.floating):
                raise ArrayError(
                    f"optimizer(): parameter {slot.label} has dtype {array.dtype}; expected float16, float32 or float64"
                )
            if not array.flags.writeable:
                raise ArrayError(
                    f"optimizer(): parameter {slot.label} is read-only; the optimizer updates parameters in place"
                )
            for other, label in seen:
                if _overlap(array, other):
                    raise ArrayError(
                        f"optimizer(): parameters {label} and {slot.label} share memory (the same array, or "
                        "views of one buffer), so a step would update their elements twice; give separate arrays"
                    )
            seen.append((array, slot.label))
            if slot.name is not None:
                if slot.name in names:
                    raise ArrayError(f"optimizer(): two parameters are called {slot.name!r}")
                names[slot.name] = slot.label
    if not seen:
        raise ArrayError("optimizer(): params is empty; give at least one array to optimize")
    return groups


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays share any element (a view of the other, views of one buffer); a case too
    costly to decide exactly counts as sharing."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))  # type: ignore[arg-type]  # numpy's stub: -1 or 0
    except np.exceptions.TooHardError:
        return True


class GradientMatcher:
    """Checks one step's gradients against the parameters before anything is updated."""

    def __init__(self, slots: Sequence[Slot]):
        self.slots = list(slots)
        named = all(slot.name is not None for slot in self.slots)
        self.index: Optional[Dict[str, int]] = (
            {str(slot.name): i for i, slot in enumerate(self.slots)} if named else None
        )

    def match(self, grads: Any) -> List[Optional[np.ndarray]]:
        """One read-only gradient (or None) per parameter, in order; raises ArrayError."""
        count = len(self.slots)
        if isinstance(grads, np.ndarray):
            if count != 1:
                raise ArrayError(
                    f"step(): got one gradient array for {count} parameters; pass a list of {count} "
                    "arrays in the order of params" + (" or a dict by name" if self.index else "")
                )
            ordered: List[Optional[np.ndarray]] = [grads]
        elif isinstance(grads, Mapping):
            ordered = self._by_name(grads)
        elif isinstance(grads, (list, tuple)):
            if len(grads) != count:
                raise ArrayError(
                    f"step(): got {len(grads)} gradients for {count} parameters; pass one per "
                    "parameter, in the order of params (None skips one)"
                )
            ordered = list(grads)
        else:
            raise ArrayError(
                f"step(): grads must be a list of NumPy arrays (one per parameter), got {_describe(grads)}"
            )
        out = []
        for slot, grad in zip(self.slots, ordered):
            if grad is not None:
                self._check(slot, grad)
                grad = grad.view()
                grad.flags.writeable = False  # an update rule must never write into the caller's gradient
            out.append(grad)
        return out

    def _by_name(self, grads: Mapping) -> List[Optional[np.ndarray]]:
        if self.index is None:
            raise ArrayError(
                "step(): grads is a dict, but the parameters were not given by name; pass a list "
                "in the order of params, or give params as {name: array}"
            )
        unknown = [key for key in grads if key not in self.index]
        if unknown:
            raise ArrayError(
                f"step(): gradient for unknown parameter {unknown[0]!r}"
                f"{did_you_mean(str(unknown[0]), self.index)}; parameters: {', '.join(self.index)}"
            )
        missing = [name for name in self.index if name not in grads]
        if missing:
            raise ArrayError(
                f"step(): no gradient for {', '.join(map(repr, missing))}; give one for every "
                "parameter (None skips a parameter for this step)"
            )
        return [grads[name] for name in self.index]

    @staticmethod
    def _check(slot: Slot, grad: Any) -> None:
        param = slot.array
        if not isinstance(grad, np.ndarray):
            raise ArrayError(f"step(): the gradient for {slot.label} is {_describe(grad)}; expected a NumPy array")
        if grad.shape != param.shape:
            raise ArrayError(
                f"step(): the gradient for {slot.label} has shape {grad.shape}, but the parameter "
                f"has shape {param.shape}"
            )
        if grad.dtype != param.dtype:
            raise ArrayError(
                f"step(): the gradient for {slot.label} is {grad.dtype}, but the parameter is "
                f"{param.dtype}; cast it (grad.astype(np.{param.dtype}))"
            )
        # One reduction, no temporary: the sum is finite whenever every element is (an overflow of
        # the sum alone is re-checked element by element).
        with np.errstate(over="ignore"):  # a float32 sum may overflow though every element is finite
            total = grad.sum()
        if not math.isfinite(total):
            bad = ~np.isfinite(grad)
            if bad.any():
                where = tuple(int(i) for i in np.unravel_index(int(np.flatnonzero(bad)[0]), grad.shape))
                raise ArrayError(
                    f"step(): the gradient for {slot.label} has {int(bad.sum())} non-finite value(s) "
                    f"(first at index {where}: {float(grad[where])!r}); nothing was updated. Lower "
                    "the learning rate, clip gradients, or skip this batch"
                )
