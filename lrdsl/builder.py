"""The parse-tree builder: one method per rule of ``grammar/lrdsl.lark``, building AST nodes while
the LALR parser runs. Each method takes the list of the rule's children that lark keeps (nodes
already built, and the terminals that carry text: objects with ``value``, ``line`` and
``column``, lark's tokens or :class:`lrdsl.lalr.Token`). It imports nothing of lark: the same
builder serves lark's parser and the table driver of :mod:`lrdsl.lalr` (:func:`lrdsl.parser.parse`)."""

from __future__ import annotations

import math
from typing import List, Set, Tuple

from . import ast
from .errors import LRDSLSyntaxError
from .vocabulary import KEYWORDS


class _Keyword(tuple):
    """A ``name=value`` argument on its way into a :class:`~lrdsl.ast.Call`."""


def _position(token) -> ast.Position:
    return None if token.line is None or token.column is None else (token.line, token.column)


def _identifier(token) -> str:
    text = token.value
    if text in KEYWORDS:
        raise Located(f"{text!r} is a keyword and cannot be used as a name", _position(token))
    return text


def _number(text: str):
    value = int(text) if text.isdigit() else float(text)
    try:
        finite = math.isfinite(float(value))
    except OverflowError:  # an integer beyond float range
        finite = False
    if not finite:
        raise LRDSLSyntaxError(f"number {text[:30]!r}... is too large for a float")
    return value


class ASTBuilder:
    """One method per grammar rule alias, each given the rule's kept children."""

    def expr(self, phases):
        if len(phases) == 1 and phases[0].length is None:
            return phases[0].body
        return ast.Phases(tuple(phases))

    def phase(self, children):
        body, length = children if len(children) == 2 else (*children, None)
        return ast.Phase(body, length)

    def add(self, children):
        (left, right) = children
        return ast.BinOp("+", left, right)

    def sub(self, children):
        (left, right) = children
        return ast.BinOp("-", left, right)

    def mul(self, children):
        (left, right) = children
        return ast.BinOp("*", left, right)

    def div(self, children):
        (left, right) = children
        return ast.BinOp("/", left, right)

    def pow(self, children):
        (left, right) = children
        return ast.BinOp("**", left, right)

    def neg(self, children):
        (operand,) = children
        if isinstance(operand, ast.Number):
            return ast.Number(-operand.value)
        return ast.Neg(operand)

    def compare(self, children):
        (left, op, right) = children
        return ast.Compare(op.value, left, right)

    def or_(self, children):
        (left, right) = children
        return ast.Logic("or", left, right)

    def and_(self, children):
        (left, right) = children
        return ast.Logic("and", left, right)

    def not_(self, children):
        (operand,) = children
        return ast.Not(operand)

    def number(self, children):
        (token,) = children
        return ast.Number(_number(token.value))

    def duration(self, children):
        (token,) = children
        text = token.value
        unit = "%" if text.endswith("%") else "tok" if text.endswith("tok") else text[-2:]
        return ast.Duration(_number(text[: -len(unit)]), unit)

    def string(self, children):
        (token,) = children
        return ast.String(token.value[1:-1])

    def true(self, children):
        return ast.Boolean(True)

    def false(self, children):
        return ast.Boolean(False)

    def list(self, items):
        return ast.ListExpr(tuple(item for item in items if item is not None))

    def tuple(self, items):
        return ast.TupleExpr(tuple(item for item in items if item is not None))

    def name(self, children):
        (token,) = children
        return ast.Name(_identifier(token), _position(token))

    def variable(self, children):
        (token,) = children
        return ast.Variable(token.value[1:], _position(token))

    def keyword(self, children):
        (name, value) = children
        return _Keyword((_identifier(name), value, _position(name)))

    def call(self, children):
        name, arguments = children[0], children[1:]
        called = name.value
        args: List[ast.Expr] = []
        kwargs: List[Tuple[str, ast.Expr]] = []
        given: Set[str] = set()  # the keywords so far
        for argument in arguments:
            if argument is None:
                continue
            if isinstance(argument, _Keyword):
                key, value, where = argument
                if key in given:
                    raise Located(f"argument {key!r} given twice in {called}(...)", where)
                given.add(key)
                kwargs.append((key, value))
            elif kwargs:
                raise Located(f"positional argument after keyword arguments in {called}(...)", _position(name))
            else:
                args.append(argument)
        return ast.Call(_identifier(name), tuple(args), tuple(kwargs), _position(name))


class Located(Exception):
    """Raised inside the builder; turned into an LRDSLSyntaxError with a caret by parse()."""

    def __init__(self, message, where):
        super().__init__(message)
        self.message, self.where = message, where
