"""The contract every fuzz target checks, shared by the pytest suite and the atheris target.

The library's promise (README "Reliability", docs/language.md §12): *any input gives a value
or a clear* :class:`lrdsl.LRDSLError`; *a failed operation changes nothing*. Concretely, an
operation run through :func:`attempt`

- returns a value, or raises an ``LRDSLError`` subclass: any other exception is a
  :class:`Violation` (a ``RuntimeWarning`` escaping from NumPy counts as one too, as it does
  for the rest of the test suite, ``filterwarnings = error::RuntimeWarning``);
- finishes within :data:`LIMIT` seconds (1 s; ``LRDSL_FUZZ_TIMEOUT`` changes it), enforced by
  ``signal.setitimer`` in the main thread, which interrupts Python code; as a backstop against
  C code that never returns to the interpreter, ``faulthandler`` dumps every thread's stack
  and ends the process after :data:`HARD_LIMIT` seconds;

and the checks below say what a value must be (:func:`check_value`, :func:`check_values`,
:func:`check_agree`) and that a failed operation left its object as it was
(:func:`snapshot`, :func:`check_unchanged`).

Every outcome is counted per target in :data:`STATS` (values, each ``LRDSLError`` class,
violations), and operations slower than :data:`SLOW` seconds are kept in :data:`SLOWEST`;
``tests/fuzz/conftest.py`` prints both after a pytest run and the atheris target writes them
to a file.
"""

from __future__ import annotations

import collections
import contextlib
import faulthandler
import itertools
import json
import math
import os
import re
import reprlib
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

import lrdsl

LIMIT = float(os.environ.get("LRDSL_FUZZ_TIMEOUT", "1.0"))
"""Seconds one operation may take."""

HARD_LIMIT = 60.0
"""Seconds after which a stuck operation (one the timer cannot interrupt) ends the process."""

MEMORY = 2 * 2**30
"""Bytes one operation may allocate (see :func:`memory_cap`)."""

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

SLOW = 0.2
"""Operations slower than this are reported as timing outliers."""

STATS: collections.Counter = collections.Counter()  # (target, outcome) -> count
INPUTS: collections.Counter = collections.Counter()  # target -> inputs tried
SLOWEST: List[Tuple[float, str, str, str]] = []  # (seconds, target, operation, input), the slowest first


class Violation(AssertionError):
    """The contract is broken: ``target``, the operation, the input and what happened."""


KNOWN: List[Tuple[str, str]] = [
    # (the regression test in test_regressions.py, a regular expression matching the violation's message)
]
"""Violations already reduced to a failing regression test in ``test_regressions.py`` (the torch
bridge's in ``test_regressions_torch.py``): open library bugs. The regression test carries the
failure, so the fuzz tests only count them, as ``known: <test>``, and go on to find what is not
known yet; ``LRDSL_FUZZ_KNOWN=fail`` makes them fail the fuzz tests too. ``test_regressions.py``
checks that every entry names one of those tests; remove the entry when the library is fixed."""

REPORT_KNOWN = os.environ.get("LRDSL_FUZZ_KNOWN", "report") != "fail"
_known_in_this_input: List[str] = []  # known violations met since the last tried(): what follows may be their effect


class TooSlow(BaseException):
    """Raised by the timer in the operation it interrupts (a BaseException, so that the library's
    ``except Exception`` cannot swallow it)."""


@dataclass
class Outcome:
    """What an operation gave: ``value``, or ``error`` (an LRDSLError); ``seconds`` it took."""

    value: Any = None
    error: Optional[lrdsl.LRDSLError] = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def describe(self) -> str:
        if self.ok:
            return f"value {short(self.value)}"
        return f"{type(self.error).__name__}: {short(str(self.error), 200)}"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 4, 8, 8, 8
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 120, 120, 60


def short(value: Any, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters, never raising and never slow: ``reprlib`` bounds
    the levels and items shown (a list of millions of items, an aliased list of 2**60 leaves, a
    recursive one), and a ``__repr__`` that raises is shown as such."""
    try:
        text = _REPR.repr(value)
    except BaseException as error:  # a repr that fails is shown as such
        text = f"<{type(value).__name__} whose repr raised {type(error).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- running one operation ---------------------------------------------------------------------------


def where(error: BaseException) -> str:
    """The innermost frame of the library in ``error``'s traceback, as ``lrdsl/text.py:44 in describe``
    (what :data:`KNOWN` patterns match on), or ``outside lrdsl``."""
    found = "outside lrdsl"
    for frame, line in traceback.walk_tb(error.__traceback__):
        path = frame.f_code.co_filename.replace(os.sep, "/")
        if "/lrdsl/" in path:
            found = f"lrdsl/{path.rsplit('/lrdsl/', 1)[1]}:{line} in {frame.f_code.co_name}"
    return found


def _on_alarm(signum, frame):
    raise TooSlow()


def _data_size() -> Optional[int]:
    """Bytes of this process's data segment (Linux), or None."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[5]) * PAGE
    except (OSError, ValueError, IndexError):
        return None


@contextlib.contextmanager
def memory_cap(extra: int = MEMORY) -> Iterator[None]:
    """Let the block allocate at most ``extra`` more bytes (Linux: RLIMIT_DATA, which counts mmap'd
    memory too): runaway memory -- a repr of an aliased structure, a file that never ends -- is then
    a MemoryError, which the contract reports, and not an exhausted machine."""
    used = _data_size() if resource is not None else None
    if used is None:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = used + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


@contextlib.contextmanager
def deadline(seconds: float = LIMIT) -> Iterator[None]:
    """Interrupt the block with :class:`TooSlow` after ``seconds`` (main thread only; elsewhere only
    the faulthandler backstop applies), and cap the memory it may take (:func:`memory_cap`)."""
    if threading.current_thread() is not threading.main_thread():
        with memory_cap():
            yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    faulthandler.dump_traceback_later(HARD_LIMIT, exit=True)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with memory_cap():
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)  # None: set from C


def attempt(target: str, operation: str, function: Callable[[], Any], given: Any = None) -> Outcome:
    """Run ``function()`` under the contract; the outcome, or :class:`Violation`.

    ``operation`` and ``given`` (the input, shown in messages) say what was run.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        try:
            with deadline():
                value = function()
        except TooSlow as error:
            seconds = time.perf_counter() - start
            violation = _violation(
                target,
                "too slow",
                f"[{target}] {operation} took more than {LIMIT:g} s (interrupted after {seconds:.2f} s, at "
                f"{where(error)}) on "
                f"{short(given, 400)}",
            )
            if violation is None:
                return Outcome(error=lrdsl.LRDSLError("known violation: too slow"), seconds=seconds)
            raise violation from None
        except lrdsl.LRDSLError as error:
            outcome = Outcome(error=error, seconds=time.perf_counter() - start)
        except BaseException as error:  # anything else breaks the contract
            if isinstance(error, KeyboardInterrupt):
                raise
            violation = _violation(
                target,
                type(error).__name__,
                f"[{target}] {operation} raised {type(error).__name__}: {short(_text(error), 300)} (not an "
                f"LRDSLError, at {where(error)}) on {short(given, 400)}",
            )
            if violation is None:
                return Outcome(error=lrdsl.LRDSLError(f"known violation: {type(error).__name__}"))
            raise violation from error
        else:
            outcome = Outcome(value=value, seconds=time.perf_counter() - start)
    numpy_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    if numpy_warnings:
        w = numpy_warnings[0]
        violation = _violation(
            target,
            "RuntimeWarning",
            f"[{target}] {operation} let a RuntimeWarning escape ({w.message}, {os.path.basename(w.filename)}:"
            f"{w.lineno}) on {short(given, 400)}; it {outcome.describe()}",
        )
        if violation is not None:
            raise violation
    _count(target, "value" if outcome.ok else type(outcome.error).__name__)
    if outcome.seconds > SLOW:
        SLOWEST.append((outcome.seconds, target, operation, short(given, 200)))
        SLOWEST.sort(reverse=True)
        del SLOWEST[20:]
    return outcome


def _text(error: BaseException) -> str:
    try:
        return str(error)
    except BaseException:  # an exception whose message cannot be made
        return f"<{type(error).__name__} whose str() raised>"


def _violation(target: str, kind: str, message: str) -> Optional[Violation]:
    """The Violation to raise, or None when it is a known one and known ones are only reported."""
    if REPORT_KNOWN:
        for name, pattern in KNOWN:
            if re.search(pattern, message, re.DOTALL):
                _count(target, f"known: {name}")
                _known_in_this_input.append(name)
                return None
        if kind == "check" and _known_in_this_input:  # a consequence of a known violation in this input
            _count(target, f"known: {_known_in_this_input[0]} (consequence)")
            return None
    _count(target, f"violation: {kind}")
    return Violation(message)


def _count(target: str, outcome: str) -> None:
    STATS[(target, outcome)] += 1


def tried(target: str) -> None:
    """Count one input of ``target`` (a hypothesis example, an atheris input)."""
    INPUTS[target] += 1
    _known_in_this_input.clear()


def fail(target: str, message: str) -> None:
    """A contract violation found by a check rather than by an exception (returns when it is a known
    one and known ones are only reported)."""
    violation = _violation(target, "check", f"[{target}] {message}")
    if violation is not None:
        raise violation


# -- what a value must be ----------------------------------------------------------------------------


def check_value(target: str, outcome: Outcome, what: str) -> None:
    """``sched(i)``: a Python float, finite and >= 0."""
    if not outcome.ok:
        return
    value = outcome.value
    if type(value) is not float or not (math.isfinite(value) and value >= 0):
        fail(target, f"{what} gave {short(value)} of type {type(value).__name__}; expected a finite float >= 0")


def check_values(target: str, outcome: Outcome, what: str, shape: Optional[tuple] = None) -> None:
    """``sched.values(...)``: a float64 array (of ``shape`` when given) of finite values >= 0."""
    if not outcome.ok:
        return
    out = outcome.value
    if not isinstance(out, np.ndarray) or out.dtype != np.float64:
        fail(target, f"{what} gave {short(out)}; expected a float64 NumPy array")
        return
    if shape is not None and out.shape != shape:
        fail(target, f"{what} gave an array of shape {out.shape}; expected {shape}")
    if out.size and not (np.isfinite(out).all() and (out >= 0).all()):
        fail(target, f"{what} gave {short(out)}; expected finite values >= 0")


def same_number(a: float, b: float) -> bool:
    """Equal, or within 1e-12 relative (the scalar and the vectorised evaluators may round differently)."""
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def check_agree(target: str, scalar: Outcome, array: Outcome, what: str) -> None:
    """``sched(i)`` and ``sched.values([i])`` both raise, or both give the same number."""
    if scalar.ok != array.ok:
        fail(
            target,
            f"{what}: the scalar path {scalar.describe()}, but the vectorised path {array.describe()}; "
            "both must give the same value or both raise",
        )
        return
    if scalar.ok and not same_number(scalar.value, float(np.asarray(array.value).reshape(-1)[0])):
        fail(target, f"{what}: sched(i) = {scalar.value!r} but values([i]) = {array.value!r}")


# -- "a failed operation changes nothing" ------------------------------------------------------------


CANONICAL_NODES = 20_000
"""Items :func:`canonical` looks at before it stops (an aliased list of 2**60 leaves, a list of
millions of items): past the budget, and past :data:`CANONICAL_DEPTH` levels, the image holds a
marker instead. The image of an unchanged object is the same, so comparisons stay meaningful."""

CANONICAL_DEPTH = 100


def canonical(value: Any, budget: int = CANONICAL_NODES) -> Any:
    """A hashable, comparable image of plain data, NumPy arrays and torch tensors: arrays by dtype,
    shape and bytes, floats by their bits (NaN equals NaN, -0.0 differs from 0.0). Bounded: at most
    ``budget`` items and :data:`CANONICAL_DEPTH` levels are visited (a deep, recursive or aliased
    input is cut short, never walked in full)."""
    left = [budget]

    def walk(value: Any, depth: int) -> Any:
        left[0] -= 1
        if left[0] < 0:
            return ("...",)
        if depth > CANONICAL_DEPTH:
            return ("deep",)
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "O":
                items = value.reshape(-1)[: max(left[0], 0)]
                return ("objects", value.shape, tuple(walk(v, depth + 1) for v in items))
            return ("ndarray", value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes())
        if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
            array = value.detach().cpu().contiguous()
            return ("tensor", str(array.dtype), tuple(array.shape), array.numpy().tobytes() if array.numel() else b"")
        if isinstance(value, (float, np.floating)):
            return (type(value).__name__, float(value).hex() if math.isfinite(value) else repr(float(value)))
        if isinstance(value, Mapping):
            items = list(itertools.islice(value.items(), max(left[0], 0) + 1))
            return ("map", type(value).__name__, tuple((walk(k, depth + 1), walk(v, depth + 1)) for k, v in items))
        if isinstance(value, (list, tuple)):
            items = list(itertools.islice(iter(value), max(left[0], 0) + 1))
            return (type(value).__name__, tuple(walk(v, depth + 1) for v in items))
        if isinstance(value, (str, bytes, bool, int, type(None), np.generic)):
            return (type(value).__name__, value)
        return ("object", type(value).__name__, id(value))

    return walk(value, 0)


def first_difference(a: Any, b: Any, path: str = "") -> Optional[str]:
    """Where two canonical images differ, as a path (None when equal)."""
    if a == b:
        return None
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{index}]")
            if found is not None:
                return found
    return f"{path or 'the top'}: {short(a, 160)} became {short(b, 160)}"


def snapshot(obj: Any, *extra: Any, position: bool = True) -> Any:
    """Everything observable about ``obj`` (its ``state_dict()``) and the ``extra`` objects: parameter
    arrays (bitwise), a torch optimizer's param groups (every value but the tensors' identity).

    ``position=False`` leaves out a schedule's position: a successful ``sched(t)`` records it
    (it is where a resumed run goes on), so a run of evaluations may move it; a failed one may
    not (:func:`attempt_on`)."""
    try:
        state = obj.state_dict()
    except lrdsl.LRDSLError as error:  # a misbehaving plugin's state: a PluginError, by type only
        state = ("state_dict() raised", type(error).__name__)
    if not position and isinstance(state, dict):
        state = {key: value for key, value in state.items() if key != "position"}
    parts = [canonical(state)]
    for item in extra:
        if hasattr(item, "param_groups"):  # a torch optimizer: its hyperparameters and its state
            groups = [{k: v for k, v in group.items() if k != "params"} for group in item.param_groups]
            parts.append(canonical(groups))
            parts.append(canonical(item.state_dict()["state"]))
        else:
            parts.append(canonical(item))
    for attribute in ("iteration", "last_epoch", "_step_count", "interval"):
        if hasattr(obj, attribute):
            parts.append((attribute, canonical(getattr(obj, attribute))))
    if hasattr(obj, "_last_lr"):
        parts.append(("_last_lr", canonical(list(obj._last_lr))))
    if hasattr(obj, "base_lrs"):
        parts.append(("base_lrs", canonical(list(obj.base_lrs))))
    return tuple(parts)


def attempt_on(target: str, obj: Any, operation: str, function: Callable[[], Any], given: Any = None) -> Outcome:
    """:func:`attempt` an evaluation of the schedule ``obj``: when it fails, the schedule's position
    (the one thing a successful evaluation may change) must not have moved."""
    position = getattr(obj, "position", None)
    outcome = attempt(target, operation, function, given)
    if not outcome.ok and getattr(obj, "position", None) != position:
        fail(
            target,
            f"{operation} failed ({outcome.describe()}) but moved the position from {position!r} to "
            f"{getattr(obj, 'position', None)!r} on {short(given, 300)}",
        )
    return outcome


def check_unchanged(target: str, before: Any, after: Any, what: str) -> None:
    """After a failed operation: nothing observable changed."""
    where = first_difference(before, after)
    if where is not None:
        fail(target, f"{what} failed but changed its object: {where}")


# -- reporting ---------------------------------------------------------------------------------------


def summary() -> Dict[str, Any]:
    """The figures of this run: per target, the inputs tried and the outcome counts; the slowest operations."""
    targets: Dict[str, Dict[str, Any]] = {}
    for (target, outcome), count in sorted(STATS.items()):
        targets.setdefault(target, {"inputs": INPUTS.get(target, 0), "outcomes": {}})["outcomes"][outcome] = count
    for target, count in INPUTS.items():
        targets.setdefault(target, {"inputs": count, "outcomes": {}})
    return {"targets": targets, "slowest": [list(item) for item in SLOWEST]}


def format_summary() -> str:
    data = summary()
    lines = []
    for target, figures in sorted(data["targets"].items()):
        outcomes = figures["outcomes"]
        values = outcomes.get("value", 0)
        errors = sum(n for k, n in outcomes.items() if k != "value" and not k.startswith("violation"))
        violations = sum(n for k, n in outcomes.items() if k.startswith("violation"))
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items()) if k != "value")
        lines.append(
            f"{target:>10}: {figures['inputs']} inputs, {sum(outcomes.values())} operations: {values} values, "
            f"{errors} LRDSLErrors, {violations} violations ({kinds})"
        )
    if data["slowest"]:
        lines.append(f"slowest operations (over {SLOW:g} s):")
        lines.extend(f"  {s:.3f} s  [{t}] {op}: {given}" for s, t, op, given in data["slowest"][:10])
    return "\n".join(lines)


def write_summary(path: str) -> None:
    """Write :func:`summary` as JSON to ``path``."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(summary(), handle, indent=1, sort_keys=True)


def reload_own_state(target: str, save: Callable[[], Any], fresh: Callable[[], Any], shown: Any) -> None:
    """What ``save()`` returns (an object's ``state_dict()``, maybe through a file) loads into
    ``fresh()``: an accepted state never makes a dead checkpoint."""
    saved = attempt(target, "state_dict()", save, shown)
    if not saved.ok:
        fail(target, f"after loading {short(shown, 300)}, state_dict() raised {saved.describe()}")
        return
    receiver = fresh()
    again = attempt(target, "load_state_dict(own state)", lambda: receiver.load_state_dict(saved.value), shown)
    if not again.ok:
        fail(
            target,
            f"a state was accepted ({short(shown, 300)}), but the checkpoint made after it cannot be loaded: "
            f"{again.describe()}",
        )
