"""Every compile error points at its spot (line, column, a caret line), in a string, through a
config file (file:line:col (key) with the caret under the file's line), from the optimizer
string and the CLI; suggestions that name what was meant; what used to pass silently."""

import json
import subprocess
import sys

import numpy as np
import pytest

import lrdsl
from lrdsl.config import load_entry, load_schedule


def error_of(text, **options):
    with pytest.raises(lrdsl.LRDSLError) as caught:
        lrdsl.compile(text, **options)
    return str(caught.value)


def caret_column(message):
    """``(column, source line)``: where the caret line points (0-based), read from the last two lines."""
    source, mark = message.splitlines()[-2:]
    return mark.index("^") - 2, source[2:]


@pytest.mark.parametrize(
    "text, options, line, column, says",
    [
        ("warmpu(5%) then cosine()", {"total": 100}, 1, 1, "did you mean 'warmup'"),
        ("warmup(5%) then\n  cosnie()", {"total": 100}, 2, 3, "did you mean 'cosine'"),
        ("warmup(5%)\nthen cosine()", {}, 1, 1, "needs the training length"),
        ("constant() for 5 then\n   step(s=10, base=-1)", {}, 2, 4, "base=-1 is out of range"),
        ("warmup(T=5) then cosine(T=5ep)", {}, 1, 1, "pass steps_per_epoch="),
        ("cosine(T=10, end=$x)", {}, 1, 18, "unknown variable $x"),
        ("cosine(T=10) * nan", {}, 1, 16, "no NaN in the language"),
        ("warmup(60%)\nthen cosine(T=60%)", {"total": 100}, 2, 6, "add up to 120% of total"),
    ],
)
def test_every_compile_error_shows_line_column_and_a_caret(text, options, line, column, says):
    message = error_of(text, **options)
    assert says in message and f"line {line}, column {column}" in message
    at, source = caret_column(message)
    assert source == text.splitlines()[line - 1] and at == column - 1


def test_the_error_carries_its_line_and_column():
    with pytest.raises(lrdsl.LRDSLError) as caught:
        lrdsl.compile("warmup(T=5) then\n  cosine(T=-1)")
    assert (caught.value.line, caught.value.column) == (2, 3)


def test_an_optimizer_string_points_at_the_schedule_inside_it():
    with pytest.raises(lrdsl.LRDSLError) as caught:
        lrdsl.optimizer("adamw(lr=warmup(5%) then cosnie())", [np.zeros(2)], total=100)
    at, source = caret_column(str(caught.value))
    assert source == "adamw(lr=warmup(5%) then cosnie())" and source[at:].startswith("cosnie")


YAML = """\
model:
  width: 128
optimizer:
  lr: 3.0e-4
  schedule: |
    warmup(5%)  # the first phase
    then sinn(T=10)
    then cosine()
  total: 10000
other:
  schedule: "warmup(5%) then cosine(T=-3)"
"""


def test_a_yaml_block_scalar_error_points_into_the_file(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "train.yaml"
    path.write_text(YAML)
    with pytest.raises(lrdsl.LRDSLError) as caught:
        load_schedule(str(path), key="optimizer.schedule")
    message = str(caught.value)
    assert message.startswith(f"{path}:7:10 (optimizer.schedule): ") and "node 'sinn'" in message
    assert "(line 2, column 6)" not in message  # the file's position, not the expression's
    source, mark = message.splitlines()[-2:]
    assert source.strip() == "then sinn(T=10)" and source[mark.index("^") :].startswith("sinn")


def test_a_quoted_yaml_string_error_points_into_the_file(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "train.yaml"
    path.write_text(YAML)
    with pytest.raises(lrdsl.LRDSLError) as caught:
        load_schedule(str(path), key="other.schedule", total=100)
    message = str(caught.value)
    column = YAML.splitlines()[10].index("cosine") + 1
    assert message.startswith(f"{path}:11:{column} (other.schedule): cosine()")


def test_toml_and_json_errors_point_into_the_file(tmp_path):
    toml = tmp_path / "train.toml"
    toml.write_text('[optimizer]\nschedule = "warmup(5%) then cosnie()"\ntotal = 100\n')
    column = 'schedule = "warmup(5%) then cosnie()"'.index("cosnie") + 1
    with pytest.raises(lrdsl.LRDSLError, match=rf"train\.toml:2:{column} \(optimizer\.schedule\): .*'cosnie'"):
        load_schedule(str(toml), key="optimizer.schedule")
    document = tmp_path / "train.json"
    document.write_text(json.dumps({"schedule": "warmup(5%) then cosnie()", "total": 100}, indent=1))
    column = ' "schedule": "warmup(5%) then cosnie()",'.index("cosnie") + 1
    with pytest.raises(lrdsl.LRDSLError, match=rf"train\.json:2:{column} \(schedule\): .*'cosnie'"):
        load_schedule(str(document), key="schedule", total=100)


def test_a_syntax_error_in_a_config_names_the_file_and_key(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "train.yaml"
    path.write_text('schedule: "warmup(5%) then then cosine()"\n')
    column = 'schedule: "warmup(5%) then then cosine()"'.index("cosine") + 1
    with pytest.raises(lrdsl.errors.LRDSLSyntaxError, match=rf"train\.yaml:1:{column} \(schedule\): syntax error"):
        load_entry(str(path), key="schedule")


def test_options_next_to_a_string_entry_are_its_options(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "train.yaml"
    path.write_text(YAML.replace("then sinn(T=10)\n", ""))
    entry = load_entry(str(path), key="optimizer.schedule")
    assert entry.total == 10000 and entry.options() == {"total": 10000}
    sched = entry.compile()
    assert sched(500) == lrdsl.compile("warmup(5%) then cosine()", total=10000)(500)
    table = {"run": {"schedule": {"expression": "cosine()", "tokens_per_step": 2048, "total": "1e6tok"}}}
    assert load_entry(table, key="run.schedule").options() == {"total": "1e6tok", "tokens_per_step": 2048}


def test_an_entry_without_a_total_takes_one_from_the_caller():
    entry = load_entry({"opt": "adamw(lr=warmup(5%) then cosine())"}, key="opt")
    optimizer = lrdsl.optimizer(entry.text, [np.zeros(2)], total=10_000, **entry.optimizer_options())
    assert optimizer is not None
    sched = lrdsl.compile("warmup(5%) then cosine()", total=10_000, **load_entry({"s": "x"}, key="s").options())
    assert sched(0) == 0.0


@pytest.mark.parametrize(
    "text, says",
    [
        ("step(size=10)", "did you mean 's'"),
        ("cosine(t=100)", "did you mean 'T'"),
        ("cosine(t_max=100)", "did you mean 'T'"),
        ("cosine(T=100, eta_min=0)", "did you mean 'end'"),
        ("ADAM(lr=0.1)", "'adam' is an optimizer node"),
        ("Cosine(T=5)", "did you mean 'cosine'"),
    ],
)
def test_suggestions_name_what_was_meant(text, says):
    assert says in error_of(text)


def test_a_string_base_is_called_a_string():
    assert "base='3e-4' is a string; the base learning rate is a number: base=0.0003" in error_of(
        "cosine(T=10)", base="3e-4"
    )


def test_counters_that_disagree_are_an_error():
    sched = lrdsl.compile("cosine(T=10)", steps_per_epoch=10)
    with pytest.raises(lrdsl.LRDSLError, match="the counters disagree"):
        sched(5, epoch=1)
    assert sched(10, epoch=1) == sched(10)


def test_the_cli_shows_the_caret():
    done = subprocess.run(
        [sys.executable, "-m", "lrdsl.cli", "check", "warmup(5%) then cosnie()", "--total", "100"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines()[-2:] == ["  warmup(5%) then cosnie()", "                  ^"]
