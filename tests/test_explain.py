"""lrdsl.explain.explain and ``lrdsl explain``: every fact computed again here from the schedule
itself (sched.values over the run, phase_spans), and every peer equivalent run live."""

import json
import math

import numpy as np
import pytest

import lrdsl
from lrdsl.cli import main
from lrdsl.explain import explain


def facts_by_hand(sched, length):
    """(values over the run, spans clipped to it) computed without lrdsl.explain."""
    points = np.arange(length, dtype=float)
    return points, sched.values(points), [(s, min(e, length)) for s, e in sched.phase_spans("it") if s < length]


@pytest.mark.parametrize(
    "text, options, length",
    [
        ("warmup(5%) then cosine(end=1e-5)", {"total": "90ep", "steps_per_epoch": 100, "base": 3e-4}, 9000),
        ("step(base=0.1, s=10) then exp(s=5)", {"total": 60}, 60),
        ("warmup(10) then onecycle(T=100) then constant()", {"total": 150, "base": 0.5}, 150),
        ("sgdr(T=10, mult=2)", {"total": 150}, 150),
    ],
)
def test_phases_values_min_max_match_the_schedule(text, options, length):
    sched = lrdsl.compile(text, **options)
    e = explain(text, **options)
    points, values, spans = facts_by_hand(sched, length)
    assert e.expression == sched.expression and e.bounded and e.length["iteration"] == length
    assert len(e.phases) == len(spans)
    for phase, (start, end) in zip(e.phases, spans):
        assert phase.start["iteration"] == start
        assert phase.end is None if end == length else phase.end["iteration"] == end
        inside = values[(points >= start) & (points < end)]
        assert phase.first == sched(int(start)) and phase.last == sched(math.ceil(end) - 1)
        assert phase.low.value == inside.min() and phase.high.value == inside.max()
    assert e.minimum.value == values.min() and e.maximum.value == values.max()
    assert sched(e.minimum.at["iteration"]) == values.min()
    assert sched(e.maximum.at["iteration"]) == values.max()
    if "steps_per_epoch" in options:
        spe = options["steps_per_epoch"]
        assert all(p.start["epoch"] == p.start["iteration"] / spe for p in e.phases)
        assert e.length == {"iteration": 9000, "epoch": 90}


def test_restarts_are_where_the_value_jumps_up():
    sched = lrdsl.compile("sgdr(T=10, mult=2)", total=150)
    values = sched.values(np.arange(150.0))
    jumps = [float(i + 1) for i in np.flatnonzero(np.diff(values) > 0)]
    e = explain(sched)
    assert [r["iteration"] for r in e.restarts] == jumps == [10.0, 30.0, 70.0]
    assert "restarts (3): iteration 10, iteration 30, iteration 70" in str(e)


def test_peak_inside_a_phase():
    e = explain("onecycle(T=100)", base=0.1)
    sched = lrdsl.compile("onecycle(T=100)", base=0.1)
    values = sched.values(np.arange(100.0))
    (phase,) = e.phases
    assert phase.shape == "rises then falls"
    assert phase.peak.value == values.max() and phase.peak.at["iteration"] == float(np.argmax(values))
    assert f"peak 0.1 at iteration {int(np.argmax(values))}" in str(e)


def test_a_schedule_without_total_is_explained_over_its_natural_length():
    e = explain("warmup(5) then cosine(45)")
    assert not e.bounded and e.length["iteration"] == 50
    assert "no total given" in str(e)


# -- peers ----------------------------------------------------------------------------------------

EQUIVALENT = [
    ("onecycle(T=100)", 0.1, "torch", "OneCycleLR(max_lr=0.1, total_steps=100)"),
    (
        'onecycle(T=50, pct=0.25, anneal="linear", three_phase=true)',
        0.1,
        "torch",
        'OneCycleLR(max_lr=0.1, total_steps=50, pct_start=0.25, anneal_strategy="linear", three_phase=True)',
    ),
    ("step(s=3, gamma=0.5)", 0.05, "torch", "StepLR(step_size=3, gamma=0.5)"),
    ("multistep(at=[2, 5, 9])", 0.05, "torch", "MultiStepLR(milestones=[2, 5, 9], gamma=0.1)"),
    ("exp(s=1, rate=0.9)", 0.05, "torch", "ExponentialLR(gamma=0.9)"),
    ("cosine(T=10, end=0.001)", 0.05, "torch", "CosineAnnealingLR(T_max=10, eta_min=0.001)"),
    ("cosine(T=20, end=0.01)", 0.1, "keras", None),
    ("poly(T=20, power=2)", 0.1, "torch", "PolynomialLR(total_iters=20, power=2.0)"),
    ("poly(T=30, power=2, end=0.001)", 0.1, "keras", None),
    ("exp(s=10, rate=0.5, staircase=true)", 0.1, "keras", None),
    ("sgdr(T=5, mult=2, end=0.001)", 0.1, "torch", "CosineAnnealingWarmRestarts(T_0=5, T_mult=2, eta_min=0.001)"),
    ('cyclic(up=3, down=5, low=0.01, high=0.1, mode="triangular2")', 0.1, "torch", None),
    ("warmup(T=5) then cosine(T=45)", 0.1, "hf", 'get_scheduler("cosine", num_warmup_steps=5, num_training_steps=50)'),
    ("warmup(T=5) then linear(T=45)", 0.1, "hf", 'get_scheduler("linear", num_warmup_steps=5, num_training_steps=50)'),
    ("warmup(T=5)", 0.1, "hf", 'get_scheduler("constant_with_warmup", num_warmup_steps=5)'),
    ("rsqrt(warmup=5)", 0.1, "hf", 'get_scheduler("inverse_sqrt", num_warmup_steps=5)'),
]
FRAMEWORKS = {"torch": ("torch",), "hf": ("torch", "transformers"), "keras": ("keras",)}


@pytest.mark.parametrize("text, base, library, call", EQUIVALENT)
def test_the_named_peer_gives_the_same_values(text, base, library, call):
    for module in FRAMEWORKS[library]:
        pytest.importorskip(module)
    from parity.peers import mismatches, peer_values

    sched = lrdsl.compile(text, base=base)
    found = [eq for eq in explain(sched).equivalents if eq.library == library]
    assert found, f"{text}: no {library} equivalent named"
    for eq in found:
        if call is not None:
            assert eq.call == call
        steps = int(eq.until) + 1 if eq.until is not None else 80
        theirs = peer_values(library, eq.call, {"base": base, "steps": steps}, None)
        ours = sched.values(np.arange(steps, dtype=float))
        assert mismatches(ours, theirs, library).size == 0, (eq.call, ours, theirs)


@pytest.mark.parametrize(
    "text, base",
    [
        ("step(s=3, base=0.5)", 0.1),  # the node's base is not the optimizer's lr
        ("cosine(T=10.5)", 1.0),  # torch counts whole steps
        ("warmup(T=5, start=0.01) then cosine(T=45)", 1.0),  # HF warms up from 0
        ("0.5 * cosine(T=10)", 1.0),
        ("step(s=3) for 9 then constant()", 1.0),
        ("sgdr(T=5, decay=0.5)", 1.0),
    ],
)
def test_no_peer_is_named_where_none_matches(text, base):
    assert not [eq for eq in explain(text, base=base).equivalents if eq.library == "torch" or eq.library == "hf"]


def test_the_text_names_the_peer():
    text = str(explain("onecycle(T=100)", base=0.1))
    assert "this is torch OneCycleLR(max_lr=0.1, total_steps=100) up to iteration 99" in text


# -- checkpoints and history ---------------------------------------------------------------------


def amended():
    sched = lrdsl.compile("warmup(1%) then constant()", base=3e-4, total=100_000)
    sched(80_000)
    sched = sched.amend("linear(end=0)", total=90_000)
    return sched.amend("constant()", at=85_000)


def test_a_checkpoint_is_explained_with_its_history():
    sched = amended()
    state = json.loads(json.dumps(sched.state_dict()))
    e = explain(state=state)
    assert e.expression == sched.expression
    assert [dict(h) for h in e.history] == state["history"]
    assert e.position == {"iteration": 80_000.0}
    text = str(e)
    assert "amendments:" in text and "at 80000: then linear(end=0), total 90000it" in text
    assert "at 85000: then constant()" in text
    assert explain(sched).history == sched.history


def test_explain_checkpoint_on_the_command_line(tmp_path, capsys):
    sched = amended()
    path = tmp_path / "state.json"
    path.write_text(json.dumps(sched.state_dict()))
    assert main(["explain", "--checkpoint", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == explain(state=sched.state_dict()).as_dict()
    assert [h["text"] for h in data["history"]] == ["linear(end=0)", "constant()"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["explain", "cosine(T=10)", "--checkpoint", "x.json"], "give it alone"),
        (["explain", "--checkpoint", "x.json", "--total", "10"], "--total"),
        (["explain", "--checkpoint", "/nonexistent/state.json"], "cannot read it"),
        (["explain"], "give a schedule (TEXT) or --checkpoint FILE"),
        (["explain", "warmup(5%) then cosine()"], "give --total"),
    ],
)
def test_explain_errors(args, fragment, capsys):
    assert main(args) == 2
    assert fragment in capsys.readouterr().err


def test_library_errors():
    with pytest.raises(lrdsl.LRDSLError, match="already compiled"):
        explain(lrdsl.compile("cosine(T=10)"), total=10)
    with pytest.raises(lrdsl.LRDSLError, match="state= alone"):
        explain("cosine(T=10)", state={"expression": "cosine(T=10)", "nodes": []})
    with pytest.raises(lrdsl.LRDSLError, match="not int"):
        explain(3)
    with pytest.raises(lrdsl.LRDSLError):
        explain(state={"expression": 5})


def test_json_is_the_dict_and_deterministic(capsys):
    args = ["explain", "warmup(5%) then cosine()", "--total", "90ep", "--steps-per-epoch", "100", "--json"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    assert capsys.readouterr().out == first
    data = json.loads(first)
    assert data == explain("warmup(5%) then cosine()", total="90ep", steps_per_epoch=100).as_dict()
    assert set(data) == {
        "expression",
        "base",
        "clock",
        "length",
        "bounded",
        "phases",
        "restarts",
        "min",
        "max",
        "equivalents",
        "notes",
        "position",
        "history",
    }
    assert [p["start"] for p in data["phases"]] == [{"iteration": 0, "epoch": 0}, {"iteration": 450, "epoch": 4.5}]


def test_explain_text_on_the_command_line(capsys):
    assert main(["explain", "warmup(5%) then cosine(end=1e-5)", "--total", "90ep", "--steps-per-epoch", "100"]) == 0
    out = capsys.readouterr().out
    assert "the run ends at iteration 9000 (epoch 90)" in out
    assert "1. warmup(5%): Linear warmup; rises from 0 to" in out
    assert "iteration 450–9000 (epoch 4.5–90)" in out
    assert "max 1 at iteration 450 (epoch 4.5)" in out
