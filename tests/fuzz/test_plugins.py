"""Fuzz target "plugins": misbehaving plugins, registered through the in-process plugin API.

Each example builds a plugin object (``build_registry(entry_points=False, plugins={...})``, as
tests/test_plugins.py does) whose nodes misbehave in one drawn way each:

- a schedule node's formula, a function node and a built node's formula return junk (None, a
  string, bytes, a complex number, NaN, infinities, a negative number, a huge int, a bool, an
  array of the wrong shape, a list, an object, a number whose ``__float__`` raises, a masked
  array) or raise (any Exception, SystemExit and
  RecursionError included; other BaseExceptions, such as KeyboardInterrupt, are meant to pass
  through, lrdsl.guard.FAILURES), or write into the time array they were given;
- a parameter's range check raises; a built node's ``build`` raises or returns junk (or a
  ``Built`` with junk in its fields: states, formula, scalar, label, timeless); its
  state's ``report`` changes the state and then raises, ``state_dict`` raises or returns junk,
  and ``load_state_dict`` raises (before changing anything, as lrdsl.built.StatefulNode asks:
  the library restores a node through its ``load_state_dict``, so one that cannot load cannot
  be restored); ``state_dict`` returns the node's own live dict, ``load_state_dict`` keeps the
  dict it is given (a checkpoint, once taken, must not change);
- an optimizer's update rule raises (after changing the parameter), writes NaN, keeps state
  that is junk (a string, an array of another shape, NaN, an object) or an array it was lent
  (the gradient, the parameter, a scratch buffer), or sets the parameter's shape;
- the ``lrdsl_nodes`` hook itself raises (SystemExit too) or returns junk.

Under the contract of :mod:`tests.fuzz.contract`: building the registry, compiling, evaluating
(:func:`tests.fuzz.test_text.exercise_schedule`: values finite >= 0, both evaluators agree, a
failure changes nothing), stepping (a failed step changes no parameter and no state; a
successful one leaves finite parameters and a state that loads back) each give a value or an
LRDSLError within 1 s; the arrays given are not modified; and afterwards the library works as
before (a reference schedule gives its values, the default registry is untouched).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import lrdsl
from lrdsl.authoring import Built, Check, built_schedule_node, function_node, optimizer_node, schedule_node
from lrdsl.plugins import build_registry

from .contract import attempt, canonical, check_unchanged, fail, first_difference, short, snapshot, tried
from .profiles import fuzz_settings
from .test_config import check_library_intact
from .test_text import exercise_schedule

TARGET = "plugins"
SOURCE = "fuzz-plugin"


RAISED: List[Callable[[], BaseException]] = [
    lambda: ValueError("bad"),
    lambda: TypeError("bad"),
    lambda: ZeroDivisionError("bad"),
    lambda: OverflowError("bad"),
    lambda: KeyError("bad"),
    lambda: AssertionError("bad"),
    lambda: StopIteration(),
    lambda: RecursionError("bad"),
    lambda: MemoryError(),
    lambda: NotImplementedError(),
    lambda: SystemExit(3),
    lambda: lrdsl.LRDSLError("a plugin's own LRDSLError"),
]


class Unreadable(float):
    """A number whose ``__float__`` raises."""

    def __float__(self):
        raise RuntimeError("no float")


JUNK: List[Callable[[Any], Any]] = [
    lambda t: None,
    lambda t: "0.5",
    lambda t: b"0.5",
    lambda t: 0.5 + 1j,
    lambda t: float("nan"),
    lambda t: float("inf"),
    lambda t: -0.5,
    lambda t: 10**400,
    lambda t: True,
    lambda t: [0.5],
    lambda t: (0.5, 0.5),
    lambda t: object(),
    lambda t: np.ones(2),
    lambda t: np.ones((2, 3)) if np.ndim(t) else np.ones(3),
    lambda t: np.full(np.shape(t), 0.5, dtype=np.complex128),
    lambda t: np.full(np.shape(t), 0.5, dtype=object),
    lambda t: np.full(np.shape(t), 0.5, dtype=np.float16),
    lambda t: np.asarray(t) * np.nan,
    lambda t: np.asarray(t) - 5.0,
    lambda t: {"value": 0.5},
    lambda t: Unreadable(0.5),
    lambda t: np.ma.masked_array(np.full(np.shape(t), 0.5), mask=True),
    lambda t: 10**21,  # a float, but an object array for NumPy
]


BAD_BUILTS: List[Callable[[], Built]] = [
    lambda: Built(lambda xp, t: 0.5 + 0 * t, states=None),
    lambda: Built(lambda xp, t: 0.5 + 0 * t, states=(None,)),
    lambda: Built(None),
    lambda: Built(lambda xp, t: 0.5 + 0 * t, timeless=np.ones(2)),
    lambda: Built(lambda xp, t: 0.5 + 0 * t, scalar=np.ones(2)),
    lambda: Built(lambda xp, t: 0.5 + 0 * t, label=object()),
    lambda: Built(lambda xp: 0.5),
    lambda: Built(lambda xp, t: "0.5", scalar=lambda t: "0.5"),  # both evaluators read junk
]
"""Builts a ``build`` may return whose fields are junk."""


def behaviour(kind: str) -> st.SearchStrategy[tuple]:
    """How one function of the plugin misbehaves: ``("ok",)``, ``("raise", i)``, ``("junk", i)``,
    ``("write", )`` (a formula: write into the array it was given) or ``("built", i)`` (a build:
    return a Built with junk in it)."""
    options = [
        st.just(("ok",)),
        st.tuples(st.just("raise"), st.integers(0, len(RAISED) - 1)),
        st.tuples(st.just("junk"), st.integers(0, len(JUNK) - 1)),
    ]
    if kind == "formula":
        options.append(st.just(("write",)))
    if kind == "update":
        options.extend([st.just(("write",)), st.just(("reshape",)), st.tuples(st.just("keep"), st.integers(0, 2))])
    if kind == "state":
        options.append(st.just(("live",)))
    if kind == "build":
        options.append(st.tuples(st.just("built"), st.integers(0, len(BAD_BUILTS) - 1)))
    return st.one_of(*options)


def act(how: tuple, t: Any, good: Callable[[], Any]) -> Any:
    """Do what ``how`` says: the good result, raise, return junk, or scribble on ``t`` once the
    good result is computed (so that only a library that lets the write reach the caller's
    points or another node's time shows it: the plugin's own result is the same for a float)."""
    if how[0] == "raise":
        raise RAISED[how[1]]()
    if how[0] == "junk":
        return JUNK[how[1]](t)
    result = good()
    if how[0] == "write" and isinstance(t, np.ndarray) and t.flags.writeable:
        t += 1000.0
    return result


class Plugin:
    """A plugin object whose nodes behave as ``hows`` says (keys: see :func:`plugin_behaviours`)."""

    def __init__(self, hows: Dict[str, tuple]):
        self.hows = hows

    def lrdsl_nodes(self):
        hows = self.hows
        act(hows["hook"], None, lambda: None)

        @schedule_node(checks={"value": Check(lambda v: act(hows["check"], v, lambda: v >= 0), ">= 0")})
        def fz_sched(xp, t, value: float = 0.5):
            """A schedule node that misbehaves."""
            return act(hows["formula"], t, lambda: value + 0 * t)

        @function_node()
        def fz_fn(xp, x: float):
            """A function node that misbehaves."""
            return act(hows["function"], x, lambda: xp.abs(x))

        @built_schedule_node(stateful=True)
        def fz_built(ctx, value: float = 0.25):
            """A built node whose build, formula and state misbehave."""
            how = hows["build"]
            if how[0] in ("junk", "built"):
                return JUNK[how[1]](None) if how[0] == "junk" else BAD_BUILTS[how[1]]()
            act(how, None, lambda: None)
            state = FuzzState(hows, value)
            return Built(
                lambda xp, t: act(hows["built_formula"], t, lambda: state.value + 0 * t),
                label="fz_built()",
                states=(state,),
                timeless=True,
            )

        @optimizer_node()
        def fz_opt(param, grad, state, lr: float = 0.1):
            """An optimizer whose update rule misbehaves."""
            how = hows["update"]
            param -= lr * grad
            if how[0] == "raise":
                raise RAISED[how[1]]()
            if how[0] == "junk":
                state["junk"] = JUNK[how[1]](param)
            if how[0] == "write":
                param[...] = np.nan
            if how[0] == "reshape":  # on the caller's array, this would change its shape
                param.shape = (param.size,)
            if how[0] == "keep":  # an array it was lent, kept in the state
                state["kept"] = (grad, param, state.scratch(0))[how[1]]

        exposed = [fz_sched, fz_fn, fz_built, fz_opt]
        return act(hows["hook_result"], None, lambda: exposed)

    lrdsl_nodes = lrdsl.hookimpl(lrdsl_nodes)


class FuzzState:
    """The state of ``fz_built``: a plateau-like value that reports may change, misbehaving as told.
    It keeps its value and count in one dict, ``data``, which a ``("live",)`` state_dict returns
    itself (so a checkpoint would change with the node) and a ``("live",)`` load_state_dict keeps
    (so the node would change the caller's checkpoint)."""

    def __init__(self, hows: Dict[str, tuple], value: float):
        self.hows, self.data = hows, {"value": value, "reports": 0}

    @property
    def value(self) -> float:
        return self.data["value"]

    def report(self, metric: float) -> None:
        how = self.hows["report"]
        self.data["reports"] += 1  # changed before misbehaving: the library must roll this back
        act(how, None, lambda: None)
        self.data["value"] = max(self.data["value"] * 0.5, 1e-6)

    def state_dict(self) -> Any:
        if self.hows["state_dict"] == ("live",):
            return self.data
        return act(self.hows["state_dict"], None, lambda: dict(self.data))

    def load_state_dict(self, state: Any) -> None:
        how = self.hows["load_state_dict"]
        act(how, None, lambda: None)  # raises before any change (the protocol)
        data = {"value": float(state["value"]), "reports": int(state["reports"])}
        self.data = state if how == ("live",) else data


@st.composite
def plugin_behaviours(draw) -> Dict[str, tuple]:
    """Misbehaviour for one or two of the plugin's functions; the others behave."""
    keys = {
        "hook": "hook",
        "hook_result": "result",
        "check": "check",
        "formula": "formula",
        "function": "formula",
        "build": "build",
        "built_formula": "formula",
        "report": "hook",
        "state_dict": "state",
        "load_state_dict": "state",
        "update": "update",
    }
    hows = dict.fromkeys(keys, ("ok",))
    for key in draw(st.lists(st.sampled_from(sorted(keys)), min_size=1, max_size=2, unique=True)):
        hows[key] = draw(behaviour(keys[key]))
    return hows


TEXTS = [
    "fz_sched()",
    "warmup(T=3) then fz_sched(value=0.3)",
    "fz_fn(cosine(T=10) - 0.5)",
    "fz_built()",
    "0.1 * fz_built() + fz_sched(value=$x)",
    "repeat(warmup(T=2) then fz_sched(), times=2) then fz_fn(it - 20)",
    "fz_sched(value=0.4) * linear(T=30, end=0.1)",  # both factors are given one time array
]


def exercise_plugin(hows: Dict[str, tuple], text: str) -> None:
    """Build the registry with the plugin, compile ``text``, evaluate, report, step; see the module."""
    tried(TARGET)
    shown = (text, {k: v for k, v in hows.items() if v != ("ok",)})
    registry = attempt(
        TARGET,
        "build_registry",
        lambda: build_registry(entry_points=False, plugins={SOURCE: Plugin(hows)}),
        shown,
    )
    if registry.ok:
        compiled = attempt(
            TARGET,
            "compile",
            lambda: lrdsl.compile(text, registry=registry.value, variables={"x": 0.2}, total=30),
            shown,
        )
        if compiled.ok:
            points = [0, 1, 2.5, 5, 10, 29, 30, 1000]
            given_points = np.asarray(points, dtype=np.float64)
            misbehaving_state = hows["state_dict"] != ("ok",) or hows["load_state_dict"] != ("ok",)
            exercise_schedule(TARGET, compiled.value, points, 0.5, shown, plugin=misbehaving_state)
            exercise_checkpoint(compiled.value, registry.value, shown)
            attempt(TARGET, "values", lambda: compiled.value.values(given_points), shown)
            if not np.array_equal(given_points, np.asarray(points, dtype=np.float64)):
                fail(TARGET, f"values() of {short(shown)} modified the array of points it was given")
        exercise_plugin_optimizer(registry.value, shown)
    check_library_intact(TARGET, f"the plugin {short(shown)}")


def exercise_checkpoint(sched: lrdsl.Schedule, registry: Any, shown: Any) -> None:
    """A checkpoint, once taken, is the caller's: reports to the schedule it was taken from, and
    to one that loaded it, leave it as it was."""
    saved = attempt(TARGET, "state_dict()", sched.state_dict, shown)
    if not saved.ok:
        return
    image = canonical(saved.value)
    attempt(TARGET, "report(0.25)", lambda: sched.report(0.25), shown)
    fresh = attempt(
        TARGET, "compile", lambda: lrdsl.compile(sched.expression, registry=registry, **sched.options.as_dict()), shown
    )
    if fresh.ok and attempt(TARGET, "load_state_dict", lambda: fresh.value.load_state_dict(saved.value), shown).ok:
        attempt(TARGET, "report(0.25)", lambda: fresh.value.report(0.25), shown)
    where = first_difference(image, canonical(saved.value))
    if where is not None:
        fail(TARGET, f"a checkpoint of {short(shown)} changed after it was taken: {where}")


def exercise_plugin_optimizer(registry: Any, shown: Any) -> None:
    """``fz_opt``: a failed step changes nothing; a successful one leaves finite parameters of the
    same shapes and a state that loads back and holds none of the caller's arrays; the gradients
    are never modified."""
    params = [np.linspace(-1, 1, 6).reshape(2, 3), np.ones(3)]
    made = attempt(TARGET, "optimizer", lambda: lrdsl.optimizer("fz_opt(lr=0.1)", params, registry=registry), shown)
    if not made.ok:
        return
    opt = made.value
    grads = [np.full((2, 3), 0.25), np.linspace(-2, 2, 3)]
    for k in range(2):
        before, grads_before = snapshot(opt, params), [g.copy() for g in grads]
        stepped = attempt(TARGET, f"step {k}", lambda: opt.step(grads), shown)
        if any(not np.array_equal(g, h) for g, h in zip(grads, grads_before)):
            fail(TARGET, f"step {k} of {short(shown)} let the update rule modify the gradients")
        if not stepped.ok:
            check_unchanged(TARGET, before, snapshot(opt, params), f"step {k} of {short(shown)}")
            return
        if not all(np.isfinite(p).all() for p in params):
            fail(TARGET, f"step {k} of {short(shown)} left non-finite parameters")
        if [p.shape for p in params] != [(2, 3), (3,)]:
            fail(
                TARGET, f"step {k} of {short(shown)} changed the shapes of the parameters: {[p.shape for p in params]}"
            )
    state = snapshot(opt)
    for array in (*grads, *params):  # the caller's arrays are the caller's: the optimizer keeps none
        array += 1.0
    check_unchanged(TARGET, state, snapshot(opt), f"the caller's changing its arrays after the steps of {short(shown)}")
    saved = attempt(TARGET, "state_dict", opt.state_dict, shown)
    if saved.ok:
        fresh = lrdsl.optimizer("fz_opt(lr=0.1)", [p.copy() for p in params], registry=registry)
        loaded = attempt(TARGET, "load_state_dict(own state)", lambda: fresh.load_state_dict(saved.value), shown)
        if not loaded.ok:
            fail(
                TARGET,
                f"the optimizer of {short(shown)} stepped, but its checkpoint cannot be loaded: {loaded.describe()}",
            )


@fuzz_settings(80)
@given(plugin_behaviours(), st.sampled_from(TEXTS))
def test_misbehaving_plugins(hows, text):
    exercise_plugin(hows, text)
