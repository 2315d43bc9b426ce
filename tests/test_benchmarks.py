"""The core benchmark runs and reports every ratio (quick sizes; the bounds only catch collapses)."""

import importlib.util
import math
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_core.py"


def test_core_benchmark_reports_ratios(capsys):
    spec = importlib.util.spec_from_file_location("bench_core", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = module.main(["--quick"])
    assert set(results) == {"scalar_vs_hand_written_python", "values_vs_hand_written_numpy",
                            "values_unsorted_vs_hand_written_numpy", "parse_compile_cached_vs_ast_parse",
                            "parse_compile_uncached_vs_ast_parse"}
    assert all(math.isfinite(r) and r > 0 for r in results.values())
    assert results["scalar_vs_hand_written_python"] < 10
    assert results["parse_compile_cached_vs_ast_parse"] < results["parse_compile_uncached_vs_ast_parse"]
    assert "scalar_vs_hand_written_python" in capsys.readouterr().out
