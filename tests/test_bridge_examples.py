"""Every framework example runs (in this process, so the frameworks are imported once)."""

import os
import re
import runpy

import pytest

for framework in ("torch", "jax", "optax", "keras"):
    pytest.importorskip(framework)

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize(
    "name, marker",
    [
        ("torch_training.py", r"epoch 5: lr 0\.00209 -> 0\.00020"),
        ("jax_training.py", r"learned \[1\.0, -2\.0, 0\.5, 3\.0\]"),
        ("keras_training.py", r"reloaded schedule: warmup\(T=1ep\) then cosine\(T=4ep, end=1e-4\) at iteration 80"),
    ],
)
def test_example_runs(capsys, name, marker):
    runpy.run_path(os.path.join(EXAMPLES, name), run_name="__main__")
    output = capsys.readouterr().out
    assert re.search(marker, output), output
