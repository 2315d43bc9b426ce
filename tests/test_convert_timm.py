"""lrdsl.convert.from_timm: timm's schedulers (loaded without torchvision, as tests/parity does),
built live, converted and compared with ``step(t)`` at every t; with warmups and cycles."""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
if importlib.util.find_spec("timm") is None:  # not imported: .peers loads its scheduler modules one by one
    pytest.skip("could not find 'timm'", allow_module_level=True)

import lrdsl
from convert_support import after_reports, assert_same, build_torch_like, values
from lrdsl.convert import from_timm
from parity import peers
from parity.table import load_cases

CONVERTED = (
    "CosineLRScheduler",
    "StepLRScheduler",
    "MultiStepLRScheduler",
    "PolyLRScheduler",
    "TanhLRScheduler",
    "PlateauLRScheduler",
)
ROWS = [
    case for case in load_cases() if case.library == "timm" and not case.differs and case.peer.startswith(CONVERTED)
]
MORE = [
    "CosineLRScheduler(t_initial=20, lr_min=0.002, warmup_t=4, warmup_lr_init=0.01)",
    "CosineLRScheduler(t_initial=9, lr_min=0.001, cycle_decay=0.5, cycle_limit=3, warmup_t=2, warmup_prefix=True)",
    "TanhLRScheduler(t_initial=30, warmup_t=5, warmup_lr_init=0.001, warmup_prefix=True)",
    "TanhLRScheduler(t_initial=30, lb=-5.0, ub=4.0, lr_min=0.002, warmup_t=5, warmup_lr_init=0.001)",
    "PolyLRScheduler(t_initial=30, power=1.5, lr_min=0.001, warmup_t=4, warmup_lr_init=0.02)",
    "StepLRScheduler(decay_t=4, decay_rate=0.5, warmup_t=3, warmup_lr_init=0.001, warmup_prefix=False)",
    "MultiStepLRScheduler(decay_t=[2, 6, 12], decay_rate=0.5, warmup_t=4, warmup_lr_init=0.001)",
    "MultiStepLRScheduler(decay_t=[3, 6, 12], decay_rate=0.5, warmup_t=4, warmup_lr_init=0.001, warmup_prefix=False)",
]


def _stepped(scheduler, optimizer, steps: int) -> np.ndarray:
    result = []
    for t in range(steps):
        scheduler.step(t)
        result.append(peers._lr(optimizer))
    return np.array(result)


def _build(text: str, base: float):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PlateauLRScheduler's deprecation notice
        return build_torch_like(text, base, peers._timm_namespace)


def _check(text: str, base: float, steps: int) -> str:
    optimizer, scheduler = _build(text, base)
    converted = from_timm(scheduler)
    assert_same(values(converted, base, steps), _stepped(scheduler, optimizer, steps), "timm", text, converted)
    return converted


@pytest.mark.parametrize("case", ROWS, ids=[case.id for case in ROWS])
def test_documented_scheduler_converts_value_for_value(case):
    base = case.run["base"]
    if "metrics" not in case.run:
        _check(case.peer, base, case.run["steps"] + 20)
        return
    optimizer, scheduler = _build(case.peer, base)
    converted = from_timm(scheduler)
    metrics, theirs = peers.metric_series(case.run["metrics"]), []
    for epoch, metric in enumerate(metrics, start=1):
        scheduler.step(epoch, metric)
        theirs.append(peers._lr(optimizer))
    assert_same(after_reports(converted, base, metrics), np.array(theirs), "timm", case.peer, converted)


@pytest.mark.parametrize("text", MORE)
def test_more_schedulers_convert_value_for_value(text):
    _check(text, 0.1, 70)


@pytest.mark.parametrize(
    "text, message",
    [
        ("CosineLRScheduler(t_initial=10, noise_range_t=5)", "random noise"),
        ("CosineLRScheduler(t_initial=10, k_decay=2.0)", "k_decay != 1"),
        ("PolyLRScheduler(t_initial=10, cycle_limit=2)", "one cycle only"),
        ("CosineLRScheduler(t_initial=10, cycle_limit=2, warmup_t=3)", "cycles and warmup_prefix=False"),
        ("PlateauLRScheduler(warmup_t=3)", "with warmup_t is not converted"),
    ],
)
def test_inexpressible_options_are_refused_with_the_reason(text, message):
    _, scheduler = _build(text, 0.1)
    with pytest.raises(lrdsl.LRDSLError, match=message):
        from_timm(scheduler)


def test_an_unknown_scheduler_lists_the_known_ones():
    with pytest.raises(lrdsl.LRDSLError, match="cannot convert str; the timm schedulers lrdsl converts are"):
        from_timm("cosine")
