"""Keras ``ReduceLROnPlateau`` and optax ``contrib.reduce_on_plateau`` against ``plateau(...)``.

docs/equivalence.md gives the mapping from each peer's parameters to a ``plateau`` string;
:func:`keras_plateau` and :func:`optax_plateau` write it down. Over many combinations of a
metric series and the peer's parameters, the string must reproduce the real Keras callback
(on a compiled model) and the real optax transformation at every report, both computed live
by :mod:`.peers`. The naive mapping (same patience and cooldown) must fail, so the
comparison is not vacuous.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Dict, List

import numpy as np
import pytest

for peer_library in ("keras", "optax"):
    pytest.importorskip(peer_library)

import lrdsl

from .peers import metric_series, mismatches, peer_values
from .test_parity import after_reports

BASE = 0.1


def _plateau(factor, patience, threshold, threshold_mode, mode, cooldown, floor) -> str:
    """A ``plateau`` string with every parameter spelled out (and no eps: neither peer has one)."""
    return (
        f'plateau(factor={factor}, patience={patience}, threshold={threshold}, threshold_mode="{threshold_mode}", '
        f'mode="{mode}", cooldown={cooldown}, min={floor}, eps=0)'
    )


def keras_plateau(factor=0.1, patience=10, mode="min", min_delta=1e-4, cooldown=0, min_lr=0.0, naive=False) -> str:
    """The documented string for ``ReduceLROnPlateau(factor, patience, mode, min_delta, cooldown, min_lr)``.

    Keras cuts when ``wait >= patience`` (torch: ``> patience``) and counts the report that ends
    its cooldown (torch skips it): one less of each, never below 0. No eps. ``naive=True``
    gives the same-parameter string the documentation used to give.
    """
    shift = 0 if naive else 1
    return _plateau(factor, max(patience - shift, 0), abs(min_delta), "abs", mode, max(cooldown - shift, 0), min_lr)


def optax_plateau(
    factor=0.1, patience=10, rtol=1e-4, atol=0.0, cooldown=0, min_scale=0.0, mode="min", naive=False
) -> str:
    """The documented string for ``reduce_on_plateau(factor, patience, rtol, atol, cooldown, min_scale)``.

    optax cuts when its count *equals* ``patience`` (so ``patience >= 1``: one less here), with
    one of rtol and atol zero. ``mode="max"`` is for a metric that optax is fed negated (atol
    only). ``naive=True`` keeps optax's patience.
    """
    assert patience >= 1 and (rtol == 0 or atol == 0) and (mode == "min" or rtol == 0)
    threshold, kind = (rtol, "rel") if atol == 0 else (atol, "abs")
    return _plateau(factor, patience - (0 if naive else 1), threshold, kind, mode, cooldown, f"{min_scale} * lr0")


# (metric series, the peer's keyword arguments)
KERAS = [
    ("bumpy", dict(factor=0.5, patience=3, cooldown=2)),
    ("bumpy", dict(factor=0.5, patience=0, min_delta=0.0)),
    ("bumpy", dict(factor=0.3, patience=1, min_delta=0.001)),
    ("bumpy", dict(factor=0.5, patience=1, cooldown=1, min_delta=0.0)),
    ("bumpy", dict(factor=0.9, patience=2, cooldown=3, min_lr=0.05)),
    ("flat", dict(factor=0.5, patience=0, cooldown=1)),
    ("flat", dict(factor=0.1, patience=2, cooldown=3, min_lr=0.001)),
    ("noisy", dict(factor=0.5, patience=2, min_delta=0.01)),
    ("noisy", dict(factor=0.7, patience=4, cooldown=2, min_delta=0.0, min_lr=0.02)),
    ("noisy", dict(factor=0.2, patience=1, cooldown=5, min_delta=0.005)),
    ("bumpy", dict(factor=0.5, patience=6, min_delta=0.0)),
    ("flat", dict()),
    ("torch_abs", dict(patience=5, min_delta=0.1)),
    ("accuracy", dict(mode="max", factor=0.5, patience=2, cooldown=1, min_delta=0.001)),
    ("accuracy", dict(mode="max", factor=0.3, patience=0, cooldown=2, min_delta=0.0)),
    ("accuracy", dict(mode="max", factor=0.5, patience=3, min_delta=0.002, min_lr=0.01)),
    ("rising", dict(mode="max", factor=0.5, patience=1, min_delta=0.0)),
    ("rising", dict(mode="max", factor=0.1, patience=2, cooldown=2, min_delta=0.005, min_lr=0.001)),
]

OPTAX = [
    ("bumpy", dict(factor=0.5, patience=3, cooldown=2)),
    ("bumpy", dict(factor=0.5, patience=1, rtol=0.0, atol=0.001)),
    ("bumpy", dict(factor=0.3, patience=2, cooldown=1, rtol=0.01)),
    ("bumpy", dict(factor=0.9, patience=1, cooldown=4, min_scale=0.5)),
    ("flat", dict(factor=0.5, patience=1)),
    ("flat", dict(factor=0.1, patience=2, cooldown=3, min_scale=0.01)),
    ("noisy", dict(factor=0.5, patience=2, rtol=0.0, atol=0.01)),
    ("noisy", dict(factor=0.7, patience=4, cooldown=2, rtol=0.05, min_scale=0.2)),
    ("noisy", dict(factor=0.2, patience=1, cooldown=5, rtol=0.0, atol=0.005)),
    ("bumpy", dict(factor=0.5, patience=6, rtol=0.001)),
    ("flat", dict()),
    ("torch_abs", dict(patience=5, rtol=0.0, atol=0.1)),
    ("accuracy", dict(mode="max", factor=0.5, patience=2, cooldown=1, rtol=0.0, atol=0.001)),
    ("accuracy", dict(mode="max", factor=0.3, patience=1, cooldown=2, rtol=0.0, atol=1e-6)),
    ("rising", dict(mode="max", factor=0.5, patience=3, rtol=0.0, atol=0.002, min_scale=0.1)),
    ("rising", dict(mode="max", factor=0.1, patience=2, cooldown=2, rtol=0.0, atol=0.005)),
]

MAPPINGS: Dict[str, Callable[..., str]] = {"keras": keras_plateau, "optax": optax_plateau}
NAIVE = {library: functools.partial(mapping, naive=True) for library, mapping in MAPPINGS.items()}
COMBOS = [
    (library, series, kwargs) for library, table in (("keras", KERAS), ("optax", OPTAX)) for series, kwargs in table
]


def peer_call(library: str, kwargs: Dict) -> str:
    """The peer's call text (as in a documentation row); optax minimises, so ``mode`` is not its own."""
    name = "ReduceLROnPlateau" if library == "keras" else "reduce_on_plateau"
    arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items() if library == "keras" or key != "mode")
    return f"{name}({arguments})"


def peer_lrs(library: str, series: str, kwargs: Dict) -> np.ndarray:
    """The real peer's lr after each report; optax is fed the negated metric in mode "max"."""
    metrics = metric_series(series)
    if library == "optax" and kwargs.get("mode") == "max":
        metrics = [-metric for metric in metrics]
    return peer_values(library, peer_call(library, kwargs), {"base": BASE}, metrics)


def lrdsl_lrs(text: str, series: str) -> np.ndarray:
    return np.array(after_reports(lrdsl.compile(text, base=BASE), metric_series(series)))


def differing_reports(mapping: Callable[..., str], combo, theirs: np.ndarray) -> List[int]:
    """The reports after which ``mapping``'s string and the peer's lrs ``theirs`` differ."""
    library, series, kwargs = combo
    return mismatches(lrdsl_lrs(mapping(**kwargs), series), theirs, library).tolist()


def combo_id(combo) -> str:
    library, series, kwargs = combo
    return f"{library}-{series}-" + "-".join(f"{key}={value}" for key, value in kwargs.items())


@pytest.mark.parametrize("combo", COMBOS, ids=[combo_id(combo) for combo in COMBOS])
def test_documented_mapping_reproduces_the_peer_at_every_report(combo):
    library, series, kwargs = combo
    theirs = peer_lrs(*combo)
    assert np.unique(theirs).size >= 3, "the combination should cut the lr at least twice"
    bad = differing_reports(MAPPINGS[library], combo, theirs)
    assert not bad, f"{peer_call(library, kwargs)} on {series!r} vs {MAPPINGS[library](**kwargs)}: {bad}"


@pytest.mark.parametrize("library", ["keras", "optax"])
def test_naive_mapping_fails(library):
    """The same-parameter string differs wherever it is a different string."""
    combos = [
        combo for combo in COMBOS if combo[0] == library and NAIVE[library](**combo[2]) != MAPPINGS[library](**combo[2])
    ]
    assert len(combos) >= 12
    matching = [combo_id(combo) for combo in combos if not differing_reports(NAIVE[library], combo, peer_lrs(*combo))]
    assert not matching, f"the naive {library} mapping matches on {matching}"


@pytest.mark.parametrize("size", [2, 3])
def test_optax_accumulation_is_one_report_of_the_mean_every_size_values(size):
    """``accumulation_size=k`` is no plateau parameter: report the mean of every k values, once."""
    kwargs = dict(factor=0.5, patience=1, cooldown=1, rtol=0.0, atol=0.01)
    metrics = metric_series("bumpy")
    theirs = peer_values("optax", peer_call("optax", {**kwargs, "accumulation_size": size}), {"base": BASE}, metrics)
    sched, ours = lrdsl.compile(optax_plateau(**kwargs), base=BASE), []
    for k in range(len(metrics)):
        if (k + 1) % size == 0:
            sched.report(float(np.mean(metrics[k + 1 - size : k + 1])))
        ours.append(sched(k))
    assert np.unique(theirs).size >= 3
    assert mismatches(np.array(ours), theirs, "optax").size == 0


def test_optax_patience_0_cuts_on_improvements_only():
    """optax cuts when its count *equals* patience: with 0, at every improvement (not expressible)."""
    atol, best, improvements = 0.001, math.inf, []
    for k, metric in enumerate(metric_series("noisy")):
        if metric < best - atol:
            best = metric
            improvements.append(k)
    theirs = peer_lrs("optax", "noisy", dict(factor=0.5, patience=0, rtol=0.0, atol=atol))
    cuts = np.flatnonzero(np.diff(np.r_[BASE, theirs]) < 0).tolist()
    assert cuts == improvements and len(cuts) > 10
