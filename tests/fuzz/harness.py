"""One fuzz input as bytes, for coverage-guided fuzzers (``tests/fuzz/atheris_target.py``).

:func:`one_input` takes a byte string: its first byte chooses a target, the rest is that
target's input. The targets are the suite's own hypothesis tests, driven through
``test.hypothesis.fuzz_one_input(buffer)`` (hypothesis reads the buffer as its choices, so
every strategy and every check of the pytest suite is reused), and a raw one: the bytes
decoded as UTF-8 and given to :func:`tests.fuzz.test_text.exercise_text`, the classic
coverage-guided text target. A contract violation raises :class:`tests.fuzz.contract.Violation`
(the fuzzer reports it as a crash, with its input); everything else is counted in
:data:`tests.fuzz.contract.STATS`. No atheris is needed here: ``test_harness.py`` runs it.
"""

from __future__ import annotations

import importlib.util
from typing import Callable, List, Tuple

from . import test_config, test_counters, test_plugins, test_states, test_text


def raw_text(data: bytes) -> None:
    """The bytes as text (invalid UTF-8 replaced), parsed, compiled and evaluated."""
    test_text.exercise_text(data.decode("utf-8", "replace"), option_set=data[0] % 5 if data else 1)


TARGETS: List[Tuple[str, Callable[[bytes], object]]] = [("raw text", raw_text)] + [
    (test.__name__, test.hypothesis.fuzz_one_input)  # type: ignore[attr-defined]
    for test in (
        test_text.test_grammar_texts,
        test_text.test_schedule_texts,
        test_text.test_mutated_texts,
        test_text.test_optimizer_texts,
        test_counters.test_hostile_counters,
        test_counters.test_real_counters_agree,
        test_config.test_hostile_variables,
        test_config.test_generated_documents,
        test_config.test_raw_documents,
        test_states.test_tampered_schedule_states,
        test_states.test_tampered_plateau_states,
        test_states.test_tampered_optimizer_states,
        test_plugins.test_misbehaving_plugins,
    )
]
"""(name, run(bytes)) of every target, in the order the first byte chooses them."""

if importlib.util.find_spec("torch") is not None:  # the torch bridge's targets, where torch is installed
    from . import test_states_torch

    TARGETS += [
        (test.__name__, test.hypothesis.fuzz_one_input)  # type: ignore[attr-defined]
        for test in (test_states_torch.test_tampered_schedulelr_states, test_states_torch.test_hostile_amend_and_counts)
    ]


def one_input(data: bytes) -> None:
    """Run the target ``data[0]`` chooses on ``data[1:]`` (an empty input does nothing)."""
    if not data:
        return
    _, run = TARGETS[data[0] % len(TARGETS)]
    run(data[1:])
