"""The parse-tree builder: one method per rule of ``grammar/lrdsl.lark``, building AST nodes while
the LALR parser runs. It subclasses lark's ``Transformer``, so it is imported (with lark) when
the first expression is parsed, not when lrdsl is imported (:func:`lrdsl.parser.parse`)."""

from __future__ import annotations

import math
from typing import List, Tuple

from lark import Token, Transformer, v_args

from . import ast
from .errors import LRDSLSyntaxError
from .vocabulary import KEYWORDS


class _Keyword(tuple):
    """A ``name=value`` argument on its way into a :class:`~lrdsl.ast.Call`."""


def _position(token: Token) -> ast.Position:
    return None if token.line is None or token.column is None else (token.line, token.column)


def _identifier(token: Token) -> str:
    if str(token) in KEYWORDS:
        raise Located(f"{str(token)!r} is a keyword and cannot be used as a name", _position(token))
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
                    raise Located(f"argument {key!r} given twice in {name}(...)", where)
                kwargs.append((key, value))
            elif kwargs:
                raise Located(f"positional argument after keyword arguments in {name}(...)", _position(name))
            else:
                args.append(argument)
        return ast.Call(_identifier(name), tuple(args), tuple(kwargs), _position(name))


class Located(Exception):
    """Raised inside the builder; turned into an LRDSLSyntaxError with a caret by parse()."""

    def __init__(self, message, where):
        super().__init__(message)
        self.message, self.where = message, where
