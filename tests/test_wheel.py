"""The built wheel ships the grammar and works on its own, away from the source tree."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("build")
pytest.importorskip("hatchling")  # the build backend, used without isolation
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("lrdsl-*.whl")
    return built


def test_the_wheel_contains_the_grammar(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "lrdsl/grammar/lrdsl.lark" in names
    assert {f"lrdsl/serve/static/{name}" for name in ("index.html", "app.js", "style.css")} <= set(names)
    assert not any(name.startswith(("tests/", "grammar/")) for name in names)


def test_the_wheel_parses_in_a_fresh_virtual_environment(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], check=True, timeout=600)
    script = (
        "import lrdsl, pathlib, sys\n"
        "assert 'site-packages' in lrdsl.__file__, lrdsl.__file__\n"
        "sched = lrdsl.compile('step(base=0.1, s=10) then exp(s=5)')\n"
        "print(sched.expression, sched(15))\n"
    )
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[-1]) == pytest.approx(0.01 * 0.1 ** ((15 - 10) / 5), rel=1e-14)
    check = subprocess.run(
        [str(venv / "bin" / "lrdsl"), "check", "warmup(T=5) then cosine(T=10)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert check.returncode == 0 and check.stdout.startswith("warmup(T=5) then cosine(T=10)")
