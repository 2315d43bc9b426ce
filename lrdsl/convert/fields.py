"""Reading a peer's configuration dict: every value checked, every error naming its key.

``Fields(data, "scheduler.params")`` hands out typed values; an error reads
``scheduler.params.warmup_num_steps: expected a positive integer, got -3``. After reading,
:meth:`Fields.done` refuses keys nobody asked for, with the closest valid names: a misspelt
key is never ignored silently.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional, Set

from ..errors import LRDSLError, did_you_mean

_MISSING = object()


def describe(item: Any) -> str:
    return f"{item!r} ({type(item).__name__})" if isinstance(item, str) else repr(item)


class Fields:
    """The keys of one dict, read one by one."""

    def __init__(self, data: Any, where: str, what: str = "a mapping"):
        if not isinstance(data, dict):
            raise LRDSLError(f"{where or 'the configuration'}: expected {what}, got {describe(data)}")
        self.data: Dict[str, Any] = data
        self.where = where
        self.read: Set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def error(self, name: str, message: str) -> LRDSLError:
        return LRDSLError(f"{self.key(name)}: {message}")

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        self.read.add(name)
        if name in self.data and self.data[name] is not None:
            return self.data[name]
        if default is _MISSING:
            raise self.error(name, "is required" + did_you_mean(name, set(self.data) - self.read))
        return default

    def number(self, name: str, default: Any = _MISSING, minimum: Optional[float] = None) -> float:
        item = self.raw(name, default)
        if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
            raise self.error(name, f"expected a finite number, got {describe(item)}")
        if minimum is not None and item < minimum:
            raise self.error(name, f"expected a number >= {minimum:g}, got {item!r}")
        return item

    def integer(self, name: str, default: Any = _MISSING, minimum: int = 0) -> int:
        item = self.raw(name, default)
        if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
            raise self.error(name, f"expected an integer >= {minimum}, got {describe(item)}")
        return item

    def flag(self, name: str, default: Any = _MISSING) -> bool:
        item = self.raw(name, default)
        if not isinstance(item, bool):
            raise self.error(name, f"expected true or false, got {describe(item)}")
        return item

    def choice(self, name: str, choices: Iterable[str], default: Any = _MISSING) -> str:
        item, allowed = self.raw(name, default), sorted(choices)
        if item not in allowed:
            expected = ", ".join(map(repr, allowed))
            raise self.error(name, f"expected one of {expected}, got {describe(item)}{did_you_mean(item, allowed)}")
        return item

    def done(self, ignored: Iterable[str] = ()) -> None:
        """Refuse the keys that were not read (``ignored`` ones excepted)."""
        unknown = sorted(set(self.data) - self.read - set(ignored))
        if unknown:
            known = sorted(self.read)
            raise self.error(
                unknown[0], f"unknown key; expected one of {', '.join(known)}" + did_you_mean(unknown[0], known)
            )
