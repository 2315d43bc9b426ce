"""Core speed, as ratios against a hand-written baseline measured in the same run.

    python benchmarks/bench_core.py            # full sizes (10M points for values())
    python benchmarks/bench_core.py --quick    # small sizes, for a smoke test

Targets (issue 2, :data:`TARGETS`; each line says whether this run met its target): scalar <= 3x a
hand-written Python function; values() <= 1.5x hand-written NumPy; parse+compile of an
80-character expression <= 5x ast.parse (a repeated string is served from a cache; the uncached
cost is reported too). Speed is checked here, by a person reading the ratios; the test suite
only runs ``--quick`` to see that every ratio is reported.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import timeit

import numpy as np

import lrdsl
from lrdsl import parser, schedule

TEXT = "warmup(T=500) then cosine(T=9500, end=1e-5)"
TEXT_80 = "warmup(T=500, base=3e-4) then cosine(T=9500, end=1e-5) then constant(value=1e-5)"
TARGETS = {
    "scalar_vs_hand_written_python": 3.0,
    "values_vs_hand_written_numpy": 1.5,
    "parse_compile_cached_vs_ast_parse": 5.0,
}


def hand_scalar(i: float) -> float:
    if i < 500:
        return i / 500
    t = min(i - 500, 9500)
    return 1e-5 + (1 - 1e-5) * (1 + math.cos(math.pi * t / 9500)) / 2


def hand_vector(t: np.ndarray) -> np.ndarray:
    local = np.minimum(t - 500, 9500)
    return np.where(t < 500, t / 500, 1e-5 + (1 - 1e-5) * (1 + np.cos(np.pi * local / 9500)) / 2)


def best(function, number: int, repeat: int = 5) -> float:
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def scalar_ratio(points: int) -> float:
    sched = lrdsl.compile(TEXT)
    xs = [float(i) for i in range(0, 10_000, max(1, 10_000 // points))]
    assert all(abs(sched(x) - hand_scalar(x)) < 1e-15 for x in xs)
    return best(lambda: [sched(x) for x in xs], 5) / best(lambda: [hand_scalar(x) for x in xs], 5)


def vector_ratios(size: int) -> tuple[float, float]:
    sched = lrdsl.compile(TEXT)
    t = np.arange(size, dtype=np.float64)
    np.testing.assert_allclose(sched.values(t), hand_vector(t), rtol=1e-12, atol=1e-15)
    shuffled = np.random.default_rng(0).permutation(t)
    hand = best(lambda: hand_vector(t), 1, 3)
    return best(lambda: sched.values(t), 1, 3) / hand, best(lambda: sched.values(shuffled), 1, 3) / hand


def compile_ratios() -> tuple[float, float]:
    python_text = TEXT_80.replace(" then ", " + ")
    baseline = best(lambda: ast.parse(python_text), 200)

    def uncached():
        parser.parse.cache_clear()
        schedule._CACHE.clear()
        lrdsl.compile(TEXT_80)

    return best(uncached, 100) / baseline, best(lambda: lrdsl.compile(TEXT_80), 200) / baseline


def main(argv=None) -> dict:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = options.parse_args(argv)
    sorted_ratio, unsorted_ratio = vector_ratios(100_000 if args.quick else 10_000_000)
    uncached, cached = compile_ratios()
    results = {
        "scalar_vs_hand_written_python": scalar_ratio(200 if args.quick else 2000),
        "values_vs_hand_written_numpy": sorted_ratio,
        "values_unsorted_vs_hand_written_numpy": unsorted_ratio,
        "parse_compile_cached_vs_ast_parse": cached,
        "parse_compile_uncached_vs_ast_parse": uncached,
    }
    for name, ratio in results.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else f"  target <= {target:g}x: {'met' if ratio <= target else 'MISSED'}"
        print(f"{name:42s} {ratio:6.2f}x{verdict}")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
