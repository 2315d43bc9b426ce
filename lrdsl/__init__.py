"""lrdsl: learning-rate schedules and optimizers as plain strings.

    >>> import lrdsl
    >>> sched = lrdsl.compile("step(base=0.1, s=10) then exp(s=5)")
    >>> sched(0), round(sched(10), 12), round(sched(15), 12)
    (0.1, 0.01, 0.001)

docs/language.md is the language reference; the pinned surface is ``parse``, ``compile``, ``Schedule``,
``optimizer`` and ``LRDSLError``; ``steps`` counts the optimizer updates of a run (``total=``).
"""

from .errors import LRDSLError
from .hookspecs import hookimpl
from .lint import lint
from .optim import optimizer
from .parser import parse
from .schedule import Schedule
from .schedule import compile_schedule as compile
from .updates import steps

__version__ = "0.1.0"

__all__ = ["LRDSLError", "Schedule", "__version__", "compile", "hookimpl", "lint", "optimizer", "parse", "steps"]
