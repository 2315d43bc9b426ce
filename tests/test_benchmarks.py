"""The core benchmark runs and reports every ratio (quick sizes). Speed itself is not asserted: a
machine's load decides timings; the benchmark prints each ratio against its target."""

import importlib.util
import math
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_core.py"


def test_core_benchmark_reports_ratios(capsys):
    spec = importlib.util.spec_from_file_location("bench_core", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--quick"])
    assert set(results) == {
        "scalar_vs_hand_written_python",
        "values_vs_hand_written_numpy",
        "values_unsorted_vs_hand_written_numpy",
        "parse_compile_cached_vs_ast_parse",
        "parse_compile_uncached_vs_ast_parse",
    }
    assert all(math.isfinite(r) and r > 0 for r in results.values())
    out = capsys.readouterr().out
    assert all(f"target <= {target:g}x: " in out for target in module.TARGETS.values())


def test_the_speed_table_runs_every_row(capsys):
    """benchmarks/run.py --quick measures every row of the speed table and writes nothing."""
    pytest.importorskip("torch", reason="the speed table's torch and optimizer rows measure against torch")
    spec = importlib.util.spec_from_file_location("bench_run", BENCH.parent / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = (BENCH.parent / "results.md").stat().st_mtime if (BENCH.parent / "results.md").exists() else None
    rows = module.main(["--quick"])
    whats = [row["what"] for row in rows]
    assert len(whats) == len(set(whats)) and len(rows) >= 30
    for needle in (
        "sched(i), onecycle",
        "ScheduleLR.step()",
        "values() of sgdr",
        "lion",
        "import lrdsl",
        "cold compile",
    ):
        assert any(needle in what for what in whats), needle
    assert all(math.isfinite(row["ratio"]) and row["ratio"] > 0 and row["goal"] > 0 for row in rows)
    after = (BENCH.parent / "results.md").stat().st_mtime if (BENCH.parent / "results.md").exists() else None
    assert before == after
    assert "goal <=" in capsys.readouterr().out
