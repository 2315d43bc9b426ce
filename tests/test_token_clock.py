"""Token and sample durations (docs/language.md §4): ``2e8tok``, ``1e6sp``, a clock read from the
host's cumulative count, conversions with ``tokens_per_step`` / ``samples_per_step``, and the
bridges reading a token count. References are the formulas written out here."""

import math

import numpy as np
import pytest

import lrdsl
from lrdsl.errors import UnitError

TEXT = "warmup(2e8tok) then cosine(end=1e-5)"


def reference(tokens: float, base=3e-4, warm=2e8, total=3e11, end=1e-5) -> float:
    if tokens < warm:
        return base * tokens / warm
    done = min((tokens - warm) / (total - warm), 1.0)
    return end + (base - end) * (1 + math.cos(math.pi * done)) / 2


def test_token_durations_parse_print_and_compile():
    tree = lrdsl.parse("warmup(2e8tok) then linear(T=5e5sp) then cosine(T=10%)")
    assert str(tree) == "warmup(2e8tok) then linear(T=5e5sp) then cosine(T=10%)"
    assert lrdsl.parse(str(tree)) == tree


def test_a_schedule_in_tokens_runs_on_the_token_count():
    sched = lrdsl.compile(TEXT, base=3e-4, total="3e11tok")
    assert sched.clock.unit == "tok"
    counts = np.array([0, 1e8, 2e8, 5e9, 1.5e11, 3e11, 4e11])
    assert [sched(tokens=n) for n in counts] == pytest.approx([reference(n) for n in counts], rel=1e-12)
    np.testing.assert_allclose(sched.values(tokens=counts), [sched(tokens=n) for n in counts], rtol=1e-15)
    shuffled = counts[::-1].copy()
    np.testing.assert_allclose(sched.values(tokens=shuffled), [reference(n) for n in shuffled], rtol=1e-12)
    with pytest.raises(UnitError, match=r"counts tokens .* needs tokens_per_step= .* sched\(tokens=n\)"):
        sched(100)


def test_the_curve_stays_continuous_when_the_batch_size_doubles():
    sched = lrdsl.compile(TEXT, base=3e-4, total="3e11tok")
    batches = [2**20] * 150_000 + [2**21] * 68_000  # tokens per update, doubled halfway
    seen = np.concatenate([[0], np.cumsum(batches)[:-1]]).astype(float)  # tokens before each update
    lrs = sched.values(tokens=seen)
    np.testing.assert_allclose(lrs, [reference(n) for n in seen], rtol=1e-10)  # a function of tokens alone
    decay = lrs[seen >= 2e8]
    assert (np.diff(decay) <= 0).all()  # the cosine never jumps back up, at the doubling (update 150000) or elsewhere


def test_samples_and_the_identifiers_tok_and_sp():
    by_samples = lrdsl.compile("step(s=1e6sp, gamma=0.5)", base=0.1)
    assert [by_samples(samples=n) for n in (0, 999_999, 1e6, 2.5e6)] == [0.1, 0.1, 0.05, 0.025]
    stairs = lrdsl.compile("base * 0.5 ** floor(tok / 1e8)", base=0.2, total="1e9tok")
    assert [stairs(tokens=n) for n in (0, 1e8 - 1, 1e8, 3.5e8)] == [0.2, 0.2, 0.1, 0.025]


def test_mixing_tokens_with_iterations_needs_tokens_per_step():
    text = "warmup(T=1000) then cosine(T=2e9tok, end=0)"
    with pytest.raises(UnitError, match="1000 iterations cannot be measured on this schedule's tokens clock; pass "):
        lrdsl.compile(text)
    sched = lrdsl.compile(text, tokens_per_step=2**20)
    assert sched.clock.unit == "it"
    horizon = 2e9 / 2**20  # the cosine's length in iterations
    for i in (0, 500, 1000, 1500, 2000, 3000):
        expected = i / 1000 if i < 1000 else (1 + math.cos(math.pi * min((i - 1000) / horizon, 1))) / 2
        assert sched(i) == pytest.approx(expected, abs=1e-15)
        assert sched(tokens=i * 2**20) == sched(i) == sched(i, tokens=i * 2**20)
    with pytest.raises(lrdsl.LRDSLError, match="counters disagree"):
        sched(10, tokens=5)


def test_percent_takes_the_unit_of_total():
    sched = lrdsl.compile("warmup(5%) then cosine()", total="1e9tok")
    assert sched.clock.unit == "tok" and sched.phase_starts("tok") == [0.0, 5e7]
    assert sched(tokens=5e7) == 1.0 and sched(tokens=1e9) == 0.0


def test_a_token_count_is_the_counter_of_the_jax_and_keras_bridges():
    jax = pytest.importorskip("jax")
    from lrdsl.bridges.jax import schedule

    counts = np.linspace(0, 4e11, 257)
    expected = lrdsl.compile(TEXT, base=3e-4, total="3e11tok").values(tokens=counts)
    with jax.enable_x64(True):
        f = jax.jit(schedule(TEXT, base=3e-4, total="3e11tok", counter="tok", dtype=jax.numpy.float64))
        np.testing.assert_allclose(np.asarray(f(counts)), expected, rtol=1e-9)
    pytest.importorskip("keras")
    from lrdsl.bridges.keras import LRDSLSchedule

    lr = LRDSLSchedule(TEXT, base=3e-4, total="3e11tok", counter="tok")
    got = np.array([float(lr(float(n))) for n in counts])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7 * 3e-4)
    assert LRDSLSchedule.from_config(lr.get_config()).counter == "tok"


def test_plot_by_tokens(capsys):
    from lrdsl.cli import main

    assert main(["plot", TEXT, "--base", "3e-4", "--total", "3e11tok"]) == 0
    out = capsys.readouterr().out
    assert "3e+11 tokens" in out and "tokens    2e+08  0.0003         [1] phase 2 starts" in out
    assert main(["eval", TEXT, "--total", "3e11tok", "--tokens", "--at", "0,2e8"]) == 0
    assert capsys.readouterr().out.splitlines() == ["tokens 0: 0.0", "tokens 2e+08: 1.0"]
