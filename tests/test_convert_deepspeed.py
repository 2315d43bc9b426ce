"""lrdsl.convert.from_deepspeed, from_config, from_file and ``lrdsl convert FILE.json``.

DeepSpeed cannot be installed here (its PyPI release is a source distribution that builds
against torch), so the reference values come from ``DeepSpeedReference`` below: an independent
re-implementation of the formulas of deepspeed/runtime/lr_schedules.py (DeepSpeed 0.19.8:
WarmupLR, WarmupDecayLR, WarmupCosineLR, OneCycle), written from that source, stepped as
DeepSpeed's engine steps it (the lr set when built, then one ``step()`` after each update).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lrdsl
from convert_support import assert_same, values
from lrdsl.cli import main
from lrdsl.convert import from_config, from_deepspeed, from_file


class DeepSpeedReference:
    """NOT DeepSpeed: a re-implementation of its lr formulas, for reference values (see the module docstring)."""

    def __init__(self, kind: str, params: dict, optimizer_lr: float):
        self.kind, self.p, self.lr0, self.last = kind, params, optimizer_lr, -1
        self.w = max(2, params.get("warmup_num_steps", 1000))

    def _gamma(self, j: int) -> float:  # WarmupLR._get_gamma / the warmup of WarmupCosineLR
        if self.p.get("warmup_type", "log") == "log":
            return (1.0 / math.log(self.w)) * math.log(j + 1)
        return j / self.w

    def lr(self) -> float:
        j, p = self.last, self.p
        if self.kind in ("WarmupLR", "WarmupDecayLR"):
            low = p.get("warmup_min_lr", 0.0)
            high = p.get("warmup_max_lr", self.lr0 if self.kind == "WarmupLR" else 0.001)
            if j < 0:
                return low
            if j < self.w:
                gamma = self._gamma(j)
            elif self.kind == "WarmupLR":
                gamma = 1.0
            else:
                total = p["total_num_steps"]
                gamma = max(0.0, float(total - j) / float(max(1.0, total - self.w)))
            return low + (high - low) * gamma
        if self.kind == "WarmupCosineLR":
            if j < 0:
                return 0.0
            if j < self.w:
                start = p.get("warmup_min_ratio", 0.0)
                return self.lr0 * (start + self._gamma(j) * (1.0 - start))
            floor = p.get("cos_min_ratio", 0.0001)
            progress = min(1.0, (j - self.w + 1) / max(1, p["total_num_steps"] - self.w))
            return self.lr0 * max(0.0, floor + (1.0 - floor) * (1 + math.cos(math.pi * progress)) / 2)
        return self._one_cycle()

    def _one_cycle(self) -> float:
        p = self.p
        low, high = p["cycle_min_lr"], p["cycle_max_lr"]
        first = float(p.get("cycle_first_step_size", 2000))
        second = first if p.get("cycle_second_step_size") is None else float(p["cycle_second_step_size"])
        total, ratio = first + second, first / (first + second)
        if self.last >= total:  # the decay after the cycle
            rate, every = p.get("decay_lr_rate", 0.0), p.get("decay_step_size", 0)
            if rate == 0 or every == 0:
                return low
            return low / (1 + rate * (self.last - total + 1) / every)
        b = self.last + 1
        cycle = math.floor(1 + b / total)
        x = 1.0 + b / total - cycle
        stairs1 = p.get("cycle_first_stair_count", 0)
        stairs2 = p.get("cycle_second_stair_count", stairs1)
        if x <= ratio:
            scale, stairs = x / ratio, stairs1
        else:
            scale, stairs = (x - 1) / (ratio - 1), stairs2
        if stairs > 0:
            position = b % total
            position = position * stairs / first if position <= first else (total - position) * stairs / second
            scale = math.floor(position) / stairs
        return low + (high - low) * scale

    def values(self, steps: int) -> np.ndarray:
        result = []
        for _ in range(steps):
            result.append(self.lr())
            self.last += 1
        return np.array(result)


CASES = [
    ("WarmupLR", {"warmup_min_lr": 0.001, "warmup_max_lr": 0.1, "warmup_num_steps": 10}),
    ("WarmupLR", {"warmup_num_steps": 8, "warmup_type": "linear"}),
    ("WarmupLR", {"warmup_num_steps": 1, "warmup_max_lr": 0.05}),
    ("WarmupDecayLR", {"total_num_steps": 40, "warmup_max_lr": 0.1, "warmup_num_steps": 10}),
    (
        "WarmupDecayLR",
        {
            "total_num_steps": 30,
            "warmup_min_lr": 0.01,
            "warmup_max_lr": 0.1,
            "warmup_num_steps": 5,
            "warmup_type": "linear",
        },
    ),
    ("WarmupDecayLR", {"total_num_steps": 5, "warmup_max_lr": 0.1, "warmup_num_steps": 8}),
    ("WarmupCosineLR", {"total_num_steps": 40, "warmup_num_steps": 10}),
    (
        "WarmupCosineLR",
        {
            "total_num_steps": 30,
            "warmup_num_steps": 6,
            "warmup_min_ratio": 0.1,
            "cos_min_ratio": 0.01,
            "warmup_type": "linear",
        },
    ),
    ("OneCycle", {"cycle_min_lr": 0.01, "cycle_max_lr": 0.1, "cycle_first_step_size": 10}),
    (
        "OneCycle",
        {
            "cycle_min_lr": 0.01,
            "cycle_max_lr": 0.1,
            "cycle_first_step_size": 6,
            "cycle_second_step_size": 9,
            "decay_lr_rate": 0.5,
            "decay_step_size": 4,
        },
    ),
    (
        "OneCycle",
        {
            "cycle_min_lr": 0.001,
            "cycle_max_lr": 0.01,
            "cycle_first_step_size": 8,
            "cycle_first_stair_count": 4,
            "cycle_second_step_size": 12,
            "cycle_second_stair_count": 3,
            "decay_lr_rate": 0.1,
            "decay_step_size": 2,
            "cycle_momentum": True,
        },
    ),
    (
        "OneCycle",
        {
            "cycle_min_lr": 0.01,
            "cycle_max_lr": 0.1,
            "cycle_first_step_size": 5,
            "cycle_first_stair_count": 5,
            "cycle_second_step_size": 0,
        },
    ),
]
BASE = 0.07  # the optimizer's lr


@pytest.mark.parametrize("kind, params", CASES, ids=[f"{kind}-{i}" for i, (kind, _) in enumerate(CASES)])
def test_deepspeed_schedule_converts_value_for_value(kind, params):
    block = {"type": kind, "params": params}
    text = from_deepspeed(block)
    assert from_config(block) == text
    theirs = DeepSpeedReference(kind, params, BASE).values(60)
    assert_same(values(text, BASE, 60), theirs, "torch", f"DeepSpeed {kind} {params}", text)


def test_the_reference_is_not_vacuous():
    """A shifted warmup (DeepSpeed's k − 1) is told apart from the unshifted one."""
    theirs = DeepSpeedReference("WarmupLR", {"warmup_num_steps": 8, "warmup_type": "linear"}, BASE).values(20)
    ours = values("warmup(T=8, base=lr0)", BASE, 20)
    with pytest.raises(AssertionError):
        assert_same(ours, theirs, "torch", "", "")


def test_a_whole_deepspeed_config_holds_the_block():
    block = {"type": "WarmupLR", "params": {"warmup_num_steps": 5}}
    assert from_config({"train_batch_size": 8, "scheduler": block}) == from_deepspeed(block)


@pytest.mark.parametrize(
    "block, message",
    [
        ({"type": "WarmupLr", "params": {}}, r"^type: unknown DeepSpeed scheduler 'WarmupLr'.*did you mean 'WarmupLR'"),
        (
            {"type": "WarmupLR", "params": {"warmup_num_step": 5}},
            r"params.warmup_num_step: unknown key.*'warmup_num_steps'",
        ),
        (
            {"type": "WarmupLR", "params": {"warmup_type": "cos"}},
            r"params.warmup_type: expected one of 'linear', 'log'",
        ),
        ({"type": "WarmupLR", "params": {"warmup_num_steps": 0}}, r"params.warmup_num_steps: expected an integer >= 1"),
        ({"type": "WarmupDecayLR", "params": {}}, r"params.total_num_steps: is required"),
        (
            {"type": "OneCycle", "params": {"cycle_min_lr": [0.1, 0.2], "cycle_max_lr": 1}},
            "one value per parameter group",
        ),
        (
            {"scheduler": {"type": "WarmupLR", "params": {"warmup_max_lr": "high"}}},
            r"scheduler.params.warmup_max_lr: expected a finite number, got 'high' \(str\)",
        ),
    ],
)
def test_bad_blocks_name_the_key(block, message):
    with pytest.raises(lrdsl.LRDSLError, match=message):
        from_config(block)


def test_from_config_refuses_what_it_cannot_tell():
    with pytest.raises(lrdsl.LRDSLError, match="cannot tell which library the keys \\['lr'\\] belong to"):
        from_config({"lr": 0.1})
    with pytest.raises(lrdsl.LRDSLError, match="expected a scheduler configuration.*got \\[1\\]"):
        from_config([1])


def test_from_file_and_the_cli(tmp_path, capsys):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"scheduler": {"type": "WarmupCosineLR", "params": {"total_num_steps": 50}}}))
    text = from_file(path)
    assert main(["convert", str(path)]) == 0
    assert capsys.readouterr().out == text + "\n"
    lrdsl.compile(text, base=0.1)


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"type": "WarmupLR", "params": {"warmup_type": "lin"}}', r"ds.json: params.warmup_type: expected one of"),
        ('{"type": "WarmupLR",\n "params": {,}}', r"ds.json:2:13: not valid JSON"),
        ('{"lr_scheduler_type": "cosin"}', r"ds.json: lr_scheduler_type: unknown HF scheduler type 'cosin'"),
    ],
)
def test_file_errors_name_the_file_and_the_key(tmp_path, capsys, content, message):
    path = tmp_path / "ds.json"
    path.write_text(content)
    with pytest.raises(lrdsl.LRDSLError, match=message):
        from_file(path)
    assert main(["convert", str(path)]) == 2
    assert "error: " in capsys.readouterr().err


def test_a_missing_file_is_an_lrdsl_error(tmp_path):
    with pytest.raises(lrdsl.LRDSLError, match="missing.json: cannot read it"):
        from_file(tmp_path / "missing.json")


def test_the_converters_import_no_peer():
    code = (
        "import sys, lrdsl, lrdsl.convert, lrdsl.cli; "
        "print(sorted({'torch', 'keras', 'transformers', 'timm', 'deepspeed'} & set(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.stdout.strip() == "[]"
