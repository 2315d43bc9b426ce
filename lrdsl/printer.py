"""AST -> canonical text. ``parse(to_text(node)) == node`` for every node.

Kept apart from the parser (as sqlglot keeps its generator apart): it knows only the AST and
the binding strength of each construct, and adds parentheses exactly where they are needed.
"""

from __future__ import annotations

import math

from . import ast

# Binding strength, loosest first (docs/language.md §3.2).
SEQUENCE, PHASE, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, POWER, ATOM = range(11)

_BINARY = {
    "+": (SUM, SUM, PRODUCT),
    "-": (SUM, SUM, PRODUCT),
    "*": (PRODUCT, PRODUCT, UNARY),
    "/": (PRODUCT, PRODUCT, UNARY),
    "**": (POWER, ATOM, UNARY),
    "or": (OR, OR, AND),
    "and": (AND, AND, NOT),
    **dict.fromkeys(ast.COMPARISONS, (COMPARE, SUM, SUM)),  # non-associative: a < b < c is an error
}  # op: (own strength, left needs, right needs)


def number_text(value) -> str:
    """Shortest text that reads back as the same number (ints stay ints): ``0.1``, ``3e-4``, ``2e8``."""
    text = repr(value)
    if isinstance(value, float) and math.isfinite(value) and value != 0:
        mantissa, exponent = f"{value:.17e}".split("e")
        for digits in range(17):  # the fewest significant digits that give the value back
            candidate = f"{value:.{digits}e}"
            if float(candidate) == value:
                mantissa, exponent = candidate.split("e")
                break
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        scientific = f"{mantissa}e{int(exponent)}"
        if len(scientific) < len(text) - 2:  # "2e8", not "200000000.0"; but "100.0", "0.0003"
            return scientific
    return text


def _wrap(text: str, strength: int, needed: int) -> str:
    return f"({text})" if strength < needed else text


def _arguments(node: ast.Call) -> str:
    parts = [to_text(arg) for arg in node.args]
    parts += [f"{key}={to_text(value)}" for key, value in node.kwargs]
    return ", ".join(parts)


def _items(items) -> str:
    return ", ".join(to_text(item) for item in items)


def _text_and_strength(node: ast.Expr):
    if isinstance(node, ast.Number):
        text = number_text(node.value)
        return text, (UNARY if text.startswith("-") else ATOM)  # -0.0 too
    if isinstance(node, ast.Duration):
        return number_text(node.value) + node.unit, ATOM
    if isinstance(node, ast.String):
        return f'"{node.value}"', ATOM
    if isinstance(node, ast.Boolean):
        return ("true" if node.value else "false"), ATOM
    if isinstance(node, ast.ListExpr):
        return f"[{_items(node.items)}]", ATOM
    if isinstance(node, ast.TupleExpr):
        trailing = "," if len(node.items) == 1 else ""
        return f"({_items(node.items)}{trailing})", ATOM
    if isinstance(node, ast.Name):
        return node.name, ATOM
    if isinstance(node, ast.Variable):
        return "$" + node.name, ATOM
    if isinstance(node, ast.Call):
        return f"{node.name}({_arguments(node)})", ATOM
    if isinstance(node, ast.Neg):
        return "-" + to_text(node.operand, UNARY), UNARY
    if isinstance(node, ast.Not):
        return "not " + to_text(node.operand, NOT), NOT
    if isinstance(node, (ast.BinOp, ast.Compare, ast.Logic)):
        strength, left, right = _BINARY[node.op]
        return f"{to_text(node.left, left)} {node.op} {to_text(node.right, right)}", strength
    if isinstance(node, ast.Phase):
        body = to_text(node.body, OR)
        if node.length is None:
            return body, OR
        return f"{body} for {to_text(node.length, ATOM)}", PHASE
    if isinstance(node, ast.Phases):
        return " then ".join(to_text(phase, PHASE) for phase in node.phases), SEQUENCE
    raise TypeError(f"not an lrdsl AST node: {node!r}")


def to_text(node: ast.Expr, needed: int = SEQUENCE) -> str:
    """Canonical text of ``node``, parenthesised if it binds looser than ``needed``."""
    text, strength = _text_and_strength(node)
    return _wrap(text, strength, needed)
