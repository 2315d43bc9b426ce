"""What an expression is compiled against: the registry, the clock, the variables and the bases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Mapping, Optional

from . import ast
from .built import NodeContext
from .clock import Clock
from .errors import LRDSLError
from .registry import Registry


@dataclass(frozen=True, kw_only=True)
class Context:
    """The state of compiling at one point of an expression (each phase gets its own copy).

    ``lr0`` is the top-level base and ``base`` the incoming base b of this expression
    (docs/language.md §5); ``phase_length`` the length of the enclosing phase in clock units
    (None: unbounded) and ``enclosing`` that phase (printable; None at the top level, where
    the length is the training length); ``notes`` collects warnings for the whole compile.
    ``recurrence`` is what ``lr`` and ``k`` mean here: inside the update of ``recur(...)``, that
    recurrence's binding (:class:`lrdsl.recurrence.Binding`); elsewhere None.
    """

    registry: Registry
    clock: Clock
    variables: Mapping[str, Any]
    lr0: float
    base: float
    phase_length: Optional[float]
    enclosing: Optional[object] = None
    notes: List[str] = field(default_factory=list)
    recurrence: Optional[Any] = None

    @classmethod
    def of(cls, schedule, phase_length: Optional[float] = None) -> Context:
        """The context a compiled :class:`~lrdsl.Schedule`'s top level was compiled in (its registry,
        clock, variables and base), for reading its parts again (lint, explain)."""
        return cls(
            registry=schedule.registry,
            clock=schedule.clock,
            variables=schedule.options.variables,
            lr0=schedule.base,
            base=schedule.base,
            phase_length=phase_length,
        )

    def but(self, **changes: Any) -> Context:
        """A copy with ``changes`` (``dataclasses.replace`` without re-running ``__init__``: the
        compiler makes one per phase and per argument, and replace costs 4x as much)."""
        copied = object.__new__(Context)
        copied.__dict__.update(self.__dict__, **changes)
        return copied

    def node_context(self) -> NodeContext:
        """The public view a built node's ``build`` receives."""
        return NodeContext(base=self.base, lr0=self.lr0, phase_length=self.phase_length, unit=self.clock.unit)


def positioned(node: ast.Expr, inside: bool = False) -> _Positioned:
    """A context for a block: an :class:`LRDSLError` it raises without a position takes ``node``'s
    (the innermost node with a position is the spot). ``inside``: the block compiles a text of its
    own (a ``$variable``'s), whose positions are not the expression's, so ``node``'s replaces them."""
    return _Positioned(node, inside)


class _Positioned:
    """:func:`positioned`'s context (a class: a generator-based one costs 3x as much per node)."""

    __slots__ = ("node", "inside")

    def __init__(self, node: ast.Expr, inside: bool):
        self.node, self.inside = node, inside

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> None:
        if isinstance(error, LRDSLError):
            pos = getattr(self.node, "pos", None)
            if pos and (error.line is None or self.inside) and not error.pointed:
                error.line, error.column = pos  # and the error goes on


def located(node: ast.Expr) -> str:
    """' (line L, column C)' for a node that carries its source position, else ''."""
    pos = getattr(node, "pos", None)
    return f" (line {pos[0]}, column {pos[1]})" if pos else ""
