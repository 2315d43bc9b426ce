"""lrdsl.convert.from_transformers: every HF schedule type of docs/equivalence.md (and of the
installed SchedulerType), built live with transformers.get_scheduler and compared at every step."""

from __future__ import annotations

import ast

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import lrdsl
from convert_support import after_reports, assert_same, torch_reports, torch_steps, values
from lrdsl.convert import from_config, from_transformers
from parity import peers
from parity.table import load_cases

ROWS = [case for case in load_cases() if case.library == "hf" and not case.differs]
MORE = [
    ("cosine_with_restarts", 4, 40, {"num_cycles": 2.5}),
    ("linear", 0, 30, {}),
    ("inverse_sqrt", 0, None, {}),
    ("cosine_with_min_lr", 0, 30, {"min_lr_rate": 0.05, "num_cycles": 1.0}),
    ("cosine_warmup_with_min_lr", 1, 30, {"min_lr": 0.002, "warmup_lr_rate": 0.3}),
    ("cosine_warmup_with_min_lr", 0, 30, {"min_lr_rate": 0.1}),
    ("warmup_stable_decay", 4, None, {"num_stable_steps": 6, "num_decay_steps": 8, "decay_type": "linear"}),
    ("warmup_stable_decay", 0, None, {"num_stable_steps": 3, "num_decay_steps": 10, "num_cycles": 1.0}),
]


def _arguments(text: str):
    """name, keyword arguments of a documented ``get_scheduler("name", ...)`` call."""
    node = ast.parse(text, mode="eval").body
    return ast.literal_eval(node.args[0]), {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords}


def _check(name, kwargs, base, steps=None, metrics=None):
    optimizer = peers._optimizer(base)
    scheduler = transformers.get_scheduler(name, optimizer, **kwargs)
    converted = from_transformers(
        name,
        kwargs.get("num_warmup_steps"),
        kwargs.get("num_training_steps"),
        **(kwargs.get("scheduler_specific_kwargs") or {}),
    )
    if metrics is not None:
        theirs = torch_reports(optimizer, scheduler, metrics)
        assert_same(after_reports(converted, base, metrics), theirs, "hf", name, converted)
    else:
        assert_same(values(converted, base, steps), torch_steps(optimizer, scheduler, steps), "hf", name, converted)
    return converted


@pytest.mark.parametrize("case", ROWS, ids=[case.id for case in ROWS])
def test_documented_schedule_converts_value_for_value(case):
    name, kwargs = _arguments(case.peer)
    if "metrics" in case.run:
        _check(name, kwargs, case.run["base"], metrics=peers.metric_series(case.run["metrics"]))
    else:
        _check(name, kwargs, case.run["base"], steps=case.run["steps"] + 30)


@pytest.mark.parametrize("name, warmup, training, specific", MORE, ids=[f"{m[0]}-{i}" for i, m in enumerate(MORE)])
def test_more_schedules_convert_value_for_value(name, warmup, training, specific):
    kwargs = {"num_warmup_steps": warmup, "num_training_steps": training, "scheduler_specific_kwargs": specific}
    _check(name, kwargs, 0.1, steps=70)


def test_every_installed_scheduler_type_converts_or_says_why():
    from transformers.trainer_utils import SchedulerType

    for member in SchedulerType:
        try:
            text = from_transformers(
                member,
                num_warmup_steps=2,
                num_training_steps=20,
                **({"min_lr_rate": 0.1} if "min_lr" in member.value else {}),
                **({"num_decay_steps": 5} if member.value == "warmup_stable_decay" else {}),
            )
        except lrdsl.LRDSLError as error:
            assert member.value == "greedy", error
            assert "no lrdsl equivalent" in str(error)
        else:
            lrdsl.compile(text, base=0.1)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(lrdsl.LRDSLError, match="unknown HF scheduler type 'cosin'.*did you mean 'cosine'"):
        from_transformers("cosin", 5, 50)
    with pytest.raises(lrdsl.LRDSLError, match="'linear' needs num_training_steps"):
        from_transformers("linear", num_warmup_steps=5)
    with pytest.raises(lrdsl.LRDSLError, match="scheduler_specific_kwargs.num_cycle: unknown key.*'num_cycles'"):
        from_transformers("cosine", 5, 50, num_cycle=2)
    with pytest.raises(lrdsl.LRDSLError, match="exactly one of min_lr and min_lr_rate"):
        from_transformers("cosine_with_min_lr", 5, 50)


def test_training_arguments_json_form():
    data = {"lr_scheduler_type": "cosine", "warmup_steps": 5, "max_steps": 50, "lr_scheduler_kwargs": {"num_cycles": 1}}
    assert from_config(data) == from_transformers("cosine", 5, 50, num_cycles=1)
    with pytest.raises(lrdsl.LRDSLError, match="lr_scheduler_kwargs.num_cycls: unknown key"):
        from_config(dict(data, lr_scheduler_kwargs={"num_cycls": 1}))
    with pytest.raises(lrdsl.LRDSLError, match="give num_warmup_steps or warmup_steps, not both"):
        from_config(dict(data, num_warmup_steps=5))
