"""Where in its config file an error in an entry's expression is: ``train.yaml:14:23
(optimizer.schedule): unknown node 'sinn' ...`` with the caret under the file's line.

The parsers (PyYAML, tomllib, json) keep no positions for values, so the spot is found in the
file's text: the expression's line that holds the error is searched from the entry's key on
(a YAML block scalar, a quoted string on one line, a TOML or JSON string without escapes). Where
it cannot be found, the message still names the file and the key.
"""

from __future__ import annotations

import re
from typing import Optional, Tuple

from .errors import LRDSLError, LRDSLSyntaxError
from .parser import caret


def placed(error: LRDSLError, path: Optional[str], key: str, text: str) -> LRDSLError:
    """``error`` (raised by the expression ``text`` at ``key`` of the file ``path``, or of a mapping
    when ``path`` is None) with the file, the key and, when found, the file's line and column."""
    message = str(error) if isinstance(error, LRDSLSyntaxError) or error.bare is None else error.bare
    spot = _in_file(path, key, text, error.line, error.column) if path is not None else None
    if spot is None:
        error.args = (f"{path + ' ' if path else ''}({key}): {error!s}",)
        return error
    file_text, line, column = spot
    message = message.replace(f" (line {error.line}, column {error.column})", "")
    error.args = (f"{path}:{line}:{column} ({key}): {message}\n{caret(file_text, line, column)}",)
    return error


def _in_file(path: str, key: str, text: str, line, column) -> Optional[Tuple[str, int, int]]:
    """``(file text, line, column)`` of the expression's ``line``:``column`` in the file, or None."""
    if line is None or column is None:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            file_text = handle.read()
    except OSError:
        return None
    wanted = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    if not wanted.strip():
        return None
    lines = file_text.splitlines()
    name = re.escape(key.rsplit(".", 1)[-1])
    key_line = next((i for i, row in enumerate(lines) if re.match(rf'\s*["\']?{name}["\']?\s*[:=]', row)), 0)
    for number in range(key_line, len(lines)):
        found = lines[number].find(wanted)
        if found >= 0:
            return file_text, number + 1, found + column
    return None


__all__ = ["placed"]
