"""Convert a peer's scheduler or its configuration into the lrdsl string that gives its values.

    >>> from lrdsl.convert import from_config
    >>> from_config({"type": "WarmupDecayLR", "params": {"total_num_steps": 100, "warmup_max_lr": 0.01,
    ...                                                  "warmup_num_steps": 10, "warmup_type": "linear"}})
    '0 for 1 then warmup(T=10, start=0, base=0.01) for 10 then linear(T=90, start=0.01, end=0)'

One module per peer, each the table of docs/equivalence.md as code: :func:`from_torch`,
:func:`from_keras`, :func:`from_transformers`, :func:`from_timm`, :func:`from_deepspeed`; and
:func:`from_config` / :func:`from_file` for the JSON forms (``lrdsl convert FILE.json``). No
converter imports its peer: live objects are read through their attributes. A peer behaviour
lrdsl cannot express (an arbitrary Python function, random noise, rules driven by metrics other
than ``plateau``'s) is an :class:`lrdsl.LRDSLError` that says why and what to write instead.
"""

from .config import from_config, from_file
from .deepspeed import from_deepspeed
from .keras import from_keras
from .timm import from_timm
from .torch import from_torch
from .transformers import from_transformers

__all__ = ["from_config", "from_deepspeed", "from_file", "from_keras", "from_timm", "from_torch", "from_transformers"]
