"""What every bridge shares: importing its framework lazily, and the errors bridges raise."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..errors import LRDSLError


class BridgeError(LRDSLError):
    """A schedule or optimizer that a framework bridge cannot carry, or bad bridge options."""


class MissingExtraError(BridgeError, ImportError):
    """A bridge was used without its framework; the message names the extra to install."""


def require(module: str, extra: str, bridge: str, hint: str = "") -> ModuleType:
    """Import ``module`` for ``bridge``, or raise :class:`MissingExtraError` naming ``lrdsl[extra]``.

    ``hint`` is added when ``module`` is installed but one of its own imports fails.
    """
    root = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing = (getattr(error, "name", None) or root).split(".")[0]
        if missing != root and hint:
            raise MissingExtraError(f"{bridge}: importing {root} failed ({error}); {hint}") from error
        raise MissingExtraError(
            f"{bridge} needs {root}, which is not installed or cannot be imported "
            f"({error}); install it with: pip install lrdsl[{extra}]"
        ) from error


def is_stateful(schedule) -> bool:
    """Whether ``schedule`` has metric-driven nodes (such as ``plateau``)."""
    return bool(schedule.state_dict()["nodes"])


def refuse_stateful(schedule, framework: str, hint: str) -> None:
    """Raise :class:`BridgeError` if ``schedule`` is metric-driven: ``framework`` evaluates it traced."""
    if is_stateful(schedule):
        raise BridgeError(
            f"schedule {schedule.expression!r} is driven by reported metrics (plateau), which "
            f"{framework} cannot evaluate inside a compiled step; {hint}"
        )
