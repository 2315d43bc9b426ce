"""Text -> AST. The grammar is data (``grammar/lrdsl.lark``); this module only builds nodes.

The LALR parser is built once and reused. Nodes are built inline while parsing (no parse
tree, no recursion), so deep or huge inputs end in an :class:`LRDSLSyntaxError`, never in
``RecursionError``.

A text is parsed first by the table driver of :mod:`lrdsl.lalr`, which runs lark's tables
(kept in the user cache next to lark's own, so that lark is not imported when they are
there); a text it does not accept is parsed again by lark, whose error is the one reported.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import re
import sys
from typing import Optional, cast

from . import ast, lalr
from .builder import ASTBuilder, Located
from .errors import LRDSLError, LRDSLSyntaxError
from .usercache import cache_folder

GRAMMAR = "lrdsl.lark"
MAX_LENGTH = 100_000  # characters in one expression
MAX_DEPTH = 100  # nesting levels of the AST
MAX_NUMBER_LENGTH = 400  # characters in one number literal
_POSITION = re.compile(r"line (\d+), column (\d+)")
_LONG_NUMBER = re.compile(rf"[0-9.]{{{MAX_NUMBER_LENGTH + 1}}}")
_VERSION = re.compile(r"""^__version__\s*(?::\s*str\s*)?=\s*["']([^"']+)["']""", re.MULTILINE)
_BUILDER = ASTBuilder()

_TERMINAL_NAMES = {
    "NUMBER": "a number",
    "DURATION": "a duration (500it, 5ep, 10%)",
    "STRING": 'a string ("...")',
    "NAME": "a name",
    "VARIABLE": "a $variable",
    "COMPARE": "a comparison (< <= > >= == !=)",
    "$END": "end of the expression",
}


@functools.cache
def grammar_text() -> str:
    """The grammar: shipped inside the wheel as ``lrdsl/grammar/lrdsl.lark``; in a source
    checkout it is read from the top-level ``grammar/`` folder; from a zipped package through
    :mod:`importlib.resources` (imported only then: it is slow to import)."""
    package = os.path.dirname(os.path.abspath(__file__))
    for path in (os.path.join(package, "grammar", GRAMMAR), os.path.join(os.path.dirname(package), "grammar", GRAMMAR)):
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read()
    from importlib import resources

    return resources.files("lrdsl").joinpath("grammar").joinpath(GRAMMAR).read_text(encoding="utf-8")


@functools.cache
def _parser():
    """The LALR parser, built on the first parse (lark is imported then, not with lrdsl); its tables
    come from a cache file when one is there (:func:`_cache_file`)."""
    from lark import Lark

    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=True,
        transformer=_BUILDER,
        cache=_cache_file(".tables") or False,
    )


@functools.cache
def _digest() -> str:
    """The grammar's CRC-32, which names the cache files (lark checks its own hash of the grammar
    in its file, and the driver's file holds the grammar itself): hashlib would add 3 ms to the
    first parse."""
    import zlib

    return f"{zlib.crc32(grammar_text().encode('utf-8')):08x}"


def _lark_version() -> Optional[str]:
    """The installed lark's version, read from its ``__init__.py`` when lark is not imported yet
    (importing it takes 20-30 ms); None when it cannot be found."""
    if "lark" in sys.modules:
        return sys.modules["lark"].__version__
    import importlib.util

    spec = importlib.util.find_spec("lark")
    try:
        with open(spec.origin, encoding="utf-8") as handle:  # type: ignore[union-attr, arg-type]
            found = _VERSION.search(handle.read())
    except (OSError, TypeError, AttributeError, ValueError):
        return None
    return found[1] if found else None


def _cache_file(suffix: str) -> Optional[str]:
    """A file of the user's cache folder (:func:`lrdsl.usercache.cache_folder`) named by the
    grammar's hash and lark's version: ``.tables`` for lark's parse tables (lark checks both when
    it reads them), ``.lalr`` for the driver's (:func:`_driver`). None (no cache) when that folder
    cannot be made or lark's version cannot be read."""
    folder = cache_folder()
    version = _lark_version()
    if folder is None or version is None:
        return None
    return os.path.join(folder, f"grammar-{_digest()}-lark-{version}{suffix}")


@functools.cache
def _driver() -> Optional[lalr.Driver]:
    """The table driver (:mod:`lrdsl.lalr`): its tables are read from the user cache, else copied
    from lark's parser and written there. None when lark's parser has tables the driver cannot
    run; a cache file that cannot be read or written is no error."""
    path = _cache_file(".lalr")
    data = None
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = marshal.loads(handle.read())  # marshal.load(handle) reads it piecewise: 10x slower
            current = isinstance(data, dict) and data.get("format") == lalr.FORMAT
            if not (current and data.get("grammar") == grammar_text()):
                data = None
        except (OSError, EOFError, ValueError, TypeError):
            data = None
    if data is None:
        try:
            data = lalr.tables(_parser(), _BUILDER, grammar_text())
        except (ImportError, AttributeError, KeyError, TypeError, ValueError):  # a lark whose internals differ
            return None  # lark parses every text itself
        if data is None:
            return None
        if path is not None:
            with contextlib.suppress(ValueError):  # a value marshal cannot store: no cache file
                _write(path, marshal.dumps(data))
    try:
        return lalr.Driver(data, _BUILDER)
    except (KeyError, TypeError, ValueError, IndexError, re.error):  # a damaged file: lark parses
        return None


def _write(path: str, content: bytes) -> None:
    """Replace ``path`` by ``content`` atomically; a folder that cannot be written is no error."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "wb") as handle:
            handle.write(content)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.remove(temporary)


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


def _deeper_than(tree: ast.Expr, limit: int) -> bool:
    """Whether ``tree`` nests more than ``limit`` levels (``ast.depth(tree) > limit``): level by
    level, without recursion, stopping at ``limit + 1`` levels (three times faster than a walk)."""
    level, frontier = 0, [tree]
    while frontier:
        level += 1
        if level > limit:
            return True
        frontier = [child for node in frontier for child in node.children()]
    return False


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
    driver = _driver()
    if driver is not None:
        try:
            tree = cast(ast.Expr, driver.parse(text))
        except (lalr.Refused, Located, LRDSLError):
            pass  # lark parses it again and reports the error
        else:
            return _checked_depth(tree)
    return _checked_depth(_lark_parse(text))


def _lark_parse(text: str) -> ast.Expr:
    """``text`` parsed by lark: its tree, or the LRDSLSyntaxError that says what is wrong."""
    parser = _parser()
    from lark.exceptions import UnexpectedInput  # loaded with the parser

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
    return tree


def _checked_depth(tree: ast.Expr) -> ast.Expr:
    if _deeper_than(tree, MAX_DEPTH):
        raise LRDSLSyntaxError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)")
    return tree
