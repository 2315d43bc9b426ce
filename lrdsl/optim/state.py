"""What an update rule keeps for one parameter array between steps, and its scratch buffers.

An update rule (see :func:`lrdsl.authoring.optimizer_node`) gets one :class:`ParamState` per
parameter array. Saved entries (moment estimates, accumulators, scalars such as NAdam's
``mu_product``) go into :meth:`ParamState.state_dict`; scratch buffers do not.

Scratch buffers are shared by all parameters of the same dtype: the pool holds, per dtype,
flat arrays as large as the largest parameter, and each :class:`ParamState` keeps views of
them shaped like its parameter. After the first step an update allocates no arrays.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Union

import numpy as np

Entry = Union[np.ndarray, float, int]


class ScratchPool:
    """Reusable temporaries: per dtype, flat buffers sized for the largest parameter of that dtype."""

    def __init__(self, params) -> None:
        self._sizes: Dict[np.dtype, int] = {}
        for p in params:
            self._sizes[p.dtype] = max(self._sizes.get(p.dtype, 0), p.size)
        self._buffers: Dict[np.dtype, List[np.ndarray]] = {dtype: [] for dtype in self._sizes}

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
    - ``state.scratch(i)``: the i-th temporary array shaped like the parameter; its contents are
      undefined on entry and not saved. Use ``out=`` ufuncs on it instead of allocating.
    """

    __slots__ = ("param", "step", "_entries", "_pool", "_scratch")

    def __init__(self, param: np.ndarray, pool: ScratchPool) -> None:
        self.param = param
        self.step = 0
        self._entries: Dict[str, Entry] = {}
        self._pool = pool
        self._scratch: List[np.ndarray] = []

    # -- saved entries ---------------------------------------------------------------------------
    def zeros(self, name: str, fill: float = 0.0) -> np.ndarray:
        array = self._entries.get(name)
        if array is None:
            array = self._entries[name] = np.full_like(self.param, fill)
        return array

    def get(self, name: str, default: Any = None) -> Any:
        return self._entries.get(name, default)

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def __setitem__(self, name: str, value: Entry) -> None:
        self._entries[name] = value

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    # -- temporaries -----------------------------------------------------------------------------
    def scratch(self, index: int) -> np.ndarray:
        views = self._scratch
        while len(views) <= index:
            views.append(self._pool.view(len(views), self.param))
        return views[index]

    # -- saving ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"step": n, "entries": {name: copy}}``: a snapshot that later steps do not change."""
        return {"step": self.step,
                "entries": {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self._entries.items()}}

    def check_state(self, state: Mapping[str, Any], label: str) -> Dict[str, Entry]:
        """The entries of a saved ``state`` checked against this parameter; raises ArrayError."""
        from ..errors import ArrayError

        step = state.get("step") if isinstance(state, Mapping) else None
        entries = state.get("entries") if isinstance(state, Mapping) else None
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0 \
                or not isinstance(entries, Mapping):
            raise ArrayError(f"load_state_dict(): the state of {label} is malformed; expected "
                             "{'step': int >= 0, 'entries': {...}} as written by state_dict()")
        checked: Dict[str, Entry] = {}
        for name, value in entries.items():
            if isinstance(value, np.ndarray):
                if value.shape != self.param.shape or value.dtype != self.param.dtype:
                    raise ArrayError(f"load_state_dict(): state {name!r} of {label} is {value.dtype}{list(value.shape)}"
                                     f", but the parameter is {self.param.dtype}{list(self.param.shape)}")
                checked[name] = value
            elif isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
                checked[name] = value
            else:
                raise ArrayError(f"load_state_dict(): state {name!r} of {label} is a {type(value).__name__}; "
                                 "expected an array or a number")
        return checked

    def load(self, step: int, entries: Mapping[str, Entry]) -> None:
        """Replace the state by already checked ``entries`` (arrays are copied)."""
        self.step = int(step)
        self._entries = {k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                         for k, v in entries.items()}


__all__ = ["ParamState", "ScratchPool"]
