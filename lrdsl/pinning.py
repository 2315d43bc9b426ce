"""A schedule's text made independent of the length around it, so it can be nested in another
schedule with the same values (``(old) for <at> then new``, :mod:`lrdsl.amend`).

Two things in a schedule's text depend on what encloses it (docs/language.md §6.2, §4.4): a
``%`` duration is a share of ``total``, and the last top-level phase runs to the end of
``total`` (an unset horizon in it taking that length). :func:`pinned` writes every ``%`` in
``total``'s unit and gives the last phase ``for`` its length, so the text means the same under
any other ``total`` or enclosing phase.
"""

from __future__ import annotations

from . import ast
from .options import whole


def clock_duration(value: float, unit: str) -> ast.Expr:
    """A duration node for ``value`` clock units: a plain number for iterations (``5000``),
    else a number with its unit (``50ep``, ``2e9tok``)."""
    return ast.Number(whole(value)) if unit == "it" else ast.Duration(whole(value), unit)


def pinned(schedule) -> ast.Expr:
    """The tree of ``schedule`` (a :class:`~lrdsl.Schedule`) with its ``%`` durations in
    ``total``'s unit and its last top-level phase given ``for`` its length (when ``total`` is
    known); the values are those of ``schedule`` at every time, whatever encloses the result."""
    clock = schedule.clock
    tree = schedule.tree
    if clock.total is not None:
        amount, unit = clock.total

        def absolute(node: ast.Expr):
            if isinstance(node, ast.Duration) and node.unit == "%":
                return ast.Duration(whole(amount * node.value / 100), unit)  # as the clock computes it
            return None

        tree = ast.transform(tree, absolute)
    phases = ast.phases_of(tree)
    last = phases[-1]
    if last.length is None and clock.total is not None:
        length = clock.convert(*clock.total, "total") - schedule.phase_starts(clock.unit)[-1]
        phases = (*phases[:-1], ast.Phase(last.body, clock_duration(length, clock.unit)))
    return ast.Phases(phases) if len(phases) > 1 or phases[0].length is not None else phases[0].body
