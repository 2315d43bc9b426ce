"""Search templates (README "Searching for a schedule"): distributions in the language, the space
and its names, sampling, checking, and lrdsl.compile refusing a template."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lrdsl
from lrdsl import search
from lrdsl.cli import main
from lrdsl.errors import TemplateError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (
    "warmup(uniform(1%, 10%)) then choice(cosine(end=loguniform(1e-6, 1e-3)), linear(end=0)) for 80% "
    "then constant(intuniform(1, 9, step=2) * 1e-3)"
)


# -- the space and its names --------------------------------------------------------------------------


def test_dimensions_are_named_by_their_node_and_parameter():
    found = search.space(TEMPLATE)
    assert found.names() == ["warmup.T", "phase2", "cosine.end", "constant.value"]
    warm, shape, end, last = found
    assert (warm.kind, warm.low, warm.high, warm.unit, warm.step) == ("uniform", 1.0, 10.0, "%", None)
    assert shape.options == ("cosine(end=loguniform(1e-06, 0.001))", "linear(end=0)")
    assert end.parent == ("phase2", 0) and warm.parent is None
    assert (last.kind, last.low, last.high, last.step, last.integral) == ("intuniform", 1, 9, 2, True)


def test_repeated_names_take_their_phase_then_a_number():
    text = (
        "cosine(T=uniform(10, 20)) then cosine(T=uniform(10, 20)) "
        "then min(cosine(end=uniform(0, 1)), cosine(end=uniform(0, 1)))"
    )
    assert search.space(text).names() == [
        "phase1.cosine.T",
        "phase2.cosine.T",
        "phase3.cosine.end#1",
        "phase3.cosine.end#2",
    ]
    listed = "multistep(at=[intuniform(1, 5), intuniform(6, 9)], gamma=uniform(0.1, 0.5)) for uniform(10, 20)"
    assert search.space(listed).names() == ["multistep.at[0]", "multistep.at[1]", "multistep.gamma", "phase1.for"]


def test_names_are_stable_when_the_rest_of_the_string_changes():
    a = search.space("warmup(uniform(1%, 10%)) then cosine(end=loguniform(1e-6, 1e-3))").names()
    b = search.space("warmup(T=uniform(2%, 5%), start=0.1) then cosine(T=50, end=loguniform(1e-5, 1e-3))").names()
    assert a == b == ["warmup.T", "cosine.end"]


def test_a_search_variable_is_one_dimension_named_after_it():
    text = "warmup(5%, base=$peak) then cosine(end=0.01 * $peak)"
    found = search.space(text, {"peak": "loguniform(1e-4, 1e-1)", "other": 3})
    assert found.names() == ["$peak"]
    assert search.sample(text, {"$peak": 0.01}, {"peak": "loguniform(1e-4, 1e-1)"}) == (
        "warmup(5%, base=0.01) then cosine(end=0.01 * 0.01)"
    )


# -- sampling ----------------------------------------------------------------------------------------


def test_sample_writes_the_canonical_concrete_string():
    values = {"warmup.T": 4.5, "phase2": "cosine(end = loguniform(1e-6, 1e-3))", "cosine.end": 1e-5}
    text = search.sample(TEMPLATE, {**values, "constant.value": 7})
    assert text == "warmup(4.5%) then cosine(end=1e-05) for 80% then constant(7 * 0.001)"
    assert str(lrdsl.parse(text)) == text
    sched = lrdsl.compile(text, total=1000)
    assert sched(45) == pytest.approx(1.0) and sched(999) == pytest.approx(7e-3)
    # a dimension in an option that is not chosen needs no value
    assert "linear(end=0)" in search.sample(TEMPLATE, {"warmup.T": 1, "phase2": "linear(end=0)", "constant.value": 1})


def test_random_samples_round_trip_through_the_printer_and_compile():
    rng = np.random.default_rng(0)
    found = search.space(TEMPLATE)
    for _ in range(50):
        values = {
            "warmup.T": rng.uniform(1, 10),
            "phase2": found["phase2"].options[rng.integers(2)],
            "cosine.end": float(np.exp(rng.uniform(np.log(1e-6), np.log(1e-3)))),
            "constant.value": int(rng.choice([1, 3, 5, 7, 9])),
        }
        text = found.sample(values)
        assert str(lrdsl.parse(text)) == text  # canonical
        assert found.sample(values) == text  # stable
        assert lrdsl.compile(text, total=500).values(np.arange(500)).min() >= 0


def test_continuous_values_are_written_with_four_digits_within_the_bounds():
    assert search.sample("cosine(end=uniform(0, 1))", {"cosine.end": 0.37718136113035894}) == "cosine(end=0.3772)"
    assert search.sample("cosine(end=uniform(0.1, 0.12345))", {"cosine.end": 0.12345}) == "cosine(end=0.12345)"


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"warmup.T": 11, "phase2": "linear(end=0)", "constant.value": 1}, r"outside \[1, 10\]"),
        ({"warmup.T": 2, "phase2": "exp(s=1)", "constant.value": 1}, "not one of its options"),
        ({"warmup.T": 2, "phase2": "linear(end=0)", "constant.value": 4}, "not on its grid"),
        ({"warmup.T": 2, "phase2": "linear(end=0)"}, r"no value for intuniform\(1, 9, step=2\)"),
        ({"warmup.t": 2}, "no dimension 'warmup.t'"),
        ({"warmup.T": "2ep", "phase2": "linear(end=0)", "constant.value": 1}, "expected a finite number"),
    ],
)
def test_bad_values_are_template_errors(values, fragment):
    with pytest.raises(TemplateError, match=fragment):
        search.sample(TEMPLATE, values)


# -- bad templates: LRDSLError with the position --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "warmup(uniform(10%, 1%)) then cosine()",
            r"uniform\(\) \(line 1, column 8\) \[warmup.T\]: lo must be below hi",
        ),
        ("cosine(end=loguniform(0, 1))", r"column 12.*lo must be > 0"),
        ("cosine(T=100) for uniform(1ep, 10%)", "same unit"),
        ("cosine(T=intuniform(1, 10.5))", "whole numbers"),
        ("cosine(T=uniform(1, 10, step=4))", "whole number of steps"),
        ("cosine(end=uniform(1%, 2%))", r"column 12\) \[cosine.end\]: bounds in % give durations"),
        ("cosine(T=uniform($x, 5))", "lo must be a number or a duration"),
        ("cosine(T=choice(10))", "two or more options"),
        ("cosine(T=choice(10, 10))", "more than once"),
        (
            "warmup(5%) then cosine() for choice(linear(end=0), 5ep)",
            r"column 30\) \[phase2.for\]: a duration .* option 1",
        ),
        ("cosine(T=100)", "has no distribution"),
    ],
)
def test_bad_templates_say_where(text, fragment):
    with pytest.raises(TemplateError, match=fragment):
        search.check(text, total=1000)


def test_check_compiles_every_choice_and_both_ends():
    with pytest.raises(
        TemplateError, match=r"column 17\) \[phase2\]: option 2, linaer\(end=0\), does not compile.*'linear'"
    ):
        search.check("warmup(5%) then choice(cosine(end=0), linaer(end=0))", total=100)
    with pytest.raises(TemplateError, match=r"column 10\) \[cosine.T\]: its low end -5.0 does not compile.*T=-5"):
        search.check("cosine(T=uniform(-5, 10))")
    with pytest.raises(TemplateError, match=r"\[phase1.cosine.T\]: its high end 200.0 does not compile.*after the end"):
        search.check("cosine(T=uniform(1, 200)) then cosine(T=uniform(5, 10))", total=100)
    with pytest.raises(TemplateError, match=r'option 2, "tri", does not compile.*mode="tri" is out of range'):
        search.check('cyclic(up=4, mode=choice("triangular", "tri"))')
    _, compiled = search.check(TEMPLATE, total=1000)
    assert len(compiled) == 1 + 1 + 1 + 1 + 1  # the low corner, then warmup.T, phase2, cosine.end, constant.value
    assert compiled[0].expression == "warmup(1.0%) then cosine(end=1e-06) for 80% then constant(1 * 0.001)"


def test_compile_refuses_a_template_naming_its_distributions():
    with pytest.raises(TemplateError) as error:
        lrdsl.compile(TEMPLATE, total=100)
    message = str(error.value)
    for fragment in ("uniform(1%, 10%) (line 1, column 8)", "choice(cosine(end=loguniform", "lrdsl.search.sample"):
        assert fragment in message
    with pytest.raises(TemplateError, match=r"\$w = uniform\(1, 10\)"):
        lrdsl.compile("warmup($w) then cosine()", total=100, variables={"w": "uniform(1, 10)"})
    with pytest.raises(TemplateError, match="weight_decay=uniform|uniform\\(0, 0.1\\)"):
        lrdsl.optimizer("adamw(lr=1e-3, weight_decay=uniform(0, 0.1))", [np.zeros(3)])


def test_a_plugin_cannot_take_a_distribution_name():
    from lrdsl.authoring import schedule_node

    with pytest.raises(lrdsl.LRDSLError, match="'uniform' is reserved"):

        @schedule_node(name="uniform")
        def uniform(t, value: float = 1.0):
            """A constant."""
            return value


# -- the command line ------------------------------------------------------------------------------------


def test_lrdsl_check_lists_a_templates_dimensions(capsys):
    assert main(["check", TEMPLATE, "--total", "1000"]) == 0
    out = capsys.readouterr().out
    assert "ok: a search template of 4 dimension(s); 5 of its schedules compile" in out
    assert "warmup.T" in out and "uniform(1%, 10%) (line 1, column 8)" in out
    assert main(["check", TEMPLATE, "--total", "1000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in report["dimensions"]] == ["warmup.T", "phase2", "cosine.end", "constant.value"]
    assert main(["check", "warmup($w) then cosine()", "--total", "100", "--var", "w=uniform(1, 10)"]) == 0
    assert main(["check", "cosine(T=uniform(-5, 10))"]) == 2
    assert "its low end -5.0 does not compile" in capsys.readouterr().err


def test_import_lrdsl_search_loads_neither_optuna_nor_ray():
    code = (
        "import sys, lrdsl, lrdsl.search, lrdsl.cli; "
        "print(sorted(m for m in ('optuna', 'ray', 'sklearn', 'sqlalchemy') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_suggest_asks_only_the_dimensions_the_chosen_options_reach():
    class Trial:  # the part of optuna.Trial that suggest() uses, recording the calls
        def __init__(self):
            self.calls, self.user_attrs = [], {}

        def suggest_float(self, name, low, high, step=None, log=False):
            self.calls.append((name, low, high, step, log))
            return high

        def suggest_int(self, name, low, high, step=1):
            self.calls.append((name, low, high, step))
            return low

        def suggest_categorical(self, name, choices):
            self.calls.append((name, tuple(choices)))
            return choices[-1]

        def set_user_attr(self, key, value):
            self.user_attrs[key] = value

    trial = Trial()
    text = search.suggest(TEMPLATE, trial)
    assert text == "warmup(10.0%) then linear(end=0) for 80% then constant(1 * 0.001)"
    assert trial.user_attrs == {"schedule": text}
    assert [call[0] for call in trial.calls] == ["warmup.T", "phase2", "constant.value"]
    assert trial.calls[0] == ("warmup.T", 1.0, 10.0, None, False) and trial.calls[2] == ("constant.value", 1, 9, 2)
