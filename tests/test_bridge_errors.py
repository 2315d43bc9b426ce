"""Bridges are optional: `import lrdsl` loads no framework, and a missing one names its extra."""

import importlib
import subprocess
import sys

import pytest

from lrdsl.bridges import BridgeError, MissingExtraError


def test_import_lrdsl_loads_no_framework():
    code = (
        "import sys, lrdsl, lrdsl.config, lrdsl.bridges; lrdsl.compile('cosine(T=10)')(3); "
        "print(sorted(m for m in ('torch', 'jax', 'keras', 'optax', 'tensorflow') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "bridge, module, extra",
    [
        ("lrdsl.bridges.torch", "torch", "torch"),
        ("lrdsl.bridges.jax", "jax", "jax"),
        ("lrdsl.bridges.keras", "keras", "keras"),
        ("lrdsl.bridges.lightning", "lightning.pytorch", "lightning"),
        ("lrdsl.bridges.transformers", "transformers", "transformers"),
    ],
)
def test_missing_framework_names_the_extra(monkeypatch, bridge, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # importing it now fails, as if it were not installed
    monkeypatch.delitem(sys.modules, bridge, raising=False)
    with pytest.raises(MissingExtraError, match=rf"pip install lrdsl\[{extra}\]") as caught:
        importlib.import_module(bridge)
    assert isinstance(caught.value, ImportError) and isinstance(caught.value, BridgeError)


def test_keras_without_a_backend_says_how_to_choose_one(monkeypatch):
    monkeypatch.delitem(sys.modules, "lrdsl.bridges.keras", raising=False)

    def broken(name, *args):
        if name == "keras":
            raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")
        return real(name, *args)

    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(MissingExtraError, match="KERAS_BACKEND=torch"):
        real("lrdsl.bridges.keras")
