"""Coverage-guided fuzzing of lrdsl with atheris: ``python -m tests.fuzz.atheris_target [libFuzzer flags]``.

For long local runs (README "Reliability"); CI runs the hypothesis suite instead. Needs atheris
(``pip install atheris``: Linux or macOS, a CPython it has wheels for); without it, importing
this module raises ImportError saying so. The inputs are those of :func:`tests.fuzz.harness.one_input`
(the first byte chooses a target; the suite's own checks apply), every loaded module of lrdsl is
instrumented for coverage, and a contract violation is a crash that libFuzzer saves with its
input. Known violations (``contract.KNOWN``) are only counted. Examples::

    python -m tests.fuzz.atheris_target -max_total_time=600 -max_len=4096 corpus/
    LRDSL_FUZZ_STATS=fuzz-stats.json python -m tests.fuzz.atheris_target -runs=100000

The contract's own one-second limit (SIGALRM) interrupts a slow operation; libFuzzer's
``-timeout`` is turned off (``-timeout=0``) unless given, since it uses the same signal. With
``LRDSL_FUZZ_STATS=path`` the figures (inputs per target, outcomes) are written there at exit
and printed.
"""

from __future__ import annotations

import atexit
import os
import sys
from typing import List, Optional

try:
    import atheris
except ImportError as error:  # an optional tool: say what to install
    raise ImportError(
        "tests.fuzz.atheris_target needs atheris, which is not installed: pip install atheris "
        "(or run the hypothesis fuzz suite instead: LRDSL_FUZZ=long python -m pytest tests/fuzz)"
    ) from error

from . import contract, harness


def arguments(argv: List[str]) -> List[str]:
    """libFuzzer's arguments: ``argv`` with ``-timeout=0`` added unless a timeout is given."""
    if any(arg.startswith("-timeout=") for arg in argv[1:]):
        return list(argv)
    return list(argv) + ["-timeout=0"]


def report() -> None:
    """Print the figures of this run, and write them to ``LRDSL_FUZZ_STATS`` when set."""
    print(contract.format_summary(), file=sys.stderr)
    path = os.environ.get("LRDSL_FUZZ_STATS")
    if path:
        contract.write_summary(path)


def main(argv: Optional[List[str]] = None) -> None:
    atexit.register(report)
    atheris.instrument_all()
    atheris.Setup(arguments(sys.argv if argv is None else argv), harness.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
