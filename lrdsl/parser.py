"""Text -> AST. The grammar is data (``grammar/lrdsl.lark``); this module only builds nodes.

The LALR parser is built once and reused. Nodes are built inline while parsing (no parse
tree, no recursion), so deep or huge inputs end in an :class:`LRDSLSyntaxError`, never in
``RecursionError``.
"""

from __future__ import annotations

import functools
import math
import re
from importlib import resources
from pathlib import Path
from typing import List, Tuple, Union, cast

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from . import ast
from .errors import LRDSLError, LRDSLSyntaxError
from .vocabulary import KEYWORDS

MAX_LENGTH = 100_000  # characters in one expression
MAX_DEPTH = 100  # nesting levels of the AST
MAX_NUMBER_LENGTH = 400  # characters in one number literal
_POSITION = re.compile(r"line (\d+), column (\d+)")
_LONG_NUMBER = re.compile(rf"[0-9.]{{{MAX_NUMBER_LENGTH + 1}}}")

_TERMINAL_NAMES = {
    "NUMBER": "a number",
    "DURATION": "a duration (500it, 5ep, 10%)",
    "STRING": 'a string ("...")',
    "NAME": "a name",
    "VARIABLE": "a $variable",
    "COMPARE": "a comparison (< <= > >= == !=)",
    "$END": "end of the expression",
}


def grammar_text() -> str:
    """The grammar: shipped inside the wheel as ``lrdsl/grammar/lrdsl.lark``; in a source
    checkout it is read from the top-level ``grammar/`` folder."""
    packaged = resources.files("lrdsl").joinpath("grammar").joinpath("lrdsl.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "lrdsl.lark").read_text(encoding="utf-8")


class _Keyword(tuple):
    """A ``name=value`` argument on its way into a :class:`~lrdsl.ast.Call`."""


def _position(token: Token) -> ast.Position:
    return None if token.line is None or token.column is None else (token.line, token.column)


def _identifier(token: Token) -> str:
    if str(token) in KEYWORDS:
        raise _Located(f"{str(token)!r} is a keyword and cannot be used as a name", _position(token))
    return str(token)


def _number(text: str):
    value = int(text) if text.isdigit() else float(text)
    try:
        finite = math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range
        finite = False
    if not finite:
        raise LRDSLSyntaxError(f"number {text[:30]!r}... is too large for a float")
    return value


@v_args(inline=True)
class ASTBuilder(Transformer):
    """One method per grammar rule alias."""

    def expr(self, *phases):
        if len(phases) == 1 and phases[0].length is None:
            return phases[0].body
        return ast.Phases(phases)

    def phase(self, body, length=None):
        return ast.Phase(body, length)

    def add(self, left, right):
        return ast.BinOp("+", left, right)

    def sub(self, left, right):
        return ast.BinOp("-", left, right)

    def mul(self, left, right):
        return ast.BinOp("*", left, right)

    def div(self, left, right):
        return ast.BinOp("/", left, right)

    def pow(self, left, right):
        return ast.BinOp("**", left, right)

    def neg(self, operand):
        if isinstance(operand, ast.Number):
            return ast.Number(-operand.value)
        return ast.Neg(operand)

    def compare(self, left, op, right):
        return ast.Compare(str(op), left, right)

    def or_(self, left, right):
        return ast.Logic("or", left, right)

    def and_(self, left, right):
        return ast.Logic("and", left, right)

    def not_(self, operand):
        return ast.Not(operand)

    def number(self, token):
        return ast.Number(_number(str(token)))

    def duration(self, token):
        text = str(token)
        unit = "%" if text.endswith("%") else "tok" if text.endswith("tok") else text[-2:]
        return ast.Duration(_number(text[: -len(unit)]), unit)

    def string(self, token):
        return ast.String(str(token)[1:-1])

    def true(self):
        return ast.Boolean(True)

    def false(self):
        return ast.Boolean(False)

    def list(self, *items):
        return ast.ListExpr(tuple(item for item in items if item is not None))

    def tuple(self, *items):
        return ast.TupleExpr(tuple(item for item in items if item is not None))

    def name(self, token):
        return ast.Name(_identifier(token), _position(token))

    def variable(self, token):
        return ast.Variable(str(token)[1:], _position(token))

    def keyword(self, name, value):
        return _Keyword((_identifier(name), value, _position(name)))

    def call(self, name, *arguments):
        args: List[ast.Expr] = []
        kwargs: List[Tuple[str, ast.Expr]] = []
        for argument in arguments:
            if argument is None:
                continue
            if isinstance(argument, _Keyword):
                key, value, where = argument
                if key in (k for k, _ in kwargs):
                    raise _Located(f"argument {key!r} given twice in {name}(...)", where)
                kwargs.append((key, value))
            elif kwargs:
                raise _Located(f"positional argument after keyword arguments in {name}(...)", _position(name))
            else:
                args.append(argument)
        return ast.Call(_identifier(name), tuple(args), tuple(kwargs), _position(name))


class _Located(Exception):
    """Raised inside the builder; turned into an LRDSLSyntaxError with a caret by parse()."""

    def __init__(self, message, where):
        super().__init__(message)
        self.message, self.where = message, where


@functools.cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", maybe_placeholders=True, transformer=ASTBuilder())


def _line_column(text: str, offset: int):
    """The 1-based (line, column) of character ``offset``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def pointed(error: LRDSLError, text: str) -> LRDSLError:
    """``error`` (raised compiling ``text``) with its spot shown as a syntax error shows it: the
    line and column, then the source line with a caret; unchanged when it has no position or
    already shows it."""
    if error.line is None or error.column is None or error.pointed:
        return error
    message = str(error)
    named = _POSITION.search(message)  # the spot the message names is the precise one
    line, column = (int(named[1]), int(named[2])) if named else (error.line, error.column)
    if not named:
        message += f" (line {line}, column {column})"
    error.line, error.column = line, column
    error.args = (f"{message}\n{caret(text, line, column)}",)
    error.pointed, error.bare = True, message
    return error


def caret(text: str, line: int, column: int, width: int = 72) -> str:
    """The source line with a caret under ``column``, trimmed around it for long lines."""
    lines = text.split("\n")
    source = lines[min(line, len(lines)) - 1]
    start = max(0, min(column - 1 - width // 2, len(source) - width))
    shown = source[start : start + width]
    prefix = "..." if start > 0 else ""
    return f"  {prefix}{shown}\n  {' ' * (len(prefix) + column - 1 - start)}^"


def _expected(names) -> str:
    parser = _parser()
    words = set()
    for name in names:
        if name in _TERMINAL_NAMES:
            words.add(_TERMINAL_NAMES[name])
            continue
        try:
            pattern = parser.get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str":
            words.add(repr(pattern.value))
    return ", ".join(sorted(words)) or "something else"


def _syntax_error(text: str, error: Union[UnexpectedCharacters, UnexpectedToken, UnexpectedEOF]) -> LRDSLSyntaxError:
    line, column = max(error.line, 1), max(error.column, 1)
    if isinstance(error, UnexpectedCharacters):
        found = repr(error.char)
        expected = _expected(error.allowed)
    else:
        at_end = isinstance(error, UnexpectedEOF) or error.token.type == "$END"
        found = "end of the expression" if at_end else repr(str(error.token))
        expected = _expected(error.expected)
        if at_end:
            line, column = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    message = (
        f"syntax error at line {line}, column {column}: unexpected {found}\n"
        f"{caret(text, line, column)}\nexpected: {expected}"
    )
    return LRDSLSyntaxError(message, line, column)


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> ast.Expr:
    """Parse ``text`` into an immutable AST (cached: a repeated string is parsed once)."""
    if not isinstance(text, str):
        raise LRDSLError(f"an lrdsl expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise LRDSLSyntaxError(f"expression is too long: {len(text):,} characters (the limit is {MAX_LENGTH:,})")
    long_number = _LONG_NUMBER.search(text)
    if long_number:  # refused before the lexer sees it
        line, column = _line_column(text, long_number.start())
        raise LRDSLSyntaxError(
            f"a number of more than {MAX_NUMBER_LENGTH} characters at line {line}, column {column}\n"
            f"{caret(text, line, column)}",
            line,
            column,
        )
    try:
        tree = cast(ast.Expr, _parser().parse(text))  # the builder transforms while parsing
    except (UnexpectedCharacters, UnexpectedToken, UnexpectedEOF) as error:  # lark's UnexpectedInput
        raise _syntax_error(text, error) from None
    except _Located as error:
        line, column = error.where
        raise LRDSLSyntaxError(
            f"{error.message} (line {line}, column {column})\n{caret(text, line, column)}", line, column
        ) from None
    except LRDSLError:
        raise
    if ast.depth(tree) > MAX_DEPTH:
        raise LRDSLSyntaxError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
    return tree
