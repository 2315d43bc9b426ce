"""lrdsl: learning-rate schedules and optimizers as plain strings.

    >>> import lrdsl
    >>> sched = lrdsl.compile("step(base=0.1, s=10) then exp(s=5)")
    >>> sched(0), sched(10)
    (0.1, 0.01)

docs/language.md is the language reference; the pinned surface is ``parse``, ``compile``, ``Schedule``,
``optimizer`` and ``LRDSLError``.
"""

from .errors import LRDSLError
from .parser import parse
from .hookspecs import hookimpl
from .schedule import Schedule
from .schedule import compile_schedule as compile
from .optim import optimizer

__version__ = "0.1.0"

__all__ = ["LRDSLError", "Schedule", "compile", "hookimpl", "optimizer", "parse", "__version__"]
