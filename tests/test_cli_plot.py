"""``lrdsl plot`` showing structure (several schedules, phase and restart marks, --log, both
counters, --csv, PNG/SVG), terminal width, ``--version``, CLI words in errors, and ``check``
counting the run from the data. Called in-process through ``lrdsl.cli.main``."""

import csv
import importlib.util
import json

import numpy as np
import pytest

import lrdsl
from lrdsl.cli import cli_words, main

needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="--png/--svg need matplotlib, which is not installed"
)


def run(capsys, *args, status=0):
    assert main(list(args)) == status
    captured = capsys.readouterr()
    return captured.out if status == 0 else captured.err


def chart_of(out: str):
    """The chart's rows (value axis, plot area), its axis line and the counter lines under it."""
    lines = out.splitlines()
    rows = [line for line in lines if " |" in line]
    axis = next(k for k, line in enumerate(lines) if line.strip().startswith("+-"))
    return rows, lines[axis], lines[axis + 1 : axis + 3]


def test_several_schedules_one_chart_with_markers_and_marks(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    a, b = "warmup(10) then cosine(T=40) then constant()", "sgdr(T=20)"
    out = run(capsys, "plot", a, b, "--iterations", "80")
    assert out.splitlines()[:2] == [f"* {a}", f"o {b}"]
    rows, axis, below = chart_of(out)
    area = "".join(row.split(" |", 1)[1] for row in rows)
    assert "*" in area and "o" in area
    # marks on the axis at the phase starts of a (10, 50) and the restarts of b (20, 40, 60), numbered
    assert [c for c in axis if c.isdigit()] == ["1", "2", "3", "4", "5"]
    assert "iteration       10  1              [1] phase 2 starts (*)" in out
    assert "iteration       20  1              [2] restart (o)" in out
    assert "[4] phase 3 starts (*)" in out
    assert below[0].split()[-2:] == ["79", "iterations"]


def test_with_total_the_range_is_the_whole_run_and_epochs_are_shown(capsys):
    out = run(capsys, "plot", "warmup(5%) then cosine()", "--total", "90ep", "--steps-per-epoch", "100")
    _, _, below = chart_of(out)
    assert below[0].split()[-2:] == ["8999", "iterations"]
    assert below[1].split()[-2:] == ["89.99", "epochs"]
    assert "iteration     8999" in out


def test_log_axis(capsys):
    text = "step(base=0.1, s=10) then exp(s=5)"
    values = lrdsl.compile(text).values(np.arange(60.0))
    linear_rows, _, _ = chart_of(run(capsys, "plot", text, "--iterations", "60"))
    log_rows, _, _ = chart_of(run(capsys, "plot", text, "--iterations", "60", "--log"))
    assert log_rows[0].split()[0] == "0.1" and log_rows[-1].split()[0] == f"{values.min():.3g}"
    middle = log_rows[len(log_rows) // 2].split()[0]
    assert float(middle) == pytest.approx(10 ** ((np.log10(0.1) + np.log10(values.min())) / 2), rel=0.01)
    # linear: the exponential tail is a flat floor; log: it is spread over the rows
    assert linear_rows[-1].count("*") > 40 and log_rows[-1].count("*") < 5
    assert run(capsys, "plot", "0 * cosine(T=10)", "--log", status=2).startswith("error: --log needs")


def test_csv_holds_the_numbers(capsys, tmp_path):
    path = tmp_path / "values.csv"
    a, b = "cosine(T=5ep)", "step(s=2ep)"
    out = run(capsys, "plot", a, b, "--steps-per-epoch", "10", "--iterations", "60", "--csv", str(path))
    assert f"wrote {path}" in out
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["iteration", "epoch", a, b]
    data = np.array(rows[1:], dtype=float)
    assert (data[:, 0] == np.arange(60)).all() and np.allclose(data[:, 1], np.arange(60) / 10)
    assert (data[:, 2] == lrdsl.compile(a, steps_per_epoch=10).values(np.arange(60.0))).all()
    assert (data[:, 3] == lrdsl.compile(b, steps_per_epoch=10).values(np.arange(60.0))).all()


@needs_matplotlib
def test_png_of_a_three_phase_schedule_against_another(capsys, tmp_path):
    import matplotlib.image

    out = run(
        capsys,
        "plot",
        "warmup(5%) then cosine(T=60%, end=1e-5) then constant()",
        "onecycle(T=90ep)",
        "--total",
        "90ep",
        "--steps-per-epoch",
        "100",
        "--png",
        str(tmp_path / "out"),
    )
    written = tmp_path / "out.png"
    assert f"wrote {written}" in out and written.exists() and not (tmp_path / "out").exists()
    image = matplotlib.image.imread(str(written))
    assert image.shape[:2] == (520, 900)
    pixels = image[..., :3].reshape(-1, 3)
    assert pixels.std() > 0.05 and len(np.unique(pixels.round(2), axis=0)) > 50  # drawn, not blank
    blue, orange = np.array([0.12, 0.47, 0.71]), np.array([1.0, 0.5, 0.05])  # the first two line colours
    assert (np.abs(pixels - blue).sum(axis=1) < 0.1).sum() > 500
    assert (np.abs(pixels - orange).sum(axis=1) < 0.1).sum() > 500


@needs_matplotlib
def test_svg_and_a_long_title_is_wrapped(capsys, tmp_path):
    text = " then ".join(f"cosine(T={n}, end={1 / n:.4f})" for n in range(10, 20))
    run(capsys, "plot", text, "--svg", str(tmp_path / "chart.svg"))
    svg = (tmp_path / "chart.svg").read_text()
    assert "<svg" in svg and "phase 2" in svg
    assert run(capsys, "plot", "cosine(T=10)", "--svg", "/nonexistent/x", status=2).startswith("error: --svg")


def test_the_chart_and_the_node_table_fit_the_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    out = run(capsys, "plot", "warmup(5%) then cosine()", "--total", "1000")
    assert max(len(line) for line in out.splitlines()) <= 60
    table = run(capsys, "nodes")
    assert max(len(line) for line in table.splitlines()) <= 60 and "…" in table
    monkeypatch.setenv("COLUMNS", "300")
    assert "…" not in run(capsys, "nodes")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out.strip() == f"lrdsl {lrdsl.__version__}"


# -- errors in the command line's words -------------------------------------------------------------


@pytest.mark.parametrize(
    "args, said, not_said",
    [
        (["eval", "step(s=5ep)", "--at", "3"], ["--steps-per-epoch", "read it by epoch: --epoch"], ["sched(", "_"]),
        (["plot", "cosine(T=5ep)", "--iterations", "10"], ["--steps-per-epoch", "--epochs N"], ["sched(", "_"]),
        (["check", "warmup(5%) then cosine()"], ["give --total"], ["total="]),
        (["eval", "cosine(T=10)", "--at", "0,,5"], ["an empty item"], []),
        (["plot", "cosine(T=10)", "--iterations", "10", "--epochs", "3"], ["give one of --iterations, --epochs"], []),
        (["check", "cosine()", "--total", "9", "--dataset-size", "10"], ["not both"], []),
        (["check", "cosine()", "--dataset-size", "10", "--epochs", "3"], ["give --dataset-size and --batch-size"], []),
    ],
)
def test_errors_say_what_to_type_here(capsys, args, said, not_said):
    err = run(capsys, *args, status=2)
    assert err.startswith("error: ")
    for fragment in said:
        assert fragment in err
    for fragment in not_said:
        assert fragment not in err


def test_cli_words():
    message = (
        "phase 2 starts at 50 iterations, at or after the end of training (total = 40 iterations); pass a larger "
        "total=; needs tokens_per_step= when compiling; total='90x': expected"
    )
    assert cli_words(message, "check") == (
        "phase 2 starts at 50 iterations, at or after the end of training (total = 40 iterations); give a larger "
        "--total; needs --tokens-per-step; --total '90x': expected"
    )


def test_check_counts_the_run_from_the_data(capsys):
    text = "warmup(5%) then cosine()"
    run_options = ["--dataset-size", "50000", "--batch-size", "128", "--epochs", "90", "--accumulate", "2"]
    counted = lrdsl.steps(dataset_size=50000, batch_size=128, epochs=90, accumulate=2)
    by_data = run(capsys, "check", text, *run_options, "--json")
    by_total = run(
        capsys,
        "check",
        text,
        "--total",
        str(counted["total"]),
        "--steps-per-epoch",
        str(counted["steps_per_epoch"]),
        "--json",
    )
    assert by_data == by_total
    dropped = lrdsl.steps(dataset_size=1000, batch_size=64, epochs=3, world_size=2, drop_last=True)
    out = run(
        capsys,
        "check",
        "cosine()",
        "--dataset-size",
        "1000",
        "--batch-size",
        "64",
        "--epochs",
        "3",
        "--world-size",
        "2",
        "--drop-last",
        "--json",
    )
    assert json.loads(out)["steps_per_epoch"] == dropped["steps_per_epoch"]
