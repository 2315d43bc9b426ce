"""Meta-tests: every hook specification is documented and exercised by a test."""

import inspect
import re
from pathlib import Path

import lrdsl
from lrdsl import hookspecs
from lrdsl.plugins import ENTRY_POINT_GROUP

TESTS = Path(__file__).resolve().parent
GUIDE = TESTS.parent / "docs" / "writing-a-plugin.md"
IMPLEMENTED = re.compile(r"@lrdsl\.hookimpl\s*\n\s*def (\w+)\(")


def specs():
    return {name: fn for name, fn in vars(hookspecs).items() if hasattr(fn, "lrdsl_spec")}


def test_there_are_hooks_and_one_pluggy_project_named_lrdsl():
    assert specs(), "no hookspec found in lrdsl.hookspecs"
    assert hookspecs.hookspec.project_name == lrdsl.hookimpl.project_name == ENTRY_POINT_GROUP == "lrdsl"
    assert all(name.startswith("lrdsl_") for name in specs())


def test_every_hookspec_is_docstring_only_and_documented():
    guide = GUIDE.read_text()
    for name, fn in specs().items():
        doc = inspect.getdoc(fn) or ""
        assert len(doc.splitlines()) >= 3, f"hookspec {name} needs a full docstring"
        body = inspect.getsource(fn).split('"""')[-1].strip()
        assert body == "", f"hookspec {name} must have a docstring-only body"
        assert f"`{name}(" in guide, f"hookspec {name} is not in docs/writing-a-plugin.md"


def test_every_hookspec_is_implemented_by_a_test_plugin_and_every_test_hook_exists():
    implemented = {}
    for path in sorted(TESTS.glob("test_*.py")):
        for name in IMPLEMENTED.findall(path.read_text()):
            implemented.setdefault(name, []).append(path.name)
    assert set(specs()) <= set(implemented), f"hooks no test implements: {set(specs()) - set(implemented)}"
    stray = set(implemented) - set(specs()) - {"lrdsl_node"}  # test_plugins.py misspells one on purpose
    assert not stray, f"tests implement hooks that do not exist: {stray}"
