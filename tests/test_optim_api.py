"""The optimizer API (docs/language.md §13): stepping, groups, names, saving and resuming, errors, allocation."""

import pickle
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import lrdsl
from lrdsl.authoring import Check, between, nonnegative, optimizer_node
from lrdsl.errors import ArrayError, EvaluationError, ParameterError, UnitError, UnknownNameError
from lrdsl.optim import OptimizerConfig, ParamState, parse_optimizer
from lrdsl.optim.kernels import ema
from lrdsl.plugins import build_registry

ROOT = Path(__file__).resolve().parent.parent


# -- the config the bridges use ----------------------------------------------------------------


def test_parse_optimizer_gives_values_and_schedules():
    config = parse_optimizer(
        "adamw(warmup(T=10, base=0.01) then cosine(T=90), betas=(0.95 - 0.1 * cosine(T=100), 0.999), weight_decay=$wd)",
        variables={"wd": 0.05},
    )
    assert isinstance(config, OptimizerConfig)
    assert config.name == "adamw"
    assert list(config.hyperparameters) == ["lr", "betas", "eps", "weight_decay", "amsgrad"]
    lr, betas = config.hyperparameters["lr"], config.hyperparameters["betas"]
    assert isinstance(lr, lrdsl.Schedule) and lr(10) == pytest.approx(0.01)
    assert isinstance(betas[0], lrdsl.Schedule) and betas[1] == 0.999
    assert config.hyperparameters["weight_decay"] == 0.05 and config.hyperparameters["amsgrad"] is False
    assert config.scheduled == ("lr", "betas")
    assert [label for label, _ in config.schedules()] == ["lr", "betas[0]"]
    assert config.values(0) == {
        "lr": 0.0,
        "betas": (pytest.approx(0.85), 0.999),
        "eps": 1e-8,
        "weight_decay": 0.05,
        "amsgrad": False,
    }
    assert config.text.startswith("adamw(lr=warmup(T=10, base=0.01) then cosine(T=90), betas=")


def test_schedules_inside_an_optimizer_have_incoming_base_one_and_use_total():
    config = parse_optimizer("sgd(lr=0.1 * cosine(), momentum=base * 0.9)", total=100)
    lr = config.hyperparameters["lr"]
    assert lr(0) == pytest.approx(0.1) and lr(100) == pytest.approx(0.0)
    assert config.hyperparameters["momentum"] == 0.9


def test_epoch_durations_need_steps_per_epoch():
    with pytest.raises(UnitError, match="lr = .*steps_per_epoch"):
        parse_optimizer("adam(lr=warmup(T=2ep, base=0.01) then cosine(T=8ep))")
    config = parse_optimizer("adam(lr=warmup(T=2ep, base=0.01) then cosine(T=8ep))", steps_per_epoch=10)
    assert config.hyperparameters["lr"](20) == pytest.approx(0.01)


def test_alias_free_canonical_text_and_overrides():
    config = parse_optimizer("adam(0.01)", overrides={"weight_decay": 0.1, "betas": (0.8, "0.99")})
    assert config.text == "adam(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)"
    assert config.values()["betas"] == (0.8, 0.99)


# -- stepping ------------------------------------------------------------------------------------


def test_kth_step_uses_lr_at_iteration_k():
    p = np.zeros(1)
    opt = lrdsl.optimizer("sgd(lr=step(s=2, gamma=0.5, base=1))", [p])
    seen = []
    for _ in range(5):
        seen.append(opt.lr)
        before = p.copy()
        opt.step([np.ones(1)])
        assert before - p == pytest.approx(seen[-1])
    assert seen == [1, 1, 0.5, 0.5, 0.25]
    assert opt.iteration == 5


def test_params_by_name_and_skipped_gradients():
    params = {"w": np.ones(3), "b": np.zeros(2)}
    opt = lrdsl.optimizer("sgd(lr=0.5)", params)
    opt.step({"w": np.ones(3), "b": None})
    np.testing.assert_array_equal(params["w"], 0.5)
    np.testing.assert_array_equal(params["b"], 0.0)
    with pytest.raises(ArrayError, match="unknown parameter 'bb'; did you mean 'b'"):
        opt.step({"w": np.ones(3), "bb": np.ones(2)})
    with pytest.raises(ArrayError, match="no gradient for 'b'"):
        opt.step({"w": np.ones(3)})


def test_parameter_groups_override_with_numbers_and_strings():
    w, b = np.ones(2), np.ones(2)
    opt = lrdsl.optimizer(
        "sgd(lr=0.1, weight_decay=0.5)",
        [{"params": [w]}, {"params": [b], "weight_decay": 0, "lr": "0.2 * step(s=1, gamma=0.5)"}],
    )
    assert opt.lrs == [0.1, 0.2]
    opt.step([np.zeros(2), np.zeros(2)])
    np.testing.assert_allclose(w, 1 - 0.1 * 0.5)  # decayed
    np.testing.assert_array_equal(b, 1.0)  # no decay on the bias group
    assert opt.lrs == [0.1, 0.1]
    assert opt.hyperparameters(1)["weight_decay"] == 0.0


def test_update_rules_never_write_the_callers_gradients():
    p, g = np.ones(4), np.full(4, 2.0)
    opt = lrdsl.optimizer("sgd(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=true)", [p])
    for _ in range(3):
        opt.step([g])
    np.testing.assert_array_equal(g, 2.0)


# -- saving and resuming -------------------------------------------------------------------------

JOB = textwrap.dedent("""
    import pickle, sys
    import numpy as np
    import lrdsl

    TEXTS = ["nadam(lr=warmup(T=5, base=0.02) then cosine(T=35), betas=(0.95 - 0.1 * cosine(T=40), 0.99))",
             "sgd(lr=0.05, momentum=0.9, nesterov=true, weight_decay=1e-3)",
             "adam(lr=exp(s=10, rate=0.5, base=0.05), amsgrad=true)",
             "rmsprop(lr=0.01, momentum=0.5, centered=true)", "lion(lr=1e-3, weight_decay=0.1)",
             "adagrad(lr=0.1, lr_decay=0.01)", "adadelta()", "adamax()", "radam()", "adamw()"]
    STEPS, SPLIT = 40, 17

    def fresh():
        rng = np.random.default_rng(0)
        return [{"params": {"w": rng.normal(size=(5, 4)).astype(np.float32)}},
                {"params": {"b": rng.normal(size=4)}, "weight_decay": 0}]

    def grads(groups, k):
        out = {}
        for g in groups:
            for name, p in g["params"].items():
                out[name] = (np.sin(p * (k + 1)) + 0.1 * p).astype(p.dtype)
        return out

    def run(text, start, stop, groups, state=None):
        opt = lrdsl.optimizer(text, groups)
        if state is not None:
            opt.load_state_dict(state)
        for k in range(start, stop):
            opt.step(grads(groups, k))
        return opt

    mode, path = sys.argv[1], sys.argv[2]
    results = {}
    for text in TEXTS:
        groups = fresh()
        if mode == "full":
            run(text, 0, STEPS, groups)
        elif mode == "first":
            opt = run(text, 0, SPLIT, groups)
            results[text] = (groups, opt.state_dict())
            continue
        else:
            saved_groups, state = pickle.load(open(path, "rb"))[text]
            groups = saved_groups
            run(text, SPLIT, STEPS, groups, state)
        results[text] = [p for g in groups for p in g["params"].values()]
    pickle.dump(results, open(sys.argv[3] if mode == "resume" else path, "wb"))
""")


def test_resume_in_a_new_process_is_bitwise_identical(tmp_path):
    job = tmp_path / "job.py"
    job.write_text(JOB)

    def run(*args):
        subprocess.run([sys.executable, str(job), *map(str, args)], check=True, cwd=ROOT, timeout=120)

    run("full", tmp_path / "full.pkl")
    run("first", tmp_path / "state.pkl")
    run("resume", tmp_path / "state.pkl", tmp_path / "resumed.pkl")
    full = pickle.loads((tmp_path / "full.pkl").read_bytes())
    resumed = pickle.loads((tmp_path / "resumed.pkl").read_bytes())
    assert list(full) == list(resumed) and len(full) == 10
    for text in full:
        for a, b in zip(full[text], resumed[text]):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), text


def test_state_dict_is_a_snapshot_and_load_checks_it():
    p = np.ones(3)
    opt = lrdsl.optimizer("adam(lr=0.1)", [p])
    opt.step([np.ones(3)])
    state = opt.state_dict()
    saved = state["params"][0]["entries"]["exp_avg"].copy()
    opt.step([np.ones(3)])
    np.testing.assert_array_equal(state["params"][0]["entries"]["exp_avg"], saved)
    other = lrdsl.optimizer("adam(lr=0.2)", [np.ones(3)])
    with pytest.raises(
        lrdsl.LRDSLError, match=r"parameter group 0: saved 'adam\(lr=0.1\)', now 'adam\(lr=0.2\)'. Build the optimizer"
    ):
        other.load_state_dict(state)
    other_node = lrdsl.optimizer("sgd(lr=0.1)", [np.ones(3)], on_change="checkpoint")
    with pytest.raises(ArrayError, match=r"saved from adam\(\), this optimizer is sgd\(\)"):
        other_node.load_state_dict(state)
    wrong_shape = lrdsl.optimizer("adam(lr=0.1)", [np.ones(4)])
    with pytest.raises(ArrayError, match="exp_avg"):
        wrong_shape.load_state_dict(state)
    assert wrong_shape.iteration == 0 and "exp_avg" not in wrong_shape._states[0]


# -- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,error,message",
    [
        ("adam(betas=(1.2, 0.9))", ParameterError, r"betas\[0\]=1.2 is out of range; allowed: in \[0, 1\)"),
        ("adam(lr=-1)", ParameterError, "lr=-1 is out of range; allowed: >= 0"),
        ("sgd(lr=0.1, nesterov=true)", ParameterError, "nesterov=true needs momentum > 0 and dampening = 0"),
        ("sgd(lr=0.1, momentum=0.9, dampening=0.1, nesterov=true)", ParameterError, "dampening = 0"),
        ("adamm(lr=0.1)", UnknownNameError, "did you mean 'adam'"),
        ("adam(lrr=0.1)", UnknownNameError, "unknown parameter 'lrr'; did you mean 'lr'"),
        ("adam(betas=(0.9,))", ParameterError, "betas expects 2 items"),
        ("adam(betas=0.9)", ParameterError, "betas expects a tuple"),
        ('adam(lr="fast")', ParameterError, "lr expects a number or a schedule"),
        ("adam(amsgrad=1)", ParameterError, "amsgrad expects true or false"),
        ("adagrad(initial_accumulator_value=warmup(T=3))", ParameterError, "must be a number fixed in time"),
        ("cosine(T=10)", UnknownNameError, "is a schedule node"),
        ("0.1 * adam()", ParameterError, "an optimizer is written as a call"),
        ("sgd(momentum=0.9 * warmup(T=10), nesterov=true)", ParameterError, "momentum > 0.*at iteration 0"),
        (
            "adam(betas=(0.9, 1.5 - warmup(T=10)))",
            ParameterError,
            r"betas\[1\]=1.5 - warmup\(T=10\) \(= 1.5 at iteration 0\) is out of range",
        ),
    ],
)
def test_invalid_optimizers_raise_clear_errors(text, error, message):
    with pytest.raises(error, match=message):
        lrdsl.optimizer(text, [np.zeros(2)])


def test_bad_params():
    with pytest.raises(ArrayError, match="dtype int64"):
        lrdsl.optimizer("sgd()", [np.zeros(2, dtype=np.int64)])
    a = np.zeros(10)
    for params in ([a, a], [a, a[:]], [a[:6], a[4:]], [a[::2], a[4:5]], {"w": a.reshape(2, 5), "b": a[9:]}):
        with pytest.raises(ArrayError, match="share memory .* a step would update their elements twice"):
            lrdsl.optimizer("sgd()", params)
    lrdsl.optimizer("sgd()", [a[::2], a[1::2]])  # interleaved views that share no element are fine
    with pytest.raises(ArrayError, match="read-only"):
        a = np.zeros(2)
        a.flags.writeable = False
        lrdsl.optimizer("sgd()", [a])
    with pytest.raises(ArrayError, match=r"params\[0\] is \{'lr': 0.1\}; expected a group \{'params': \[arrays"):
        lrdsl.optimizer("sgd()", [{"lr": 0.1}])
    with pytest.raises(UnknownNameError, match="parameter group 1: .*'weight_deca'; did you mean 'weight_decay'"):
        lrdsl.optimizer("sgd()", [{"params": [np.zeros(1)]}, {"params": [np.zeros(1)], "weight_deca": 0}])
    with pytest.raises(ParameterError, match="parameter group 1: .*lr=-0.5 is out of range"):
        lrdsl.optimizer("sgd()", [{"params": [np.zeros(1)]}, {"params": [np.zeros(1)], "lr": -0.5}])


@pytest.mark.parametrize(
    "grads,message",
    [
        ([np.ones(3)], "got 1 gradients for 2 parameters"),
        ([np.ones(3), np.ones(3), np.ones(3)], "got 3 gradients for 2 parameters"),
        ([np.ones(3), np.ones(4)], r"has shape \(4,\), but the parameter has shape \(2, 2\)"),
        ([np.ones(3), np.ones((2, 2), dtype=np.float32)], "is float32, but the parameter is float64"),
        ([np.array([1.0, np.nan, 2.0]), np.ones((2, 2))], r"1 non-finite value\(s\) \(first at index \(1,\)"),
        ([np.ones(3), np.full((2, 2), np.inf)], "4 non-finite"),
        ([np.ones(3), [[1.0, 1.0], [1.0, 1.0]]], r"is a list of 2 item\(s\); expected a NumPy array"),
        (np.ones(3), "got one gradient array for 2 parameters"),
    ],
)
def test_bad_gradients_leave_everything_unchanged(grads, message):
    params = [np.ones(3), np.ones((2, 2))]
    opt = lrdsl.optimizer("adam(lr=0.1, amsgrad=true)", params)
    opt.step([np.ones(3), np.ones((2, 2))])
    before = ([p.copy() for p in params], opt.state_dict())
    with pytest.raises(ArrayError, match=message):
        opt.step(grads)
    after = ([p.copy() for p in params], opt.state_dict())
    assert opt.iteration == 1
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(before[1]["params"], after[1]["params"]):
        assert a["step"] == b["step"]
        for name in a["entries"]:
            np.testing.assert_array_equal(a["entries"][name], b["entries"][name])


def test_a_schedule_leaving_its_range_fails_before_updating():
    p = np.ones(2)
    opt = lrdsl.optimizer("sgd(lr=0.1, momentum=0.5, dampening=0.5 + 0.15 * it)", [p])
    for _ in range(4):
        opt.step([np.ones(2)])
    snapshot, state = p.copy(), opt.state_dict()
    with pytest.raises(
        ParameterError,
        match=r"dampening=0.5 \+ 0.15 \* it \(= 1.1 at iteration 4\) is out of range; "
        r"allowed: in \[0, 1\]",
    ):
        opt.step([np.ones(2)])
    assert opt.iteration == 4
    np.testing.assert_array_equal(p, snapshot)
    np.testing.assert_array_equal(
        opt.state_dict()["params"][0]["entries"]["momentum_buffer"], state["params"][0]["entries"]["momentum_buffer"]
    )

    neg = lrdsl.optimizer("sgd(lr=0.25 - 0.125 * it)", [p])
    for _ in range(3):
        neg.step([np.ones(2)])
    snapshot = p.copy()
    with pytest.raises(EvaluationError, match="lr = 0.25 - 0.125 \\* it: .*finite and >= 0"):
        neg.step([np.ones(2)])
    assert neg.iteration == 3
    np.testing.assert_array_equal(p, snapshot)


# -- allocation ----------------------------------------------------------------------------------

ALLOCATION_CASES = [
    "sgd(lr=0.01, momentum=0.9, weight_decay=0.1, nesterov=true)",
    "sgd(lr=0.01, momentum=0.9, dampening=0.5)",
    "adagrad(lr_decay=0.1, weight_decay=0.1)",
    "rmsprop(momentum=0.5, centered=true, weight_decay=0.1)",
    "adadelta(weight_decay=0.1)",
    "adam(weight_decay=0.1, amsgrad=true)",
    "adamw(lr=warmup(T=5, base=0.01) then cosine(T=100), betas=(0.9 - 0.1 * cosine(T=100), 0.99))",
    "adamax(weight_decay=0.1)",
    "nadam(weight_decay=0.1)",
    "radam(weight_decay=0.1)",
    "lion(weight_decay=0.1)",
]


@pytest.mark.parametrize("text", ALLOCATION_CASES)
def test_steady_state_steps_allocate_no_arrays(text):
    rng = np.random.default_rng(0)
    params = [rng.random((250, 200)), rng.random(400).astype(np.float32)]  # 400 kB + 1.6 kB
    grads = [rng.random((250, 200)), rng.random(400).astype(np.float32)]
    opt = lrdsl.optimizer(text, params)
    for _ in range(3):
        opt.step(grads)  # the first steps create the state
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(5):
            opt.step(grads)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < 16_000, f"{text}: a step allocated {peak} bytes (the smallest parameter is 1600 bytes)"


def test_dtypes_are_kept():
    for dtype in (np.float16, np.float32, np.float64):
        p = np.ones(3, dtype=dtype)
        opt = lrdsl.optimizer("adamw(lr=0.1)", [p])
        opt.step([np.ones(3, dtype=dtype)])
        assert p.dtype == dtype and all(v.dtype == dtype for v in opt.state_dict()["params"][0]["entries"].values())


# -- a plugin's optimizer node -------------------------------------------------------------------


@optimizer_node(
    checks={"lr": nonnegative, "beta": between(0, 1, high_open=True)},
    requires=(Check(lambda h: h["lr"] <= 1, "lr must be at most 1"),),
)
def signum(param, grad, state, lr: float = 1e-3, beta: float = 0.9):
    """Signum: m ← βm + (1−β)g;  θ ← θ − lr·sign(m)."""
    assert isinstance(state, ParamState)
    m = state.zeros("momentum")
    ema(m, grad, beta)
    step = np.sign(m, out=state.scratch(0))
    step *= -lr
    param += step


def test_a_plugin_optimizer_node_runs_with_schedules():
    registry = build_registry(entry_points=False)
    registry.add(signum, "my-plugin")
    p = np.zeros(2)
    opt = lrdsl.optimizer("signum(lr=0.1 * step(s=2, gamma=0.5), beta=0.5)", [p], registry=registry)
    opt.step([np.array([1.0, -1.0])])
    opt.step([np.array([1.0, -1.0])])
    opt.step([np.array([1.0, -1.0])])
    np.testing.assert_allclose(p, [-0.25, 0.25])
    assert opt.state_dict()["params"][0]["step"] == 3
    with pytest.raises(ParameterError, match="lr must be at most 1"):
        lrdsl.optimizer("signum(lr=2)", [p], registry=registry)
    with pytest.raises(UnknownNameError, match="did you mean 'beta'"):
        lrdsl.optimizer("signum(betta=0.5)", [p], registry=registry)


# -- malformed saved state (load_state_dict) -----------------------------------------------------


def _snapshot(opt, params):
    state = opt.state_dict()
    return ([p.copy() for p in params], opt.iteration, opt.lrs, pickle.dumps(state))


def _resumable():
    params = [np.ones(3), np.full(2, 2.0)]
    opt = lrdsl.optimizer(
        "adam(lr=plateau(factor=0.5, patience=0), betas=(0.9 * plateau(factor=0.5, patience=0), 0.999))", params
    )
    opt.step([np.ones(3), np.ones(2)])
    return opt, params


def _good_state():
    opt, _ = _resumable()
    for metric in (3.0, 2.0, 2.5, 2.7):
        opt.report(metric)
    opt.step([np.full(3, 0.5), np.full(2, -0.5)])
    return opt.state_dict()


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda s: None,
        lambda s: [],
        lambda s: 5,
        lambda s: "lrdsl.optimizer/1",
        lambda s: {**s, "params": [5, 5]},
        lambda s: {**s, "params": 5},
        lambda s: {**s, "params": "ab"},
        lambda s: {**s, "params": None},
        lambda s: {**s, "params": [s["params"][0], {"step": 1, "entries": [1]}]},
        lambda s: {**s, "params": [s["params"][0], {"step": 1, "entries": {1: np.ones(2)}}]},
        lambda s: {**s, "params": [s["params"][0], {"step": 1, "entries": {"exp_avg": np.full(2, np.nan)}}]},
        lambda s: {**s, "schedules": [5]},
        lambda s: {**s, "schedules": 5},
        lambda s: {**s, "schedules": None},
        lambda s: {**s, "schedules": [[5, 5]]},
        lambda s: {**s, "schedules": "ab"},
        lambda s: {**s, "schedules": [[s["schedules"][0][0], {**s["schedules"][0][1], "nodes": [5]}]]},
        lambda s: {**s, "schedules": [[s["schedules"][0][0], {**s["schedules"][0][1], "nodes": 5}]]},
        lambda s: {**s, "groups": 5},
        lambda s: {**s, "groups": None},
        lambda s: {**s, "groups": [5]},
        lambda s: {**s, "groups": [np.ones(2)]},
        lambda s: {**s, "iteration": "3"},
    ],
)
def test_load_state_dict_rejects_malformed_state_and_changes_nothing(corrupt):
    bad = corrupt(_good_state())
    opt, params = _resumable()
    before = _snapshot(opt, params)
    with pytest.raises(ArrayError, match="load_state_dict\\(\\): "):
        opt.load_state_dict(bad)
    after = _snapshot(opt, params)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1:] == after[1:]  # iteration, learning rates and the pickled state, schedules included
    opt.load_state_dict(_good_state())  # and a good state still loads
    assert opt.iteration == 2


def test_a_failing_schedule_state_puts_back_the_schedules_already_loaded():
    good = _good_state()
    bad = {**good, "schedules": [[good["schedules"][0][0], {**good["schedules"][0][1], "nodes": [{"node": 1}]}]]}
    opt, _ = _resumable()
    fresh = opt.state_dict()["schedules"]
    with pytest.raises(ArrayError, match=r"betas\[0\]"):
        opt.load_state_dict(bad)
    assert opt.state_dict()["schedules"] == fresh and opt.lr == 1.0


def test_param_group_keys_must_be_strings():
    with pytest.raises(ArrayError, match=r"params\[0\] key 1 is 1 \(of type int\); expected a string"):
        lrdsl.optimizer("adam()", [{"params": [np.ones(3)], 1: 2}])
    with pytest.raises(ArrayError, match=r"params\[1\] key \('lr',\) is a tuple of 1 item\(s\); expected a string"):
        lrdsl.optimizer("adam()", [{"params": [np.ones(3)]}, {"params": [np.ones(3)], ("lr",): 2}])


# -- a step that produces non-finite values is undone --------------------------------------------


def _everything(opt, params):
    state = opt.state_dict()
    return [p.copy() for p in params], opt.iteration, pickle.dumps(state["params"])


def _assert_same(before, after):
    for a, b in zip(before[0], after[0]):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert before[1:] == after[1:]


@pytest.mark.parametrize(
    "text,groups,dtype,first,bad,message",
    [
        # overflow: weight_decay · θ is inf, then inf · 0 = NaN in Δ (lr=0 does not help); the second parameter
        # had no state yet (its first update fails), the first one (updated fine) is restored
        (
            "adadelta(lr=0)",
            [{}, {"weight_decay": 1e300}],
            np.float64,
            None,
            [1.0, 1.0],
            r"adadelta\(\) produced a non-finite value \(overflow\) in parameter group 1 params\[0\] at step 1",
        ),
        # 0/0: eps reaches 0 at step 1, where an element's gradients have always been 0
        (
            "adam(lr=0.1)",
            [{}, {"eps": "1e-8 * (1 - it)"}],
            np.float64,
            [0.0, 0.5, 0.7, 1.0],
            [1.0, 0.0],
            r"adam\(\) produced a non-finite value \(0/0 .*\) in parameter group 1 params\[0\] at step 1",
        ),
        # the parameter stays finite (g/∞ = 0) but the accumulator overflowed: caught too
        (
            "adagrad(lr=0.1)",
            [{}, {}],
            np.float32,
            [0.5, 0.6, 0.7, 0.8],
            [1.0, 1e20],
            r"non-finite value \(overflow\) in the optimizer state 'sum' of parameter group 1 params\[0\] at step 1",
        ),
    ],
)
def test_a_non_finite_step_leaves_parameters_and_state_unchanged(text, groups, dtype, first, bad, message):
    import warnings

    params = [np.linspace(1, 2, 3).astype(dtype), np.linspace(-1, 1, 4).astype(dtype)]
    opt = lrdsl.optimizer(text, [{"params": [p], **g} for p, g in zip(params, groups)])
    opt.step([np.full(3, 0.5, dtype=dtype), None if first is None else np.array(first, dtype=dtype)])
    before = _everything(opt, params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported as an error, not as NumPy RuntimeWarnings
        with pytest.raises(EvaluationError, match=message) as caught:
            opt.step([np.full(3, bad[0], dtype=dtype), np.full(4, bad[1], dtype=dtype)])
    assert "the step was undone" in str(caught.value)
    _assert_same(before, _everything(opt, params))
    if first is None:
        assert opt.state_dict()["params"][1] == {"step": 0, "entries": {}}


def test_zero_gradients_with_eps_zero_fail_on_the_first_step_without_creating_state():
    p = np.ones(3)
    opt = lrdsl.optimizer("adam(eps=0)", [p])
    with pytest.raises(EvaluationError, match=r"\(0/0") as caught:
        opt.step([np.zeros(3)])
    assert "overflow)" not in str(caught.value)
    np.testing.assert_array_equal(p, 1.0)
    assert opt.iteration == 0 and opt.state_dict()["params"] == [{"step": 0, "entries": {}}]


@optimizer_node(checks={"lr": nonnegative})
def inplace(param, grad, state, lr: float = 0.1, scale: float = 1.0):
    """A plugin rule that changes its state and the parameter in place (no ParamState.pair)."""
    m = state.zeros("m")
    m += grad
    state["count"] = state.get("count", 0) + 1
    if grad.flat[0] < 0:
        raise RuntimeError("refused")
    np.multiply(m, -lr * scale, out=state.scratch(0))
    param += state.scratch(0)


@pytest.mark.parametrize("second,error", [(10.0, EvaluationError), (-1.0, RuntimeError)])
def test_an_in_place_plugin_rule_is_rolled_back_too(second, error):
    registry = build_registry(entry_points=False)
    registry.add(inplace, "my-plugin")
    params = [np.ones(2), np.ones(2)]
    opt = lrdsl.optimizer(
        "inplace(lr=1)", [{"params": [params[0]]}, {"params": [params[1]], "scale": 1e308}], registry=registry
    )
    opt.step([np.full(2, 0.5), None])  # the second parameter has no state yet
    before = _everything(opt, params)
    with pytest.raises(error):
        opt.step([np.full(2, 0.5), np.full(2, second)])
    _assert_same(before, _everything(opt, params))
    assert "m" not in opt._states[1] and "count" not in opt._states[1]


# -- eps = 0 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("node", ["adam", "adamw", "adamax", "nadam", "radam", "rmsprop", "adagrad"])
def test_eps_zero_is_allowed_where_it_can_work(node):
    g = np.array([0.5, -2.0, 1e-3])
    p = np.ones(3)
    opt = lrdsl.optimizer(f"{node}(lr=0.01, eps=0)", [p])
    for _ in range(3):
        opt.step([g])
    assert np.isfinite(p).all() and (np.sign(1 - p) == np.sign(g)).all()


def test_adam_with_eps_zero_takes_sign_steps_first():
    g = np.array([0.5, -2.0, 1e-3])
    p = np.ones(3)
    lrdsl.optimizer("adam(lr=0.01, eps=0)", [p]).step([g])
    np.testing.assert_allclose(p, 1 - 0.01 * np.sign(g), rtol=1e-12)  # m̂ = g, v̂ = g²


def test_adadelta_needs_positive_eps():
    # with eps = 0, Δ = √u/√v·g is 0 while u = 0, so u stays 0 and the parameters never move
    with pytest.raises(ParameterError, match="eps=0 is out of range; allowed: > 0"):
        lrdsl.optimizer("adadelta(eps=0)", [np.ones(2)])
    opt = lrdsl.optimizer("adadelta(eps=1e-6 * (1 - it))", [np.ones(2)])
    opt.step([np.ones(2)])
    with pytest.raises(ParameterError, match=r"eps=.* \(= 0 at iteration 1\) is out of range; allowed: > 0"):
        opt.step([np.ones(2)])
