"""The package has no import circle: every module imports on its own in a fresh interpreter, and
the module-level imports (read from the source by scripts/import_graph.py) form no circle."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)

FRAMEWORKS = {
    "lrdsl.bridges.torch": "torch",
    "lrdsl.bridges.jax": "jax",
    "lrdsl.bridges.keras": "keras",
    "lrdsl.bridges.lightning": "lightning",
    "lrdsl.bridges.transformers": "transformers",
}


def test_the_module_level_imports_form_no_circle():
    top, deferred = import_graph.graph()
    assert "lrdsl.schedule" in top and "lrdsl.compiler" in top["lrdsl.schedule"]  # the walker reads imports
    assert import_graph.circles(top) == []
    assert {(a, b) for a in deferred for b in deferred[a]} == set(import_graph.DEFERRED)
    assert import_graph.main(["--check"]) == 0


def test_the_circle_finder_finds_a_circle():
    assert import_graph.circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.slow
def test_every_module_imports_on_its_own():
    modules = sorted(import_graph.graph()[0])
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    running = {}
    for module in modules:
        if module in FRAMEWORKS and importlib.util.find_spec(FRAMEWORKS[module]) is None:
            continue  # a bridge without its framework raises MissingExtraError, tested in test_bridge_errors
        running[module] = subprocess.Popen(
            [sys.executable, "-c", f"import {module}"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    failed = {
        module: process.communicate(timeout=120)[1].strip().splitlines()[-1:]
        for module, process in running.items()
        if process.wait(timeout=120) != 0
    }
    assert not failed and len(running) >= 40, failed
