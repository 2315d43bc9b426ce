"""Fuzz target "variables" and "config": hostile ``variables=`` tables and config documents.

- variables: texts that use ``$variables`` are compiled (and an optimizer string built and
  stepped) with tables of odd names (non-strings, empty, dotted, huge, str subclasses) and odd
  values (deep, recursive, aliased and huge lists, NaN, huge ints, NumPy scalars and arrays,
  objects whose number protocols misbehave, mappings whose methods raise), see
  :func:`tests.fuzz.strategies.variable_tables`;
- config: YAML, TOML and JSON documents written to files (and the same data passed as a
  mapping) go through ``lrdsl.config.load_document``, ``load_entry`` and ``load_schedule``:
  documents built from hostile values, then raw texts that stress the parsers (alias bombs,
  recursive anchors, deep nesting, integers of thousands of digits, dates, binary, invalid
  UTF-8, byte order marks), and paths that are not regular files (a directory, a FIFO, a
  symlink loop, a dangling symlink).

Under the contract of :mod:`tests.fuzz.contract`, each operation gives a value or an
LRDSLError within 1 s; a compiled schedule is then evaluated as in the text target; the table
or document given is not modified; and a failed operation leaves the library working (a
reference schedule still compiles to the same values: no cache or registry is poisoned).
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import lrdsl
import lrdsl.config

from .contract import attempt, canonical, check_values, fail, short, tried
from .profiles import fuzz_settings
from .strategies import hostile_values, mutated_texts, python_numbers, realize, schedule_texts, seeds, variable_tables
from .test_text import exercise_schedule

TEXTS = [
    "$x",
    "cosine(T=$x)",
    "warmup(T=$y) then cosine(end=$x)",
    "piecewise(at=$lst, values=$values)",
    "cyclic(up=$x, mode=$mode, high=$opt.lr) + 0 * $s",
    "$s then $x",
    "multistep(at=$lst, gamma=$x)",
    "repeat($s, times=$x)",
    "$x * $y + $self",
    "min($x, $lst)",
]
OPTIMIZER_TEXTS = ["adam(lr=$x, betas=$lst)", "sgd(lr=$s, momentum=$x, nesterov=$flag)", "adagrad(lr=$x, eps=$y)"]
REFERENCE = ("warmup(T=5) then cosine(T=95, end=1e-5)", [0, 3, 50, 100])


def _reference_values() -> List[float]:
    sched = lrdsl.compile(REFERENCE[0], total=100)
    return [sched(i) for i in REFERENCE[1]]


EXPECTED = _reference_values()


def check_library_intact(target: str, after: str) -> None:
    """The reference schedule still compiles and gives its values: nothing global was corrupted."""
    outcome = attempt(target, "reference compile", lambda: _reference_values(), REFERENCE[0])
    if not outcome.ok or outcome.value != EXPECTED:
        fail(target, f"after {after}, the reference schedule gives {outcome.describe()} instead of {EXPECTED}")


def fingerprint(value: Any, budget: int = 20_000) -> Any:
    """A comparable image of ``value`` (identity-free), walking at most ``budget`` items."""
    seen: Dict[int, int] = {}
    counter = itertools.count()

    def walk(v: Any, depth: int) -> Any:
        if next(counter) > budget or depth > 150:
            return ("...",)
        if isinstance(v, (list, tuple, dict)):
            if id(v) in seen:
                return ("cycle", seen[id(v)])
            seen[id(v)] = len(seen)
            if isinstance(v, dict):
                return (
                    "dict",
                    len(v),
                    tuple((walk(k, depth + 1), walk(x, depth + 1)) for k, x in itertools.islice(iter(v.items()), 50)),
                )
            return (type(v).__name__, len(v), tuple(walk(x, depth + 1) for x in itertools.islice(iter(v), 50)))
        try:
            return canonical(v)
        except Exception:
            return ("unreadable", type(v).__name__)

    try:
        return walk(value, 0)
    except Exception:
        return ("unreadable",)


# -- variables ---------------------------------------------------------------------------------------


def exercise_variables(index: int, table: Any) -> None:
    """Compile a text that uses variables with ``table``, and an optimizer string."""
    tried("variables")
    table = realize(table)
    text = TEXTS[index % len(TEXTS)]
    before = fingerprint(table)
    compiled = attempt(
        "variables",
        "compile",
        lambda: lrdsl.compile(text, total=100, steps_per_epoch=10, variables=table),
        (text, table),
    )
    if compiled.ok:
        exercise_schedule("variables", compiled.value, [0, 5, 50, 99, 100, 10**6], 0.5, (text, short(table, 300)))
    opt_text = OPTIMIZER_TEXTS[index % len(OPTIMIZER_TEXTS)]
    params = [np.ones(3)]
    made = attempt(
        "variables",
        "optimizer",
        lambda: lrdsl.optimizer(opt_text, params, total=100, variables=table),
        (opt_text, table),
    )
    if made.ok:
        stepped = attempt("variables", "step", lambda: made.value.step([np.full(3, 0.5)]), (opt_text, table))
        if stepped.ok and not np.isfinite(params[0]).all():
            fail("variables", f"{opt_text} with {short(table)} left non-finite parameters")
    if fingerprint(table) != before:
        fail("variables", f"compiling with variables={short(table, 300)} modified the table")
    check_library_intact("variables", f"compiling {text!r} with variables={short(table, 300)}")


@fuzz_settings(80)
@given(st.integers(0, 99), variable_tables())
def test_hostile_variables(index, table):
    exercise_variables(index, table)


# -- config documents --------------------------------------------------------------------------------

_DIRECTORY: Optional[str] = None
_FILES = itertools.count()


def directory() -> str:
    global _DIRECTORY
    if _DIRECTORY is None:
        _DIRECTORY = tempfile.mkdtemp(prefix="lrdsl-fuzz-config-")
        atexit.register(shutil.rmtree, _DIRECTORY, True)
    return _DIRECTORY


def plain(value: Any, budget: int = 5_000) -> Any:
    """``value`` as data every format can hold (numbers, strings, booleans, lists, tables), cut to
    30 levels, 50 items a list, 100 a table, 2,000 characters a string and ``budget`` items in
    all (an aliased list of 2**60 leaves is written as its first few thousand): a document of at
    most a few hundred kilobytes, which a parser reads well within the contract's second (huge
    files are ``RAW_DOCUMENTS``)."""
    left = [budget]

    def walk(value: Any, depth: int) -> Any:
        left[0] -= 1
        if depth > 30 or left[0] < 0:
            return 0
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, str):
            return value[:2000]
        if isinstance(value, int):
            return value if abs(value) < 2**63 else str(value) if value.bit_length() < 13_000 else "a huge int"
        if isinstance(value, float):
            return value
        if isinstance(value, (list, tuple)):
            return [walk(v, depth + 1) for v in itertools.islice(iter(value), 50)]
        if isinstance(value, dict):
            return {str(k): walk(v, depth + 1) for k, v in itertools.islice(iter(value.items()), 100)}
        return str(type(value).__name__)

    return walk(value, 0)


@st.composite
def documents(draw) -> Dict[str, Any]:
    """A config table: a schedule entry (a string, or a table with options and variables), an
    optimizer entry, and hostile values around them for ``$references``."""
    text = draw(st.one_of(st.sampled_from(TEXTS), st.sampled_from(seeds()), schedule_texts(), mutated_texts()))
    value = lambda: draw(st.one_of(python_numbers(), hostile_values()))  # noqa: E731
    entry: Any = text
    if draw(st.booleans()):
        entry = {"expression": text}
        for option in ("base", "steps_per_epoch", "total"):
            if draw(st.booleans()):
                entry[option] = draw(
                    st.one_of(
                        st.sampled_from(["$optimizer.lr", "$trainer.steps", "$missing", "3e-4", "90ep", "$x", "$"]),
                        python_numbers(),
                    )
                )
        if draw(st.booleans()):
            entry["variables"] = {"x": value(), "warmup": value(), "y": "$optimizer.lr", "self": "$lr_schedule"}
        if draw(st.integers(0, 9)) == 0:
            entry["unknown"] = 1
    return {
        "optimizer": {"lr": value(), "schedule": text, "min_lr": value(), "spec": "adamw(lr=$lr)"},
        "trainer": {"steps": draw(st.sampled_from([100, 10_000, 0, -1, "100", "90ep", 1e300]))},
        "lr_schedule": entry,
        "x": value(),
        "y": value(),
        "s": value(),
        "lst": value(),
        "mode": value(),
        "values": value(),
        "opt": {"lr": value()},
    }


def _yaml_dump(data: Any) -> bytes:
    import yaml

    try:
        return yaml.safe_dump(data, allow_unicode=True).encode("utf-8")
    except yaml.YAMLError as error:  # a value YAML cannot write (an int subclass): as the other dumpers say it
        raise ValueError(str(error)) from None


def _toml_dump(data: Any) -> bytes:
    import tomli_w

    def clean(v: Any) -> Any:  # TOML has no null
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [clean(x) for x in v if x is not None]
        return v

    return tomli_w.dumps(clean(data)).encode("utf-8")


def _json_dump(data: Any) -> bytes:
    return json.dumps(data).encode("utf-8")


DUMPERS: Dict[str, Callable[[Any], bytes]] = {".yaml": _yaml_dump, ".toml": _toml_dump, ".json": _json_dump}


def _alias_bomb(levels: int) -> bytes:
    lines = ['l0: &l0 ["1", "2"]']
    lines += [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, levels)]
    lines += [
        f"x: *l{levels - 1}",
        'schedule: "$x"',
        f'lr_schedule: {{expression: "cosine(T=10)", variables: {{x: *l{levels - 1}}}}}',
    ]
    return "\n".join(lines).encode()


RAW_DOCUMENTS: Dict[str, Tuple[str, Callable[[], bytes]]] = {
    "yaml alias bomb": (".yaml", lambda: _alias_bomb(40)),
    "yaml recursive anchor": (".yaml", lambda: b'x: &x [1, *x]\nschedule: "$x"\n'),
    "yaml recursive mapping": (".yaml", lambda: b'a: &a {b: *a}\nschedule: "$a.b.b.b"\n'),
    "yaml deep": (".yaml", lambda: b"schedule: " + b"[" * 5_000),
    "yaml huge int": (".yaml", lambda: b"x: " + b"1" * 5000 + b'\nschedule: "$x"\n'),
    "yaml huge hex": (".yaml", lambda: b"schedule: cosine()\nx: 0x" + b"f" * 4000 + b"\n"),
    "yaml sexagesimal": (".yaml", lambda: b"schedule: cosine()\nx: " + b"1:" * 3000 + b"1\n"),
    "yaml dates": (
        ".yaml",
        lambda: b"schedule: 2020-01-01\nlr_schedule: {expression: 'cosine()', base: 2020-01-01 10:00:00}\n",
    ),
    "yaml binary": (".yaml", lambda: b"schedule: !!binary aGVsbG8=\n"),
    "yaml set": (".yaml", lambda: b"schedule: !!set {a, b}\n"),
    "yaml python tag": (".yaml", lambda: b"schedule: !!python/object/apply:os.system ['true']\n"),
    "yaml merge": (
        ".yaml",
        lambda: b"base: &b {expression: 'cosine(T=$x)', variables: {x: 3}}\nschedule: {<<: *b, total: 10}\n",
    ),
    "yaml non-string keys": (".yaml", lambda: b"1: 2\nnull: 3\ntrue: 4\n1.5: x\nschedule: 'cosine(T=$1)'\n"),
    "yaml nan": (".yaml", lambda: b"x: .nan\ny: -.inf\nschedule: 'cosine(T=$x, end=$y)'\n"),
    "yaml invalid utf-8": (".yaml", lambda: b"schedule: '\xff\xfe cosine()'\n"),
    "yaml utf-16": (".yaml", lambda: "schedule: 'cosine(T=10)'\n".encode("utf-16")),
    "yaml bom": (".yaml", lambda: b"\xef\xbb\xbfschedule: 'cosine(T=10)'\n"),
    "yaml nul": (".yaml", lambda: b"schedule: 'cosine(T=10)\x00'\n"),
    "yaml many documents": (".yaml", lambda: b"schedule: a\n---\nschedule: b\n"),
    "yaml empty": (".yaml", lambda: b""),
    "yaml scalar": (".yaml", lambda: b"cosine(T=10)"),
    "yaml long key": (".yaml", lambda: b"k" * 200_000 + b": 1\nschedule: cosine()\n"),
    "toml deep": (".toml", lambda: b"schedule = " + b"[" * 20_000),
    "toml huge int": (".toml", lambda: b'schedule = "$x"\nx = ' + b"1" * 5000 + b"\n"),
    "toml dates": (".toml", lambda: b"schedule = 1979-05-27T07:32:00Z\nx = 07:32:00\n"),
    "toml nan": (".toml", lambda: b'x = nan\ny = -inf\nschedule = "cosine(T=$x, end=$y)"\n'),
    "toml invalid utf-8": (".toml", lambda: b'schedule = "\xff"\n'),
    "toml dotted keys": (".toml", lambda: b'a.b.c = 1\nschedule = "cosine(T=$a.b.c)"\n'),
    "json deep": (".json", lambda: b'{"schedule": ' + b"[" * 100_000),
    "json huge int": (".json", lambda: b'{"schedule": "$x", "x": ' + b"1" * 5000 + b"}"),
    "json nan": (".json", lambda: b'{"schedule": "cosine(T=$x)", "x": NaN, "y": Infinity}'),
    "json duplicate keys": (".json", lambda: b'{"schedule": "cosine(T=10)", "schedule": 5}'),
    "json bom": (".json", lambda: b'\xef\xbb\xbf{"schedule": "cosine(T=10)"}'),
    "json utf-16": (".json", lambda: '{"schedule": "cosine(T=10)"}'.encode("utf-16")),
    "json invalid utf-8": (".json", lambda: b'{"schedule": "\xff"}'),
    "json list": (".json", lambda: b'["schedule"]'),
    "json many keys": (
        ".json",
        lambda: json.dumps({f"k{i}": i for i in range(100_000)} | {"schedule": "$k5"}).encode(),
    ),
}

SPECIAL_PATHS = ["directory", "fifo", "symlink loop", "dangling symlink", "missing", "no suffix", "upper-case suffix"]


def make_special(kind: str) -> str:
    base = os.path.join(directory(), f"special-{next(_FILES)}")
    if kind == "directory":
        os.mkdir(base + ".yaml")
        return base + ".yaml"
    if kind == "fifo":
        os.mkfifo(base + "-fifo.json")
        return base + "-fifo.json"
    if kind == "symlink loop":
        os.symlink(base + ".yaml", base + ".yaml")
        return base + ".yaml"
    if kind == "dangling symlink":
        os.symlink(base + "-nothing", base + ".toml")
        return base + ".toml"
    if kind == "missing":
        return base + ".yml"
    if kind == "no suffix":
        with open(base, "w", encoding="utf-8") as handle:
            handle.write("schedule: cosine()\n")
        return base
    with open(base + ".YAML", "w", encoding="utf-8") as handle:
        handle.write("schedule: 'cosine(T=10)'\n")
    return base + ".YAML"


KEYS = ["schedule", "lr_schedule", "optimizer.schedule", "optimizer.spec", "optimizer", "x", "lst.0", "a.b", "", "."]


def exercise_config(path: str, data: Any, key: str, overrides: Dict[str, Any]) -> None:
    """Load ``path`` (and ``data``, the same document as a mapping, when given) every way."""
    tried("config")
    before = _file_image(path)
    _load(path, f"{path} ({_size(path)})", key, overrides)
    if data is not None:
        _load(data, f"the mapping of {path}", key, overrides)
    if _file_image(path) != before:
        fail("config", f"loading {path} changed the file")
    check_library_intact("config", f"loading {path}")


def _load(source: Any, shown: str, key: str, overrides: Dict[str, Any]) -> None:
    before = fingerprint(source)
    attempt("config", "load_document", lambda: lrdsl.config.load_document(source), shown)
    entry = attempt("config", f"load_entry({key!r})", lambda: lrdsl.config.load_entry(source, key), (shown, key))
    if entry.ok:
        attempt("config", "options()", entry.value.options, shown)
        attempt("config", "optimizer_options()", entry.value.optimizer_options, shown)
    loaded = attempt(
        "config",
        f"load_schedule({key!r}, {overrides})",
        lambda: lrdsl.config.load_schedule(source, key, **overrides),
        (shown, key, overrides),
    )
    if loaded.ok:
        sched = loaded.value
        exercise_schedule("config", sched, [0, 7, 100, 10**6], 0.5, (shown, key))
        values = attempt("config", "values", lambda: sched.values(np.arange(5)), shown)
        check_values("config", values, f"values() of the schedule at {key!r} of {shown}", (5,))
    if fingerprint(source) != before:
        fail("config", f"loading {shown} modified it")


def _size(path: str) -> str:
    try:
        return f"{os.lstat(path).st_size} bytes"
    except OSError:
        return "no file"


def _file_image(path: str) -> Any:
    try:
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as handle:
                return handle.read()
    except OSError:
        pass
    return None


def write(suffix: str, content: bytes) -> str:
    path = os.path.join(directory(), f"doc-{next(_FILES)}{suffix}")
    with open(path, "wb") as handle:
        handle.write(content)
    return path


overrides = st.fixed_dictionaries(
    {},
    optional={
        "base": st.one_of(python_numbers(), st.sampled_from(["3e-4", "x", None])),
        "total": st.one_of(st.sampled_from([100, "90ep", "100", 0, -5, "10%", None]), python_numbers()),
        "steps_per_epoch": st.one_of(st.sampled_from([10, 0.5, "7", 0, None]), python_numbers()),
    },
)


@fuzz_settings(30)
@given(documents(), st.sampled_from(sorted(DUMPERS)), st.sampled_from(KEYS), overrides)
def test_generated_documents(document, suffix, key, options):
    data = plain(realize(document))
    try:
        content = DUMPERS[suffix](data)
    except ImportError:
        content = _json_dump(data)
        suffix = ".json"
    except (ValueError, TypeError, OverflowError):  # a value this format cannot write
        content = _json_dump(data)
        suffix = ".json"
    exercise_config(write(suffix, content), data, key, options)


@fuzz_settings(25)
@given(st.sampled_from(sorted(RAW_DOCUMENTS)), st.sampled_from(KEYS[:5]), overrides)
def test_raw_documents(name, key, options):
    suffix, make = RAW_DOCUMENTS[name]
    exercise_config(write(suffix, make()), None, key, options)


@fuzz_settings(7)
@given(st.sampled_from(SPECIAL_PATHS), st.sampled_from(KEYS[:3]))
def test_special_paths(kind, key):
    exercise_config(make_special(kind), None, key, {})
