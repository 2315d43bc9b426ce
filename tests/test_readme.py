"""The README's examples work as written."""

import importlib.util
import math
import re
from pathlib import Path

import pytest
import tomllib

import lrdsl
from lrdsl.plugins import build_registry

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _blocks(section: str, language: str) -> list:
    body = README.split(section, 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, flags=re.S)


def test_the_plugin_example_registers_and_evaluates(tmp_path):
    (code,) = _blocks("### Writing a plugin", "python")
    path = tmp_path / "my_lrdsl_nodes.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("my_lrdsl_nodes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    registry = build_registry(entry_points=False, plugins={"my-lrdsl-nodes": module})
    assert registry.get("sqrt_decay").source == "my-lrdsl-nodes"
    sched = lrdsl.compile("warmup(T=100) then sqrt_decay(T=900)", base=0.5, registry=registry)
    for t in (100, 325, 550, 1000, 1500):
        assert math.isclose(sched(t), 0.5 * (1 - math.sqrt(min(t - 100, 900) / 900)), rel_tol=1e-12, abs_tol=1e-15)
    assert sched.values([325])[0] == sched(325)
    (toml,) = _blocks("### Writing a plugin", "toml")
    assert tomllib.loads(toml)["project"]["entry-points"]["lrdsl"] == {"my_nodes": "my_lrdsl_nodes"}


def test_the_quick_start_test_command_is_what_ci_runs():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    command = [line for line in ci.splitlines() if line.startswith("pip install")]
    assert len(command) == 1 and command[0] in README


def test_the_readme_names_every_built_in_schedule_and_optimizer():
    registry = build_registry(entry_points=False)
    for kind in ("schedule", "optimizer"):
        for spec in registry:
            if spec.kind == kind:
                assert f"`{spec.name}" in README, f"README does not mention the {kind} node {spec.name}"


@pytest.mark.filterwarnings("ignore::lrdsl.errors.ScheduleChangeWarning")  # the smooth resume says what it did
def test_the_resume_and_amend_examples_give_the_expressions_they_show():
    """Each block is run as written; every ``name.expression  # '...'`` line must show what it gives."""
    saved = lrdsl.compile("warmup(5%) then cosine(end=1e-5)", base=0.1, total=10_000)
    for i in range(5000):
        saved(i)
    namespace = {"lrdsl": lrdsl, "checkpoint": {"schedule": saved.state_dict()}}
    shown = 0
    for block in _blocks("## Resuming and changing a schedule", "python"):
        exec_lines = []
        for line in block.splitlines():
            code, _, comment = line.partition("  # ")
            if code.endswith(".expression") and comment.startswith("'"):
                exec("\n".join(exec_lines), namespace)
                exec_lines = []
                assert eval(code, namespace) == comment.strip("'")
                shown += 1
            else:
                exec_lines.append(code)
    assert shown == 2
