"""The core benchmark runs and reports every ratio (quick sizes). Speed itself is not asserted: a
machine's load decides timings; the benchmark prints each ratio against its target."""

import importlib.util
import math
from pathlib import Path

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
