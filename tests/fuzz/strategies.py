"""Hypothesis strategies of hostile input, shared by the fuzz tests and the atheris target.

- text: :func:`grammar_texts` walks the rules of ``grammar/lrdsl.lark`` (read through
  :func:`lrdsl.parser.grammar_text`) with a depth budget, naming real nodes, their parameters
  and the identifiers of the language most of the time; :func:`lark_texts` is
  ``hypothesis.extra.lark.from_lark`` on the same grammar with the same terminals;
  :func:`mutated_texts` edits valid expressions (insert, delete, duplicate, splice, huge
  numbers, long digit runs, deep nesting, unicode);
- :func:`hostile_counters`: what a training loop might pass as ``i`` or ``epoch``, and worse;
- :func:`hostile_values` / :func:`variable_tables`: values and tables for ``variables=``;
- :func:`tampered`: a saved state with one to three edits (deleted, added, retyped keys,
  huge or non-finite numbers, negative moments, arrays of the wrong shape or dtype, deep and
  recursive structures).
"""

from __future__ import annotations

import copy
import decimal
import fractions
import functools
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import lark
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from lrdsl.parser import grammar_text
from lrdsl.plugins import default_registry
from lrdsl.specs import REQUIRED


class Hostile:
    """A value made when the test runs and shown by what it is. Hypothesis prints the examples it
    draws, and a deep, recursive or huge value (or one whose ``__repr__`` raises) cannot be
    printed; :func:`realize` turns these into the values themselves."""

    def __init__(self, text: str, make: Callable[[], Any]):
        self.text, self._make = text, make

    def __repr__(self) -> str:
        return self.text

    def make(self) -> Any:
        return self._make()


def hostile(text: str, make: Callable[[], Any]) -> st.SearchStrategy[Hostile]:
    return st.builds(lambda: Hostile(text, make))


def realize(value: Any) -> Any:
    """``value`` with every :class:`Hostile` in it (in plain lists, tuples and dicts) made."""
    if isinstance(value, Hostile):
        return value.make()
    if type(value) is list:
        return [realize(v) for v in value]
    if type(value) is tuple:
        return tuple(realize(v) for v in value)
    if type(value) is dict:
        return {realize(k): realize(v) for k, v in value.items()}
    return value


def pick(make: Callable[[], List[Any]]) -> st.SearchStrategy[Any]:
    """One of the objects ``make()`` returns, made afresh for every draw: hypothesis hashes the
    elements of ``sampled_from`` (a hostile ``__hash__`` would break it), and a mutable object
    must not be shared between examples."""

    def made() -> List[Any]:
        with np.errstate(all="ignore"):  # a hostile value may overflow on purpose (a float32 array * 1e308)
            return make()

    size = len(made())

    def chosen(index: int) -> Hostile:
        from .contract import short

        return Hostile(short(made()[index], 80), lambda: made()[index])

    return st.integers(0, size - 1).map(chosen)


# -- the vocabulary ----------------------------------------------------------------------------------


@functools.cache
def vocabulary() -> Dict[str, Any]:
    """Node names by kind, parameter names by node, from the registry in use."""
    registry = default_registry()
    nodes: Dict[str, List[str]] = {}
    kinds: Dict[str, List[str]] = {"schedule": [], "optimizer": [], "function": []}
    for spec in registry:
        for name in spec.names:
            nodes[name] = [p.name for p in spec.params]
            kinds[spec.kind].append(name)
    params = sorted({p for names in nodes.values() for p in names})
    return {"nodes": nodes, "kinds": {k: sorted(set(v)) for k, v in kinds.items()}, "params": params}


IDENTIFIERS = ["it", "ep", "progress", "base", "lr0", "pi", "e", "inf"]
NOT_NAMES = ["then", "for", "true", "false", "nan", "NaN", "Infinity", "True", "None", "__class__", "exp_", "T_max"]
MODES = ["cos", "linear", "triangular", "triangular2", "exp_range", "min", "max", "rel", "abs", "", "COS", "x" * 50]
VARIABLES: Dict[str, Any] = {
    "x": 0.5,
    "y": "5ep",
    "s": "warmup(T=3) then cosine(T=7)",
    "lst": [1, 2],
    "mode": "triangular2",
    "opt.lr": 3e-4,
    "flag": True,
    "big": 1e300,
    "zero": 0,
    "neg": -1,
}
"""The variables every fuzzed text is compiled with (one option set of several)."""

EDGE_NUMBERS = [
    "0",
    "1",
    "2",
    "0.5",
    "10",
    "100",
    "1e-5",
    "3e-4",
    "0.999",
    "1e308",
    "1.7976931348623157e308",
    "1e-320",
    "5e-324",
    "2.5e+16",
    "9007199254740993",
    "4294967296",
    ".5",
    "5.",
    "0.0",
    "00",
    "1e0",
    "1E+2",
    "1e400",
    "1e-400",
    "١٢",  # Arabic-Indic digits match the grammar's \d
    "٣.٥",
    "１",  # a fullwidth digit
]


def numbers() -> st.SearchStrategy[str]:
    """NUMBER tokens: mostly ordinary values, sometimes edge values and long digit runs (around the
    400-character cap on literals, past Python's 4300-digit limit on int(), in non-ASCII digits)."""
    ordinary = st.one_of(
        st.sampled_from(["0", "1", "2", "0.5", "3", "5", "10", "20", "100", "1e-5", "0.1", "0.9", "0.999"]),
        st.integers(0, 1000).map(str),
        st.floats(min_value=0, max_value=1e4, allow_nan=False).map(repr),
    )
    odd = st.one_of(
        st.sampled_from(EDGE_NUMBERS),
        st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
        st.integers(1, 5000).map(lambda n: "9" * n),
        st.integers(395, 405).map(lambda n: "1" * n),
        st.integers(1, 600).map(lambda n: "0." + "0" * n + "1"),
        st.integers(1, 25).map(lambda n: "1e" + "9" * n),
        st.integers(1, 5000).map(lambda n: "١" * n),
        st.integers(1, 3000).map(lambda n: "1١" * n),
    )
    return st.one_of(ordinary, ordinary, ordinary, ordinary, odd)


def durations() -> st.SearchStrategy[str]:
    return st.builds(lambda n, unit: n + unit, numbers(), st.sampled_from(["it", "ep", "%"]))


def names_for(role: str, node: Optional[str] = None) -> st.SearchStrategy[str]:
    """A NAME for a ``call`` (node names), a ``keyword`` (the node's parameters) or a bare ``name``."""
    words = vocabulary()
    anything = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
    if role == "call":
        real = st.sampled_from(sorted(words["nodes"]))
    elif role == "keyword":
        real = st.sampled_from(words["nodes"].get(node or "", []) or words["params"])
    else:
        real = st.sampled_from(IDENTIFIERS)
    return st.one_of(*[real] * 10, st.sampled_from(words["params"] + NOT_NAMES), anything)


TERMINALS: Dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "NUMBER": numbers,
    "DURATION": durations,
    "STRING": lambda: st.one_of(
        st.sampled_from(MODES).map(lambda m: f'"{m}"'), st.from_regex(r'"[^"\\\n]{0,20}"', fullmatch=True)
    ),
    "VARIABLE": lambda: st.one_of(
        st.sampled_from(sorted(VARIABLES) + ["missing", "x.y", "opt"]).map(lambda n: "$" + n),
        st.from_regex(r"\$[A-Za-z_][A-Za-z0-9_]{0,8}(\.[A-Za-z_][A-Za-z0-9_]{0,8}){0,3}", fullmatch=True),
    ),
    "NAME": lambda: names_for("name"),
    "COMMENT": lambda: st.sampled_from(["# c\n", "#\n", "# then ( [ $x\n"]),
    "__IGNORE_1": lambda: st.sampled_from([" ", "\n", "\t", "\r\n", "  "]),
    "COMPARE": lambda: st.sampled_from(["<=", ">=", "==", "!=", "<", ">"]).map(lambda op: f" {op} "),
    "THEN": lambda: st.just(" then "),
    "FOR": lambda: st.just(" for "),
    "TRUE": lambda: st.just("true"),
    "FALSE": lambda: st.just("false"),
}


# -- text from the grammar ---------------------------------------------------------------------------


@functools.cache
def _grammar() -> lark.Lark:
    return lark.Lark(grammar_text(), parser="lalr")


class GrammarWalker:
    """Expansions of the grammar's rules, drawn one choice at a time, with a depth budget: past the
    budget only the expansions that end soonest are drawn, so every walk terminates."""

    def __init__(self, grammar: lark.Lark):
        self.rules: Dict[str, List[tuple]] = {}
        for rule in grammar.rules:
            expansion = tuple((s.name, s.is_term) for s in rule.expansion)
            self.rules.setdefault(rule.origin.name, []).append((expansion, rule.alias))
        self.literals = {t.name: t.pattern.value for t in grammar.terminals if type(t.pattern).__name__ == "PatternStr"}
        self.height: Dict[str, float] = dict.fromkeys(self.rules, math.inf)
        changed = True
        while changed:  # the least height of each rule, by fixpoint
            changed = False
            for name, expansions in self.rules.items():
                best = min(self._height(expansion) for expansion, _ in expansions)
                if best < self.height[name]:
                    self.height[name], changed = best, True

    def _height(self, expansion) -> float:
        return 1 + max((0 if term else self.height[name] for name, term in expansion), default=0)

    def walk(self, draw, symbol: str, budget: int, node: Optional[str] = None) -> List[str]:
        out: List[str] = []
        self._walk(draw, symbol, budget, node, out)
        return out

    def _walk(self, draw, symbol: str, budget: int, node: Optional[str], out: List[str]) -> None:
        expansions = self.rules[symbol]
        if budget <= 0:
            least = min(self._height(e) for e, _ in expansions)
            expansions = [(e, a) for e, a in expansions if self._height(e) == least]
        expansion, alias = expansions[draw(st.integers(0, len(expansions) - 1))]
        called = node if symbol in ("arg", "__atom_star_2") else None  # keyword names follow the call's node
        for index, (name, term) in enumerate(expansion):
            if not term:
                self._walk(draw, name, budget - 1, called, out)
            elif name == "NAME":
                role = {"call": "call", "keyword": "keyword"}.get(alias or "", "name")
                token = draw(names_for(role, node))
                if alias == "call" and index == 0:
                    called = token
                out.append(token)
            elif name in TERMINALS:
                out.append(draw(TERMINALS[name]()))
            else:
                out.append(self.literals[name])


@functools.cache
def _walker() -> GrammarWalker:
    return GrammarWalker(_grammar())


SEPARATORS = st.sampled_from(["", " ", " ", " ", "\n", "  # comment\n"])


@st.composite
def grammar_texts(draw, start: str = "start") -> str:
    """An expression drawn from the grammar's rules (calls name real nodes and parameters, mostly)."""
    budget = draw(st.integers(1, 14))
    tokens = _walker().walk(draw, start, budget)
    text = ""
    for token in tokens:
        glue = draw(SEPARATORS) if text and (text[-1].isalnum() is False or not token[:1].isalnum()) else " "
        text = f"{text}{glue}{token}" if text else token
    return text


@st.composite
def optimizer_texts(draw) -> str:
    """An optimizer call (``adam(lr=..., betas=(...))``) whose arguments come from the grammar."""
    words = vocabulary()
    name = draw(st.sampled_from(words["kinds"]["optimizer"]))
    params = words["nodes"][name]
    chosen = draw(st.lists(st.sampled_from(params), unique=True, max_size=len(params)))
    arguments = []
    for param in chosen:
        value = draw(
            st.one_of(
                st.sampled_from(
                    ["0", "0.1", "1", "1e-8", "0.9", "(0.9, 0.999)", "[0.5, 0.5]", "true", "false", "-1", "1e308"]
                ),
                grammar_texts(),
                mutated_texts(),
            )
        )
        arguments.append(f"{param}={value}")
    return f"{name}({', '.join(arguments)})"


def lark_texts() -> st.SearchStrategy[str]:
    """``hypothesis.extra.lark.from_lark`` on the grammar file, with the biased terminals above.

    Most of its draws nest past hypothesis' depth limit and are discarded, so it is slower than
    :func:`grammar_texts`; it is kept for its independent reading of the grammar.
    """
    explicit = {name: make() for name, make in TERMINALS.items()}
    return from_lark(_grammar(), explicit=explicit)


# -- text from the registry ---------------------------------------------------------------------------

ARGUMENT_VALUES: Dict[str, List[str]] = {
    "number": ["0", "0.5", "1", "2", "0.1", "1e-5", "0.999", "-1", "1e-300", "1e300", "$x", "lr0 / 10", "base", "inf"],
    "integer": ["0", "1", "3", "10", "-1", "2.5", "1e300"],
    "count": ["1", "3", "inf", "0", "2.5", "-1"],
    "bool": ["true", "false", "1"],
    "string": ['"cos"', '"linear"', '"triangular2"', '"exp_range"', '"max"', '"abs"', '"rel"', '""', "$mode"],
    "duration": ["10", "7", "1", "5ep", "10%", "0", "-1", "1e-300", "1e300", "0.5ep", "200%", "$y", "2 * 5", "1e-9ep"],
    "durations": ["[10, 20]", "[]", "[5, 3]", "[1ep, 2ep, 50%]", "[0, 0]", "$lst", "[1e300]"],
    "numbers": ["[0.1, 0.01]", "[]", "[1, 2, 3]", "[0.5, -1]", "$lst", "[1e300, 0]"],
    "numbers_tuple": ["(0.9, 0.999)", "(0.9,)", "[0.9, 0.99]", "(1, 1)", "(0.9 - 0.1 * cosine(T=100), 0.999)"],
}


def _argument(draw, kind: str, depth: int) -> str:
    if kind in ("schedule", "any") or draw(st.integers(0, 9)) == 0:
        return draw(schedule_texts(depth + 1)) if depth < 3 else draw(st.sampled_from(ARGUMENT_VALUES["number"]))
    return draw(st.sampled_from(ARGUMENT_VALUES.get(kind, ARGUMENT_VALUES["number"])))


@functools.cache
def _specs() -> Dict[str, Any]:
    return {spec.name: spec for spec in default_registry()}


@st.composite
def schedule_texts(draw, depth: int = 0) -> str:
    """A schedule built from the registry: calls of real nodes with plausible (and edge) arguments,
    combined by ``then``/``for``, arithmetic and functions. Most of these compile, so the evaluators
    get exercised."""
    specs = _specs()
    shapes = ["call", "call", "call", "phases", "arithmetic", "function", "leaf"]
    shape = draw(st.sampled_from(shapes if depth < 3 else ["call", "leaf"]))
    if shape == "leaf":
        return draw(st.sampled_from(["0.1", "it", "ep", "progress", "base", "lr0", "$x", "$s", "1e-5", "pi", "0"]))
    if shape == "phases":
        count = draw(st.integers(2, 4))
        parts = []
        for index in range(count):
            part = draw(schedule_texts(depth + 1))
            if index < count - 1 or draw(st.booleans()):
                length = draw(st.sampled_from(["10", "5ep", "10%", "1", "0.5", "(3 + 4)", "$y", "1e300", "0"]))
                part = f"({part}) for {length}" if draw(st.booleans()) else f"{part} for {length}"
            parts.append(part)
        text = " then ".join(parts)
        return f"({text})" if depth else text
    if shape == "arithmetic":
        left, right = draw(schedule_texts(depth + 1)), draw(schedule_texts(depth + 1))
        return f"({left} {draw(st.sampled_from(['+', '-', '*', '/', '**']))} {right})"
    if shape == "function":
        name = draw(st.sampled_from(vocabulary()["kinds"]["function"]))
        spec = specs.get(name)
        count = 2 if spec is None or getattr(spec, "variadic", False) else len(spec.params)
        args = [draw(schedule_texts(depth + 1)) for _ in range(count)]
        return f"{name}({', '.join(args)})"
    names = [n for n in vocabulary()["kinds"]["schedule"] if n in specs]
    spec = specs[draw(st.sampled_from(names))]
    chosen = [p for p in spec.params if draw(st.integers(0, 9)) < (9 if p.default is REQUIRED else 4)]
    arguments = [f"{p.name}={_argument(draw, p.kind.name, depth)}" for p in chosen]
    return f"{spec.name}({', '.join(arguments)})"


# -- mutations of valid text -------------------------------------------------------------------------

SEEDS = [
    "warmup(5%) then cosine(end=1e-5)",
    "step(base=0.1, s=10) then exp(s=5)",
    "adamw(lr=warmup(5%, base=3e-4) then cosine(end=1e-5), weight_decay=0.05)",
    "0.1 * cosine(T=100) + 1e-5 for 10 then constant(1e-5)",
    "sgdr(T=10, mult=2, decay=0.5, times=3) then constant(0.001)",
    'cyclic(up=4, down=6, low=0.01, high=0.1, mode="exp_range", gamma=0.99)',
    'onecycle(T=100, pct=0.25, anneal="linear", three_phase=true)',
    "repeat(warmup(T=2) then cosine(T=8), times=inf, mult=1.5, decay=0.9)",
    "piecewise(at=[10, 20ep, 30%], values=[0.1, 0.01, 0.001, 0.0001])",
    "multistep(at=[30ep, 60ep], gamma=0.1)",
    "warmup(T=1ep) then plateau(factor=0.5, patience=2)",
    "base * 0.5 ** floor(it / 7)",
    "clip(sqrt(1 - progress) * lr0, 1e-6, 1) for 50 then ceil(ep * 2) / 10",
    "min(cosine(T=$x), max(it, 0.5), abs(sin(it)), log(it + 1)) ** 2",
    "rsqrt(warmup=$y) * inverse_time(d=0.5, staircase=true) + power(s=3, c=0.5)",
    "poly(T=100, power=0.5, end=1e-6) then linear(T=5, start=lr0) then $s",
    "sgd(0.1, 0.9, nesterov=true)",
    "adam(lr=0.01, betas=(0.95 - 0.1 * cosine(T=1000), 0.999), amsgrad=true)",
    "rmsprop(lr=plateau(), momentum=0.9, centered=true)",
    "nadam(momentum_decay=$x) # comment\n",
    "lion(betas=[0.9, 0.99], weight_decay=1)",
]


@functools.cache
def seeds() -> List[str]:
    """:data:`SEEDS` and every line of tests/fixtures/roundtrip.txt."""
    path = Path(__file__).resolve().parent.parent / "fixtures" / "roundtrip.txt"
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and line[0] != "#"]
    return SEEDS + lines


INSERTS = list("()[],=+-*/#$\"'.%;:{}<>!~`@^&|\\?") + [
    "then",
    "for",
    " then ",
    " for ",
    "**",
    "e",
    "ep",
    "it",
    "1e",
    "\x00",
    "\u200b",
    "\ufeff",
    "\u2028",
    "é",
    "٣",
    "𝟘",
    "\U0010ffff",
    "\ud800",
    "\r",
    "\t",
    "\n",
    "\x0b",
    "\x0c",
    "nan",
    "inf",
    "true",
    "$x",
    "$",
]

WRAPS = [
    ("(", ")"),
    ("abs(", ")"),
    ("-", ""),
    ("[", "]"),
    ("(", ",)"),
    ("repeat(", " for 5)"),
    ("min(", ", 1)"),
    ("2 ** ", ""),
    ("(", " then 1)"),
    ("warmup(T=", ")"),
]


@st.composite
def mutated_texts(draw) -> str:
    """A valid expression (or a grammar draw) with one to four edits."""
    text = draw(st.one_of(st.sampled_from(seeds()), grammar_texts()))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(["insert", "delete", "duplicate", "splice", "number", "nest", "repeat", "case", "swap"])
        )
        n = len(text)
        i = draw(st.integers(0, n))
        j = draw(st.integers(i, n))
        if kind == "insert":
            text = text[:i] + draw(st.sampled_from(INSERTS)) + text[i:]
        elif kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "duplicate":
            text = text[:j] + text[i:j] * draw(st.integers(1, 3)) + text[j:]
        elif kind == "splice":
            other = draw(st.sampled_from(seeds()))
            a = draw(st.integers(0, len(other)))
            b = draw(st.integers(a, len(other)))
            text = text[:i] + other[a:b] + text[j:]
        elif kind == "number":
            text = text[:i] + draw(numbers()) + text[j:]
        elif kind == "nest":
            left, right = draw(st.sampled_from(WRAPS))
            depth = draw(st.sampled_from([1, 2, 10, 50, 98, 99, 100, 101, 150, 1000]))
            text = text[:i] + left * depth + text[i:j] + right * depth + text[j:]
        elif kind == "repeat":
            piece = text[i:j] or "1"
            count = draw(st.sampled_from([2, 10, 100, 1000]))
            glue = draw(st.sampled_from([" then ", " + ", ", ", " * ", ""]))
            text = text[:i] + glue.join([piece] * count) + text[j:]
        elif kind == "case":
            text = text[:i] + text[i:j].swapcase() + text[j:]
        else:
            k = draw(st.integers(j, n))
            text = text[:i] + text[j:k] + text[i:j] + text[k:]
    return text[:120_000]


# -- counters ----------------------------------------------------------------------------------------


class Misbehaving:
    """An object whose number protocols (``__float__``, ``__index__``, ``__int__``, ``__array__``,
    ``__len__``/``__getitem__``) raise or return junk, as ``how`` says."""

    def __init__(self, how: str, payload: Any):
        self.how, self.payload = how, payload

    def _act(self, protocol: str):
        if self.how == f"{protocol}-raises":
            raise self.payload
        if self.how == f"{protocol}-returns":
            return self.payload
        raise TypeError(f"no {protocol}")

    def __float__(self):
        return self._act("float")

    def __index__(self):
        return self._act("index")

    def __int__(self):
        return self._act("int")

    def __array__(self, dtype=None, copy=None):
        return self._act("array")

    def __len__(self):
        if self.how.startswith("len"):
            return self._act("len")
        raise TypeError("no len")

    def __repr__(self):
        return f"Misbehaving({self.how}, {type(self.payload).__name__})"


class Exploding:
    """An object whose ``__repr__``, ``__eq__``, ``__hash__`` and ``__bool__`` raise."""

    def __repr__(self):
        raise RuntimeError("repr")

    def __eq__(self, other):
        raise RuntimeError("eq")

    def __hash__(self):
        raise RuntimeError("hash")

    def __bool__(self):
        raise RuntimeError("bool")


class FloatSubclass(float):
    def __repr__(self):
        raise RuntimeError("repr")


class IntSubclass(int):
    def __float__(self):
        raise ValueError("no float for you")


class Lying(list):
    """A list whose length is a lie."""

    def __len__(self):
        return 10**9


EXCEPTIONS = [
    ValueError("v"),
    TypeError("t"),
    RuntimeError("r"),
    ZeroDivisionError("z"),
    OverflowError("o"),
    RecursionError("rec"),
    MemoryError("m"),
    AttributeError("a"),
    IndexError("i"),
    KeyError("k"),
    StopIteration(),
    ArithmeticError(),
    NotImplementedError(),
]

JUNK = [None, "1", b"1", 1j, float("nan"), float("inf"), -1.0, 10**400, [], [1.0], {}, object(), np.array([1.0, 2.0])]


def misbehaving() -> st.SearchStrategy[Any]:
    protocols = ["float", "index", "int", "array", "len"]
    raising = st.builds(
        Misbehaving, st.sampled_from(protocols).map(lambda p: f"{p}-raises"), st.sampled_from(EXCEPTIONS)
    )
    returning = st.builds(Misbehaving, st.sampled_from(protocols).map(lambda p: f"{p}-returns"), st.sampled_from(JUNK))
    return st.one_of(raising, returning)


NUMPY_DTYPES = [
    np.bool_,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.uint8,
    np.uint16,
    np.uint32,
    np.uint64,
    np.float16,
    np.float32,
    np.float64,
    np.longdouble,
    np.complex64,
    np.complex128,
]


def numpy_scalars() -> st.SearchStrategy[Any]:
    """A NumPy scalar of every dtype, from edge values (overflowing ones wrap or become inf)."""

    def make(dtype, value):
        with np.errstate(all="ignore"):
            try:
                return np.array(value).astype(dtype)[()]
            except (OverflowError, ValueError, TypeError):
                return dtype(0)

    values = st.sampled_from([0, 1, 7, 2.5, -1, -0.0, 1e-40, 65504, 70000, 2**31, 2**53 + 1, 2**63 - 1, 1e300])
    others = pick(
        lambda: [
            np.float64("nan"),
            np.float32("inf"),
            np.longdouble("1e4000") if np.finfo(np.longdouble).max > 1e4000 else np.longdouble("inf"),
            np.datetime64("2020-01-01"),
            np.timedelta64(5, "s"),
            np.str_("5"),
            np.bytes_(b"5"),
            np.void(b"\x00\x01"),
        ]
    )
    return st.one_of(st.builds(make, st.sampled_from(NUMPY_DTYPES), values), others)


def _matrix() -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix([[1.0, 2.0]])


def arrays() -> st.SearchStrategy[Any]:
    """0-d, 1-d and 2-d arrays of every dtype, object arrays, and edge contents."""

    def make(dtype, shape, fill):
        with np.errstate(all="ignore"):
            try:
                return np.full(shape, fill).astype(dtype)
            except (OverflowError, ValueError, TypeError):
                return np.zeros(shape, dtype=dtype)

    shapes = st.sampled_from([(), (0,), (1,), (3,), (2, 2), (1, 1, 1), (0, 3)])
    fills = st.sampled_from([0, 1, 5.5, -1, float("nan"), float("inf"), 1e300, 2**62])
    specials = pick(
        lambda: [
            np.array([1, "a"], dtype=object),
            np.array([1.0, 2.0], dtype=object),
            np.array(["1", "2"]),
            np.array([b"1"]),
            np.array([1 + 2j]),
            np.array(["2020-01-01"], dtype="datetime64[D]"),
            np.zeros(3, dtype=[("a", "f8")]),
            np.ma.masked_array([1.0, -1.0], mask=[False, True]),
            np.arange(6.0)[::2],
            np.asfortranarray(np.ones((2, 3))),
            np.array([np.nan, 1.0]),
            np.array([-0.0, 0.0]),
            np.array([5e-324, 1.7976931348623157e308]),
            _matrix(),
        ]
    )
    return st.one_of(st.builds(make, st.sampled_from(NUMPY_DTYPES), shapes, fills), specials)


def recursive_list() -> list:
    lst: list = [1]
    lst.append(lst)
    return lst


def deep_dict(depth: int) -> dict:
    """``{"a": {"a": ...}}``, ``depth`` levels (``repr`` of it overflows the stack)."""
    top: dict = {}
    current = top
    for _ in range(depth):
        current["a"] = {}
        current = current["a"]
    return top


def aliased_dict(levels: int) -> dict:
    """A dict of 2**levels leaves built from ``levels`` shared dicts."""
    value: Any = {"x": 1.0}
    for _ in range(levels):
        value = {"a": value, "b": value}
    return value


def monsters() -> st.SearchStrategy[Hostile]:
    """Values whose ``repr`` cannot be made: too deep (RecursionError), exponential (aliased), too many digits."""
    return st.one_of(
        hostile("deep_dict(100_000)", lambda: deep_dict(100_000)),
        hostile("aliased(60)", lambda: aliased(60)),
        hostile("aliased_dict(60)", lambda: aliased_dict(60)),
        hostile("10**5000", lambda: 10**5000),
    )


def nested(depth: int, leaf: Any = 1.0) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def python_numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-5, 10**6),
        st.sampled_from([0, 2**53, 2**53 + 1, 2**63, 2**64, 10**308, 10**309, 10**400, -(2**63), 2**1024]),
        st.sampled_from([5000, 20_000]).map(lambda n: Hostile(f"10**{n}", lambda: 10**n)),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -0.0, 5e-324, 1e-300, 0.5, 1e16, 2.0**53, 1.7976931348623157e308]),
    )


def hostile_counters() -> st.SearchStrategy[Any]:
    """Anything a training loop might pass as a counter, and worse."""
    return st.one_of(
        python_numbers(),
        python_numbers(),
        st.booleans(),
        st.text(max_size=8),
        st.binary(max_size=8),
        st.complex_numbers(max_magnitude=1e6),
        numpy_scalars(),
        numpy_scalars(),
        arrays(),
        misbehaving(),
        pick(
            lambda: [
                None,
                Ellipsis,
                fractions.Fraction(1, 3),
                fractions.Fraction(10**400, 3),
                decimal.Decimal("2.5"),
                decimal.Decimal("NaN"),
                decimal.Decimal("sNaN"),
                decimal.Decimal("1e999999"),
                Hostile("FloatSubclass(2.0)", lambda: FloatSubclass(2.0)),
                IntSubclass(3),
                Hostile("Exploding()", Exploding),
                object(),
                {"a": 1},
                {1, 2},
                (1,),
                range(3),
                memoryview(b"abc"),
                bytearray(b"1"),
            ]
        ),
        st.lists(python_numbers(), max_size=5),
        hostile("a list that contains itself", recursive_list),
        st.sampled_from([5, 50, 500, 5000]).map(lambda d: Hostile(f"{d} nested lists", lambda: nested(d))),
        st.builds(Lying, st.lists(st.floats(0, 10), max_size=3)),
        st.lists(st.one_of(python_numbers(), st.none(), st.text(max_size=2)), max_size=4),
        st.lists(st.lists(st.floats(0, 1e3), max_size=3), max_size=3),  # ragged, or 2-d
        st.iterables(st.integers(0, 10), max_size=4),
        monsters(),
    )


# -- variables and documents -------------------------------------------------------------------------


def aliased(levels: int) -> list:
    """A list of 2**levels leaves built from ``levels`` shared lists (a walk that expands aliases is exponential)."""
    value: Any = [1.0]
    for _ in range(levels):
        value = [value, value]
    return value


def hostile_values(exponential: bool = True) -> st.SearchStrategy[Any]:
    """Values for ``variables=`` (and variables tables in configs). ``exponential=False`` leaves out
    the values whose ``repr`` is exponential (aliased lists and dicts of 2**40+ leaves): inside a
    dict subclass (``BadMapping``), even the bounded ``contract.short`` falls back to the dict's own
    repr, built in C, which no timer interrupts, so one such draw would hang the whole run instead
    of failing one example."""
    texts = st.one_of(st.sampled_from(seeds()), st.sampled_from(MODES), mutated_texts(), grammar_texts())
    return st.one_of(
        python_numbers(),
        st.booleans(),
        texts,
        texts,
        st.sampled_from(["$x", "$self", "5ep", "1e-3", "$y + 1"]),
        hostile("'x' * 200_000", lambda: "x" * 200_000),
        hostile("'1+' * 60_000 + '1'", lambda: "1+" * 60_000 + "1"),
        numpy_scalars(),
        arrays(),
        misbehaving(),
        pick(lambda: [None, b"1", 1j, Hostile("Exploding()", Exploding), IntSubclass(2), object(), {"a": 1}, {1}]),
        st.lists(st.one_of(python_numbers(), texts, st.booleans()), max_size=5),
        st.lists(st.lists(python_numbers(), max_size=3), max_size=3),
        st.tuples(python_numbers(), python_numbers()),
        hostile("a list that contains itself", recursive_list),
        st.sampled_from([5, 90, 101, 1000, 100_000]).map(lambda d: Hostile(f"{d} nested lists", lambda: nested(d))),
        st.sampled_from([10, 25, 40, 60] if exponential else [10, 16]).map(
            lambda n: Hostile(f"aliased({n})", lambda: aliased(n))
        ),
        st.integers(0, 2_000_000).map(lambda n: Hostile(f"[0.5] * {n}", lambda: [0.5] * n)),
        st.builds(Lying, st.lists(st.floats(0, 1), max_size=2)),
        *([monsters()] if exponential else []),
    )


class HostileKey(str):
    """A str subclass whose hash and equality behave (it is a real string key) but whose methods lie."""

    def split(self, *args, **kwargs):
        raise RuntimeError("split")

    def startswith(self, *args, **kwargs):
        raise RuntimeError("startswith")


def variable_names() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(["x", "y", "s", "lst", "mode", "opt.lr", "self", "a.b.c", "T", "it", "then"]),
        st.sampled_from(["", " ", "$x", "x y", "é", "\x00", "a..b", ".x", "x."]),
        hostile("'x' * 100_000", lambda: "x" * 100_000),
        st.text(max_size=6),
        st.sampled_from([1, None, ("x",), b"x", 1.5, True]),
        st.just(HostileKey("x")),
    )


def variable_tables() -> st.SearchStrategy[Any]:
    """A ``variables=`` argument: a dict of hostile names and values, or not a dict at all."""

    def self_referencing(table: dict) -> dict:
        table["self"] = table
        return table

    tables = st.dictionaries(variable_names(), hostile_values(exponential=False), max_size=4)
    whats = st.sampled_from(["getitem", "iter", "len", "items", "contains"])
    return st.one_of(
        tables,
        tables,
        tables.map(lambda t: Hostile(f"{t!r} with 'self' holding the table", lambda: self_referencing(realize(t)))),
        pick(lambda: [None, [], [("x", 1)], "x=1", 5, {"x"}]),
        st.builds(lambda t, w: Hostile(f"BadMapping({t!r}, {w!r})", lambda: BadMapping(realize(t), w)), tables, whats),
    )


class BadMapping(dict):
    """A dict whose ``what`` method raises (a Mapping that misbehaves)."""

    def __init__(self, table, what):
        super().__init__(table)
        self.what = what

    def __getitem__(self, key):
        if self.what == "getitem":
            raise RuntimeError("getitem")
        return super().__getitem__(key)

    def __iter__(self):
        if self.what == "iter":
            raise RuntimeError("iter")
        return super().__iter__()

    def __len__(self):
        if self.what == "len":
            raise RuntimeError("len")
        return super().__len__()

    def items(self):
        if self.what == "items":
            raise RuntimeError("items")
        return super().items()

    def __contains__(self, key):
        if self.what == "contains":
            raise RuntimeError("contains")
        return super().__contains__(key)


# -- saved states ------------------------------------------------------------------------------------


def paths(state: Any, prefix: tuple = (), limit: int = 400) -> List[tuple]:
    """Every path into ``state`` (keys of mappings, indices of lists and tuples)."""
    found: List[tuple] = [prefix]
    if len(prefix) > 12:
        return found
    if isinstance(state, dict):
        for key, value in state.items():
            found.extend(paths(value, prefix + (key,), limit))
    elif isinstance(state, (list, tuple)):
        for index, value in enumerate(state):
            found.extend(paths(value, prefix + (index,), limit))
    return found[:limit]


def _get(state: Any, path: tuple) -> Any:
    for key in path:
        state = state[key]
    return state


def _set(state: Any, path: tuple, value: Any) -> Any:
    """``state`` with the item at ``path`` replaced (tuples rebuilt); returns the new root."""
    if not path:
        return value
    parent = _get(state, path[:-1])
    key = path[-1]
    if isinstance(parent, tuple):
        items = list(parent)
        items[key] = value
        return _set(state, path[:-1], type(parent)(items))
    parent[key] = value
    return state


def _float_or_zero(number: Any) -> float:
    """``float(number)``, or 0.0 for an int beyond the float range (an earlier edit may have made one)."""
    try:
        return float(number)
    except (OverflowError, ValueError, TypeError):
        return 0.0


def replacement_values(current: Any) -> st.SearchStrategy[Any]:
    """What a tampered entry becomes, with edits specific to arrays and numbers."""
    general = st.one_of(
        pick(
            lambda: [
                None,
                True,
                False,
                0,
                -1,
                1,
                2**53 + 1,
                2**63,
                10**400,
                -(10**400),
                0.5,
                -0.5,
                float("nan"),
                float("inf"),
                -float("inf"),
                1e308,
                "",
                "x",
                "plateau",
                b"x",
                1j,
                [],
                {},
                (),
                [None],
                {"": None},
                {1: 2},
                np.float64("nan"),
                np.int64(-1),
                np.bool_(True),
                np.float32(0.5),
                np.array(0.5),
                np.array([]),
                np.array(["x"]),
                np.array([None], dtype=object),
                Hostile("FloatSubclass(0.5)", lambda: FloatSubclass(0.5)),
                IntSubclass(1),
                Hostile("Exploding()", Exploding),
                object(),
            ]
        ),
        hostile("a list that contains itself", recursive_list),
        st.sampled_from([50, 5000, 100_000]).map(lambda d: Hostile(f"{d} nested lists", lambda: nested(d, {}))),
        st.sampled_from([20, 40]).map(lambda n: Hostile(f"aliased({n})", lambda: aliased(n))),
        st.integers(0, 3_000_000).map(lambda n: Hostile(f"[0] * {n}", lambda: [0] * n)),
        hostile("a dict of 200_000 keys", lambda: {str(i): i for i in range(200_000)}),
        monsters(),
    )
    specific: List[st.SearchStrategy[Any]] = []
    if isinstance(current, np.ndarray) and current.dtype.kind in "iuf":  # an earlier edit may have made it text
        a = current
        specific.append(
            pick(
                lambda: [
                    -np.abs(a) - 1,
                    a * 1e308,
                    np.full_like(a, np.nan),
                    np.full_like(a, np.inf),
                    a.astype(np.float32) if a.dtype != np.float32 else a.astype(np.float64),
                    a.astype(np.float16),
                    a.astype(np.int64),
                    a.astype(np.complex128),
                    a.astype(object),
                    a.reshape(-1),
                    a.reshape((1,) + a.shape),
                    np.concatenate([a.reshape(-1), [1.0]]),
                    a.reshape(-1)[:0],
                    a.T,
                    np.asfortranarray(a),
                    a.tolist(),
                    np.ma.masked_array(a),
                    np.broadcast_to(a, a.shape),
                    a[..., None],
                    np.array(a.sum()),
                ]
            )
        )
    elif isinstance(current, bool):
        specific.append(pick(lambda: [not current, int(current), str(current)]))
    elif isinstance(current, (int, float)):
        specific.append(
            pick(
                lambda: [
                    -current,
                    current + 1,
                    current * 10**6,
                    _float_or_zero(current),
                    int(current) if math.isfinite(_float_or_zero(current)) else 0,
                    repr(_float_or_zero(current)),
                    np.float32(_float_or_zero(current)),
                    np.int8(1),
                    -1,
                    2**53,
                    2**53 + 1,
                ]
            )
        )
    elif isinstance(current, str):
        specific.append(
            pick(lambda: [current + " ", current.upper(), current + " then 1", "", current.encode(), current * 3])
        )
        specific.append(mutated_texts())
    elif isinstance(current, (list, tuple)):
        specific.append(
            pick(
                lambda: [
                    tuple(current),
                    list(current),
                    list(current) * 2,
                    list(current)[:-1],
                    list(current) + [None],
                    dict(enumerate(current)),
                ]
            )
        )
    elif isinstance(current, dict):
        specific.append(pick(lambda: [list(current.items()), list(current), {**current, "extra": 1}]))
    return st.one_of(*specific, general) if specific else general


@st.composite
def tampered(draw, state: Any, edits: int = 3) -> Hostile:
    """A deep copy of ``state`` with one to ``edits`` edits (a key deleted or added, an entry replaced),
    shown as the list of edits."""
    state = copy.deepcopy(state)
    done: List[str] = []
    for _ in range(draw(st.integers(1, edits))):
        path = draw(st.sampled_from(paths(state)))
        try:
            current = _get(state, path)
        except (KeyError, IndexError, TypeError):
            continue
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "delete" and path and isinstance(_get(state, path[:-1]), (dict, list)):
            del _get(state, path[:-1])[path[-1]]
            done.append(f"delete {list(path)}")
            continue
        if action == "add" and isinstance(current, dict):
            key = draw(
                st.one_of(st.sampled_from(["extra", "step", "value", "", "__class__"]), st.integers(), st.none())
            )
            value = draw(replacement_values(None))
            current[key] = realize(value)
            done.append(f"add {list(path) + [key]} = {value!r:.80}")
            continue
        if action == "add" and isinstance(current, list):
            value = draw(replacement_values(current[-1] if current else None))
            current.append(realize(value))
            done.append(f"append to {list(path)}: {value!r:.80}")
            continue
        value = draw(replacement_values(current))
        state = _set(state, path, realize(value))
        done.append(f"replace {list(path)} by {value!r:.80}")
    final = state
    return Hostile(f"<saved state with edits: {'; '.join(done) or 'none'}>", lambda: final)


# -- terminals the grammar gained after the walker's table above -------------------------------------

TERMINALS.setdefault("COMPARE", lambda: st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
"""The comparisons of conditions (``where``, ``recur``): without it, :class:`GrammarWalker` met a pattern
terminal it has no strategy for (a KeyError while drawing text)."""
