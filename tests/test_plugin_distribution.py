"""The example plugin distribution (plugins/lrdsl-extras) and its guide (docs/writing-a-plugin.md).

The plugin is installed with pip into a fresh virtual environment and found through its
``lrdsl`` entry point for real; the guide's code blocks are that plugin verbatim, and its
runnable examples run there with the output the guide shows.
"""

import json
import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "lrdsl-extras"
GUIDE = ROOT / "docs" / "writing-a-plugin.md"
BLOCK = re.compile(r"<!-- (file: (?P<path>\S+)|run|output) -->\n```[a-z]*\n(?P<code>.*?)```", re.S)


def guide_blocks(marker: str):
    """(path, code) of the guide's code blocks after ``<!-- file: path -->``, or ('', code) for run/output."""
    return [
        (m["path"] or "", m["code"]) for m in BLOCK.finditer(GUIDE.read_text()) if m.group(1).split(":")[0] == marker
    ]


def examples():
    """Each runnable example of the guide, with the output shown after it (None if none is shown)."""
    text = GUIDE.read_text()
    found = []
    for match in BLOCK.finditer(text):
        if match.group(1) == "run":
            after = BLOCK.match(text, match.end() + 2)
            found.append((match["code"], after["code"] if after and after.group(1) == "output" else None))
    return found


def test_the_guide_shows_the_plugin_files_verbatim():
    shown = guide_blocks("file")
    assert {path for path, _ in shown} == {
        "plugins/lrdsl-extras/pyproject.toml",
        "plugins/lrdsl-extras/src/lrdsl_extras/__init__.py",
        "plugins/lrdsl-extras/src/lrdsl_extras/spike.py",
    }
    for path, code in shown:
        assert code == (ROOT / path).read_text(), f"docs/writing-a-plugin.md is out of date with {path}"


def test_the_guide_has_runnable_examples_with_their_output():
    found = examples()
    assert len(found) == 2 and found[0][1] is not None and "out of range" in found[0][1]


def test_the_plugin_declares_its_entry_point_in_the_lrdsl_group():
    text = (PLUGIN / "pyproject.toml").read_text()
    assert '[project.entry-points.lrdsl]\nextras = "lrdsl_extras"' in text


# -- a real installation --------------------------------------------------------------------------


def run(python, code, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LRDSL_")}
    environment.update(PYTHONPATH=str(ROOT), **env)  # this checkout's lrdsl
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh virtual environment with lrdsl-extras pip-installed (offline: no index, no isolation)."""
    pytest.importorskip("setuptools", minversion="70.1")  # the plugin's build backend, used without isolation
    root = tmp_path_factory.mktemp("plugin-venv")
    env = root / "env"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env)], check=True, timeout=120
    )
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = run(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    # This interpreter's packages (pip, setuptools, lark, numpy, pluggy), even if it is itself a venv.
    parents = site.getsitepackages() + [sysconfig.get_paths()["purelib"]]
    Path(purelib, "lrdsl_test_parent.pth").write_text("\n".join(dict.fromkeys(parents)) + "\n")
    source = shutil.copytree(PLUGIN, root / "lrdsl-extras", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-q",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, (
        "pip install --no-build-isolation needs setuptools>=70.1 in this environment\n"
        + install.stdout
        + install.stderr
    )
    return python


PROBE = """
import importlib.metadata, json, warnings
import lrdsl
from lrdsl.plugins import default_registry
with warnings.catch_warnings():
    warnings.simplefilter("error")
    registry = default_registry()
found = {name: registry.find(name).source if registry.find(name) else None
         for name in ("tanh_decay", "noam", "signsgd", "cosine")}
print(json.dumps({"found": found, "dist": str(importlib.metadata.distribution("lrdsl-extras").locate_file(""))}))
"""


@pytest.mark.slow
def test_pip_installed_plugin_is_discovered_through_its_entry_point(venv):
    result = json.loads(run(venv, PROBE))
    assert result["found"] == {
        "tanh_decay": "lrdsl-extras",
        "noam": "lrdsl-extras",
        "signsgd": "lrdsl-extras",
        "cosine": "lrdsl",
    }
    assert Path(result["dist"]).resolve().is_relative_to(venv.parent.parent.resolve())  # installed in the venv


@pytest.mark.slow
def test_the_installed_plugin_can_be_blocked_or_disabled(venv):
    for env in ({"LRDSL_BLOCK_PLUGINS": "LRDSL_Extras"}, {"LRDSL_NO_PLUGINS": "1"}):
        found = json.loads(run(venv, PROBE, **env))["found"]
        assert found == {"tanh_decay": None, "noam": None, "signsgd": None, "cosine": "lrdsl"}


@pytest.mark.slow
@pytest.mark.parametrize("number", range(2))
def test_the_guides_examples_run_with_the_installed_plugin(venv, number):
    code, output = examples()[number]
    printed = run(venv, code)
    if output is not None:
        assert printed == output


@pytest.mark.slow
def test_the_installed_plugin_nodes_work_end_to_end(venv):
    code = """
import numpy as np, lrdsl
sched = lrdsl.compile("warmup(T=10, base=1e-3) then tanh_decay(T=90, k=2, end=1e-5) then noam(warmup=5, scale=0.1)")
points = np.arange(0, 300)
assert np.allclose(sched.values(points), [sched(int(i)) for i in points], rtol=1e-12, atol=1e-15)
assert abs(sched(10) - 1e-3) < 1e-15 and abs(sched(100) - 0.1 * 512 ** -0.5 * 5 ** -1.5) < 1e-15
params = [np.ones(3, dtype=np.float32)]
opt = lrdsl.optimizer("signsgd(lr=warmup(T=2, base=0.1), weight_decay=0.5)", params)
for _ in range(3):
    opt.step([np.array([1.0, -1.0, 0.0], dtype=np.float32)])
print(params[0].dtype, [round(x, 5) for x in params[0].tolist()])
"""
    assert run(venv, code) == "float32 [0.77875, 1.07375, 0.92625]\n"
