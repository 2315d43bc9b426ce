"""Update rules run in two passes over blocks: check the whole step, then apply it.

A *staged* rule (:func:`staged`; every built-in optimizer node) is called once per parameter
and step as ``rule(param, grad, plan, *hyperparameters)`` with a :class:`Plan` instead of a
:class:`~lrdsl.optim.ParamState`. It computes its per-step numbers (bias corrections, ...),
names the arrays it keeps (``plan.array("exp_avg")`` → an index), and returns two functions of
a :class:`Block` (a slice of every array, the same elements in each):

- ``new_state(b)`` writes each kept array's next value into ``b.new[i]`` from ``b.old[i]``,
  ``b.g`` and ``b.p``; it reads ``b.old[i]`` only before it writes ``b.new[i]``, because the
  apply pass gives the same slice for both;
- ``new_param(b)`` (after ``new_state`` on the same block) writes the parameter's next value
  ``θ + Δ`` into ``b.out``; it may read what ``new_state`` left in ``b.new`` and ``b.tmp``.

A step (:meth:`Plan.check` for every parameter, then :meth:`Plan.apply` for every one):

1. check: per block, the new state goes into block temporaries and the new parameter into this
   parameter's part of the *result* buffer; floating-point errors (overflow, 0/0, x/0) are
   flagged by ``np.errstate``, and the result is checked finite. Nothing kept is written.
2. apply, once every parameter passed: per block, the new state is computed again into the
   kept arrays themselves (the same operations on the same inputs: bit for bit what was
   checked), then the result is copied into the parameter.

So a failed step changes nothing, without a copy of the parameters or of the state: the
memory is the kept arrays (as in PyTorch), one parameter-sized result buffer (one per dtype,
shared by all parameters) and block temporaries of :data:`BLOCK_BYTES` each. Blocks of a
contiguous parameter are a few hundred kilobytes, so the temporaries stay in cache and each
array is read from memory twice and written once per step; a non-contiguous parameter (a
transposed view) is one block of its whole shape.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .kernels import with_l2
from .state import ParamState, finite

STAGED = "lrdsl_staged"
"""The attribute :func:`staged` sets on a rule."""

BLOCK_BYTES = 256 * 1024
"""The size of one block temporary (a block of a float32 parameter is 64Ki elements)."""

TEMPS = 3
"""How many temporaries ``b.tmp`` a block offers (besides ``b.new`` and :meth:`Block.decayed`)."""

Stage = Callable[["Block"], None]


def staged(rule: Callable) -> Callable:
    """Mark ``rule`` as staged (the rule itself, unchanged; see the module docstring)."""
    setattr(rule, STAGED, True)
    return rule


def is_staged(rule: Callable) -> bool:
    """Whether ``rule`` was declared with :func:`staged`."""
    return getattr(rule, STAGED, False) is True


class Block:
    """One slice of every array a staged rule works on (same elements, same shape).

    ``p`` the parameter (read only), ``g`` the gradient, ``out`` where ``new_param`` writes,
    ``old[i]`` / ``new[i]`` the kept array ``i`` now and where its next value goes, ``tmp``
    :data:`TEMPS` temporaries (contents undefined on entry).
    """

    __slots__ = ("p", "g", "out", "old", "new", "tmp", "_spare", "_decayed")

    def __init__(self) -> None:
        empty = np.empty(0)
        self.p = self.g = self.out = self._spare = empty
        self.old: List[np.ndarray] = []
        self.new: List[np.ndarray] = []
        self.tmp: List[np.ndarray] = []
        self._decayed: Optional[np.ndarray] = None

    def decayed(self, weight_decay: float) -> np.ndarray:
        """``g + λθ`` (coupled L2 decay), computed once per block; ``g`` itself when λ = 0."""
        if self._decayed is None:
            self._decayed = with_l2(self.p, self.g, weight_decay, self._spare)
        return self._decayed


class BlockBuffers:
    """Per dtype, the block temporaries (flat, :data:`BLOCK_BYTES` each) and the result buffer
    (flat, as large as all parameters of that dtype together)."""

    def __init__(self, params) -> None:
        self._totals: Dict[np.dtype, int] = {}
        self._largest: Dict[np.dtype, int] = {}
        self._offsets: List[int] = []
        for p in params:
            self._offsets.append(self._totals.get(p.dtype, 0))
            self._totals[p.dtype] = self._offsets[-1] + p.size
            self._largest[p.dtype] = max(self._largest.get(p.dtype, 0), p.size)
        self._results: Dict[np.dtype, np.ndarray] = {}
        self._temps: Dict[np.dtype, List[np.ndarray]] = {}

    def length(self, dtype: np.dtype) -> int:
        """Elements per block for ``dtype``: :data:`BLOCK_BYTES`, or the largest parameter if smaller."""
        return max(1, min(BLOCK_BYTES // dtype.itemsize, self._largest[dtype]))

    def temps(self, dtype: np.dtype, count: int) -> List[np.ndarray]:
        """``count`` block temporaries of ``dtype`` (allocated once)."""
        buffers = self._temps.setdefault(dtype, [])
        while len(buffers) < count:
            buffers.append(np.empty(self.length(dtype), dtype=dtype))
        return buffers[:count]

    def result(self, index: int, param: np.ndarray) -> np.ndarray:
        """Parameter ``index``'s part of its dtype's result buffer, shaped like it."""
        buffer = self._results.get(param.dtype)
        if buffer is None:
            buffer = self._results[param.dtype] = np.empty(self._totals[param.dtype], dtype=param.dtype)
        start = self._offsets[index]
        return buffer[start : start + param.size].reshape(param.shape)

    @property
    def nbytes(self) -> int:
        """Bytes held now: result buffers and block temporaries."""
        return sum(b.nbytes for b in self._results.values()) + self.temporary_nbytes

    @property
    def temporary_nbytes(self) -> int:
        """Bytes held by block temporaries: a few :data:`BLOCK_BYTES` per dtype, whatever the parameters' size."""
        return sum(t.nbytes for temps in self._temps.values() for t in temps)


class Plan:
    """One parameter's step under a staged rule: what the rule declares, then check and apply.

    For the rule: ``plan.step`` (1 on the first update), ``plan.array(name, fill)`` (the index of
    a kept array, created filled with ``fill`` at its first step), ``plan.first(name)``, and
    ``plan.get(name, default)`` / ``plan[name] = value`` for kept numbers. Arrays created and
    numbers set are kept only when :meth:`apply` runs.
    """

    __slots__ = ("param", "grad", "step", "_state", "_names", "_arrays", "_numbers", "_stages", "_result")

    def __init__(self, param: np.ndarray, grad: np.ndarray, state: ParamState) -> None:
        self.param, self.grad, self._state = param, grad, state
        self.step = state.step + 1
        self._names: List[str] = []
        self._arrays: List[np.ndarray] = []
        self._numbers: Dict[str, Any] = {}
        self._stages: Optional[Tuple[Stage, Stage]] = None
        self._result: Optional[np.ndarray] = None

    # -- what a rule declares --------------------------------------------------------------------
    def array(self, name: str, fill: float = 0.0) -> int:
        """The index (in ``b.old`` / ``b.new``) of the kept array ``name``."""
        if name in self._names:
            return self._names.index(name)
        array = self._state.saved_array(name)
        if array is None:
            array = np.full_like(self.param, fill)
        self._names.append(name)
        self._arrays.append(array)
        return len(self._names) - 1

    def first(self, name: str) -> bool:
        """Whether ``name`` has no saved value yet (this is its first step)."""
        return name not in self._state

    def get(self, name: str, default: Any = None) -> Any:
        """The kept number ``name`` (as set in this step, else as saved), or ``default``."""
        return self._numbers[name] if name in self._numbers else self._state.get(name, default)

    def __setitem__(self, name: str, value: Any) -> None:
        self._numbers[name] = value

    # -- running ---------------------------------------------------------------------------------
    def run(self, rule: Callable, hyper, buffers: BlockBuffers, index: int) -> None:
        """Call ``rule`` and run the check pass; :meth:`fault` tells what went wrong, if anything."""
        self._stages = rule(self.param, self.grad, self, *hyper)
        self._result = buffers.result(index, self.param)
        self._sweep(buffers, checking=True)

    def fault(self, flagged: bool, buffers: BlockBuffers) -> Optional[str]:
        """After :meth:`run`: ``"parameter"``, the name of a kept array, or None when the step is
        fine. Without a flagged floating-point error only the result needs checking (the gradient,
        the kept arrays and the hyperparameters are finite); with one, the pass runs again and
        checks every new value block by block."""
        assert self._result is not None, "fault() before run()"
        if not flagged:
            return None if finite(self._result) else "parameter"
        bad = self._sweep(buffers, checking=True, diagnose=True)
        if not finite(self._result):
            return "parameter"
        return next((name for name, broken in zip(self._names, bad) if broken), None)

    def apply(self, buffers: BlockBuffers) -> None:
        """Write the checked step: the kept arrays in place, the parameter from the result, the
        new arrays and numbers kept, the step counted."""
        assert self._result is not None, "apply() before run()"
        self._sweep(buffers, checking=False)
        np.copyto(self.param, self._result)
        self._state.keep(self.step, dict(zip(self._names, self._arrays)), self._numbers)

    def _sweep(self, buffers: BlockBuffers, checking: bool, diagnose: bool = False) -> List[bool]:
        """One pass over the blocks: ``checking``: the new state into temporaries and the new
        parameter into the result; otherwise the new state into the kept arrays. With
        ``diagnose``, which kept arrays got a non-finite value."""
        assert self._stages is not None and self._result is not None
        new_state, new_param = self._stages
        count = len(self._arrays)
        bad = [False] * count
        b = Block()
        for p, g, out, olds, temps in self._blocks(buffers, count * checking + TEMPS + 1):
            b.p, b.g, b.old = p, g, olds
            b.tmp, b._spare, b._decayed = temps[count * checking : -1], temps[-1], None
            if checking:
                b.new, b.out = temps[:count], out
                new_state(b)
                new_param(b)
                if diagnose:
                    bad = [broken or not finite(new) for broken, new in zip(bad, b.new)]
            else:
                b.new = olds
                new_state(b)
        return bad

    def _blocks(self, buffers: BlockBuffers, temporaries: int) -> Iterator[tuple]:
        """``(p, g, out, olds, temps)`` per block: slices of the parameter, the gradient, the result
        and the kept arrays, and ``temporaries`` temporaries of the same size."""
        assert self._result is not None
        arrays = (self.param, self.grad, self._result, *self._arrays)
        if not all(a.flags.c_contiguous for a in arrays):  # one block of the whole shape
            param, grad, result, *olds = arrays
            yield param, grad, result, olds, [np.empty_like(param) for _ in range(temporaries)]
            return
        param, grad, result, *olds = (a.reshape(-1) for a in arrays)
        full = buffers.temps(param.dtype, temporaries)
        length = buffers.length(param.dtype)
        for start in range(0, param.size, length):
            part = slice(start, start + length)
            p = param[part]
            n = p.size
            yield p, grad[part], result[part], [a[part] for a in olds], [t[:n] for t in full]


__all__ = ["BLOCK_BYTES", "Block", "BlockBuffers", "Plan", "is_staged", "staged"]
