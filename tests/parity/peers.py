"""The peers, computed live: each library's scheduler built from a call written in Python syntax.

The call text of a documentation row (``StepLR(step_size=3, gamma=0.1)``) is parsed with
:mod:`ast` and built from an explicit namespace of that library's schedulers; literals go
through ``ast.literal_eval`` and a ``lambda`` (for LambdaLR, MultiplicativeLR and Keras's
LearningRateScheduler) is interpreted by a tiny arithmetic evaluator. Nothing is passed to ``eval`` or ``exec``.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import operator
import sys
import types
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import numpy as np

# -- building a call from its text ------------------------------------------------------------------

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
_FUNCTIONS = {"min": min, "max": max}
_MATH = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "cos": math.cos}  # math.<name>(...)
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Eq: operator.eq}


def _arith(node: ast.AST, variables: Dict[str, float]):
    """Value of an arithmetic expression over ``variables`` (numbers, + - * / // ** %, min, max,
    math.exp/log/sqrt/cos, one comparison, ``a if c else b``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.Name) and node.id in variables:
        return variables[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_arith(node.left, variables), _arith(node.right, variables))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_arith(node.operand, variables)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return _FUNCTIONS[node.func.id](*(_arith(arg, variables) for arg in node.args))
    if isinstance(node, ast.Call) and ast.unparse(node.func) in (f"math.{name}" for name in _MATH):
        return _MATH[ast.unparse(node.func)[5:]](*(_arith(arg, variables) for arg in node.args))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        return _COMPARE[type(node.ops[0])](_arith(node.left, variables), _arith(node.comparators[0], variables))
    if isinstance(node, ast.IfExp):
        return _arith(node.body if _arith(node.test, variables) else node.orelse, variables)
    raise ValueError(f"unsupported in a lambda: {ast.dump(node)}")


def _lambda(node: ast.Lambda) -> Callable:
    names = [arg.arg for arg in node.args.args]
    return lambda *values: _arith(node.body, dict(zip(names, values, strict=True)))


def build(node: ast.AST, namespace: Dict[str, Callable]):
    """The object a call tree describes, calling only names in ``namespace``."""
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in namespace:
            raise ValueError(f"unknown peer function {ast.unparse(node.func)}; known: {sorted(namespace)}")
        args = [build(arg, namespace) for arg in node.args]
        kwargs = {kw.arg: build(kw.value, namespace) for kw in node.keywords}
        return namespace[node.func.id](*args, **kwargs)
    if isinstance(node, ast.Lambda):
        return _lambda(node)
    if isinstance(node, ast.List):
        return [build(item, namespace) for item in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(build(item, namespace) for item in node.elts)
    if isinstance(node, ast.Dict):
        return {ast.literal_eval(k): build(v, namespace) for k, v in zip(node.keys, node.values)}
    return ast.literal_eval(node)


def build_text(text: str, namespace: Dict[str, Callable]):
    return build(ast.parse(text, mode="eval").body, namespace)


# -- torch (and HF and timm, which drive torch optimizers) ------------------------------------------


def _optimizer(base: float):
    import torch

    parameter = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([parameter], lr=base)


def _torch_namespace(optimizer) -> Dict[str, Callable]:
    from torch.optim import lr_scheduler, swa_utils

    names = [
        "LambdaLR",
        "MultiplicativeLR",
        "StepLR",
        "MultiStepLR",
        "ConstantLR",
        "LinearLR",
        "ExponentialLR",
        "PolynomialLR",
        "CosineAnnealingLR",
        "CyclicLR",
        "CosineAnnealingWarmRestarts",
        "OneCycleLR",
        "SequentialLR",
        "ReduceLROnPlateau",
    ]
    namespace = {
        name: (lambda cls: lambda *a, **k: cls(optimizer, *a, **k))(getattr(lr_scheduler, name)) for name in names
    }
    namespace["ChainedScheduler"] = lambda schedulers: lr_scheduler.ChainedScheduler(schedulers, optimizer)
    namespace["SWALR"] = lambda **kwargs: swa_utils.SWALR(optimizer, **kwargs)
    return namespace


def _hf_namespace(optimizer) -> Dict[str, Callable]:
    import transformers

    return {"get_scheduler": lambda name, **kwargs: transformers.get_scheduler(name, optimizer, **kwargs)}


def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _step_torch(scheduler, optimizer, steps: int) -> List[float]:
    values = []
    for _ in range(steps):
        values.append(_lr(optimizer))
        optimizer.step()
        scheduler.step()
    return values


def _report_torch(scheduler, optimizer, metrics: Sequence[float]) -> List[float]:
    values = []
    for metric in metrics:
        optimizer.step()
        scheduler.step(metric)
        values.append(_lr(optimizer))
    return values


def run_torch_like(text: str, namespace_of: Callable, base: float, steps: int | None, metrics) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimizer = _optimizer(base)
        scheduler = build_text(text, namespace_of(optimizer))
        if metrics is not None:
            return np.array(_report_torch(scheduler, optimizer, metrics))
        return np.array(_step_torch(scheduler, optimizer, steps))


# -- timm (loaded without timm/__init__, which needs torchvision) ------------------------------------

_TIMM_CLASSES = {
    "CosineLRScheduler": "cosine_lr",
    "StepLRScheduler": "step_lr",
    "MultiStepLRScheduler": "multistep_lr",
    "PolyLRScheduler": "poly_lr",
    "TanhLRScheduler": "tanh_lr",
    "PlateauLRScheduler": "plateau_lr",
    "WSDLRScheduler": "wsd_lr",
}


def _synthetic_package(name: str, path: Path) -> None:
    if name not in sys.modules:
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package


def timm_scheduler_module(module: str) -> types.ModuleType:
    """``timm.scheduler.<module>`` imported with empty ``timm`` and ``timm.scheduler`` packages."""
    loaded = sys.modules.get("timm")
    if loaded is not None and getattr(loaded, "__path__", None):
        root = Path(next(iter(loaded.__path__)))
    else:
        root = Path(importlib.util.find_spec("timm").submodule_search_locations[0])
    _synthetic_package("timm", root)
    _synthetic_package("timm.scheduler", root / "scheduler")
    return importlib.import_module(f"timm.scheduler.{module}")


def _timm_namespace(optimizer) -> Dict[str, Callable]:
    return {
        name: (lambda cls: lambda **k: cls(optimizer, **k))(getattr(timm_scheduler_module(module), name))
        for name, module in _TIMM_CLASSES.items()
    }


def run_timm(text: str, base: float, steps: int | None, metrics) -> np.ndarray:
    optimizer = _optimizer(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PlateauLRScheduler's deprecation notice
        scheduler = build_text(text, _timm_namespace(optimizer))
    values = []
    if metrics is not None:
        for epoch, metric in enumerate(metrics, start=1):
            scheduler.step(epoch, metric)
            values.append(_lr(optimizer))
        return np.array(values)
    for t in range(steps):
        scheduler.step(t)
        values.append(_lr(optimizer))
    return np.array(values)


# -- Keras 3 (float32) ------------------------------------------------------------------------------

_KERAS_CLASSES = (
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
)


def run_keras(text: str, steps: int) -> np.ndarray:
    import keras

    namespace = {name: getattr(keras.optimizers.schedules, name) for name in _KERAS_CLASSES}
    schedule = build_text(text, namespace)
    return np.array([float(schedule(step)) for step in range(steps)])


def run_keras_callback(text: str, base: float, epochs: int) -> np.ndarray:
    """The lr of each epoch of a real ``model.fit`` with ``keras.callbacks.LearningRateScheduler(...)``.

    A one-layer model (SGD, ``learning_rate=base``) is fitted for ``epochs`` epochs of one batch;
    a second callback reads ``model.optimizer.learning_rate`` at the first batch of each epoch,
    after the scheduler's ``on_epoch_begin`` has set it.
    """
    import keras

    seen: List[float] = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=base), loss="mse")
    callback = build_text(text, {"LearningRateScheduler": keras.callbacks.LearningRateScheduler})
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2's __array__(copy=...) notice
        model.fit(x, 2 * x, epochs=epochs, batch_size=8, verbose=0, callbacks=[callback, Record()])
    return np.array(seen)


def run_keras_plateau(text: str, base: float, metrics: Sequence[float]) -> np.ndarray:
    """The lr after each report of ``keras.callbacks.ReduceLROnPlateau(...)`` on a real model.

    The callback is attached to a compiled one-layer model (SGD, ``learning_rate=base``) with
    ``set_model`` and driven as ``fit`` drives it: ``on_train_begin()``, then one
    ``on_epoch_end(epoch, logs={monitor: metric})`` per report; the lr is read back from
    ``model.optimizer.learning_rate`` (a float32 variable).
    """
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=base), loss="mse")
    callback = build_text(text, {"ReduceLROnPlateau": keras.callbacks.ReduceLROnPlateau})
    callback.set_model(model)
    callback.on_train_begin()
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2's __array__(copy=...) notice
        for epoch, metric in enumerate(metrics):
            callback.on_epoch_end(epoch, logs={callback.monitor: metric})
            values.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    return np.array(values)


# -- optax (float64 through jax.enable_x64) -----------------------------------------------------------

_OPTAX_FUNCTIONS = (
    "constant_schedule",
    "polynomial_schedule",
    "linear_schedule",
    "piecewise_constant_schedule",
    "exponential_decay",
    "cosine_decay_schedule",
    "piecewise_interpolate_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "sgdr_schedule",
    "join_schedules",
)


def run_optax(text: str, steps: int) -> np.ndarray:
    import jax
    import jax.numpy as jnp
    import optax

    namespace = {name: getattr(optax, name) for name in _OPTAX_FUNCTIONS}
    with jax.enable_x64(True):
        schedule = build_text(text, namespace)
        return np.array([float(schedule(jnp.asarray(step))) for step in range(steps)])


def run_optax_plateau(text: str, base: float, metrics: Sequence[float]) -> np.ndarray:
    """``base · scale`` after each report of ``optax.contrib.reduce_on_plateau(...)``.

    The transformation is initialised on a float64 params pytree and driven with real
    ``update(updates, state, params, value=metric)`` calls (jitted once), one per report.
    """
    import jax
    import jax.numpy as jnp
    import optax

    with jax.enable_x64(True):
        transform = build_text(text, {"reduce_on_plateau": optax.contrib.reduce_on_plateau})
        params = {"w": jnp.zeros(3, dtype=jnp.float64)}
        state, update = transform.init(params), jax.jit(transform.update)
        values = []
        for metric in metrics:
            _, state = update(params, state, params, value=metric)
            values.append(base * float(state.scale))
        return np.array(values)


# -- dispatch -------------------------------------------------------------------------------------

TOLERANCE = {"torch": np.float64, "hf": np.float64, "timm": np.float64, "optax": np.float64, "keras": np.float32}
RTOL = {np.float64: 1e-9, np.float32: 1e-6}


def peer_values(library: str, text: str, run: Dict, metrics) -> np.ndarray:
    """The peer's learning rates at iterations 0..steps−1 (or after each reported metric)."""
    base, steps = run.get("base", 1.0), run.get("steps")
    if library == "torch":
        return run_torch_like(text, _torch_namespace, base, steps, metrics)
    if library == "hf":
        return run_torch_like(text, _hf_namespace, base, steps, metrics)
    if library == "timm":
        return run_timm(text, base, steps, metrics)
    if library == "keras" and text.startswith("LearningRateScheduler("):
        return run_keras_callback(text, base, steps)
    if library == "keras":
        return run_keras(text, steps) if metrics is None else run_keras_plateau(text, base, metrics)
    if library == "optax":
        return run_optax(text, steps) if metrics is None else run_optax_plateau(text, base, metrics)
    raise ValueError(f"unknown library {library!r}")


def mismatches(ours: np.ndarray, theirs: np.ndarray, library: str) -> np.ndarray:
    """Indices where ``ours`` is not within tolerance of the peer's values.

    rtol is 1e-9 against float64 peers and 1e-6 against float32 ones; the absolute slack is
    four ulps of the peer's dtype at the schedule's largest value (a cancellation such as
    1 + cos(π·t/T) near T loses that much in the peer itself).
    """
    dtype = TOLERANCE[library]
    atol = 4 * np.finfo(dtype).eps * float(np.max(np.abs(theirs), initial=0.0))
    close = np.abs(ours - theirs) <= RTOL[dtype] * np.abs(theirs) + atol
    return np.flatnonzero(~close)


# -- metric series for plateau rows ---------------------------------------------------------------


def metric_series(name: str) -> List[float]:
    """Deterministic metric sequences, named in the documentation's ``run`` cells."""
    if name == "torch_abs":  # torch's test_reduce_lr_on_plateau case: 10 − 0.0165·i
        return [10 - i * 0.0165 for i in range(22)]
    if name == "bumpy":  # improves, stalls, improves a little, stalls ...
        return [1 / (1 + 0.1 * i) + 0.05 * math.sin(1.7 * i) ** 2 for i in range(80)]
    if name == "flat":  # never improves after the first report
        return [1.0] * 60
    if name == "rising":  # an accuracy that saturates (for mode "max")
        return [1 - 0.5 * 0.9 ** min(i, 25) + 0.002 * math.cos(2.1 * i) for i in range(60)]
    if name == "noisy":  # a loss falling through zero, with stalls of a few reports
        return [0.3 - 0.008 * i + 0.04 * math.sin(2.3 * i) ** 3 for i in range(80)]
    if name == "accuracy":  # rises, then saturates with noise (for mode "max")
        return [0.9 - 0.4 * 0.95**i + 0.01 * math.sin(1.3 * i) for i in range(80)]
    raise ValueError(f"unknown metric series {name!r}")
