"""After a run that included fuzz tests: the figures (inputs per target, outcome counts, the slowest
operations), on the terminal and, with ``LRDSL_FUZZ_STATS=path``, as JSON."""

import os

from . import contract


def pytest_terminal_summary(terminalreporter):
    if not contract.STATS and not contract.INPUTS:
        return
    terminalreporter.section("lrdsl fuzz figures")
    terminalreporter.write_line(contract.format_summary())
    path = os.environ.get("LRDSL_FUZZ_STATS")
    if path:
        contract.write_summary(path)
        terminalreporter.write_line(f"written to {path}")
