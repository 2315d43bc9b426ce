"""The playground's JSON API as plain functions: a request (the decoded JSON object) in, the
answer (a dict ready for ``json.dumps``) out, testable without HTTP.

- :func:`evaluate` (``POST /api/eval``): the values at ``at`` points or over a ``range``, the
  canonical form, the phase starts and spans and the restarts;
- :func:`check` (``POST /api/check``): :func:`lrdsl.lint` findings, as ``lrdsl check --json``;
- :func:`explain` (``POST /api/explain``): :func:`lrdsl.explain.explain`, as ``lrdsl explain --json``,
  with its text;
- :func:`nodes` (``GET /api/nodes``): the node catalog, plugins included, each node with its
  documentation (formula and parameters) and a call to insert;
- :func:`handle`: one route's answer as ``(HTTP status, body)``; what a worker process runs.

A request names its schedule with ``expression`` and may give ``base``, ``total``,
``steps_per_epoch``, ``tokens_per_step``, ``samples_per_step`` and ``variables`` as
``lrdsl.compile`` takes them (a number may also be written as a string, as on the command line).
Only the language is executed: the text is parsed and compiled, never evaluated as Python.
A bad request (a field of the wrong type, too many points) raises :class:`RequestError` (400);
a schedule the language refuses raises the :class:`~lrdsl.errors.LRDSLError` the CLI prints (422).
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from ..cliwords import cli_words
from ..errors import LRDSLError
from ..explain import explain as explain_schedule
from ..lint import lint, restarts, window
from ..listing import node_doc, node_rows
from ..plugins import default_registry
from ..registry import Registry
from ..schedule import Schedule, compile_schedule
from ..specs import REQUIRED, ScheduleSpec
from ..vocabulary import UNIT_WORDS

MAX_POINTS = 200_000  # points one request may ask for
DEFAULT_POINTS = 1000  # points of a range that does not give "num"
OPTIONS = ("steps_per_epoch", "tokens_per_step", "samples_per_step")
FIELDS = {"expression", "base", "total", "variables", "counter", "at", "range", *OPTIONS}
_WHERE = re.compile(r"line (\d+), column (\d+)")


class RequestError(LRDSLError):
    """A request the API cannot take: a missing or mistyped field, or too much work asked for.

    ``status`` is the HTTP status it is answered with (a 4xx)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def error_body(error: LRDSLError, status: int) -> Dict[str, Any]:
    """The JSON answer for ``error``: its class, its text, the line the CLI prints (``error: ...``)
    and, where the message says where, the 1-based line and column."""
    line = getattr(error, "line", None)
    column = getattr(error, "column", None)
    if line is None and not isinstance(error, RequestError):
        where = _WHERE.search(str(error))
        line, column = (int(where[1]), int(where[2])) if where else (None, None)
    return {
        "error": {
            "status": status,
            "type": type(error).__name__,
            "message": str(error),
            "cli": f"error: {cli_words(str(error), 'check')}",
            "line": line,
            "column": column,
        }
    }


# -- the request -----------------------------------------------------------------------------------


def _number(value: Any, name: str) -> Any:
    """A number field: a JSON number, or a string read as one ("3e-4"); any other string goes to
    ``lrdsl.compile`` as it is, which says what it expected (a duration such as "90ep" for ``total``)."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    raise RequestError(f"{name}: expected a number or a string, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", dict: "an object", list: "an array", str: "a string", type(None): "null"}
    return names.get(type(value), "a number")


def _fields(request: Any) -> None:
    """A request is a JSON object of known fields."""
    if not isinstance(request, Mapping):
        raise RequestError(f"the request must be a JSON object, got {_json_type(request)}")
    unknown = sorted(set(request) - FIELDS)
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(map(repr, unknown))}; fields: {', '.join(sorted(FIELDS))}")


def compile_request(request: Mapping[str, Any], registry: Optional[Registry] = None) -> Schedule:
    """The schedule a request names, compiled with its options."""
    _fields(request)
    expression = request.get("expression")
    if not isinstance(expression, str):
        raise RequestError(f"expression: expected the schedule as a string, got {_json_type(expression)}")
    variables = request.get("variables") or {}
    if not isinstance(variables, Mapping):
        raise RequestError(f"variables: expected an object of name: value, got {_json_type(variables)}")
    base = _number(request.get("base"), "base")
    return compile_schedule(
        expression,
        base=1.0 if base is None else base,
        total=_number(request.get("total"), "total"),
        variables={name: _number(value, f"variables.{name}") for name, value in variables.items()},
        registry=registry,
        **{option: _number(request.get(option), option) for option in OPTIONS},
    )


def _counter(request: Mapping[str, Any], schedule: Schedule) -> str:
    """The counter the points are in: "it", "ep", "tok" or "sp"; by default the schedule's clock."""
    counter = request.get("counter")
    if counter is None:
        return schedule.clock.unit
    if counter not in UNIT_WORDS:
        raise RequestError(f"counter: expected one of {', '.join(map(repr, UNIT_WORDS))}, got {counter!r}")
    return counter


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RequestError(f"{name}: expected a finite number, got {value!r:.40}")
    return float(value)


def _window(schedule: Schedule, counter: str) -> float:
    """:func:`lrdsl.lint.window` counted in ``counter`` (clock units where the clock cannot convert)."""
    num, den = schedule.clock.ratio(counter) or (1.0, 1.0)
    return window(schedule) * den / num


def _sampling(request: Mapping[str, Any]) -> Dict[str, Any]:
    """The points asked for, checked before any work: ``{"at": array}``, or the ``range``
    (``start`` default 0, ``stop`` default the schedule's window, ``num`` default 1000, ``whole``)."""
    at, span = request.get("at"), request.get("range")
    if at is not None and span is not None:
        raise RequestError("give at or range, not both")
    if at is not None:
        if not isinstance(at, list):
            raise RequestError(f"at: expected an array of numbers, got {_json_type(at)}")
        if len(at) > MAX_POINTS:
            raise RequestError(f"at: {len(at):,} points asked for; the limit is {MAX_POINTS:,}")
        return {"at": np.array([_finite(point, "at[]") for point in at], dtype=np.float64)}
    span = {} if span is None else span
    if not isinstance(span, Mapping) or set(span) - {"start", "stop", "num", "whole"}:
        raise RequestError('range: expected {"start": 0, "stop": 9000, "num": 500} (each optional), and "whole"')
    num = span.get("num", DEFAULT_POINTS)
    if isinstance(num, bool) or not isinstance(num, int) or not 1 <= num <= MAX_POINTS:
        raise RequestError(f"range.num: expected a whole number of points from 1 to {MAX_POINTS:,}, got {num!r:.40}")
    stop = span.get("stop")
    return {
        "start": _finite(span.get("start", 0.0), "range.start"),
        "stop": None if stop is None else _finite(stop, "range.stop"),
        "num": num,
        "whole": span.get("whole", True) is not False,
    }


def _points(sampling: Mapping[str, Any], schedule: Schedule, counter: str) -> np.ndarray:
    """The points of :func:`_sampling`: ``at`` as given, or ``num`` evenly spaced points from
    ``start`` to ``stop``, rounded to whole iterations (repeats dropped) when the counter is
    iterations and ``whole`` is not false."""
    if "at" in sampling:
        return sampling["at"]
    stop = sampling["stop"] if sampling["stop"] is not None else _window(schedule, counter)
    points = np.linspace(sampling["start"], stop, sampling["num"])
    return np.unique(points.round()) if counter == "it" and sampling["whole"] else points


def _finite_or_none(value: float) -> Optional[float]:
    """JSON has no infinity: an open end (a last phase without a ``for``) is null."""
    return float(value) if math.isfinite(value) else None


# -- the routes --------------------------------------------------------------------------------------


def evaluate(request: Mapping[str, Any], registry: Optional[Registry] = None) -> Dict[str, Any]:
    """``POST /api/eval``: the schedule's values at the points asked for, with what the page draws.

    The answer: ``expression`` (canonical form), ``clock`` (what its durations count),
    ``counter`` (the unit of ``points``), ``points``, ``values``, ``phase_starts``,
    ``phase_spans`` (``[start, end]``, end null when open), ``restarts`` (where the value jumps
    up after falling, among these points), ``window`` (the span shown by default),
    ``steps_per_epoch`` and ``notes`` (compile warnings).
    """
    _fields(request)
    sampling = _sampling(request)
    schedule = compile_request(request, registry)
    counter = _counter(request, schedule)
    points = _points(sampling, schedule, counter)
    values = schedule.values(**{UNIT_WORDS[counter]: points})
    order = np.argsort(points, kind="stable")
    return {
        "expression": schedule.expression,
        "clock": UNIT_WORDS[schedule.clock.unit],
        "counter": counter,
        "points": points.tolist(),
        "values": values.tolist(),
        "phase_starts": schedule.phase_starts(counter),
        "phase_spans": [[start, _finite_or_none(end)] for start, end in schedule.phase_spans(counter)],
        "restarts": restarts(points[order], values[order]),
        "window": _window(schedule, counter),
        "steps_per_epoch": schedule.options.steps_per_epoch,
        "notes": list(schedule.notes),
    }


def check(request: Mapping[str, Any], registry: Optional[Registry] = None) -> Dict[str, Any]:
    """``POST /api/check``: what ``lrdsl check --json`` prints for the same schedule and options:
    the canonical form, the clock, the phase starts, the run and the :func:`lrdsl.lint` findings."""
    schedule = compile_request(request, registry)
    findings = lint(schedule)
    errors = any(f.level == "error" for f in findings)
    return {
        "expression": schedule.expression,
        "clock": UNIT_WORDS[schedule.clock.unit],
        "phase_starts": schedule.phase_starts(schedule.clock.unit),
        "total": schedule.options.total,
        "steps_per_epoch": schedule.options.steps_per_epoch,
        "status": "errors" if errors else "warnings" if findings else "ok",
        "findings": [finding.as_dict() for finding in findings],
    }


def _call(spec) -> str:
    """The call the catalog inserts: the node with its required parameters to fill in (a schedule's
    horizon is left out: it defaults to its phase's length)."""
    horizon = spec.horizon if isinstance(spec, ScheduleSpec) else None
    if spec.kind == "function":
        return f"{spec.name}()"
    required = [p.name for p in spec.params if p.default is REQUIRED and p.name != horizon]
    return f"{spec.name}({', '.join(f'{name}=' for name in required)})"


def nodes(registry: Optional[Registry] = None) -> Dict[str, Any]:
    """``GET /api/nodes``: every node (plugins included), as ``lrdsl nodes`` lists them, each with
    ``doc`` (``lrdsl nodes NAME``: formula and parameters) and ``call`` (the text to insert)."""
    registry = registry if registry is not None else default_registry()
    rows: List[Dict[str, Any]] = []
    for row in node_rows(registry):
        spec = registry.get(row["name"])
        rows.append({**row, "doc": node_doc(spec, registry), "call": _call(spec)})
    return {"nodes": rows}


def explain(request: Mapping[str, Any], registry: Optional[Registry] = None) -> Dict[str, Any]:
    """``POST /api/explain``: what ``lrdsl explain --json`` prints (:func:`lrdsl.explain.explain`'s
    ``as_dict()``), and its ``text`` as the command prints it."""
    explanation = explain_schedule(compile_request(request, registry))
    return {**explanation.as_dict(), "text": str(explanation)}


ROUTES = {"eval": evaluate, "check": check, "explain": explain}  # the POST routes, by the name after /api/


def handle(route: str, request: Any) -> Tuple[int, Dict[str, Any]]:
    """``(status, body)`` of a POST route: 200 and the answer, 400 for a bad request, 404 for an
    unknown route, 422 with the CLI's error for a schedule the language refuses."""
    if route not in ROUTES:
        return 404, error_body(RequestError(f"no API route /api/{route}; routes: {route_list()}", 404), 404)
    try:
        return 200, ROUTES[route](request)
    except RequestError as error:
        return error.status, error_body(error, error.status)
    except LRDSLError as error:
        return 422, error_body(error, 422)


def route_list() -> str:
    return ", ".join([f"POST /api/{name}" for name in ROUTES] + ["GET /api/nodes"])
