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


def _imported_by(code: str) -> set:
    """The modules that ``code`` imports in a fresh interpreter, beyond those the interpreter starts with."""
    probe = f"import sys; before = set(sys.modules)\n{code}\nprint('\\n'.join(sorted(set(sys.modules) - before)))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_import_lrdsl_leaves_the_plugins_the_parser_and_the_optimizers_for_later():
    imported = _imported_by("import lrdsl")
    assert "lrdsl.schedule" in imported  # the probe sees the package's imports
    assert not imported & {"pluggy", "importlib.metadata", "lark", "lrdsl.optim", "lrdsl.hookspecs"}


def test_a_first_compile_leaves_the_optimizer_machinery_and_pluggy_for_later():
    imported = _imported_by("import lrdsl; lrdsl.compile('warmup(T=5) then cosine(T=95)')")
    assert "lrdsl.builtin.optimizers" in imported and "lrdsl.optim.kernels" in imported  # the registry is built
    assert not imported & {"lrdsl.optim.optimizer", "lrdsl.optim.expression", "pluggy", "lrdsl.hookspecs"}


def test_lrdsl_optim_names_load_on_first_use_as_they_did_eagerly():
    shown = "import lrdsl.optim as o; print(o.optimizer.__module__, o.Optimizer.__name__, o.ParamState.__name__)"
    for first in ("import lrdsl.optim", "import lrdsl.optim.optimizer", "import lrdsl.optim.kernels"):
        done = subprocess.run(
            [sys.executable, "-c", f"{first}; {shown}"],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.stdout == "lrdsl.optim.optimizer Optimizer ParamState\n", (first, done.stderr)


def test_the_cli_imports_a_subcommands_modules_only_when_it_runs():
    imported = _imported_by("import lrdsl.cli; lrdsl.cli.build_parser().format_help()")
    assert "lrdsl.cli" in imported
    heavy = {"lrdsl.serve", "lrdsl.search", "lrdsl.convert", "lrdsl.explain", "lrdsl.plotting", "lrdsl.optim"}
    assert not imported & heavy
