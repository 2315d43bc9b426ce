"""Pointwise functions of schedules and numbers (SPEC §4.4–§4.5)."""

from ..authoring import function_node
from ..plugins import hookimpl


@function_node("min", variadic=True)
def minimum(xp, *values: float):
    """min(a, b, ...): the smallest argument at each point."""
    result = values[0]
    for value in values[1:]:
        result = xp.minimum(result, value)
    return result


@function_node("max", variadic=True)
def maximum(xp, *values: float):
    """max(a, b, ...): the largest argument at each point."""
    result = values[0]
    for value in values[1:]:
        result = xp.maximum(result, value)
    return result


@function_node()
def clip(xp, x: float, lo: float, hi: float):
    """clip(x, lo, hi) = min(max(x, lo), hi)."""
    return xp.minimum(xp.maximum(x, lo), hi)


@function_node()
def floor(xp, x: float):
    """floor(x): the largest integer <= x."""
    return xp.floor(x)


@function_node()
def ceil(xp, x: float):
    """ceil(x): the smallest integer >= x."""
    return xp.ceil(x)


@function_node()
def sqrt(xp, x: float):
    """sqrt(x), x >= 0."""
    return xp.sqrt(x)


@function_node()
def log(xp, x: float):
    """log(x): natural logarithm, x > 0."""
    return xp.log(x)


@function_node()
def cos(xp, x: float):
    """cos(x), x in radians."""
    return xp.cos(x)


@function_node()
def sin(xp, x: float):
    """sin(x), x in radians."""
    return xp.sin(x)


@function_node("abs")
def abs_(xp, x: float):
    """abs(x) = |x|."""
    return xp.abs(x)


@hookimpl
def lrdsl_nodes():
    return [minimum, maximum, clip, floor, ceil, sqrt, log, cos, sin, abs_]
