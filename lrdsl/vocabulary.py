"""The words of the language, in one place: keywords, identifiers and time units.

Every module that needs to know whether a name is taken by the language reads it from here
(the parser, the registry that refuses such node names, the compiler and the clock).
"""

KEYWORDS = ("then", "for", "true", "false", "and", "or", "not")
"""Words of the grammar; they cannot name anything (docs/language.md §2)."""

IDENTIFIERS = ("it", "ep", "tok", "sp", "progress", "base", "lr0", "pi", "e", "inf")
"""Names with a meaning in every expression (docs/language.md §8); nodes cannot take them."""

DISTRIBUTIONS = ("choice", "uniform", "loguniform", "intuniform")
"""The calls that make a string a search template (:mod:`lrdsl.templates`, :mod:`lrdsl.search`); nodes cannot
take them."""

RECURRENCE_IDENTIFIERS = ("lr", "k")
"""Names bound only inside the update of ``recur(...)`` (docs/language.md §7.4): the value before
the tick and the tick's number; elsewhere they are a compile error."""

FORMS = ("where", "recur")
"""Calls the compiler treats itself, since they bind names or choose what to evaluate
(docs/language.md §7.3, §7.4); no node may take these names."""

RESERVED = KEYWORDS + IDENTIFIERS + RECURRENCE_IDENTIFIERS + FORMS + DISTRIBUTIONS

UNIT_WORDS = {"it": "iterations", "ep": "epochs", "tok": "tokens", "sp": "samples"}
"""The counters a schedule can run on, by unit suffix (``500it``, ``5ep``, ``2e8tok``, ``1e6sp``);
``%`` is a share of ``total``."""
