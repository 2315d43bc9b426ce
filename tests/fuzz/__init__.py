"""The fuzz suite: hostile input, hostile checkpoints, hostile plugins (README "Reliability").

Every test here checks the contract of :mod:`tests.fuzz.contract`: an operation gives a value
or raises an :class:`lrdsl.LRDSLError`, within a second, and a failed one changes nothing.
``LRDSL_FUZZ=long`` runs the long profile (:mod:`tests.fuzz.profiles`);
``python -m tests.fuzz.atheris_target`` drives the same tests from atheris.
"""
