"""Every error lrdsl raises on bad input is an :class:`LRDSLError` (docs/language.md §12).

The subclasses say which stage refused the input; each message says where, what was
expected, and (for names) the closest valid ones.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class LRDSLError(ValueError):
    """Base of every error the library raises on bad input. ``line`` and ``column`` (1-based) are
    where in the expression it is, when known; ``pointed`` says the message shows that spot."""

    line: int | None = None
    column: int | None = None
    pointed: bool = False
    bare: str | None = None  # the message without the caret lines, once pointed


class LRDSLSyntaxError(LRDSLError):
    """The text is not an lrdsl expression; the message shows the line, a caret and what was expected."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.line = line
        self.column = column
        self.pointed = line is not None


class UnknownNameError(LRDSLError):
    """An unknown node, parameter, identifier or ``$variable``."""


class ParameterError(LRDSLError):
    """A parameter has the wrong type or a value outside its allowed range."""


class UnitError(LRDSLError):
    """A duration needs a conversion the host did not make possible (``steps_per_epoch``, ``total``)."""


class PhaseError(LRDSLError):
    """A phase whose length cannot be known, or a horizon left unknown."""


class EvaluationError(LRDSLError):
    """A schedule produced NaN, an infinity or a negative value, or was asked for a bad time."""


class ArrayError(LRDSLError):
    """Arrays given to an optimizer do not fit: parameters, gradients (count, shape, dtype, NaN) or saved state."""


class TemplateError(LRDSLError):
    """A search template (a string with ``choice``/``uniform``/... in it) where a concrete schedule is
    needed, or a template that is malformed (bounds, choices, names); see :mod:`lrdsl.search`."""


class PluginError(LRDSLError):
    """A plugin declared something invalid, or two sources provide the same name."""


class ScheduleChangeWarning(UserWarning):
    """A resumed schedule differs from the checkpoint's and the ``on_change`` policy went ahead:
    the warning says what changed and what it does to the learning rate."""


PEER_WORDS = {
    "size": "s",
    "step_size": "s",
    "steps": "T",
    "t_max": "T",
    "total_steps": "T",
    "total_iters": "T",
    "decay_steps": "T",
    "num_training_steps": "T",
    "warmup_steps": "T",
    "period": "T",
    "eta_min": "end",
    "min_lr": "end",
    "final_lr": "end",
    "alpha": "end",
    "lr": "base",
    "max_lr": "base",
    "initial_lr": "base",
    "learning_rate": "base",
    "decay_rate": "rate",
    "milestones": "at",
    "boundaries": "at",
    "t_mult": "mult",
    "pct_start": "pct",
}
"""What the peers (torch, Keras, HF, timm) call a parameter, and the lrdsl name of the same thing:
``step(size=10)`` suggests ``s``, ``cosine(t_max=100)`` suggests ``T``."""


def closest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """The candidates closest to ``name``, best first: the same name in another case (``t`` for
    ``T``, ``ADAM`` for ``adam``), the lrdsl name of a peer's word (:data:`PEER_WORDS`), then the
    nearest in spelling."""
    strings = sorted({c for c in candidates if isinstance(c, str)})
    text = str(name)
    first = [c for c in strings if c.lower() == text.lower() and c != text]
    meant = PEER_WORDS.get(text.lower())
    first += [meant] if meant in strings and meant not in first else []
    spelled = difflib.get_close_matches(text, strings, n=limit, cutoff=0.5)
    return (first + [c for c in spelled if c not in first])[:limit]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``"; did you mean 'a' or 'b'?"`` suffix, or '' when nothing is close."""
    near = closest(name, candidates)
    if not near:
        return ""
    quoted = [repr(n) for n in near]
    return "; did you mean " + (", ".join(quoted[:-1]) + " or " if len(quoted) > 1 else "") + quoted[-1] + "?"
