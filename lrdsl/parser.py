"""Text -> AST. The grammar is data (``grammar/lrdsl.lark``); this module only builds nodes.

The LALR parser is built once and reused. Nodes are built inline while parsing (no parse
tree, no recursion), so deep or huge inputs end in an :class:`LRDSLSyntaxError`, never in
``RecursionError``.
"""

from __future__ import annotations

import functools
import os
import re
from importlib import resources
from pathlib import Path
from typing import cast

from . import ast
from .errors import LRDSLError, LRDSLSyntaxError

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


@functools.cache
def _parser():
    """The LALR parser, built on the first parse (lark is imported then, not with lrdsl); its tables
    come from a cache file when one is there (:func:`_cache_file`)."""
    from lark import Lark

    from .builder import ASTBuilder

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=ASTBuilder(),
        cache=_cache_file(),
    )


def _cache_file():
    """Where lark keeps the parse tables between processes: ``$LRDSL_CACHE_DIR`` or the user's cache
    folder (``$XDG_CACHE_HOME/lrdsl``, ``~/.cache/lrdsl``), one file per grammar and lark version
    (lark checks both when it reads it). False (no cache) when that folder cannot be made; lark
    itself goes on without the cache when the file cannot be read or written."""
    import hashlib

    import lark

    folder = os.environ.get("LRDSL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lrdsl"
    )
    digest = hashlib.sha256(grammar_text().encode("utf-8")).hexdigest()[:16]
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return False
    return os.path.join(folder, f"grammar-{digest}-lark-{lark.__version__}.tables")


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


def _syntax_error(text: str, error) -> LRDSLSyntaxError:
    """A lark ``UnexpectedInput`` (characters, a token or the end) as an LRDSLSyntaxError with a caret."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF

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
    parser = _parser()
    from lark.exceptions import UnexpectedInput  # loaded with the parser

    from .builder import Located

    try:
        tree = cast(ast.Expr, parser.parse(text))  # the builder transforms while parsing
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    except Located as error:
        line, column = error.where
        raise LRDSLSyntaxError(
            f"{error.message} (line {line}, column {column})\n{caret(text, line, column)}", line, column
        ) from None
    except LRDSLError:
        raise
    if ast.depth(tree) > MAX_DEPTH:
        raise LRDSLSyntaxError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
    return tree
