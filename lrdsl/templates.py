"""Search templates: a string with distribution calls (``choice``, ``uniform``, ``loguniform``,
``intuniform``) describes a set of schedules, not one (README "Searching for a schedule").

The grammar needs nothing new: a distribution is a call. This module only finds them, so that
compiling a template is refused with a message that names each distribution and points to
:mod:`lrdsl.search`, which lists, samples and checks templates.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Mapping

from . import ast
from .context import located
from .errors import LRDSLError, TemplateError
from .parser import parse
from .printer import to_text
from .text import shorten
from .vocabulary import DISTRIBUTIONS


def distributions(tree: ast.Expr) -> List[ast.Call]:
    """The distribution calls in ``tree``, in source order (outer before inner)."""
    found = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and node.name in DISTRIBUTIONS]
    return sorted(found, key=lambda call: call.pos or (0, 0))


def variable_templates(variables: Mapping[str, Any]) -> Iterable[tuple]:
    """``(name, tree)`` for each string variable whose value is (or contains) a distribution."""
    for name, value in variables.items():
        if isinstance(value, str) and any(word in value for word in DISTRIBUTIONS):
            try:
                tree = parse(value)
            except LRDSLError:
                continue  # not an expression: the compile reports it where the variable is used
            if distributions(tree):
                yield name, tree


def refuse(tree: ast.Expr, variables: Mapping[str, Any]) -> None:
    """Raise :class:`TemplateError` when ``tree`` (or a variable's value) is a search template."""
    listed = [f"{shorten(to_text(call), 40)}{located(call)}" for call in distributions(tree)]
    listed += [f"${name} = {shorten(to_text(value), 40)}" for name, value in variable_templates(variables)]
    if listed:
        raise TemplateError(
            f"this is a search template, not a schedule: it has the distribution(s) {'; '.join(listed)}. "
            "Compile one of its schedules: lrdsl.search.sample(template, values), lrdsl.search.suggest(template, "
            "trial) (Optuna) or lrdsl.search.from_config(template, config) (Ray Tune); see README "
            '"Searching for a schedule"'
        )
