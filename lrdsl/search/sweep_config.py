"""The config of ``lrdsl sweep``: a YAML, TOML or JSON file describing one Optuna study.

.. code-block:: yaml

    template: "warmup(intuniform(1, 40)) then choice(cosine(end=loguniform(1e-4, 1e-1)), linear(end=0))"
    objective: digits_sweep.py:objective   # module:function, or a .py file (relative to this config)
    n_trials: 40                           # trials of the whole study, over every worker and machine
    direction: minimize                    # or maximize
    storage: sqlite:///sweep.db            # the default; postgresql://user:pw@host/db for many machines
    study: digits                          # default: the config file's name
    sampler: {name: TPESampler, seed: 0}   # any optuna.samplers class and its arguments, or its name
    pruner: MedianPruner                   # any optuna.pruners class, or "none"
    variables: {peak: "loguniform(1e-3, 1)"}  # search variables, and the host's
    compile: {total: 600}                  # the options the objective compiles with (to check, to plot)

The objective is ``objective(schedule: str, trial) -> float``: it trains with the concrete string
and returns the score; it may ``trial.report(value, step)`` and raise ``optuna.TrialPruned`` when
``trial.should_prune()``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Mapping

from ..config import ConfigError, load_document
from ..errors import did_you_mean
from ..schema import Anything, Int, MapOf, OneOf, Record, Text, Where, validate

DEFAULT_STORAGE = "sqlite:///sweep.db"
_PLUGGABLE = Where(
    Anything(),
    lambda v: isinstance(v, str) or (isinstance(v, Mapping) and isinstance(v.get("name"), str)),
    "a class name, or a table with its 'name' and arguments",
)
SCHEMA = Record(
    {"template": Text(), "objective": Text()},
    {
        "n_trials": Int(min=1),
        "direction": OneOf("minimize", "maximize"),
        "storage": Text(),
        "study": Text(),
        "sampler": _PLUGGABLE,
        "pruner": _PLUGGABLE,
        "variables": MapOf(Text(), Anything()),
        "compile": MapOf(OneOf("base", "steps_per_epoch", "total", "tokens_per_step", "samples_per_step"), Anything()),
    },
)


@dataclass(frozen=True)
class SweepConfig:
    """A checked sweep config; ``folder`` is where relative objective paths are read from."""

    template: str
    objective: str
    folder: Path
    study: str
    n_trials: int = 20
    direction: str = "minimize"
    storage: str = DEFAULT_STORAGE
    sampler: Any = "TPESampler"
    pruner: Any = "MedianPruner"
    variables: Mapping[str, Any] = field(default_factory=dict)
    compile: Mapping[str, Any] = field(default_factory=dict)

    def with_overrides(self, **changes) -> SweepConfig:
        """This config with the command line's options (those given) in place of its own."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def load_objective(self) -> Callable:
        """The objective function the config names (``module:function`` or ``file.py:function``)."""
        module_name, sep, function = self.objective.rpartition(":")
        if not sep or not module_name or not function.isidentifier():
            raise ConfigError(f"objective {self.objective!r}: expected module:function or path/to/file.py:function")
        if module_name.endswith(".py"):
            path = (self.folder / module_name).resolve()
            if not path.is_file():
                raise ConfigError(f"objective {self.objective!r}: no file {path}")
            spec = importlib.util.spec_from_file_location(path.stem, path)
            assert spec is not None and spec.loader is not None  # a .py file that exists
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            try:
                module = importlib.import_module(module_name)
            except ImportError as error:
                raise ConfigError(f"objective {self.objective!r}: cannot import {module_name} ({error})") from None
        found = getattr(module, function, None)
        if not callable(found):
            names = [name for name in dir(module) if not name.startswith("_")]
            raise ConfigError(
                f"objective {self.objective!r}: {module_name} has no function {function!r}"
                f"{did_you_mean(function, names)}"
            )
        return found

    def make(self, package: str, value, seed_offset: int = 0):
        """An Optuna sampler (``package="samplers"``) or pruner (``"pruners"``) from its config entry;
        a sampler's ``seed`` is offset by ``seed_offset`` (the worker's index), so workers differ."""
        import optuna

        if value in (None, "none", "None") and package == "pruners":
            return optuna.pruners.NopPruner()
        name, arguments = (value, {}) if isinstance(value, str) else (value["name"], dict(value))
        arguments.pop("name", None)
        module = getattr(optuna, package)
        kinds = [n for n in dir(module) if n[0].isupper() and n.endswith(package[:-1].capitalize())]
        if name not in kinds:
            raise ConfigError(f"{package[:-1]} {name!r} is not an optuna.{package} class{did_you_mean(name, kinds)}")
        if "seed" in arguments and isinstance(arguments["seed"], int):
            arguments["seed"] += seed_offset
        try:
            return getattr(module, name)(**arguments)
        except TypeError as error:
            raise ConfigError(f"{package[:-1]} {name}: {error}") from None


def load(path) -> SweepConfig:
    """The sweep config at ``path``, checked."""
    document = validate(SCHEMA, load_document(path), ConfigError, f"sweep config {path}")
    options: Dict[str, Any] = dict(document)
    return SweepConfig(folder=Path(path).resolve().parent, study=options.pop("study", Path(path).stem), **options)


def storage(url: str):
    """An Optuna storage for ``url``: SQLite waits up to a minute for a lock, so that several worker
    processes can share one file; other databases (PostgreSQL) are used as they are."""
    import optuna

    kwargs: Dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except ImportError as error:
        raise ConfigError(
            f"storage {url.split('@')[-1]!r}: no database driver for it ({error.__cause__ or error}); for "
            "PostgreSQL, pip install psycopg2-binary and write postgresql+psycopg2://..., or pip install "
            "'psycopg[binary]' for postgresql+psycopg://..."
        ) from None
