"""Checking untrusted saved state: small declarative schemas, and putting things back on failure.

Every ``load_state_dict`` reads data that may come from an old, foreign or crafted checkpoint.
It describes what it expects with the schemas below, checks the whole payload with
:func:`validate` before it changes anything, and wraps the loading of parts it cannot check
in advance in :func:`restoring`, so a failure leaves the object as it was. A failed check
says where (``'params'[1]['entries']['exp_avg']``), what was found and what was expected::

    STATE = Record({"step": Int(min=0), "entries": MapOf(Text(), Number())})
    step, entries = validate(STATE, saved, ArrayError, "load_state_dict()").values()
"""

from __future__ import annotations

import itertools
import math
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Type

import numpy as np

from .errors import LRDSLError
from .text import describe, shorten

_RESAVE = "pass what state_dict() returned, unchanged"
_MAX_ITEMS = 1_000_000  # no saved list or table is larger; a crafted one is refused before it is walked


class Invalid(Exception):
    """Raised inside a schema: ``path`` is where, ``message`` what is wrong."""

    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


class Schema:
    """What a value must be. ``expected`` says it in words for messages."""

    expected = "a value"

    def check(self, value: Any, path: str) -> Any:
        """The value (normalised: lists for sequences, dicts for mappings), or :class:`Invalid`."""
        raise NotImplementedError

    def refuse(self, value: Any, path: str, expected: Optional[str] = None) -> Invalid:
        return Invalid(path, f"is {describe(value)}; expected {expected or self.expected}")


class Anything(Schema):
    def check(self, value, path):
        return value


MAX_COUNT = 2**53
"""The largest count (of steps, reports) a state holds: beyond it a float -- a counter's use -- no
longer holds every whole number. What counts must stop there, so that its checkpoint loads."""


class Int(Schema):
    """A whole number (Python or NumPy integer, not a bool) in [``min``, ``max``]; by default at most
    :data:`MAX_COUNT`."""

    def __init__(self, min: int = 0, max: int = MAX_COUNT):
        self.min, self.max = min, max
        self.expected = f"a whole number >= {min} and <= {'2**53' if max == MAX_COUNT else max}"

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not self.min <= value <= self.max:
            raise self.refuse(value, path)
        return int(value)


class Number(Schema):
    """A finite real number (not a bool), within [``min``, ``max``] when given."""

    def __init__(self, min: Optional[float] = None, max: Optional[float] = None):
        self.min, self.max = min, max
        bounds = [f">= {min:g}" if min is not None else "", f"<= {max:g}" if max is not None else ""]
        self.expected = "a finite number" + "".join(f" {b}" for b in bounds if b)

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise self.refuse(value, path)
        try:
            number = float(value)
        except Exception:  # too large, or a number type whose __float__ fails: not a number we can keep
            raise self.refuse(value, path) from None
        if (
            not math.isfinite(number)
            or (self.min is not None and number < self.min)
            or (self.max is not None and number > self.max)
        ):
            raise self.refuse(value, path)
        return number


class Text(Schema):
    expected = "a string"

    def check(self, value, path):
        if not isinstance(value, str):
            raise self.refuse(value, path)
        return value


class OneOf(Schema):
    """One of the given values (compared with ``==``, types included: ``True`` is not ``1``)."""

    def __init__(self, *choices):
        self.choices = choices
        self.expected = "one of " + ", ".join(map(repr, choices))

    def check(self, value, path):
        if not any(type(value) is type(choice) and value == choice for choice in self.choices):
            raise self.refuse(value, path)
        return value


class Maybe(Schema):
    """``None``, or what ``schema`` accepts."""

    def __init__(self, schema: Schema):
        self.schema = schema
        self.expected = f"None or {schema.expected}"

    def check(self, value, path):
        if value is None:
            return None
        try:
            return self.schema.check(value, path)
        except Invalid as invalid:
            if invalid.path == path:  # wrong at this level, not deeper: say that None would do too
                raise self.refuse(value, path) from None
            raise


class ListOf(Schema):
    """A list or tuple of items of ``item``, of ``length`` items when given."""

    def __init__(self, item: Schema, length: Optional[int] = None):
        self.item, self.length = item, length
        count = f"{length} item(s)" if length is not None else "items"
        self.expected = f"a list of {count}, each {item.expected}"

    def check(self, value, path):
        if (
            not isinstance(value, (list, tuple))
            or len(value) > _MAX_ITEMS
            or (self.length is not None and len(value) != self.length)
        ):
            raise self.refuse(value, path)
        return [self.item.check(item, f"{path}[{index}]") for index, item in enumerate(value)]


class Items(Schema):
    """A list or tuple with exactly one item per schema of ``schemas``, each checked by its own."""

    def __init__(self, schemas: Sequence[Schema], expected: str):
        self.schemas, self.expected = list(schemas), expected

    def check(self, value, path):
        if not isinstance(value, (list, tuple)) or len(value) != len(self.schemas):
            raise self.refuse(value, path)
        return [schema.check(item, f"{path}[{index}]") for index, (schema, item) in enumerate(zip(self.schemas, value))]


def read_table(value: Mapping, path: str, expected: str) -> Dict[Any, Any]:
    """A mapping's items as a plain dict, read once: what is checked (and kept) is then this copy.
    A mapping of more than ``_MAX_ITEMS`` items, or whose ``len``, iteration or item access raises,
    is :class:`Invalid` (``expected`` says what was wanted)."""
    try:
        keys = list(itertools.islice(iter(value), _MAX_ITEMS + 1))
        if len(keys) > _MAX_ITEMS or len(value) > _MAX_ITEMS:
            raise Invalid(path, f"has more than {_MAX_ITEMS:,} items; expected {expected}")
        return {key: value[key] for key in keys}
    except Invalid:
        raise
    except Exception as error:  # a Mapping whose methods raise
        problem = f"{type(error).__name__} from its {type(value).__name__}"
        raise Invalid(path, f"cannot be read as a table ({problem}); expected {expected}") from None


class MapOf(Schema):
    """A mapping from keys of ``key`` to values of ``value``."""

    def __init__(self, key: Schema, value: Schema):
        self.key, self.value = key, value
        self.expected = f"a table of {key.expected} to {value.expected}"

    def check(self, value, path):
        if not isinstance(value, Mapping):
            raise self.refuse(value, path)
        return {
            self.key.check(k, f"{path} key {k!r:.40}"): self.value.check(v, _key_path(path, k))
            for k, v in read_table(value, path, self.expected).items()
        }


class Record(Schema):
    """A mapping with exactly the keys of ``fields`` (each checked by its schema), and
    optionally ``optional`` ones. The result keeps the order of ``fields``."""

    def __init__(self, fields: Mapping[str, Schema], optional: Optional[Mapping[str, Schema]] = None):
        self.fields, self.optional = dict(fields), dict(optional or {})
        self.expected = "a table with the keys " + ", ".join(map(repr, self.fields))

    def check(self, value, path):
        if not isinstance(value, Mapping):
            raise self.refuse(value, path)
        value = read_table(value, path, self.expected)
        missing = [key for key in self.fields if key not in value]
        unknown = [key for key in value if key not in self.fields and key not in self.optional]
        if missing or unknown:
            problem = (
                f"has no {', '.join(map(repr, missing))}"
                if missing
                else f"has the unknown key(s) {', '.join(repr(k)[:40] for k in unknown[:3])}"
            )
            raise Invalid(path, f"{problem}; expected {self.expected}")
        schemas = {**self.fields, **{k: s for k, s in self.optional.items() if k in value}}
        return {key: schema.check(value[key], _key_path(path, key)) for key, schema in schemas.items()}


class Where(Schema):
    """What ``schema`` accepts, and ``test(value)`` true of it (``expected`` says what the test wants)."""

    def __init__(self, schema: Schema, test: Callable[[Any], bool], expected: str):
        self.schema, self.test, self.expected = schema, test, expected

    def check(self, value, path):
        checked = self.schema.check(value, path)
        if not self.test(checked):
            raise Invalid(path, f"is {shorten(repr(checked), 200)}; expected {self.expected}")
        return checked


def _key_path(path: str, key: Any) -> str:
    """``'params'`` at the top, ``'params'[1]['entries']`` below."""
    shown = shorten(repr(key), 40)
    return f"{path}[{shown}]" if path else shown


def validate(schema: Schema, value: Any, error: Type[LRDSLError], what: str, name: str = "") -> Any:
    """``value`` checked (and normalised) by ``schema``, or ``error`` saying ``what`` refused it, where
    and why (``load_state_dict(): 'iteration' is -1 (of type int); expected a whole number >= 0``).
    ``name`` is how messages call ``value`` itself (``params`` gives ``params[0] is ...``)."""
    try:
        return schema.check(value, name)
    except Invalid as invalid:
        where = f"{invalid.path} " if invalid.path else "the state "
        raise error(f"{what}: {where}{invalid.message}") from None
    except LRDSLError:
        raise
    except Exception as failure:  # a crafted object whose methods raise where the schemas read it
        raise error(
            f"{what}: the state cannot be read ({type(failure).__name__}: {shorten(str(failure), 80)})"
        ) from None


@contextmanager
def restoring(objects: Sequence[Any]) -> Iterator[None]:
    """Run the block; if it raises, load back every object's ``state_dict()`` from before it.

    For loading parts one after another when a later part can fail after earlier ones changed.
    """
    saved: Dict[int, Any] = {index: item.state_dict() for index, item in enumerate(objects)}
    try:
        yield
    except BaseException as block_error:
        failed = None  # every object is put back even when one cannot be; the first such error follows the block's
        for index, item in enumerate(objects):
            try:
                item.load_state_dict(saved[index])
            except Exception as error:
                failed = failed or error
        if failed is not None:
            raise failed from block_error
        raise
