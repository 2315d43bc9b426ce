"""Third-party code behind a fence: what a plugin's node runs cannot break the caller.

Every function a plugin node provides -- its formula or pointwise function, its ``build`` and
what that returns (the formula and the state objects), its update rule and its range checks --
is wrapped when the node is registered. An exception from it (``SystemExit`` included), or a
result of the wrong kind (a string, ``None``, a complex number, an array of another shape, a
``Built`` with junk in its fields, a state that is not plain data), becomes a
:class:`~lrdsl.errors.PluginError` naming the plugin and the node. Arithmetic and value errors
of a formula pass through: the evaluators report them with the phase and the time.
``KeyboardInterrupt`` always passes. Built-in nodes are not wrapped.

Nothing a plugin keeps or changes reaches the caller's objects: a formula gets its own copy of
each array and its result is read in float64 by both evaluators alike; an update rule gets
views of the parameter and the gradient, and may keep neither in its state (:func:`malformed`);
a node's state goes out and comes in as a copy (:func:`plain_copy`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .built import Built, StatefulNode
from .errors import LRDSLError, PluginError
from .scalarmath import SCALAR
from .specs import Check, FunctionSpec, NodeSpec, OptimizerSpec, Param, ScheduleSpec
from .text import describe

FAILURES = (Exception, SystemExit)
"""What third-party code may raise that lrdsl turns into a PluginError."""

_ARITHMETIC = (ArithmeticError, ValueError)  # a formula's: the evaluators report them with the phase and time


def failure(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def fenced(spec: NodeSpec) -> NodeSpec:
    """``spec`` (registered from ``spec.source``) with every function it provides behind the fence."""
    fence = _Fence(spec.name, spec.source)
    params = tuple(fence.param(p) for p in spec.params)
    if isinstance(spec, ScheduleSpec):
        return replace(
            spec,
            params=params,
            formula=spec.formula and fence.formula(spec.formula),
            build=spec.build and fence.build(spec.build),
        )
    if isinstance(spec, FunctionSpec):
        return replace(
            spec,
            params=params,
            evaluate=fence.formula(spec.evaluate),
            of_quotient=spec.of_quotient and fence.formula(spec.of_quotient),
        )
    if isinstance(spec, OptimizerSpec):
        return replace(
            spec,
            params=params,
            update=fence.update(spec.update),
            requires=tuple(fence.check(c, "a constraint") for c in spec.requires),
        )
    return replace(spec, params=params)


class _Fence:
    """Wrappers that name ``node`` from ``source`` in every error."""

    def __init__(self, node: str, source: str):
        self.node, self.source = node, source

    def error(self, what: str) -> PluginError:
        return PluginError(f"node {self.node!r} from plugin {self.source!r} {what}")

    def call(self, function: Callable, *args, what: str, passing: tuple = (LRDSLError,)):
        """``function(*args)``; an exception other than ``passing`` becomes a PluginError saying ``what``."""
        try:
            return function(*args)
        except passing:
            raise
        except FAILURES as error:
            raise self.error(f"{what}: {failure(error)}") from error

    def formula(self, function: Callable) -> Callable:
        """A formula ``f(xp, ...)``: it gets its own copy of each NumPy array (so writing into one,
        ``t += 1``, changes only its own result, as it would for a float, never the caller's points
        or the time another node is given); its result must be a real number (floats) or real
        numbers of its arguments' shape, or of one that broadcasts to it (NumPy)."""

        @functools.wraps(function)
        def fenced_formula(xp, *args):
            if xp is np:
                args = tuple(arg.copy() if isinstance(arg, np.ndarray) else arg for arg in args)
            return self.result(self.call(function, xp, *args, what="failed", passing=_ARITHMETIC), xp, args)

        return fenced_formula

    def result(self, value: Any, xp, args: tuple = ()) -> Any:
        """``value``, a formula's result, checked and read in float64, as the evaluators compute (so
        both read an ``int``, a float16, a 0-d array or a masked array alike): a number as a float;
        for NumPy, also an array of real numbers that broadcasts to the arguments' shape. A result
        that cannot be read (its ``__float__`` raises) is a PluginError too."""
        if type(value) is float:  # the common case of sched(i), at no cost
            return value
        try:
            return self._read(value, xp, args)
        except LRDSLError:
            raise
        except FAILURES as error:
            raise self.error(f"returned {describe(value)}, which cannot be read: {failure(error)}") from error

    def _read(self, value: Any, xp, args: tuple) -> Any:
        if isinstance(value, np.ndarray):
            value = np.asarray(value)  # a subclass (a masked array) as its plain array
            if value.dtype.kind not in "iuf":  # both evaluators: an object array holding 0.5 is refused alike
                raise self.error(f"returned {describe(value)}, not an array of real numbers")
            if xp is SCALAR and value.ndim == 0:
                value = value[()]
        if xp is SCALAR:
            return self._number(value, "a number")
        if xp is not np:
            return value  # jax.numpy, Keras: traced, not checked
        if not isinstance(value, np.ndarray):
            return self._number(value, "a number or an array of real numbers")
        shape = _common_shape(args)
        if shape is not None and not _broadcasts(value.shape, shape):
            raise self.error(f"returned {describe(value)} where its arguments have the shape {shape}")
        return value if value.dtype == np.float64 else value.astype(np.float64)

    def _number(self, value: Any, expected: str) -> float:
        """A real number (not a bool) as a float, read the same way by both evaluators."""
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise self.error(f"returned {describe(value)}, not {expected}")
        try:
            return float(value)
        except OverflowError:
            raise self.error(f"returned {describe(value)}, too large for a float") from None

    def build(self, function: Callable) -> Callable:
        """``build(ctx, ...)``: its errors of the language (LRDSLError) pass; it must return a Built."""

        @functools.wraps(function)
        def fenced_build(ctx, *args):
            built = self.call(function, ctx, *args, what="failed while building")
            if not isinstance(built, Built):
                raise self.error(f"built {describe(built)}, not an lrdsl.authoring.Built")
            return self.call(self.built, built, what=f"built {describe(built)}, which cannot be read")

        return fenced_build

    def built(self, built: Built) -> Built:
        """``built`` checked field by field (a formula, an optional scalar, a label, StatefulNode
        states, ``timeless`` True or False), as a plain Built with its functions and states fenced."""
        formula, scalar, states = built.formula, built.scalar, built.states
        label, timeless = built.label, built.timeless
        fields = (
            ("formula", formula, "a function", callable(formula)),
            ("scalar", scalar, "a function or None", scalar is None or callable(scalar)),
            ("label", label, "a string", isinstance(label, str)),
            ("timeless", timeless, "True or False", isinstance(timeless, (bool, np.bool_))),
            (
                "states",
                states,
                "a tuple of objects with report(), state_dict() and load_state_dict()",
                isinstance(states, (tuple, list)) and all(isinstance(state, StatefulNode) for state in states),
            ),
        )
        for field, value, expected, right in fields:
            if not right:
                raise self.error(f"built a Built whose {field} is {describe(value)}, not {expected}")
        return Built(
            formula=self.formula(formula),
            scalar=scalar and self.scalar(scalar),
            label=label,
            states=tuple(FencedState(state, self) for state in states),
            timeless=bool(timeless),
        )

    def scalar(self, function: Callable) -> Callable:
        return lambda t: self.result(self.call(function, t, what="failed", passing=_ARITHMETIC), SCALAR)

    def update(self, function: Callable) -> Callable:
        """An optimizer's update rule ``rule(param, grad, state, *hyperparameters)``: any exception
        becomes a PluginError (the step is then undone). It gets views of the parameter and the
        gradient: it updates the parameter's values in place, but cannot change the caller's
        array objects (``param.shape = ...``, ``param.dtype = ...``). It returns nothing: a result
        (e.g. the parts of a rule written for the built-in staged optimizers) is a PluginError."""

        # updated=(): none of the rule's attributes pass the fence, so a mark such as lrdsl.optim.staged's
        # (whose parts the optimizer would run outside this wrapper) never makes it bypass the fence
        @functools.wraps(function, updated=())
        def fenced_update(param, grad, *rest):
            what = "failed in its update rule"
            returned = self.call(function, param.view(), grad.view(), *rest, what=what, passing=())
            if returned is not None:
                raise self.error(
                    f"returned {describe(returned)} from its update rule, which must update param and state in "
                    "place and return None (staged rules, lrdsl.optim.staged, are for built-in optimizers only)"
                )

        return fenced_update

    def param(self, param: Param) -> Param:
        return (
            replace(param, check=self.check(param.check, f"the range check of {param.name}")) if param.check else param
        )

    def check(self, check: Check, what: str) -> Check:
        test = check.test

        def fenced_test(value):  # a TypeError is a value of another type: the check says no (Check's rule)
            verdict = self.call(test, value, what=f"failed in {what}", passing=(TypeError,))
            return self.call(
                bool, verdict, what=f"returned {describe(verdict)} from {what}, not true or false", passing=()
            )

        return Check(fenced_test, check.text)


class FencedState:
    """A plugin's :class:`~lrdsl.built.StatefulNode` whose failures are PluginErrors naming it."""

    def __init__(self, state, fence: _Fence):
        self._state, self._fence = state, fence

    def report(self, metric: float) -> None:
        self._fence.call(self._state.report, metric, what="failed in report()")

    def state_dict(self) -> Mapping[str, Any]:
        """A copy of the node's state as plain data: a checkpoint that changes with the node (a
        ``state_dict`` returning its own dict), or that JSON cannot keep, is a PluginError."""
        saved = self._fence.call(self._state.state_dict, what="failed in state_dict()")
        if not isinstance(saved, Mapping):
            raise self._fence.error(f"state_dict() returned {describe(saved)}, not a dict")
        return _plain_state(saved, lambda what: self._fence.error(f"returned a state from state_dict() that {what}"))

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Load a copy of ``state`` (a node that keeps what it is given cannot change the caller's
        checkpoint); a state that is not plain data is refused before the node sees it."""
        node = self._fence.node
        state = _plain_state(state, lambda what: LRDSLError(f"load_state_dict(): the saved state of {node!r} {what}"))
        self._fence.call(self._state.load_state_dict, state, what="failed in load_state_dict()")

    def __getattr__(self, name: str) -> Any:  # anything else the node's own code reads
        return getattr(self._state, name)


PLAIN_ITEMS = 100_000
"""Items (numbers, strings, list items, dict entries) a node's state may hold."""

PLAIN_DEPTH = 100
"""Levels of lists and dicts a node's state may nest."""


def plain_copy(value: Any) -> Any:
    """A copy of ``value`` as plain data that JSON keeps: dicts with string keys, lists (from lists
    and tuples), strings, bools, ints, finite floats (NumPy scalars become Python ones) and None,
    at most :data:`PLAIN_ITEMS` items and :data:`PLAIN_DEPTH` levels (a recursive value is too
    deep). Anything else is a ValueError saying what and where."""
    left = [PLAIN_ITEMS]

    def copy(value: Any, where: str, depth: int) -> Any:
        left[0] -= 1
        if left[0] < 0:
            raise ValueError(f"larger than {PLAIN_ITEMS} items")
        if depth > PLAIN_DEPTH:
            raise ValueError(f"nested deeper than {PLAIN_DEPTH} levels (a value that contains itself?)")
        if value is None or type(value) in (str, bool, int):
            return value
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, (np.integer, np.floating)) or type(value) is float:
            number = value.item() if isinstance(value, np.generic) else value
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError(f"not plain data: {number!r} at {where or 'the top'}, which JSON cannot keep")
            return number
        if isinstance(value, Mapping):
            if not all(type(key) is str for key in value):
                raise ValueError(f"not plain data: a dict with keys that are not strings at {where or 'the top'}")
            return {key: copy(item, f"{where}[{key!r:.40}]", depth + 1) for key, item in value.items()}
        if type(value) in (list, tuple):
            return [copy(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
        raise ValueError(f"not plain data: {describe(value)} at {where or 'the top'}")

    return copy(value, "", 0)


def _plain_state(state: Any, error: Callable[[str], LRDSLError]) -> Any:
    """:func:`plain_copy` of a node's ``state``, or ``error(what is wrong with it)``."""
    try:
        return plain_copy(state)
    except ValueError as problem:
        raise error(f"is {problem}") from None
    except Exception as problem:  # a mapping whose items() raises
        raise error(f"cannot be read: {failure(problem)}") from None


def _common_shape(args: tuple) -> Optional[tuple]:
    """The shape the NumPy arrays among ``args`` broadcast to (() when there are none), or None when
    they do not broadcast together."""
    try:
        return np.broadcast_shapes(*(arg.shape for arg in args if isinstance(arg, np.ndarray)))
    except ValueError:
        return None


def _broadcasts(shape: tuple, to: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``to`` (without growing it)."""
    try:
        return np.broadcast_shapes(shape, to) == to
    except ValueError:
        return False


def malformed(
    entries: Mapping[str, Any],
    param: np.ndarray,
    declared: Optional[Mapping[str, Any]],
    lent: Sequence[Tuple[str, np.ndarray]] = (),
) -> Optional[str]:
    """What is wrong with the state a plugin's update rule left, or None: an entry it does not
    declare, one that is neither a finite number nor a finite array of the parameter's shape and
    dtype, or an array in the memory of one of the ``lent`` arrays ``(what, array)`` (the
    parameter, the gradient, the scratch buffers: the state would change with them) or of another
    entry. Numbers and arrays are plain ones (a checkpoint holds no plugin class): int, float, a
    NumPy scalar or array, not a subclass of them."""
    kept: List[Tuple[str, np.ndarray]] = []
    for name, value in entries.items():
        if declared is not None and name not in declared:
            return f"the state entry {name!r}, which the node does not declare"
        if type(value) is np.ndarray:
            if value.shape != param.shape or value.dtype != param.dtype:
                return f"the state entry {name!r} as {describe(value)}, where the parameter is {describe(param)}"
            if not np.isfinite(value).all():
                return f"non-finite values in the state entry {name!r}"
            for other, array in (*lent, *kept):
                if np.may_share_memory(value, array):
                    return f"the state entry {name!r} in the memory of {other} (keep a copy of it: .copy())"
            kept.append((f"the state entry {name!r}", value))
        elif isinstance(value, np.ndarray):
            return f"the state entry {name!r} as a {type(value).__name__}, not a plain NumPy array"
        elif not _plain_number(value) or not _finite_float(value):
            return f"the state entry {name!r} as {describe(value)}, not a finite number or array"
    return None


def _plain_number(value: Any) -> bool:
    """Whether ``value`` is an int, a float or a NumPy integer or float scalar (not a bool, not a subclass)."""
    if type(value) in (int, float):
        return True
    return isinstance(value, (np.integer, np.floating)) and type(value) is np.dtype(type(value)).type


def _finite_float(number: Any) -> bool:
    """Whether a real ``number`` is finite as a float (an int too large for a float is not)."""
    try:
        return math.isfinite(number)
    except OverflowError:
        return False
