"""Does every schedule of a template compile? ``lrdsl.search.check`` and ``lrdsl check TEMPLATE``.

A template is checked by compiling a few of its schedules with the run's options: every
distribution at its low end (each choice at its first option), then for each dimension in turn
its high end (each other option of a choice, with the distributions inside at their low ends).
A schedule that does not compile is blamed on the dimension and value that made it, with the
distribution's position in the template; the positions of the rest of the template carry into
the compiler's own messages.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import LRDSLError, TemplateError
from ..schedule import Schedule, compile_schedule
from .dimensions import Dimension
from .space import Space, space


def check(text: str, variables: Optional[Mapping[str, Any]] = None, **options) -> Tuple[Space, List[Schedule]]:
    """Check the template ``text``; return its space and the schedules compiled on the way (the
    first one has every distribution at its low end). ``variables`` are the search variables and
    the host's; ``options`` are those of :func:`lrdsl.compile` (``total=``, ``steps_per_epoch=``,
    ``base=``, ...). Raises :class:`TemplateError` naming the distribution, its position and the value
    that does not compile."""
    found = space(text, variables, options.get("registry"))
    host = {name: value for name, value in (variables or {}).items() if name not in found.variables}

    def compile_with(overrides: Dict[str, Any]) -> Schedule:
        tree = found.build(lambda dim: overrides.get(dim.name, dim.first()))
        return compile_schedule(tree, variables=host, **options)

    compiled = []
    try:
        compiled.append(compile_with({}))
    except LRDSLError as error:
        raise _baseline_error(found, compile_with, error) from None
    for dim in found:
        for value in dim.alternatives():
            try:
                compiled.append(compile_with({**_branch(found, dim), dim.name: value}))
            except LRDSLError as error:
                raise TemplateError(f"{dim.where}: {_describe(dim, value)} does not compile: {error}") from None
    return found, compiled


def _branch(found: Space, dim: Dimension) -> Dict[str, Any]:
    """The options of the enclosing choices that make ``dim`` part of the schedule."""
    chosen: Dict[str, Any] = {}
    parent = dim.parent
    while parent is not None:
        owner = found[parent[0]]
        chosen[owner.name] = owner.options[parent[1]]
        parent = owner.parent
    return chosen


def _describe(dim: Dimension, value) -> str:
    if dim.kind == "choice":
        return f"option {dim.options.index(value) + 1}, {value},"
    end = "low" if value == dim.first() else "high"
    literal = dim.literal(value)
    return f"its {end} end {literal}"


def _baseline_error(found: Space, compile_with, error: LRDSLError) -> LRDSLError:
    """The error of the all-low schedule, blamed on the first dimension whose other values compile
    (its low end is the culprit); an error no dimension explains is the template's own."""
    for dim in found:
        for value in dim.alternatives():
            try:
                compile_with({**_branch(found, dim), dim.name: value})
            except LRDSLError:
                continue
            return TemplateError(f"{dim.where}: {_describe(dim, dim.first())} does not compile: {error}")
    first = found.concrete(lambda dim: dim.first())
    return TemplateError(
        f"the template's first schedule (every distribution at its low end), {first}, does not compile: {error}"
    )
