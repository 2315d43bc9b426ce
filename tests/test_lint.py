"""lrdsl.lint and `lrdsl check`: every finding on a schedule that has it and on one that does not."""

import json

import pytest

import lrdsl
from lrdsl.cli import main
from lrdsl.lint import Run, lint


def codes(text, run=None, **options):
    return [(f.level, f.code) for f in lint(lrdsl.compile(text, **options), run)]


def only(text, run=None, **options):
    (finding,) = lint(lrdsl.compile(text, **options), run)
    return finding


# -- each finding, present and absent ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, options",
    [
        ("-0.1 * cosine(T=100)", {}),  # negative from the start, no total needed
        ("cosine(T=100) - 0.5", {"total": 100}),  # negative in the second half only
        ("warmup(T=10) then 0.1 * log(cosine(T=100))", {"total": 200}),  # -inf, then NaN, where the cosine reaches 0
        ("constant(0.1) for 500 then constant(0.1) - it / 1e6", {"total": 1e6 + 1000}),  # negative in the last 0.1%
    ],
)
def test_bad_values_are_errors(text, options):
    finding = lint(lrdsl.compile(text, **options))[0]
    assert (finding.level, finding.code) == ("error", "bad-value")
    assert "a learning rate must be finite and >= 0" in finding.message


def test_bad_value_names_where_and_how_much():
    finding = only("cosine(T=100) - 0.5", total=100)
    assert finding.message.startswith("the learning rate is negative (") and "at iteration 51" in finding.message
    assert finding.at == 51 and finding.share == pytest.approx(0.49)


def test_no_finding_for_a_good_schedule():
    assert codes("warmup(5%) then cosine(end=1e-5)", total="100ep", steps_per_epoch=50) == []
    assert codes("warmup(1%) then constant()", total=10_000) == []  # WSD's stable phase is not a finished decay
    assert codes("step(s=30ep)", total="90ep", steps_per_epoch=100) == []  # the last step is a design
    assert codes("cosine(T=100)") == []  # nothing to check against without a run, and nothing wrong


def test_a_phase_the_run_never_reaches_is_an_error():
    found = codes("constant(0.1) for 100 then constant(0.01)", Run(total=50), total=1000)
    assert found == [("error", "never-reached")]
    assert codes("constant(0.1) for 100 then constant(0.01)", Run(total=500), total=1000) == []


def test_a_nested_phase_never_reached_is_a_warning():
    assert codes("(constant(1) for 20 then constant(2)) for 20 then constant(3)", total=100) == [
        ("warning", "nested-never-reached")
    ]
    assert codes("(constant(1) for 10 then constant(2)) for 20 then constant(3)", total=100) == []


def test_the_run_ending_before_a_phase_ends():
    finding = only("warmup(5%) then cosine()", Run(total=2500), total=10_000)
    assert finding.code == "run-ends-early" and finding.level == "warning"
    assert "the run ends at 21% of phase 2 (cosine()), which would end at iteration 10000" in finding.message
    assert only("cosine(T=10ep)", Run(total="5ep"), total="10ep").message.startswith("the run ends at 50% of phase 1")
    assert codes("warmup(5%) then cosine()", Run(total=10_000), total=10_000) == []
    assert codes("cosine(T=100) for 50 then constant(0.1)", Run(total=40), total=1000) == [
        ("error", "never-reached"),
        ("warning", "run-ends-early"),
    ]


def test_a_decay_that_finishes_early():
    finding = only("warmup(5%) then cosine(T=50ep)", total="100ep", steps_per_epoch=10)
    assert finding.code == "decay-finished-early"
    assert "reaches 0 at iteration 550 (epoch 55) and stays there for the last 45% of the run" in finding.message
    assert (finding.at, finding.share) == (550, 0.45)
    assert only("linear(T=80, end=0.01)", total=100).message.startswith(
        "the learning rate reaches its final value 0.01"
    )
    assert codes("linear(T=95, end=0.01)", total=100) == []  # 5% at the end is fine
    assert codes("multistep(at=[10, 20])", total=100) == []  # a step down to its last value


def test_a_long_warmup():
    finding = only("warmup(30%) then cosine()", total=1000)
    assert finding.code == "long-warmup" and "30% of the run (more than 25%)" in finding.message
    assert codes("warmup(20%) then cosine()", total=1000) == []
    assert codes("onecycle(T=1000)", total=1000) == []  # one phase: its rise is the policy


def test_restarts_on_fractional_epochs():
    finding = only("sgdr(T=2.5ep)", total="20ep", steps_per_epoch=100)
    assert finding.code == "fractional-restart"
    assert "4 restart(s) fall inside an epoch: iteration 250 (epoch 2.5)" in finding.message
    assert codes("sgdr(T=2ep)", total="20ep", steps_per_epoch=100) == []
    assert codes("sgdr(T=250)", total=2000, steps_per_epoch=100) == []  # written in iterations: meant so
    assert codes("sgdr(T=2.5ep)", total="20ep") == [("warning", "fractional-restart")]  # on an epoch clock too


def test_lint_takes_a_run_as_a_mapping():
    assert codes("warmup(5%) then cosine()", {"total": 2500}, total=10_000) == [("warning", "run-ends-early")]


# -- the command line -------------------------------------------------------------------------------


def test_check_exit_status_and_output(capsys):
    assert main(["check", "-0.1 * cosine(T=100)"]) == 2
    out = capsys.readouterr().out
    assert "error [bad-value]" in out and "ok:" not in out
    assert main(["check", "warmup(5%) then cosine(T=50ep)", "--total", "100ep", "--steps-per-epoch", "10"]) == 0
    out = capsys.readouterr().out
    assert "ok: 2 phase(s)" in out and "warning [decay-finished-early]" in out
    assert (
        main(["check", "warmup(5%) then cosine(T=50ep)", "--total", "100ep", "--steps-per-epoch", "10", "--strict"])
        == 1
    )
    assert main(["check", "warmup(5%) then cosine()", "--total", "100ep", "--strict"]) == 0


def test_check_json(capsys):
    assert main(["check", "warmup(30%) then cosine()", "--total", "1000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "warnings" and report["total"] == "1000it"
    assert [f["code"] for f in report["findings"]] == ["long-warmup"]
    assert main(["check", "-0.1 * cosine(T=100)", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["status"] == "errors"
