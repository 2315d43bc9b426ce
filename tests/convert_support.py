"""Helpers of the converter tests (tests/test_convert_*.py): a peer built from a call's text, its
values, and the comparison with the converted string compiled by lrdsl.

The peers are built and run with the parity suite's helpers (tests/parity/peers.py), and compared
with its tolerance (``mismatches``).
"""

from __future__ import annotations

import warnings

import numpy as np

import lrdsl
from parity import peers


def build_torch_like(text: str, base: float, namespace_of):
    """(optimizer, scheduler) for a call such as ``StepLR(step_size=3)`` on an SGD with ``lr=base``."""
    optimizer = peers._optimizer(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optimizer, peers.build_text(text, namespace_of(optimizer))


def torch_steps(optimizer, scheduler, steps: int) -> np.ndarray:
    """The lr of updates 0..steps−1 (the lr before each ``scheduler.step()``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(peers._step_torch(scheduler, optimizer, steps))


def torch_reports(optimizer, scheduler, metrics) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array(peers._report_torch(scheduler, optimizer, metrics))


def values(text: str, base: float, steps: int) -> np.ndarray:
    """lrdsl's values of ``text`` at 0..steps−1; the scalar and vectorised evaluators must agree."""
    sched = lrdsl.compile(text, base=base)
    points = np.arange(steps)
    scalar = np.array([sched(int(i)) for i in points])
    np.testing.assert_allclose(sched.values(points), scalar, rtol=1e-12, atol=1e-15)
    return scalar


def after_reports(text: str, base: float, metrics) -> np.ndarray:
    sched = lrdsl.compile(text, base=base)
    result = []
    for k, metric in enumerate(metrics):
        sched.report(metric)
        result.append(sched(k))
    return np.array(result)


def assert_same(ours: np.ndarray, theirs: np.ndarray, library: str, what: str, text: str) -> None:
    assert ours.shape == theirs.shape
    bad = peers.mismatches(ours, theirs, library)
    assert bad.size == 0, (
        f"{what}\n  converted to {text!r}\n  differs at {bad[:8].tolist()}: "
        f"peer {theirs[bad[:8]].tolist()} lrdsl {ours[bad[:8]].tolist()}"
    )
