"""Every way a user can evaluate a schedule, side by side: the cross-backend test harness.

Given :class:`Case` objects (an lrdsl string, its compile options, a grid of iterations
0..steps−1), :func:`evaluate` returns each schedule's values on every path:

=====================  =======  ===========================================================
path                   dtype    what it runs
=====================  =======  ===========================================================
``values``             float64  ``sched.values(grid)`` on the sorted grid: the reference
``values(shuffled)``   float64  ``sched.values`` on a shuffled copy, un-shuffled back
``sched(i)``           float64  the scalar evaluator, one iteration at a time
``sched(epoch=)``      float64  ``sched(epoch=i / steps_per_epoch)`` (only with steps_per_epoch)
``jax.jit f64``        float64  ``jax.jit`` of ``lrdsl.bridges.jax.schedule(dtype=float64)``
                                under ``jax.enable_x64(True)`` (scoped: nothing leaks)
``jax.jit f32``        float32  the same in float32, x64 off (JAX's default)
``keras[torch]``       float32  ``LRDSLSchedule`` in this process (conftest.py sets
                                KERAS_BACKEND=torch), eager ``keras.ops``
``keras[jax]``         float32  ``jax.jit(LRDSLSchedule(...))`` as Keras's jitted train step
                                runs it, in ONE child process per :func:`evaluate` call
                                (Keras picks its backend once per process)
``torch ScheduleLR``   float64  the torch bridge on a one-parameter SGD, reading the lr before
                                each ``optimizer.step(); scheduler.step()``
=====================  =======  ===========================================================

:func:`problems` is the comparison contract: against the reference (``values()``, or a peer's
values), float64 paths agree within 1e-9 relative (or 4 float64 ulps of the schedule's peak,
for cancellations such as ``1 + cos`` near π), float32 paths within 1e-5 relative or 1e-7 of
the peak (absolute, for values near zero), and no path gives NaN, infinity or a negative
value or raises. Why: a schedule string is one learning rate, whatever runs it.

The jitted paths trace all schedules of a batch into one XLA program per dtype (one
compilation instead of one per schedule; XLA rewrites each schedule's operations the same
way, alone or together). The Keras/JAX child gets the cases as JSON and answers with an
.npz in a temporary directory; run as ``python tests/backends.py DIR`` it is that child.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = "values"
FLOAT32_PATHS = ("jax.jit f32", "keras[torch]", "keras[jax]")
# (relative tolerance, absolute tolerance as a fraction of the schedule's peak) per precision
TOLERANCE = {np.float64: (1e-9, 4 * np.finfo(np.float64).eps), np.float32: (1e-5, 1e-7)}
CHILD_TIMEOUT = 600

Values = Union[np.ndarray, str]  # a path's values, or what it raised


@dataclass
class Case:
    """One schedule string with its compile options, evaluated at iterations 0..steps−1.

    ``plugins`` are files of plugin modules (absolute, or relative to the checkout) whose
    ``lrdsl_nodes`` hook is registered in-process, in both processes: see :func:`registry`.
    """

    text: str
    steps: int
    base: float = 1.0
    steps_per_epoch: Optional[float] = None
    total: Any = None
    variables: Dict[str, Any] = field(default_factory=dict)
    plugins: Tuple[str, ...] = ()

    def options(self) -> Dict[str, Any]:
        """The keyword arguments every bridge shares with lrdsl.compile."""
        return {
            "base": self.base,
            "steps_per_epoch": self.steps_per_epoch,
            "total": self.total,
            "variables": self.variables,
            "registry": registry(tuple(self.plugins)),
        }

    def __str__(self) -> str:
        """The case as a line of tests/fixtures/backend_regressions.txt (see :func:`parse_case`)."""
        defaults = Case("", 0)
        options = {
            name: value
            for name, value in asdict(self).items()
            if name != "text" and (name == "steps" or value != getattr(defaults, name))
        }
        return f"{self.text} | " + ", ".join(f"{name}={value!r}" for name, value in options.items())

    def __repr__(self) -> str:
        return f"<{self}>"

    def _repr_pretty_(self, printer, cycle) -> None:  # the same, in hypothesis's falsifying examples
        printer.text(repr(self))


def parse_case(line: str) -> Case:
    """``<schedule> | steps=400, base=0.1, ...``: keyword values are Python literals."""
    text, _, options = line.rpartition(" | ")
    call = ast.parse(f"case({options})", mode="eval").body
    if not text or call.args:
        raise ValueError(f"expected '<schedule> | steps=N, option=value, ...', got {line!r}")
    kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    return Case(text.strip(), **{**kwargs, "plugins": tuple(kwargs.get("plugins", ()))})


@functools.cache
def registry(plugins: Tuple[str, ...]):
    """The built-in nodes plus those of the plugin module files ``plugins`` (None: the default registry)."""
    if not plugins:
        return None
    from lrdsl.plugins import build_registry

    modules = {}
    for index, name in enumerate(plugins):
        path = ROOT / name  # an absolute name stays as it is
        package = [str(path.parent)] if path.stem == "__init__" else None  # so that its relative imports work
        spec = importlib.util.spec_from_file_location(
            f"lrdsl_backends_plugin_{index}", path, submodule_search_locations=package
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        modules[path.parent.name if path.stem == "__init__" else path.stem] = module
    return build_registry(entry_points=False, plugins=modules)


def _error(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _attempt(function, *args) -> Values:
    """``function(*args)`` as a float64 array, or the exception it raised as text."""
    try:
        return np.asarray(function(*args), dtype=np.float64)
    except Exception as error:  # any exception is a finding, named in the report
        return _error(error)


# -- the in-process paths -------------------------------------------------------------------------


def _numpy_paths(case: Case) -> Dict[str, Values]:
    import lrdsl

    try:
        sched = lrdsl.compile(case.text, **case.options())
    except Exception as error:
        return {REFERENCE: _error(error)}
    grid = np.arange(case.steps)
    order = np.random.default_rng(case.steps).permutation(case.steps)
    values = {
        REFERENCE: _attempt(sched.values, grid),
        "values(shuffled)": _attempt(lambda: sched.values(order)[np.argsort(order)]),
        "sched(i)": _attempt(lambda: [sched(int(i)) for i in grid]),
    }
    if case.steps_per_epoch is not None:
        values["sched(epoch=)"] = _attempt(lambda: [sched(epoch=i / case.steps_per_epoch) for i in grid])
    return values


def _keras(case: Case) -> np.ndarray:
    import keras

    from lrdsl.bridges.keras import LRDSLSchedule

    schedule = LRDSLSchedule(case.text, **case.options())
    with warnings.catch_warnings():  # Keras's torch backend converts with np.array(tensor, copy=False)
        warnings.simplefilter("ignore", DeprecationWarning)
        return keras.ops.convert_to_numpy(schedule(np.arange(case.steps)))


def _torch_bridge(case: Case) -> np.ndarray:
    import torch

    from lrdsl.bridges.torch import ScheduleLR

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=case.base)
    options = case.options()
    del options["base"]  # the group's lr is the base
    scheduler = ScheduleLR(optimizer, case.text, **options)
    values = []
    for _ in range(case.steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


def _jit_together(functions: List[Any], grids: List[Any]) -> List[Values]:
    """``jax.jit`` of each callable of ``functions`` on its grid, all traced into one program (each
    alone if that fails, to find the one that does not trace); an error text stays as it is."""
    import jax

    usable = [k for k, f in enumerate(functions) if callable(f)]
    results = list(functions)
    try:
        together = jax.jit(lambda gs: [functions[k](g) for k, g in zip(usable, gs)])
        for k, out in zip(usable, together([grids[k] for k in usable])):
            results[k] = _attempt(lambda out=out: out)
    except Exception:
        for k in usable:
            results[k] = _attempt(jax.jit(functions[k]), grids[k])
    return results


def _built(make, cases: Sequence[Case]) -> List[Any]:
    """``make(case)`` for each case, or the error it raised as text."""
    built = []
    for case in cases:
        try:
            built.append(make(case))
        except Exception as error:
            built.append(_error(error))
    return built


def _jitted(cases: Sequence[Case], x64: bool) -> List[Values]:
    """``jax.jit`` of the JAX bridge for every case, in float64 (x64 on, for this call only) or float32."""
    import jax
    import jax.numpy as jnp

    from lrdsl.bridges.jax import schedule

    dtype = jnp.float64 if x64 else jnp.float32
    with jax.enable_x64(x64):
        functions = _built(lambda case: schedule(case.text, dtype=dtype, **case.options()), cases)
        return _jit_together(functions, [jnp.arange(case.steps) for case in cases])


# -- the Keras/JAX child process --------------------------------------------------------------------


@contextlib.contextmanager
def _keras_jax_child(cases: Sequence[Case]):
    """Start the child on ``cases`` at once; yield a function that waits for its values."""
    with tempfile.TemporaryDirectory(prefix="lrdsl-keras-jax-") as folder:
        Path(folder, "cases.json").write_text(json.dumps([asdict(case) for case in cases]))
        env = dict(
            os.environ,
            KERAS_BACKEND="jax",
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        )
        child = subprocess.Popen(
            [sys.executable, __file__, folder], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

        def results() -> List[Values]:
            try:
                output, _ = child.communicate(timeout=CHILD_TIMEOUT)
            except subprocess.TimeoutExpired:
                child.kill()
                output = f"{child.communicate()[0]}\ntimed out after {CHILD_TIMEOUT} s"
            if child.returncode != 0:
                return [f"the Keras/JAX child failed: {output[-1500:]}"] * len(cases)
            errors = json.loads(Path(folder, "errors.json").read_text())
            with np.load(Path(folder, "keras.npz")) as arrays:
                return [errors[str(k)] if str(k) in errors else arrays[str(k)] for k in range(len(cases))]

        try:
            yield results
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


def _child_main(folder: str) -> None:
    """In the child (KERAS_BACKEND=jax): each case's LRDSLSchedule under jax.jit, into DIR/keras.npz."""
    import keras

    from lrdsl.bridges.keras import LRDSLSchedule

    assert keras.backend.backend() == "jax", keras.backend.backend()
    cases = [
        Case(**{**item, "plugins": tuple(item["plugins"])})
        for item in json.loads(Path(folder, "cases.json").read_text())
    ]
    functions = _built(lambda case: LRDSLSchedule(case.text, **case.options()), cases)
    values = _jit_together(functions, [np.arange(case.steps) for case in cases])
    arrays = {str(k): v for k, v in enumerate(values) if not isinstance(v, str)}
    errors = {str(k): v for k, v in enumerate(values) if isinstance(v, str)}
    np.savez(Path(folder, "keras.npz"), **arrays)
    Path(folder, "errors.json").write_text(json.dumps(errors))


# -- the batch API and the contract ----------------------------------------------------------------


def evaluate(cases: Sequence[Case]) -> List[Dict[str, Values]]:
    """Every path's values for every case (path -> array over 0..steps−1, or the error as text)."""
    cases = list(cases)
    if not cases:
        return []
    import keras

    keras_path = f"keras[{keras.backend.backend()}]"
    with _keras_jax_child(cases) as keras_jax:  # runs while this process does the rest
        results = [_numpy_paths(case) for case in cases]
        for result, case in zip(results, cases):
            result[keras_path] = _attempt(_keras, case)
            result["torch ScheduleLR"] = _attempt(_torch_bridge, case)
        for path, x64 in (("jax.jit f64", True), ("jax.jit f32", False)):
            for result, values in zip(results, _jitted(cases, x64)):
                result[path] = values
        for result, values in zip(results, keras_jax()):
            result["keras[jax]"] = values
    return results


def _show(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:.9g}" for v in values) + "]"


def problems(
    case: Case,
    values: Dict[str, Values],
    reference: Optional[np.ndarray] = None,
    reference_dtype=np.float64,
    show: int = 6,
) -> List[str]:
    """What is wrong with ``values`` (from :func:`evaluate`): one line per failing path, naming the
    path, the schedule, the first failing iterations, the values there and the reference's.

    ``reference`` defaults to the ``values`` path; a float32 reference (a peer computing in
    float32) loosens every path to the float32 tolerance.
    """
    if reference is None:
        reference = values[REFERENCE]
        if isinstance(reference, str):
            return [f"the reference values() failed on {case}: {reference}"]
    reference = np.asarray(reference, dtype=np.float64)
    peak = float(np.max(np.abs(reference), initial=0.0))
    found = []
    for path, got in values.items():
        if isinstance(got, str):
            found.append(f"{path}: {got}\n    on {case}")
            continue
        if got.shape != reference.shape:
            found.append(f"{path}: shape {got.shape}, expected {reference.shape}\n    on {case}")
            continue
        precision = np.float32 if path in FLOAT32_PATHS or reference_dtype == np.float32 else np.float64
        rtol, atol = TOLERANCE[precision]
        with np.errstate(invalid="ignore"):
            close = np.abs(got - reference) <= np.maximum(rtol * np.abs(reference), atol * peak)
            bad = np.flatnonzero(~(close & np.isfinite(got) & (got >= 0)))
        if bad.size:
            first = bad[:show]
            found.append(
                f"{path}: {bad.size} of {reference.size} iterations wrong, first {first.tolist()}: "
                f"got {_show(got[first])}, reference {_show(reference[first])}\n    on {case}"
            )
    return found


def assert_exact(cases: Sequence[Case]) -> None:
    """Evaluate ``cases`` on every path and fail with every problem of every case."""
    found = [line for case, values in zip(cases, evaluate(cases)) for line in problems(case, values)]
    assert not found, f"{len(found)} problems:\n" + "\n".join(found)


if __name__ == "__main__":
    _child_main(sys.argv[1])
