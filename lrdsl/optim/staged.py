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
  ``θ + Δ`` into ``b.out``; it may read ``b.p``, ``b.g``, :meth:`Block.decayed` and what
  ``new_state`` left in ``b.new`` and ``b.tmp``, but not ``b.old`` (in the apply pass the new
  state has replaced it), and it reads each element of ``b.p`` before it writes that element of
  ``b.out``, because the apply pass gives ``b.p`` itself as ``b.out``.

A step (:meth:`Plan.run` and :meth:`Plan.fault` for every parameter, then :meth:`Plan.apply`
for every one):

1. check: per block, the new state and the new parameter go into block temporaries; floating-
   point errors (overflow, 0/0, x/0) are flagged by ``np.errstate``, and each block of the new
   parameter is checked finite (its largest and smallest value: two reductions of a block in
   cache). Nothing kept is written.
2. apply, once every parameter passed: per block, the same operations on the same inputs run
   again, now into the kept arrays and the parameter themselves: bit for bit what was checked.

So a failed step changes nothing, without a copy of the parameters or of the state: the memory
is the kept arrays (as in PyTorch) and at most :data:`MOST_TEMPS` block temporaries per dtype,
allocated once, of at most :data:`BLOCK_BYTES` each and together no larger than the parameters
of that dtype (:class:`BlockBuffers`). Blocks stay in cache between the operations on them;
each array is read from memory twice per step, and the kept ones and the parameter written
once. A non-contiguous parameter (a transposed view) is one block of its whole shape, with
temporaries of its shape allocated for the step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .kernels import with_l2
from .state import ParamState

STAGED = "lrdsl_staged"
"""The attribute :func:`staged` sets on a rule."""

BLOCK_BYTES = 1024 * 1024
"""The largest block temporary (a block of a float32 parameter is at most 256Ki elements): large
enough that the per-call cost of NumPy is small beside the work, small enough for the cache."""

MOST_TEMPS = 8
"""The most temporaries a sweep uses (three kept arrays, their new values' parameter, :data:`TEMPS`
and the decayed gradient): blocks are made short enough that this many of them are no larger
than the parameters of their dtype together (down to :data:`SHORTEST`)."""

SHORTEST = 4096
"""The fewest elements in a block (below that, NumPy's per-call cost would dominate)."""

TEMPS = 3
"""How many temporaries ``b.tmp`` a block offers (besides ``b.new``, ``b.out`` and :meth:`Block.decayed`)."""

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
    """Per dtype, the block temporaries: flat, of :meth:`length` elements each, allocated once."""

    def __init__(self, params) -> None:
        largest: Dict[np.dtype, int] = {}
        totals: Dict[np.dtype, int] = {}
        for p in params:
            largest[p.dtype] = max(largest.get(p.dtype, 0), p.size)
            totals[p.dtype] = totals.get(p.dtype, 0) + p.size
        self._lengths = {
            dtype: max(1, min(BLOCK_BYTES // dtype.itemsize, largest[dtype], max(SHORTEST, total // MOST_TEMPS)))
            for dtype, total in totals.items()
        }
        self._temps: Dict[np.dtype, List[np.ndarray]] = {}

    def length(self, dtype: np.dtype) -> int:
        """Elements per block for ``dtype``: at most :data:`BLOCK_BYTES` and the largest parameter, and
        short enough that :data:`MOST_TEMPS` blocks hold no more than all parameters of ``dtype``."""
        return self._lengths[dtype]

    def temps(self, dtype: np.dtype, count: int) -> List[np.ndarray]:
        """``count`` block temporaries of ``dtype`` (allocated once)."""
        buffers = self._temps.setdefault(dtype, [])
        while len(buffers) < count:
            buffers.append(np.empty(self.length(dtype), dtype=dtype))
        return buffers[:count]

    @property
    def nbytes(self) -> int:
        """Bytes held: a few blocks per dtype, at most :data:`BLOCK_BYTES` each whatever the parameters' size."""
        return sum(t.nbytes for temps in self._temps.values() for t in temps)


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

    __slots__ = ("param", "grad", "step", "_state", "_names", "_arrays", "_numbers", "_stages", "_finite")

    def __init__(self, param: np.ndarray, grad: np.ndarray, state: ParamState) -> None:
        self.param, self.grad, self._state = param, grad, state
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
        """Write the checked step: the kept arrays and the parameter in place, the new arrays and
        numbers kept, the step counted."""
        assert self._finite, "apply() of a step that was not checked, or failed"
        self._sweep(buffers, checking=False)
        self._state.keep(self.step, dict(zip(self._names, self._arrays)), self._numbers)

    def _sweep(self, buffers: BlockBuffers, checking: bool, diagnose: bool = False) -> Tuple[bool, List[bool]]:
        """One pass over the blocks: ``checking``: the new state and parameter into temporaries
        (stopping at the first block whose new parameter is not finite, unless ``diagnose``);
        otherwise into the kept arrays and the parameter. Whether the new parameter is finite,
        and with ``diagnose``, which kept arrays got a non-finite value."""
        assert self._stages is not None
        new_state, new_param = self._stages
        count = len(self._arrays)
        owned = (count + 1) * checking  # temporaries for the new state and parameter
        fine, bad = True, [False] * count
        b = Block()
        for p, g, olds, temps in self._blocks(buffers, owned + TEMPS + 1):
            b.p, b.g, b.old, b._decayed = p, g, olds, None
            b.tmp, b._spare = temps[owned:-1], temps[-1]
            if checking:
                b.new, b.out = temps[:count], temps[count]
            else:
                b.new, b.out = olds, p
            new_state(b)
            new_param(b)
            if checking and not _finite(b.out):
                fine = False
                if not diagnose:
                    break
            if diagnose:
                bad = [broken or not _finite(new) for broken, new in zip(bad, b.new)]
        return fine, bad

    def _blocks(self, buffers: BlockBuffers, temporaries: int) -> Iterator[tuple]:
        """``(p, g, olds, temps)`` per block: slices of the parameter, the gradient and the kept
        arrays, and ``temporaries`` temporaries of the same size."""
        arrays = (self.param, self.grad, *self._arrays)
        if not all(a.flags.c_contiguous for a in arrays):  # one block of the whole shape
            param, grad, *olds = arrays
            yield param, grad, olds, [np.empty_like(param) for _ in range(temporaries)]
            return
        param, grad, *olds = (a.reshape(-1) for a in arrays)
        full = buffers.temps(param.dtype, temporaries)
        length = buffers.length(param.dtype)
        for start in range(0, param.size, length):
            part = slice(start, start + length)
            p = param[part]
            n = p.size
            yield p, grad[part], [a[part] for a in olds], [t[:n] for t in full]


__all__ = ["BLOCK_BYTES", "MOST_TEMPS", "SHORTEST", "Block", "BlockBuffers", "Plan", "is_staged", "staged"]
