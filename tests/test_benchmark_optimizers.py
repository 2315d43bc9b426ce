"""The optimizer benchmark runs and reports every row (quick sizes). Speed is not asserted: a machine's
load decides timings; the benchmark prints each ratio against its goal."""

import importlib.util
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_optimizers.py"


def test_optimizer_benchmark_reports_every_row(capsys):
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("bench_optimizers", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--quick"])
    assert len(rows) == 2 * len(module.OPTIMIZERS) + 2
    for row in rows:
        assert set(row) == {"what", "ratio", "goal", "note"}
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0 and row["goal"] > 0
    out = capsys.readouterr().out
    assert all(row["what"] in out for row in rows)
