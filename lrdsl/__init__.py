"""lrdsl: learning-rate schedules and optimizers as plain strings.

    >>> import lrdsl
    >>> sched = lrdsl.compile("step(base=0.1, s=10) then exp(s=5)")
    >>> sched(0), round(sched(10), 12), round(sched(15), 12)
    (0.1, 0.01, 0.001)

docs/language.md is the language reference; the pinned surface is ``parse``, ``compile``, ``Schedule``,
``optimizer`` and ``LRDSLError``; ``steps`` counts the optimizer updates of a run (``total=``).

``optimizer`` and ``hookimpl`` are imported on first use (PEP 562), so that ``import lrdsl``
imports neither the optimizers nor pluggy.
"""

from typing import TYPE_CHECKING, Any

from .errors import LRDSLError
from .lint import lint
from .parser import parse
from .schedule import Schedule
from .schedule import compile_schedule as compile
from .updates import steps

if TYPE_CHECKING:  # for type checkers; at run time they come from __getattr__
    from .hookspecs import hookimpl
    from .optim import optimizer

__version__ = "0.1.0"

__all__ = ["LRDSLError", "Schedule", "__version__", "compile", "hookimpl", "lint", "optimizer", "parse", "steps"]


def __getattr__(name: str) -> Any:
    """``lrdsl.optimizer`` and ``lrdsl.hookimpl``, imported from their module the first time they are read."""
    value: Any
    if name == "optimizer":
        from .optim import optimizer as value
    elif name == "hookimpl":
        from .hookspecs import hookimpl as value
    else:
        raise AttributeError(f"module 'lrdsl' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | {"optimizer", "hookimpl"})
