"""pytest configuration for the checkout: the doctests in lrdsl/ and the tests in tests/.

A test that needs an optional component (a framework, a build tool) skips with the reason when
it is missing. With ``LRDSL_REQUIRE_ALL=1`` (as in .ci/run, where everything is installed)
every skip is a failure instead, naming the test and the reason.
"""

import importlib.util
import os
from pathlib import Path

import pytest
from _pytest.doctest import DoctestModule  # not exported by pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

REQUIRE_ALL = os.environ.get("LRDSL_REQUIRE_ALL") == "1"

# The doctests import every module of lrdsl/, and a bridge cannot be imported without its framework.
BRIDGES = {
    "jax": ("jax", "optax"),
    "keras": ("keras", os.environ["KERAS_BACKEND"]),
    "torch": ("torch",),
    "lightning": ("torch", "lightning"),
    "transformers": ("torch", "transformers", "accelerate"),
}
collect_ignore = [
    f"lrdsl/bridges/{bridge}.py"
    for bridge, modules in BRIDGES.items()
    if not all(importlib.util.find_spec(module) for module in modules)
]
collect_ignore.append("lrdsl/config.py")  # its >>> lines show loading a train.yaml that is not there
PACKAGE = Path(__file__).parent / "lrdsl"


@pytest.hookimpl(hookwrapper=True)
def pytest_collect_file(file_path, parent):
    """``--doctest-modules`` reads lrdsl/ only: a test module is collected once, as tests."""
    outcome = yield
    if PACKAGE not in file_path.parents:
        outcome.force_result([node for node in outcome.get_result() if not isinstance(node, DoctestModule)])


def _fail_if_skipped(report) -> None:
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        _, _, reason = report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but LRDSL_REQUIRE_ALL=1 requires every test to run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module that skips as a whole (a module-level ``pytest.importorskip``)."""
    outcome = yield
    _fail_if_skipped(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that skips (a skip mark, or ``pytest.skip``/``importorskip`` in it or a fixture)."""
    outcome = yield
    _fail_if_skipped(outcome.get_result())
