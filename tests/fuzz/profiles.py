"""How long the fuzz suite runs: two hypothesis profiles, chosen by ``LRDSL_FUZZ``.

- ``short`` (the default, what CI runs): the whole ``tests/fuzz`` directory takes about 80 s
  on the project's shared 2-core machine. ``derandomize=True`` and no example database: CI runs the same
  inputs at every commit, so a red build always comes from the change under test, never from
  a new random draw; what the long runs find is kept as plain regression tests
  (``test_regressions.py``) instead.
- ``long`` (``LRDSL_FUZZ=long``): :data:`LONG_FACTOR` (``LRDSL_FUZZ_FACTOR``, default 30)
  times as many examples per test (about half an hour; a factor of 6 took five minutes), random,
  with hypothesis' example database in ``.hypothesis/``, so a failure
  found once replays on the next run until it is fixed.

The profiles are registered as ``lrdsl-fuzz-short`` and ``lrdsl-fuzz-long`` but never
loaded globally: each fuzz test takes its settings from :func:`fuzz_settings`, so the rest of
the test suite keeps its own.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

LONG = os.environ.get("LRDSL_FUZZ", "short").strip().lower() == "long"
LONG_FACTOR = int(os.environ.get("LRDSL_FUZZ_FACTOR", "30"))

_COMMON = dict(
    deadline=None,  # the contract's own 1 s limit per operation applies instead (contract.LIMIT)
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    print_blob=True,
)

settings.register_profile(
    "lrdsl-fuzz-short",
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    **_COMMON,
)
settings.register_profile(
    "lrdsl-fuzz-long",
    derandomize=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    **_COMMON,
)
PROFILE = settings.get_profile("lrdsl-fuzz-long" if LONG else "lrdsl-fuzz-short")


def fuzz_settings(examples: int) -> settings:
    """The settings of one fuzz test: ``examples`` in the short profile, :data:`LONG_FACTOR` times
    as many in the long one."""
    return settings(PROFILE, max_examples=examples * LONG_FACTOR if LONG else examples)
