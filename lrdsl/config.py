"""Loading schedules from configs: YAML, TOML, JSON, plain dicts and Hydra/OmegaConf.

A config names a schedule by a (dotted) key. The entry is either the expression itself or
a table with the expression and its compile options::

    # train.yaml
    optimizer:
      lr: 3.0e-4
      schedule: "warmup(5%, base=$lr) then cosine(end=$optimizer.min_lr)"
      min_lr: 1.0e-6
    trainer:
      steps: 10000
    lr_schedule:
      expression: "warmup(T=$warmup) then cosine(end=1e-5)"
      base: $optimizer.lr          # a reference to another key
      total: $trainer.steps
      variables: {warmup: 500}

    >>> sched = lrdsl.config.load_schedule("train.yaml", key="optimizer.schedule", total=10000)
    >>> sched = lrdsl.config.load_schedule("train.yaml", key="lr_schedule")

``$name`` in the expression (names may contain dots, ``$optimizer.lr``) is looked up in the
same document, from the table holding the entry outwards to the top level (so ``$lr``
next to ``schedule`` under ``optimizer`` is ``optimizer.lr``). Explicit ``variables=`` win,
then the entry's own ``variables`` table, then the document. In the entry's ``base``,
``steps_per_epoch``, ``total`` and ``variables`` values, a string that is exactly
``$dotted.key`` is a reference resolved the same way. ``base`` and ``steps_per_epoch`` may
be numeric strings (PyYAML, following YAML 1.1, reads ``3e-4`` without a dot as a string).
Keyword arguments given to :func:`load_schedule` override the entry's options.

For an optimizer string, ``entry = load_entry(cfg, "optimizer.spec")`` and then
``lrdsl.optimizer(entry.text, params, **entry.optimizer_options())`` (the bridges'
``optimizer()`` take the same keywords); ``entry.options()`` are a schedule's
(:func:`lrdsl.compile`, ``ScheduleLR``), ``base`` included.

With Hydra, instantiate :func:`lrdsl.compile` directly (``_target_: lrdsl.compile``) and use
OmegaConf's ``${...}`` interpolation for its ``base``/``total``/``variables``; or pass the
composed config to :func:`load_schedule`, which accepts a ``DictConfig``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import ast
from .config_places import placed
from .errors import LRDSLError, UnknownNameError, did_you_mean
from .parser import parse
from .schedule import Schedule, compile_schedule
from .variables import table as variable_table

_REFERENCE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)$")
_NUMBER = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
OPTIONS = ("base", "steps_per_epoch", "total", "tokens_per_step", "samples_per_step", "variables")
_RUN_OPTIONS = OPTIONS[:-1]  # the options a table next to a string entry may give it too
_MISSING = object()
MAX_DOCUMENT_BYTES = 512 * 1024
"""The largest config file read (a training config is a few kilobytes)."""


class ConfigError(LRDSLError):
    """A config file or entry that cannot be read as an lrdsl schedule."""


# -- documents -------------------------------------------------------------------------------------


def load_document(source) -> Dict[str, Any]:
    """A config as a plain dict: a mapping, an OmegaConf ``DictConfig``, or a path to a
    ``.yaml``/``.yml``, ``.toml`` or ``.json`` file."""
    if type(source).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        try:
            source = OmegaConf.to_container(source, resolve=True)
        except Exception as error:  # omegaconf's own errors: missing values, failed interpolations
            raise ConfigError(f"cannot resolve the OmegaConf config: {type(error).__name__}: {error}") from None
    if isinstance(source, Mapping):
        return dict(source)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"a config is a mapping or a path to a YAML, TOML or JSON file, not {type(source).__name__}")
    path = os.fspath(source)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".yaml", ".yml", ".toml", ".json"):
        raise ConfigError(f"{path}: unknown config format {suffix!r}; expected .yaml, .yml, .toml or .json")
    if os.path.exists(path) and not os.path.isfile(path):  # a FIFO or a device would block or never end
        raise ConfigError(f"{path}: a config is a regular file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    if len(data) > MAX_DOCUMENT_BYTES:  # parsing YAML takes about a second per megabyte
        raise ConfigError(f"{path}: a config file is at most {MAX_DOCUMENT_BYTES // 1024} KiB; this one is larger")
    document = _parse_document(data, suffix, path)
    if not isinstance(document, Mapping):
        raise ConfigError(f"{path}: the top level of a config must be a table of keys, got {type(document).__name__}")
    return dict(document)


def _parse_document(data: bytes, suffix: str, path: str):
    """The parsed document; a document nested too deeply for the parser is a ConfigError, not a RecursionError."""
    try:
        return _parse(data, suffix, path)
    except RecursionError:
        raise ConfigError(f"{path}: the document is nested too deeply to read") from None


def _parse(data: bytes, suffix: str, path: str):
    if suffix == ".json":
        try:
            return json.loads(data)
        except ValueError as error:
            raise ConfigError(f"{path}: invalid JSON: {error}") from None
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            try:
                import tomli as tomllib
            except ImportError:
                raise ConfigError("reading TOML on Python 3.10 needs tomli: pip install tomli") from None
        try:
            return tomllib.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:  # TOMLDecodeError is one; so is an int of 4300+ digits
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
    try:
        import yaml
    except ImportError:
        raise ConfigError("reading YAML needs PyYAML: pip install pyyaml") from None
    try:  # libyaml's parser when PyYAML has it: the pure-Python one takes seconds for a few hundred kB
        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, ValueError) as error:  # a ValueError: an int of more than 4300 digits
        raise ConfigError(f"{path}: invalid YAML: {error}") from None


def lookup(document: Mapping[str, Any], key: str, default=_MISSING):
    """The value at a dotted ``key`` (``"optimizer.lr"``; a number indexes a list)."""
    _check_key(key)
    node: Any = document
    for part in key.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            if default is not _MISSING:
                return default
            keys = list(node) if isinstance(node, Mapping) else []
            raise UnknownNameError(
                f"the config has no key {key!r} (no {part!r}{did_you_mean(part, _names(keys))}); "
                f"keys there: {', '.join(map(str, keys)) or 'none'}{_non_string_hint(keys)}"
            )
    return node


def _check_key(key) -> None:
    if not isinstance(key, str) or not key.strip():
        raise ConfigError(
            f"key={key!r}: a config key is a non-empty string, dotted for nested tables, such as "
            "'schedule' or 'optimizer.schedule'"
        )


def _names(keys) -> List[str]:
    """The string keys of ``keys`` (YAML may read some keys as numbers or booleans)."""
    return [k for k in keys if isinstance(k, str)]


def _non_string_hint(keys) -> str:
    others = [k for k in keys if not isinstance(k, str)]
    if not others:
        return ""
    return (
        f" (not strings: {', '.join(map(repr, others[:5]))}; YAML reads unquoted numbers and yes/no/on/off "
        "as numbers and booleans: quote such keys)"
    )


# -- entries ---------------------------------------------------------------------------------------


@dataclass
class ConfigEntry:
    """A schedule (or optimizer) string from a config, with its compile options resolved."""

    text: str
    key: str
    base: Optional[float] = None
    steps_per_epoch: Optional[float] = None
    total: Any = None
    tokens_per_step: Optional[float] = None
    samples_per_step: Optional[float] = None
    variables: Dict[str, Any] = field(default_factory=dict)
    path: Optional[str] = None  # the file it was read from: errors in the expression point into it

    def options(self) -> Dict[str, Any]:
        """Keyword arguments for a schedule: :func:`lrdsl.compile`, ``ScheduleLR``, the JAX ``schedule()``,
        Keras' ``LRDSLSchedule``: only the options the entry gives, so the caller may add the others
        (``lrdsl.compile(entry.text, total=10_000, **entry.options())``)."""
        given = {name: getattr(self, name) for name in _RUN_OPTIONS}
        out: Dict[str, Any] = {name: value for name, value in given.items() if value is not None}
        if self.variables:
            out["variables"] = self.variables
        return out

    def optimizer_options(self) -> Dict[str, Any]:
        """Keyword arguments for an optimizer factory: :func:`lrdsl.optimizer` and the bridges'
        ``optimizer()``: the options the entry gives (not ``base``), so the caller may add the
        others (``lrdsl.optimizer(entry.text, params, total=10_000, **entry.optimizer_options())``).

        An optimizer string has no ``base`` (its schedules give absolute values, incoming base
        1.0); an entry that sets one is refused rather than silently ignored.
        """
        if self.base is not None:
            raise ConfigError(
                f"config entry {self.key!r} sets base={self.base!r}, which an optimizer string does "
                "not take (its schedules give absolute values): put the learning rate in the "
                "string, e.g. adamw(lr=warmup(5%, base=$lr) then cosine()), and remove 'base'"
            )
        return self.options()

    def compile(self, registry=None) -> Schedule:
        """The schedule, compiled with the entry's options; an error names the file, the key and the
        spot in the file."""
        try:
            return compile_schedule(self.text, registry=registry, **self.options())
        except LRDSLError as error:
            raise placed(error, self.path, self.key, self.text) from None


def _scopes(key: str) -> List[str]:
    """The tables around ``key``, innermost first, as dotted prefixes ('' is the top level)."""
    parts = key.split(".")[:-1]
    return [".".join(parts[:n]) for n in range(len(parts), -1, -1)]


def _resolve_name(document: Mapping[str, Any], name: str, key: str):
    for scope in _scopes(key):
        value = lookup(document, f"{scope}.{name}" if scope else name, None)
        if value is not None:
            return _check_value(value, name)
    where = ", ".join(repr(s) if s else "the top level" for s in _scopes(key))
    top = _names(document)
    raise UnknownNameError(
        f"config entry {key!r}: ${name} is neither in variables nor a key of the config "
        f"(looked in {where}){did_you_mean(name.split('.')[0], top)}"
    )


def _check_value(value, name: str):
    if isinstance(value, Mapping) or value is None:
        raise ConfigError(
            f"${name} refers to a {'table' if value is not None else 'null'}; a variable must be "
            "a number, a boolean, a string or a list"
        )
    return value


def _dereference(document: Mapping[str, Any], value, key: str):
    """``value``, or the config value it refers to when it is exactly ``"$dotted.key"``."""
    if isinstance(value, str):
        match = _REFERENCE.match(value.strip())
        if match:
            return _resolve_name(document, match.group(1), key)
    return value


def _variable_names(text: str) -> List[str]:
    names = (node.name for node in ast.walk(parse(text)) if isinstance(node, ast.Variable))
    return list(dict.fromkeys(names))


def _split_entry(entry, key: str) -> Tuple[str, Dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, Mapping):
        unknown = set(entry) - {"expression", *OPTIONS}
        if "expression" not in entry or unknown:
            problem = f"unknown keys {sorted(unknown, key=repr)}" if unknown else "no 'expression' key"
            raise ConfigError(
                f"config entry {key!r} has {problem}; an entry is an lrdsl string, or a table "
                f"with 'expression' and optionally {', '.join(OPTIONS)}"
            )
        if not isinstance(entry["expression"], str):
            raise ConfigError(f"config entry {key!r}: 'expression' must be a string")
        return entry["expression"], {k: entry[k] for k in OPTIONS if k in entry}
    raise ConfigError(
        f"config entry {key!r} is a {type(entry).__name__}; expected an lrdsl string or a table with 'expression'"
    )


def load_entry(
    source, key: str = "schedule", *, variables: Optional[Mapping[str, Any]] = None, **overrides
) -> ConfigEntry:
    """The string at ``key`` of ``source`` with every option and ``$variable`` resolved.

    ``overrides`` are ``base``, ``steps_per_epoch`` and ``total``; given ones win over the entry's.
    """
    unknown = set(overrides) - set(_RUN_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown option(s) {sorted(unknown)}; options: {', '.join(OPTIONS)}")
    _check_key(key)
    if variables is not None:
        try:
            variables = variable_table(variables)
        except LRDSLError as error:
            raise ConfigError(str(error)) from None
    document = load_document(source)
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    text, options = _split_entry(lookup(document, key), key)
    if not options:  # a string entry: options may sit next to it (optimizer.schedule and optimizer.total)
        options = _siblings(document, key)
    table = options.pop("variables", None) or {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"config entry {key!r}: 'variables' must be a table of name: value")
    if _names(table) != list(table):
        bad = [name for name in table if not isinstance(name, str)]
        raise ConfigError(
            f"config entry {key!r}: variable names must be strings, got {', '.join(map(repr, bad))}"
            f"{_non_string_hint(bad)}"
        )
    resolved = {name: _dereference(document, value, key) for name, value in table.items()}
    resolved.update(variables or {})
    try:
        names = _variable_names(text)
    except LRDSLError as error:
        raise placed(error, path, key, text) from None
    for name in names:
        if name not in resolved:
            resolved[name] = _resolve_name(document, name, key)
    options = {
        name: _number(_dereference(document, value, key), name, f"config entry {key!r}: ", value)
        for name, value in options.items()
    }
    options.update({name: _number(value, name) for name, value in overrides.items() if value is not None})
    return ConfigEntry(text, key, variables=resolved, path=path, **options)


def _siblings(document: Mapping[str, Any], key: str) -> Dict[str, Any]:
    """The options in the table that holds the string entry at ``key`` (``total: 10000`` next to
    ``schedule: "..."``); the top level's do not count, since they belong to the whole config."""
    if "." not in key:
        return {}
    table = lookup(document, key.rsplit(".", 1)[0], None)
    if not isinstance(table, Mapping):
        return {}
    return {name: table[name] for name in _RUN_OPTIONS if name in table and table[name] is not None}


def _number(value, name: str, where: str = "", written=None):
    """``value``, with a numeric string read as a float for ``base`` and ``steps_per_epoch``.

    YAML 1.1 (PyYAML) reads ``3e-4`` -- without a dot -- as a string, and so do environment-variable
    interpolations. ``total`` takes strings itself (``"90ep"``).
    """
    if name not in ("base", "steps_per_epoch") or not isinstance(value, str):
        return value
    if _NUMBER.match(value):
        return float(value)
    what = "the base learning rate" if name == "base" else "the number of iterations per epoch"
    example = "3.0e-4" if name == "base" else "500"
    shown = f"{written}, which is {value!r:.40}," if isinstance(written, str) and written != value else f"{value!r:.40}"
    raise ConfigError(f"{where}{name}={shown} is not a number; {name} is {what}, e.g. {name}: {example}")


def load_schedule(
    source,
    key: str = "schedule",
    *,
    base: Optional[float] = None,
    steps_per_epoch=None,
    total=None,
    variables: Optional[Mapping[str, Any]] = None,
    registry=None,
) -> Schedule:
    """Compile the schedule at ``key`` of a config (a path, a mapping or a Hydra ``DictConfig``).

    See the module documentation for the entry format and how ``$variables`` are resolved.
    """
    entry = load_entry(source, key, variables=variables, base=base, steps_per_epoch=steps_per_epoch, total=total)
    return entry.compile(registry=registry)


__all__ = ["ConfigEntry", "ConfigError", "load_document", "load_entry", "load_schedule", "lookup"]
