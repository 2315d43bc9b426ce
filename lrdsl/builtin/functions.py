"""Pointwise functions of schedules and numbers (docs/language.md §7)."""

from ..authoring import function_node
from ..exact import ceil_div, floor_div


def _extremum(name: str, ufunc: str, doc: str):
    """A variadic pointwise reduction through ``xp.<ufunc>`` (minimum or maximum)."""

    def evaluate(xp, *values: float):
        combine, result = getattr(xp, ufunc), values[0]
        for value in values[1:]:
            result = combine(result, value)
        return result

    evaluate.__doc__ = doc
    return function_node(name, variadic=True)(evaluate)


minimum = _extremum("min", "minimum", "min(a, b, ...): the smallest argument at each point.")
maximum = _extremum("max", "maximum", "max(a, b, ...): the largest argument at each point.")


@function_node()
def clip(xp, x: float, lo: float, hi: float):
    """clip(x, lo, hi) = min(max(x, lo), hi)."""
    return xp.minimum(xp.maximum(x, lo), hi)


def _math(name: str, doc: str, of_quotient=None):
    """A one-argument function applied pointwise through ``xp.<name>``."""

    def evaluate(xp, x: float):
        return getattr(xp, name)(x)

    evaluate.__doc__ = doc
    return function_node(name, of_quotient=of_quotient)(evaluate)


MATH = [
    _math(
        "floor",
        "floor(x): the largest integer <= x; floor(a / b) is exact for integers a, b on every backend.",
        floor_div,
    ),
    _math(
        "ceil", "ceil(x): the smallest integer >= x; ceil(a / b) is exact for integers a, b on every backend.", ceil_div
    ),
    _math("sqrt", "sqrt(x), x >= 0."),
    _math("log", "log(x): natural logarithm, x > 0."),
    _math("cos", "cos(x), x in radians."),
    _math("sin", "sin(x), x in radians."),
    _math("abs", "abs(x) = |x|."),
]


def lrdsl_nodes():  # the hook: marked @lrdsl.hookimpl when pluggy loads (lrdsl.plugins.load_plugins)
    return [minimum, maximum, clip, *MATH]
