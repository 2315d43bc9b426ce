"""What an update rule keeps for one parameter array between steps, and its scratch buffers.

An update rule (see :func:`lrdsl.authoring.optimizer_node`) gets one :class:`ParamState` per
parameter array. Saved entries (moment estimates, accumulators, scalars such as NAdam's
``mu_product``) go into :meth:`ParamState.state_dict`; scratch buffers do not.

Scratch buffers are shared by all parameters of the same dtype: the pool holds, per dtype,
flat arrays as large as the largest parameter, and each :class:`ParamState` keeps views of
them shaped like its parameter. After the first step an update allocates no arrays.

A step is a transaction (:meth:`ParamState.begin`, :meth:`~ParamState.commit`,
:meth:`~ParamState.rollback`): the optimizer undoes a step that fails, for every parameter, so
a failed step leaves parameters and state as they were. Saved arrays an update rule changes in
place (``zeros``, ``get``, ``state[name]``) are copied into undo buffers (allocated once) the
first time a step touches them; :meth:`ParamState.pair` avoids that copy for rules that write
an entry's new value into a second buffer, swapped in when the step succeeds.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ..schema import Anything, Int, Invalid, MapOf, Number, Record, Schema, Text
from ..specs import StateEntry

Entry = Union[np.ndarray, float, int]


def finite(array: np.ndarray) -> bool:
    """Whether every element is finite, in one pass and without allocating (a sum; min/max if in doubt:
    a sum of large finite elements overflows, silently)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(np.add.reduce(array, axis=None)):
            return True
    return bool(math.isfinite(array.min()) and math.isfinite(array.max()))


class SavedEntry(Schema):
    """A saved entry of a parameter's state: a finite number, or a finite array shaped like ``param``;
    with a :class:`~lrdsl.specs.StateEntry`, the one it declares (array or number, in its range)."""

    def __init__(self, param: np.ndarray, declared: Optional[StateEntry] = None):
        self.param, self.declared = param, declared
        array = f"a finite {param.dtype} array of shape {param.shape}"
        kinds = {None: f"a finite number or {array}", True: array, False: "a finite number"}
        self.expected = kinds[declared.array if declared else None]
        if declared is not None and declared.check is not None:
            self.expected += f" ({'each element ' if declared.array else ''}{declared.check.text})"

    def check(self, value, path):
        declared = self.declared
        if isinstance(value, np.ndarray):
            ok = value.shape == self.param.shape and value.dtype == self.param.dtype and finite(value)
            if not ok or (declared is not None and not declared.array):
                raise self.refuse(value, path)
        elif declared is not None and declared.array:
            raise self.refuse(value, path)
        else:
            value = Number().check(value, path)
        if declared is not None and declared.check is not None and not np.all(declared.check.test(value)):
            raise self.refuse(value, path)
        return value


class SavedState(Schema):
    """A parameter's saved state, ``{"step": n, "entries": {name: entry}}``, for the rule ``rule`` with
    these ``hyperparameters``: with a declaration (``declared``), exactly the entries the rule keeps
    after ``n`` steps, each as declared; without one, any finite numbers and parameter-shaped arrays."""

    expected = "the state of one parameter, as Optimizer.state_dict() wrote it"

    def __init__(
        self,
        param: np.ndarray,
        rule: str,
        declared: Optional[Mapping[str, StateEntry]],
        hyperparameters: Mapping[str, Any],
    ):
        self.param, self.rule, self.declared, self.hyperparameters = param, rule, declared, hyperparameters

    def check(self, value, path):
        record = Record({"step": Int(), "entries": MapOf(Text(), Anything())}).check(value, path)
        step, entries, where = record["step"], record["entries"], f"{path}['entries']"
        declared = self.declared
        if declared is None:
            return {
                "step": step,
                "entries": {name: SavedEntry(self.param).check(v, f"{where}[{name!r}]") for name, v in entries.items()},
            }
        for name in entries:
            if name not in declared:
                raise Invalid(
                    where,
                    f"has {name!r}, which {self.rule}() does not keep (it keeps {', '.join(map(repr, declared))})",
                )
        for name, entry in declared.items():
            kept = self._kept(entry) if step > 0 else False
            if kept is True and name not in entries:
                raise Invalid(where, f"has no {name!r}, which {self.rule}() keeps after its first step")
            if kept is False and name in entries:
                when = (
                    "before its first step"
                    if step == 0
                    else f"with {entry.when}={self.hyperparameters[str(entry.when)]!r}"
                )
                raise Invalid(where, f"has {name!r}, which {self.rule}() does not keep {when}")
        return {
            "step": step,
            "entries": {
                name: SavedEntry(self.param, declared[name]).check(v, f"{where}[{name!r}]")
                for name, v in entries.items()
            },
        }

    def _kept(self, entry: StateEntry) -> Optional[bool]:
        """Whether the rule keeps ``entry`` after its first step: None when a schedule decides."""
        if entry.when is None:
            return True
        value = self.hyperparameters[str(entry.when)]
        return None if callable(value) else bool(value)


class ScratchPool:
    """Reusable temporaries: per dtype, flat buffers sized for the largest parameter of that dtype."""

    def __init__(self, params) -> None:
        self._sizes: Dict[np.dtype, int] = {}
        for p in params:
            self._sizes[p.dtype] = max(self._sizes.get(p.dtype, 0), p.size)
        self._buffers: Dict[np.dtype, List[np.ndarray]] = {dtype: [] for dtype in self._sizes}

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers allocated so far."""
        return sum(b.nbytes for buffers in self._buffers.values() for b in buffers)

    def view(self, index: int, like: np.ndarray) -> np.ndarray:
        """Buffer ``index`` of ``like``'s dtype, viewed with ``like``'s shape (contents undefined)."""
        buffers = self._buffers[like.dtype]
        while len(buffers) <= index:
            buffers.append(np.empty(self._sizes[like.dtype], dtype=like.dtype))
        return buffers[index][: like.size].reshape(like.shape)


class ParamState:
    """The state of one parameter array, as an update rule sees it.

    - ``state.step``: how many updates this parameter has had, the current one included
      (1 during the first update), like ``state["step"]`` in ``torch.optim``;
    - ``state.zeros(name, fill=0.0)``: a saved array shaped like the parameter, created (filled
      with ``fill``) the first time it is asked for;
    - ``state.get(name, default=None)``, ``name in state``, ``state[name]``, ``state[name] = value``:
      saved entries (arrays shaped like the parameter, or numbers);
    - ``state.pair(name, fill=0.0)``: ``(old, new)`` for a saved array: ``old`` is its value
      (read only), the rule writes the whole new value into ``new``; the two are swapped when
      the step succeeds (no copy, no undo buffer); asking again in the same step gives the same two;
    - ``state.scratch(i)``: the i-th temporary array shaped like the parameter; its contents are
      undefined on entry and not saved. Use ``out=`` ufuncs on it instead of allocating.
    """

    __slots__ = (
        "param",
        "step",
        "_entries",
        "_pool",
        "_scratch",
        "_active",
        "_step_before",
        "_backup",
        "_undo",
        "_touched",
        "_created",
        "_replaced",
        "_twins",
        "_pending",
    )

    def __init__(self, param: np.ndarray, pool: ScratchPool) -> None:
        self.param = param
        self.step = 0
        self._entries: Dict[str, Any] = {}  # arrays shaped like the parameter, or numbers (Entry)
        self._pool = pool
        self._scratch: List[np.ndarray] = []
        self._active = False  # inside a step (between begin and commit/rollback)
        self._step_before = 0
        self._backup: Optional[np.ndarray] = None  # the parameter before the step
        self._undo: Dict[str, np.ndarray] = {}  # saved arrays before the step (buffers kept)
        self._touched: List[str] = []  # names copied into _undo during this step
        self._created: List[str] = []  # entries created during this step
        self._replaced: Dict[str, Any] = {}  # entries assigned during this step: their old value
        self._twins: Dict[str, np.ndarray] = {}  # the second buffer of each pair()
        self._pending: List[str] = []  # pair() names to swap on commit

    # -- saved entries ---------------------------------------------------------------------------
    def zeros(self, name: str, fill: float = 0.0) -> np.ndarray:
        array = self._entries.get(name)
        if array is None:
            array = self._entries[name] = np.full_like(self.param, fill)
            if self._active:
                self._created.append(name)
        elif self._active:
            self._save(name, array)
        return array

    def get(self, name: str, default: Any = None) -> Any:
        value = self._entries.get(name, default)
        if self._active and isinstance(value, np.ndarray) and name in self._entries:
            self._save(name, value)
        return value

    def __getitem__(self, name: str) -> Entry:
        value = self._entries[name]
        if self._active and isinstance(value, np.ndarray):
            self._save(name, value)
        return value

    def __setitem__(self, name: str, value: Entry) -> None:
        if self._active and name not in self._replaced and name not in self._created:
            if name in self._entries:
                self._replaced[name] = self._entries[name]
            else:
                self._created.append(name)
        self._entries[name] = value

    def pair(self, name: str, fill: float = 0.0):
        """``(old, new)``: the saved array ``name`` and a buffer for its new value, swapped on success."""
        if name in self._pending:  # asked again in the same step: the same two arrays
            return self._entries[name], self._twins[name]
        old = self._entries.get(name)
        if old is None:
            old = self.zeros(name, fill)
        new = self._twins.get(name)
        if new is None:
            new = self._twins[name] = np.empty_like(self.param)
        if self._active:
            self._pending.append(name)
        else:  # outside a step (a rule called directly): behave as if committed at once
            self._entries[name], self._twins[name] = new, old
        return old, new

    def _save(self, name: str, array: np.ndarray) -> None:
        if name in self._touched or name in self._created or name in self._pending:
            return
        undo = self._undo.get(name)
        if undo is None or undo.shape != array.shape or undo.dtype != array.dtype:
            undo = self._undo[name] = np.empty_like(array)
        np.copyto(undo, array)
        self._touched.append(name)

    def as_left(self) -> Dict[str, Any]:
        """The saved entries as the step in progress left them (new values written through :meth:`pair`)."""
        return {name: self._twins[name] if name in self._pending else value for name, value in self._entries.items()}

    def non_finite(self) -> Optional[str]:
        """The name of the first saved entry that is not finite (as the step left it), or None."""
        for name, value in self.as_left().items():
            if isinstance(value, np.ndarray):
                if np.issubdtype(value.dtype, np.inexact) and not finite(value):
                    return name
            elif isinstance(value, (float, np.floating)) and not math.isfinite(value):
                return name
        return None

    # -- the step as a transaction ---------------------------------------------------------------
    def begin(self) -> None:
        """Start an update: remember the parameter and the step count (allocates once)."""
        if self._backup is None:
            self._backup = np.empty_like(self.param)
        np.copyto(self._backup, self.param)
        self._step_before = self.step
        self._active = True

    def commit(self) -> None:
        """Keep the update: swap in the new values written through :meth:`pair`."""
        entries, twins = self._entries, self._twins
        for name in self._pending:
            entries[name], twins[name] = twins[name], entries[name]
        self._end()

    def rollback(self) -> None:
        """Undo the update: the parameter, the step count and every saved entry as they were."""
        assert self._backup is not None, "rollback() without begin()"
        np.copyto(self.param, self._backup)
        self.step = self._step_before
        for name, value in self._replaced.items():
            self._entries[name] = value
        for name in self._touched:
            np.copyto(self._entries[name], self._undo[name])
        for name in self._created:
            self._entries.pop(name, None)
        self._end()

    def _end(self) -> None:
        self._active = False
        self._touched.clear()
        self._created.clear()
        self._replaced.clear()
        self._pending.clear()

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    # -- for staged rules (lrdsl.optim.staged) ---------------------------------------------------
    def saved_array(self, name: str) -> Optional[np.ndarray]:
        """The saved array ``name`` itself (not copied), or None."""
        value = self._entries.get(name)
        return value if isinstance(value, np.ndarray) else None

    def keep(self, step: int, arrays: Mapping[str, np.ndarray], numbers: Mapping[str, Any]) -> None:
        """Record a step a staged rule has applied: the step count, the arrays it kept (those it
        created included) and the numbers it set."""
        self.step = step
        self._entries.update(arrays)
        self._entries.update(numbers)

    # -- temporaries -----------------------------------------------------------------------------
    def scratch(self, index: int) -> np.ndarray:
        views = self._scratch
        while len(views) <= index:
            views.append(self._pool.view(len(views), self.param))
        return views[index]

    def lent(self) -> List[Tuple[str, np.ndarray]]:
        """``(name, array)`` of the temporaries :meth:`scratch` handed out: none is the rule's to keep."""
        return [(f"state.scratch({index})", view) for index, view in enumerate(self._scratch)]

    @property
    def nbytes(self) -> int:
        """Bytes held for this parameter: saved arrays, and the undo and pair buffers of a transaction."""
        arrays = [v for v in self._entries.values() if isinstance(v, np.ndarray)]
        arrays += [*self._twins.values(), *self._undo.values()] + ([self._backup] if self._backup is not None else [])
        return sum(a.nbytes for a in arrays)

    # -- saving ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"step": n, "entries": {name: copy}}``: a snapshot that later steps do not change."""
        return {
            "step": self.step,
            "entries": {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self._entries.items()},
        }

    def load(self, step: int, entries: Mapping[str, Entry]) -> None:
        """Replace the state by already checked ``entries`` (arrays are copied)."""
        self.step = int(step)
        self._entries = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for k, v in entries.items()}


__all__ = ["ParamState", "ScratchPool"]
