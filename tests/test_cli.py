"""The ``lrdsl`` command, run as a user runs it (a subprocess of the installed entry point)."""

import importlib.util
import json
import math
import subprocess
import sys

import pytest

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="--png needs matplotlib, which is not installed"
)


def lrdsl(*args, ok=True):
    result = subprocess.run([sys.executable, "-m", "lrdsl.cli", *args], capture_output=True, text=True, timeout=60)
    assert (result.returncode == 0) == ok, result.stderr
    return result


def test_plot_draws_and_prints_key_values():
    out = lrdsl("plot", "step(base=0.1, s=10) then exp(s=5)", "--iterations", "60").stdout
    lines = out.splitlines()
    assert lines[0] == "step(base=0.1, s=10) then exp(s=5)"
    chart = lines[1:15]
    assert all("|" in line for line in chart) and sum(line.count("*") for line in chart) >= 60
    assert "iteration        0  0.1" in out
    assert "iteration       10  0.01" in out and "phase 2 starts" in out
    end = 0.01 * 0.1 ** ((59 - 10) / 5)
    assert f"iteration       59  {end:<14.6g} end" in out


@needs_matplotlib
def test_plot_by_epoch_with_total_and_png(tmp_path):
    png = tmp_path / "schedule.png"
    out = lrdsl(
        "plot",
        "warmup(5%) then cosine(end=1e-5)",
        "--total",
        "90ep",
        "--epochs",
        "90",
        "--base",
        "3e-4",
        "--png",
        str(png),
    ).stdout
    assert "epoch      4.5  0.0003" in out and "epoch       90  1e-05" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_prints_values_and_json():
    out = lrdsl("eval", "cosine(T=100)", "--at", "0,50,100", "--base", "0.2").stdout
    assert out.splitlines() == [
        "iteration 0: 0.2",
        f"iteration 50: {0.1 * (1 + math.cos(math.pi / 2))!r}",
        "iteration 100: 0.0",
    ]
    data = json.loads(lrdsl("eval", "$a * step(s=2ep)", "--at", "0,2,4", "--epoch", "--var", "a=0.5", "--json").stdout)
    assert data["expression"] == "$a * step(s=2ep)"
    assert [p["value"] for p in data["points"]] == pytest.approx([0.5, 0.05, 0.005])
    assert [p["epoch"] for p in data["points"]] == [0, 2, 4]


def test_steps_per_epoch_option():
    out = lrdsl("eval", "step(s=2ep)", "--at", "199,200", "--steps-per-epoch", "100").stdout
    assert out.splitlines() == ["iteration 199: 1.0", "iteration 200: 0.1"]


def test_check_prints_the_canonical_form():
    out = lrdsl("check", "warmup( 5% )   then cosine( end = 1e-5 ) # done", "--total", "90ep").stdout
    assert out.splitlines()[0] == "warmup(5%) then cosine(end=1e-05)"
    assert "2 phase(s), counted in epochs; phases start at 0, 4.5" in out


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["check", "cosin(T=10)"], "did you mean 'cosine'"),
        (["check", "cosine(T="], "^"),
        (["eval", "cosine(T=10)", "--at", "x"], "--at expects finite numbers"),
        (["eval", "step(s=5ep)", "--at", "3"], "--steps-per-epoch"),
        (["plot", "cosine(T=10)", "--iterations", "0"], "at least 1"),
        (["eval", "cosine(T=10)", "--at", "inf", "--json"], "finite numbers"),
        (["eval", "cosine(T=10)", "--at", ",,,"], "finite numbers"),
        (["plot", "cosine(T=5ep)", "--iterations", "10"], "counts epochs"),
        (["plot", "cosine(T=5ep)", "--iterations", "10", "--epochs", "3"], "give one of --iterations, --epochs"),
        pytest.param(
            ["plot", "cosine(T=10)", "--png", "/nonexistent/dir/x.png"],
            "cannot write the image",
            marks=needs_matplotlib,
        ),
    ],
)
def test_errors_are_one_clear_message_and_exit_code_2(args, fragment):
    result = lrdsl(*args, ok=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_the_console_script_is_installed():
    result = subprocess.run(["lrdsl", "check", "cosine(T=10)"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("cosine(T=10)")
