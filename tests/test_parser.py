"""Parser and printer: the AST shape of each construct, the round trip, syntax errors, input limits."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import lark
import pytest

from lrdsl import LRDSLError, lalr, parse, parser
from lrdsl.ast import (
    BinOp,
    Boolean,
    Call,
    Duration,
    ListExpr,
    Name,
    Neg,
    Number,
    Phase,
    Phases,
    String,
    TupleExpr,
    Variable,
    depth,
    walk,
)
from lrdsl.builder import Located
from lrdsl.errors import LRDSLSyntaxError
from lrdsl.parser import MAX_DEPTH

FIXTURE = Path(__file__).parent / "fixtures" / "roundtrip.txt"


def fixture_expressions():
    lines = (line.strip() for line in FIXTURE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_fixture_is_large_enough():
    assert len(fixture_expressions()) >= 60


@pytest.mark.parametrize("text", fixture_expressions())
def test_round_trip(text):
    tree = parse(text)
    printed = str(tree)
    assert parse(printed) == tree
    assert str(parse(printed)) == printed  # the canonical form is a fixed point


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0.1", Number(0.1)),
        ("10", Number(10)),
        ("-2", Number(-2)),
        ("3e-4", Number(3e-4)),
        ("500", Number(500)),
        ("500it", Duration(500, "it")),
        ("5ep", Duration(5, "ep")),
        ("0.5ep", Duration(0.5, "ep")),
        ("10%", Duration(10, "%")),
        ('"triangular2"', String("triangular2")),
        ("true", Boolean(True)),
        ("false", Boolean(False)),
        ("[30ep, 60ep]", ListExpr((Duration(30, "ep"), Duration(60, "ep")))),
        ("(0.9, 0.999)", TupleExpr((Number(0.9), Number(0.999)))),
        ("(1,)", TupleExpr((Number(1),))),
        ("(1)", Number(1)),
        ("it", Name("it")),
        ("$peak_lr", Variable("peak_lr")),
        ("$optimizer.lr", Variable("optimizer.lr")),
        ("f()", Call("f")),
        ("f(1, x=2)", Call("f", (Number(1),), (("x", Number(2)),))),
    ],
)
def test_atoms(text, expected):
    assert parse(text) == expected


def test_precedence_follows_the_spec():
    a, b, c = Name("a"), Name("b"), Name("c")
    assert parse("a + b * c") == BinOp("+", a, BinOp("*", b, c))
    assert parse("a - b - c") == BinOp("-", BinOp("-", a, b), c)
    assert parse("a / b * c") == BinOp("*", BinOp("/", a, b), c)
    assert parse("a ** b ** c") == BinOp("**", a, BinOp("**", b, c))
    assert parse("-a ** b") == Neg(BinOp("**", a, b))
    assert parse("a ** -b") == BinOp("**", a, Neg(b))
    assert parse("-2 ** 2") == Neg(BinOp("**", Number(2), Number(2)))


def test_then_binds_loosest_and_for_belongs_to_its_phase():
    tree = parse("a * 2 for 10 then b + 1")
    assert tree == Phases(
        (Phase(BinOp("*", Name("a"), Number(2)), Number(10)), Phase(BinOp("+", Name("b"), Number(1))))
    )
    assert parse("a for 5ep") == Phases((Phase(Name("a"), Duration(5, "ep")),))
    assert parse("(a then b) * 2") == BinOp("*", Phases((Phase(Name("a")), Phase(Name("b")))), Number(2))


def test_comments_and_newlines_are_whitespace():
    text = """
        warmup(T=5)   # ramp up
        then          # and then
        cosine(T=10)
    """
    assert parse(text) == parse("warmup(T=5) then cosine(T=10)")


def test_positions_do_not_affect_equality():
    assert parse("f(x)") == parse("  f( x )")
    assert parse("  f(x)").pos == (1, 3)


def test_the_ast_is_immutable_and_hashable():
    tree = parse("warmup(T=5) then cosine(T=10)")
    with pytest.raises(AttributeError):
        tree.phases = ()
    assert hash(tree) == hash(parse("warmup(T=5)  then  cosine(T=10)"))


def test_parse_is_cached():
    text = "cosine(T=123457) then constant(0.5)"
    assert parse(text) is parse(text)


def _syntax_error(text):
    with pytest.raises(LRDSLSyntaxError) as info:
        parse(text)
    return info.value


def test_syntax_error_shows_line_column_caret_and_expected():
    error = _syntax_error("warmup(T=5)\nthen cosine(T=10 end=0)")
    message = str(error)
    assert (error.line, error.column) == (2, 18)
    assert "line 2, column 18" in message
    assert "then cosine(T=10 end=0)\n" in message
    caret_line = message.splitlines()[2]
    assert caret_line.index("^") == message.splitlines()[1].index("end")
    assert "expected:" in message and "','" in message and "')'" in message


def test_syntax_error_at_end_of_input():
    message = str(_syntax_error("cosine(T="))
    assert "unexpected end of the expression" in message
    assert "a number" in message and "a duration" in message


def test_syntax_error_on_unknown_character():
    message = str(_syntax_error("cosine(T=10) @ 2"))
    assert "unexpected '@'" in message and "column 14" in message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "unexpected end"),
        ("# only a comment", "unexpected end"),
        ("\n", "unexpected end"),
        ("cosine(T=10) then", "column 18"),
        ("f(x=1, 2)", "positional argument after keyword arguments"),
        ("f(x=1, x=2)", "argument 'x' given twice"),
        ("then", "'then' is a keyword"),
        ("f(for=1)", "'for' is a keyword"),
        ("1e999", "too large"),
        ("5 ep", "unexpected"),
        ("cosine(T=10) cosine(T=10)", "unexpected"),
    ],
)
def test_other_syntax_errors(text, fragment):
    assert fragment in str(_syntax_error(text))


def test_non_string_input_is_an_lrdsl_error():
    with pytest.raises(LRDSLError, match="must be a string"):
        parse(42)


def _rejected(text, timeout=60.0):
    """The message of the LRDSLError ``parse(text)`` raises. The timeout only proves that parsing
    ends (no hang): tests assert no speed (benchmarks/ measure it)."""
    caught = []

    def run():
        with pytest.raises(LRDSLError) as info:
            parse(text)
        caught.append(str(info.value))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    assert caught, f"parse() did not raise an LRDSLError within {timeout:g} s"
    return caught[0]


def test_one_megabyte_input_is_rejected():
    assert "too long" in _rejected("1 + " * 250_000 + "1")


def test_ten_thousand_parentheses_never_recurse():
    deep = "(" * 10_000 + "1" + ")" * 10_000
    assert parse(deep) == Number(1)  # parentheses alone add no depth
    assert "nested too deeply" in _rejected("-(" * 5_000 + "x" + ")" * 5_000)
    assert "nested too deeply" in _rejected("f(" * 5_000 + ")" * 5_000)
    assert "nested too deeply" in _rejected("[" * 10_000 + "]" * 10_000)


def test_unbalanced_deep_input_is_a_syntax_error():
    assert "unexpected" in _rejected("(" * 10_000)


def test_long_operator_chain_within_the_limit_is_rejected_cleanly():
    assert "nested too deeply" in _rejected("1" + " + 1" * 5_000)


def _parse_in_a_fresh_process(cache_dir: str, then: str = "") -> subprocess.CompletedProcess:
    code = f"import lrdsl; print(lrdsl.parse('warmup(T=5) then cosine(T=95)')); {then}"
    env = {**os.environ, "LRDSL_CACHE_DIR": cache_dir}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_the_parse_tables_are_cached_per_grammar_and_lark_version(tmp_path):
    first = _parse_in_a_fresh_process(str(tmp_path))
    driver, tables = sorted(tmp_path.iterdir())  # the table driver's (lrdsl.lalr) and lark's own
    assert tables.name.startswith("grammar-") and tables.name.endswith(f"-lark-{lark.__version__}.tables")
    assert driver.name == tables.name.replace(".tables", ".lalr")
    again = _parse_in_a_fresh_process(str(tmp_path))  # read from the cache
    assert first.stdout == again.stdout == "warmup(T=5) then cosine(T=95)\n"
    lark_loaded = _parse_in_a_fresh_process(str(tmp_path), "import sys; print('lark' in sys.modules)")
    assert lark_loaded.stdout.endswith("\nFalse\n"), lark_loaded.stderr  # the driver's tables suffice


def test_a_cache_folder_that_cannot_be_made_or_read_is_no_error(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    done = _parse_in_a_fresh_process(str(blocked / "cache"))
    assert done.returncode == 0 and done.stdout == "warmup(T=5) then cosine(T=95)\n", done.stderr
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    _parse_in_a_fresh_process(str(corrupt))
    for table in corrupt.iterdir():
        table.write_bytes(b"garbage")
    done = _parse_in_a_fresh_process(str(corrupt))
    assert done.returncode == 0 and done.stdout == "warmup(T=5) then cosine(T=95)\n", done.stderr


def test_the_depth_limit_is_exact():
    deepest = "-(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1)  # a Neg per level, then the name
    assert depth(parse(deepest)) == MAX_DEPTH
    assert "nested too deeply" in _rejected("-(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)


DRIVER_TEXTS = [
    "warmup(T=500, base=3e-4) then cosine(T=9500, end=1e-5) then constant(value=1e-5)",
    "[1,2,]",
    "(1,)",
    "(1,2,3)",
    "f()",
    "f(1,)",
    "[]",
    "(1)",
    "f(g(1), h=[1,(2,3)],)",
    "x for 10ep then y",
    "where(t < 5 and not x or y, 1, 2)",
    "-2 ** -3",
    '$a.b * 2 # c\n + "s"',
    "10%",
    "1e5tok",
    ".5e3sp + 5.ep",
    "x\n\n  + y(z=\n w)",
    "true or false",
    "a >= b",
    "f(forx=1, thenx=2)",
]
REFUSED_TEXTS = ["a if", "then", "f(then=1)", "f(a=1, a=2)", "f(a=1, 2)", "1 < 2 < 3", "f(", "", "1e999", "@"]


@pytest.mark.parametrize("text", DRIVER_TEXTS)
def test_the_table_driver_builds_what_lark_builds(text):
    ours, theirs = parser._driver().parse(text), parser._lark_parse(text)
    assert ours == theirs and repr(ours) == repr(theirs)
    assert [getattr(n, "pos", None) for n in walk(ours)] == [getattr(n, "pos", None) for n in walk(theirs)]


@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_the_table_driver_leaves_every_error_to_lark(text):
    with pytest.raises((lalr.Refused, Located, LRDSLError)):
        parser._driver().parse(text)
    with pytest.raises(LRDSLError):
        parse(text)
