"""lrdsl.convert.from_torch: every torch scheduler of docs/equivalence.md, built live, converted and
compared at every step (past the documented range too), plus the refusals."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import lrdsl
from convert_support import after_reports, assert_same, build_torch_like, torch_reports, torch_steps, values
from lrdsl.convert import from_torch
from parity import peers
from parity.table import load_cases

EXTRA_STEPS = 25  # beyond the documentation's range: periodic cosines, held ends, later phases
ROWS = [
    case
    for case in load_cases()
    if case.library == "torch" and not case.differs and not case.peer.startswith(("LambdaLR", "MultiplicativeLR"))
]
MORE = [  # cases the documentation's rows leave out
    ("StepLR(step_size=4, gamma=0.5)", 0.3, 30),
    ("LinearLR(start_factor=0.25, end_factor=0.5, total_iters=6)", 0.1, 20),
    ("ConstantLR(factor=0.5, total_iters=0)", 0.1, 5),
    ("CyclicLR(base_lr=0.001, max_lr=0.01, step_size_up=7, step_size_down=3, mode='triangular2')", 0.01, 60),
    ("OneCycleLR(max_lr=0.3, total_steps=40, pct_start=0.35, div_factor=7.0, final_div_factor=300.0)", 0.3, 40),
    (
        "SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=20, eta_min=0.01),"
        " StepLR(step_size=3, gamma=0.5)], milestones=[5, 30])",
        0.1,
        50,
    ),
    (
        "SequentialLR(schedulers=[ConstantLR(factor=0.2, total_iters=10), PolynomialLR(total_iters=10, power=2.0)],"
        " milestones=[4])",
        0.1,
        30,
    ),
    (
        "SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=5), CyclicLR(base_lr=0.01, max_lr=0.1,"
        " step_size_up=3)], milestones=[5])",
        0.1,
        30,
    ),
    ("ChainedScheduler(schedulers=[PolynomialLR(total_iters=10, power=2.0), StepLR(step_size=3, gamma=0.5)])", 0.1, 20),
]


def _steps(case) -> int:
    return case.run["steps"] + (0 if "OneCycleLR" in case.peer else EXTRA_STEPS)


def check(text: str, base: float, steps: int) -> str:
    optimizer, scheduler = build_torch_like(text, base, peers._torch_namespace)
    converted = from_torch(scheduler)
    assert_same(values(converted, base, steps), torch_steps(optimizer, scheduler, steps), "torch", text, converted)
    return converted


@pytest.mark.parametrize("case", ROWS, ids=[case.id for case in ROWS])
def test_documented_scheduler_converts_value_for_value(case):
    base = case.run["base"]
    if "metrics" in case.run:
        metrics = peers.metric_series(case.run["metrics"])
        optimizer, scheduler = build_torch_like(case.peer, base, peers._torch_namespace)
        converted = from_torch(scheduler)
        theirs = torch_reports(optimizer, scheduler, metrics)
        assert_same(after_reports(converted, base, metrics), theirs, "torch", case.peer, converted)
    else:
        check(case.peer, base, _steps(case))


@pytest.mark.parametrize("text, base, steps", MORE, ids=[text[:60] for text, _, _ in MORE])
def test_more_schedulers_convert_value_for_value(text, base, steps):
    check(text, base, steps)


def test_a_sequence_is_written_flat_without_unreachable_phases():
    text = check(
        "SequentialLR(schedulers=[ConstantLR(factor=0.1, total_iters=5), ExponentialLR(gamma=0.9)], milestones=[3])",
        0.05,
        20,
    )
    assert text == "0.1 * lr0 for 3 then exp(s=1, rate=0.9, base=lr0)"
    assert lrdsl.compile(text).notes == ()


def _two_groups(lrs):
    parameters = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(parameters, lrs)])


def test_groups_with_the_same_factors_share_one_string():
    optimizer = _two_groups([0.1, 0.02])
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    text = from_torch(scheduler)
    theirs = [[], []]
    for _ in range(12):
        for group, lrs in zip(optimizer.param_groups, theirs):
            lrs.append(group["lr"])
        optimizer.step()
        scheduler.step()
    for base, lrs in zip((0.1, 0.02), theirs):
        assert_same(values(text, base, 12), torch.tensor(lrs, dtype=torch.float64).numpy(), "torch", "StepLR", text)


def test_groups_that_need_different_strings_are_refused_or_given_one_by_one():
    optimizer = _two_groups([0.1, 0.1])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[0.1, 0.5], total_steps=20)
    with pytest.raises(lrdsl.LRDSLError, match="parameter groups need different strings.*group=i"):
        from_torch(scheduler)
    assert "base=0.5" in from_torch(scheduler, group=1)
    with pytest.raises(lrdsl.LRDSLError, match="group must be an index from 0 to 1, got 2"):
        from_torch(scheduler, group=2)


@pytest.mark.parametrize("name", ["LambdaLR", "MultiplicativeLR"])
def test_a_python_function_is_refused_with_what_to_write(name):
    optimizer = peers._optimizer(0.1)
    scheduler = getattr(torch.optim.lr_scheduler, name)(optimizer, lr_lambda=lambda e: 0.9)
    with pytest.raises(lrdsl.LRDSLError, match=rf"cannot convert {name}: .*arbitrary Python function.*floor\(it / 7\)"):
        from_torch(scheduler)


def test_refusals_name_the_reason():
    optimizer = peers._optimizer(0.1)
    lr_scheduler = torch.optim.lr_scheduler
    cyclic = lr_scheduler.CyclicLR(optimizer, 0.01, 0.1, scale_fn=lambda x: 1.0)
    with pytest.raises(lrdsl.LRDSLError, match="custom scale_fn"):
        from_torch(cyclic)
    optimizer = peers._optimizer(0.1)
    chain = lr_scheduler.ChainedScheduler([lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=10)], optimizer)
    with pytest.raises(lrdsl.LRDSLError, match="OneCycleLR inside a ChainedScheduler sets the lr"):
        from_torch(chain)
    with pytest.raises(lrdsl.LRDSLError, match="expected a torch.optim.lr_scheduler scheduler, got str"):
        from_torch("StepLR")


def test_an_unknown_scheduler_lists_the_known_ones():
    class StepLr(torch.optim.lr_scheduler.StepLR):
        pass

    scheduler = StepLr(peers._optimizer(0.1), step_size=2)
    with pytest.raises(lrdsl.LRDSLError, match="cannot convert StepLr; .*did you mean 'StepLR'"):
        from_torch(scheduler)


def test_the_readme_example_prints_what_it_says(tmp_path, capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Converting from PyTorch", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    path = tmp_path / "readme_convert.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("readme_convert", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    printed = capsys.readouterr().out.strip()
    assert printed == re.search(r"print\(text\)  # (.*)", code).group(1)
    check(
        "SequentialLR(schedulers=[LinearLR(start_factor=0.1, total_iters=5), CosineAnnealingLR(T_max=95)], "
        "milestones=[5])",
        0.1,
        150,
    )
