"""Update rules run in two passes over blocks: check the whole step, then apply it.

A *staged* rule (:func:`staged`; every built-in optimizer node) is called once per parameter
and step as ``rule(param, grad, plan, *hyperparameters)`` with a :class:`Plan` instead of a
:class:`~lrdsl.optim.ParamState`. It computes its per-step numbers (bias corrections, ...),
names the arrays it keeps (``plan.array("exp_avg")`` → an index), and returns two functions of
a :class:`Block` (a slice of every array, the same elements in each):

- ``new_state(b)`` writes each kept array's next value into ``b.new[i]`` from ``b.old[i]``,
  ``b.g`` and ``b.p``; it reads ``b.old[i]`` only before it writes ``b.new[i]``, because the
  apply pass gives the same slice for both. Work done only for ``new_param`` may be skipped
  where ``b.update`` is False (``new_param`` does not run on that block);
- ``new_param(b)`` (after ``new_state`` on the same block) writes the parameter's next value
  ``θ + Δ`` into ``b.out``; it may read ``b.p``, ``b.g``, :meth:`Block.decayed` and what
  ``new_state`` left in ``b.new`` and ``b.tmp``, but not ``b.old`` (in the apply pass the new
  state has replaced it), and it reads each element of ``b.p`` before it writes that element of
  ``b.out``, because the apply pass may give ``b.p`` itself as ``b.out``.

A step (:meth:`Plan.run` and :meth:`Plan.fault` for every parameter, then :meth:`Plan.apply`
for every one):

1. check: per block, the new state goes into block temporaries and the new parameter into the
   parameter's *result* slot (or a temporary: below); floating-point errors (overflow, 0/0,
   x/0) are flagged by ``np.errstate``, and each block of the new parameter is checked finite
   (its largest and smallest value, while the block is in cache). Nothing kept is written.
2. apply, once every parameter passed: per block, the new state is computed again into the
   kept arrays themselves (the same operations on the same inputs: bit for bit what was
   checked), and the new parameter copied from its result slot, or computed again into the
   parameter itself.

So a failed step changes nothing, without a copy of the parameters or of the state. Per dtype
one scratch buffer (:class:`BlockBuffers`) holds the block temporaries and the result slots,
and is no larger than the parameters of that dtype: the memory is PyTorch's state plus one
buffer. The temporaries take the end of the buffer, so the last few blocks have no result slot
and compute their new parameter twice instead, as every block of a rule declared with
``staged(recompute=True)`` does (one whose ``new_param`` costs less than a copy: that rule
needs no result slots, only the temporaries). A non-contiguous parameter (a transposed view)
is one block of its whole shape, recomputed, with temporaries of its shape made for the step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from .kernels import with_l2
from .state import ParamState

STAGED = "lrdsl_staged"
"""The attribute :func:`staged` sets on a rule: ``"keep"`` or ``"recompute"`` (its new parameters)."""

BLOCK_BYTES = 1024 * 1024
"""The largest block temporary (a block of a float32 parameter is at most 256Ki elements): large
enough that the per-call cost of NumPy is small beside the work, small enough for the cache."""

TEMPS = 3
"""How many temporaries ``b.tmp`` a block offers (besides ``b.new``, ``b.out`` and :meth:`Block.decayed`)."""

MOST_TEMPS = 3 + 1 + TEMPS + 1
"""The temporaries a sweep may use: three kept arrays' new values, the new parameter, :data:`TEMPS`
and the decayed gradient."""

SHORTEST = 4096
"""The fewest elements in a block (below that, NumPy's per-call cost would dominate), unless the
parameters are shorter."""

Stage = Callable[["Block"], None]


def staged(rule: Optional[Callable] = None, *, recompute: bool = False) -> Callable:
    """Mark ``rule`` as staged (the rule itself, unchanged; see the module docstring); as
    ``@staged(recompute=True)`` for a rule whose ``new_param`` is cheaper to run again in the
    apply pass than to keep its result and copy it."""

    def mark(function: Callable) -> Callable:
        setattr(function, STAGED, "recompute" if recompute else "keep")
        return function

    return mark if rule is None else mark(rule)


def is_staged(rule: Callable) -> bool:
    """Whether ``rule`` was declared with :func:`staged`."""
    return getattr(rule, STAGED, None) in ("keep", "recompute")


def keeps_results(rule: Callable) -> bool:
    """Whether a staged ``rule``'s new parameters are kept from the check pass (not computed again)."""
    return getattr(rule, STAGED, None) == "keep"


class Block:
    """One slice of every array a staged rule works on (same elements, same shape).

    ``p`` the parameter, ``g`` the gradient, ``out`` where ``new_param`` writes (``p`` itself in
    the apply pass of a recomputed block), ``old[i]`` / ``new[i]`` the kept array ``i`` now and
    where its next value goes, ``tmp`` :data:`TEMPS` temporaries (contents undefined on entry),
    ``update`` whether ``new_param`` runs after ``new_state`` on this block.
    """

    __slots__ = ("p", "g", "out", "old", "new", "tmp", "update", "_spare", "_decayed")

    def __init__(self) -> None:
        empty = np.empty(0)
        self.p = self.g = self.out = self._spare = empty
        self.old: List[np.ndarray] = []
        self.new: List[np.ndarray] = []
        self.tmp: List[np.ndarray] = []
        self.update = True
        self._decayed: Optional[np.ndarray] = None

    def decayed(self, weight_decay: float) -> np.ndarray:
        """``g + λθ`` (coupled L2 decay), computed once per block; ``g`` itself when λ = 0."""
        if self._decayed is None:
            self._decayed = with_l2(self.p, self.g, weight_decay, self._spare)
        return self._decayed


class BlockBuffers:
    """Per dtype, one flat scratch buffer, allocated at the first step: the result slots of the
    parameters whose rule keeps its results, one after the other, with :data:`MOST_TEMPS` block
    temporaries of :meth:`length` elements over its end. It is as large as those parameters
    together, or as the temporaries if that is more (parameters of a few thousand elements)."""

    def __init__(self, params: Iterable[Tuple[np.ndarray, bool]]) -> None:
        """``params``: each parameter, and whether its rule keeps its results."""
        largest: Dict[np.dtype, int] = {}
        totals: Dict[np.dtype, int] = {}
        kept: Dict[np.dtype, int] = {}
        self._offsets: List[Optional[int]] = []
        for p, keeps in params:
            largest[p.dtype] = max(largest.get(p.dtype, 0), p.size)
            totals[p.dtype] = totals.get(p.dtype, 0) + p.size
            self._offsets.append(kept.get(p.dtype, 0) if keeps else None)
            if keeps:
                kept[p.dtype] = kept.get(p.dtype, 0) + p.size
        self._lengths = {
            dtype: max(1, min(BLOCK_BYTES // dtype.itemsize, largest[dtype], max(SHORTEST, total // MOST_TEMPS)))
            for dtype, total in totals.items()
        }
        self._kept = kept
        self._buffers: Dict[np.dtype, np.ndarray] = {}
        self._temps: Dict[np.dtype, List[np.ndarray]] = {}

    def length(self, dtype: np.dtype) -> int:
        """Elements per block for ``dtype``: at most :data:`BLOCK_BYTES` and the largest parameter, and
        short enough that :data:`MOST_TEMPS` blocks hold no more than all parameters of ``dtype``."""
        return self._lengths[dtype]

    def _buffer(self, dtype: np.dtype) -> np.ndarray:
        buffer = self._buffers.get(dtype)
        if buffer is None:
            size = max(self._kept.get(dtype, 0), MOST_TEMPS * self._lengths[dtype])
            buffer = self._buffers[dtype] = np.empty(size, dtype=dtype)
        return buffer

    def temps(self, dtype: np.dtype) -> List[np.ndarray]:
        """The :data:`MOST_TEMPS` block temporaries of ``dtype``: the end of its buffer."""
        temps = self._temps.get(dtype)
        if temps is None:
            buffer, length = self._buffer(dtype), self._lengths[dtype]
            start = buffer.size - MOST_TEMPS * length
            temps = self._temps[dtype] = [
                buffer[start + i * length : start + (i + 1) * length] for i in range(MOST_TEMPS)
            ]
        return temps

    def result(self, index: int, param: np.ndarray) -> np.ndarray:
        """Parameter ``index``'s result slot (flat): as many of its first elements as fit before
        the temporaries (none when its rule recomputes)."""
        offset = self._offsets[index]
        if offset is None:
            return param.reshape(-1)[:0]
        buffer = self._buffer(param.dtype)
        end = min(offset + param.size, buffer.size - MOST_TEMPS * self._lengths[param.dtype])
        return buffer[offset : max(offset, end)]

    @property
    def nbytes(self) -> int:
        """Bytes held: the scratch buffers (those allocated so far)."""
        return sum(buffer.nbytes for buffer in self._buffers.values())


def _finite(block: np.ndarray) -> bool:
    """Whether every element of ``block`` is finite: its maximum and minimum are (NaN propagates)."""
    return math.isfinite(np.maximum.reduce(block, axis=None)) and math.isfinite(np.minimum.reduce(block, axis=None))


class Plan:
    """One parameter's step under a staged rule: what the rule declares, then check and apply.

    For the rule: ``plan.step`` (1 on the first update), ``plan.array(name, fill)`` (the index of
    a kept array, created filled with ``fill`` at its first step), ``plan.first(name)``, and
    ``plan.get(name, default)`` / ``plan[name] = value`` for kept numbers. Arrays created and
    numbers set are kept only when :meth:`apply` runs.
    """

    __slots__ = ("param", "grad", "step", "_index", "_state", "_names", "_arrays", "_numbers", "_stages", "_finite")

    def __init__(self, param: np.ndarray, grad: np.ndarray, state: ParamState, index: int) -> None:
        self.param, self.grad, self._state, self._index = param, grad, state, index
        self.step = state.step + 1
        self._names: List[str] = []
        self._arrays: List[np.ndarray] = []
        self._numbers: Dict[str, Any] = {}
        self._stages: Optional[Tuple[Stage, Stage]] = None
        self._finite: Optional[bool] = None  # whether the checked new parameter is finite

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
    def run(self, rule: Callable, hyper, buffers: BlockBuffers) -> None:
        """Call ``rule`` and run the check pass; :meth:`fault` tells what went wrong, if anything."""
        self._stages = rule(self.param, self.grad, self, *hyper)
        self._finite = self._sweep(buffers, checking=True)[0]

    def fault(self, flagged: bool, buffers: BlockBuffers) -> Optional[str]:
        """After :meth:`run`: ``"parameter"``, the name of a kept array, or None when the step is
        fine. Without a flagged floating-point error only the new parameter needs checking (the
        gradient, the kept arrays and the hyperparameters are finite); with one, the pass runs
        again and checks every new value block by block."""
        assert self._finite is not None, "fault() before run()"
        if not self._finite:
            return "parameter"
        if not flagged:
            return None
        bad = self._sweep(buffers, checking=True, diagnose=True)[1]
        return next((name for name, broken in zip(self._names, bad) if broken), None)

    def apply(self, buffers: BlockBuffers) -> None:
        """Write the checked step: the kept arrays and the parameter, the new arrays and numbers
        kept, the step counted."""
        assert self._finite, "apply() of a step that was not checked, or failed"
        self._sweep(buffers, checking=False)
        self._state.keep(self.step, dict(zip(self._names, self._arrays)), self._numbers)

    def _sweep(self, buffers: BlockBuffers, checking: bool, diagnose: bool = False) -> Tuple[bool, List[bool]]:
        """One pass over the blocks. ``checking``: the new state into temporaries and the new
        parameter into its result slot or a temporary (stopping at the first block whose new
        parameter is not finite, unless ``diagnose``); otherwise the new state into the kept
        arrays and the new parameter into the parameter, copied from the result slot or computed
        again. Whether the new parameter is finite, and with ``diagnose``, which kept arrays got
        a non-finite value."""
        assert self._stages is not None
        new_state, new_param = self._stages
        count = len(self._arrays)
        fine, bad = True, [False] * count
        b = Block()
        for p, g, olds, result, temps in self._blocks(buffers):
            b.p, b.g, b.old, b._decayed = p, g, olds, None
            b.tmp, b._spare = temps[count + 1 : count + 1 + TEMPS], temps[-1]
            b.update = checking or result is None
            if checking:
                b.new, b.out = temps[:count], temps[count] if result is None else result
            else:
                b.new, b.out = olds, p
            new_state(b)
            if b.update:
                new_param(b)
            else:
                np.copyto(p, result)
            if checking and not _finite(b.out):
                fine = False
                if not diagnose:
                    break
            if diagnose:
                bad = [broken or not _finite(new) for broken, new in zip(bad, b.new)]
        return fine, bad

    def _blocks(self, buffers: BlockBuffers) -> Iterator[tuple]:
        """``(p, g, olds, result, temps)`` per block: slices of the parameter, the gradient and the
        kept arrays, of the result slot (None where the block has none) and :data:`MOST_TEMPS`
        temporaries of the same size."""
        arrays = (self.param, self.grad, *self._arrays)
        if not all(a.flags.c_contiguous for a in arrays):  # one block of the whole shape
            param, grad, *olds = arrays
            yield param, grad, olds, None, [np.empty_like(param) for _ in range(MOST_TEMPS)]
            return
        param, grad, *olds = (a.reshape(-1) for a in arrays)
        full = buffers.temps(param.dtype)
        slot = buffers.result(self._index, param)
        length = buffers.length(param.dtype)
        for start in range(0, param.size, length):
            part = slice(start, start + length)
            p = param[part]
            n = p.size
            result = slot[part] if start + n <= slot.size else None
            yield p, grad[part], [a[part] for a in olds], result, [t[:n] for t in full]


__all__ = [
    "BLOCK_BYTES",
    "MOST_TEMPS",
    "SHORTEST",
    "Block",
    "BlockBuffers",
    "Plan",
    "is_staged",
    "keeps_results",
    "staged",
]
