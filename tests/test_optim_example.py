"""examples/numpy_training.py runs, reads its YAML config and trains every optimizer string in it."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent


def test_numpy_training_example(tmp_path):
    config = yaml.safe_load((ROOT / "examples" / "numpy_training.yaml").read_text())
    config["epochs"] = 10
    config["compare"] = config["compare"][:2] + ["radam(lr=warmup(T=2ep, base=1e-2) then cosine())"]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "examples/numpy_training.py", "--config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "epoch   1" in out and "epoch  10" in out
    accuracy = float(re.search(r"final: loss [\d.]+  accuracy ([\d.]+)", out).group(1))
    assert accuracy > 0.85, out
    rows = [line for line in out.splitlines() if re.search(r"\s[\d.]+\s+[\d.]+$", line)]
    assert [row.split("  ")[0].strip() for row in rows] == [config["optimizer"], *config["compare"]], out
    assert all(float(row.split()[-1]) > 0.8 for row in rows), out
