"""on_change on the hosts that hold a schedule: the NumPy optimizer and the Keras schedule
(ScheduleLR and Lightning are in tests/test_resume_torch.py). The expected schedules are
written by hand and compiled; the host's values are compared with them."""

import warnings

import numpy as np
import pytest

import lrdsl
from lrdsl.errors import ArrayError, ScheduleChangeWarning

LR = "warmup(5%, base=1e-3) then cosine(end=1e-5)"
SMOOTHED = "(warmup(5it, base=0.001) then cosine(end=1e-05) for 95) for 40 then cosine(end=1e-05)"


def _optimizer(text=LR, total=100, on_change="error"):
    return lrdsl.optimizer(f"adamw(lr={text}, weight_decay=0.05)", [np.ones(3)], total=total, on_change=on_change)


def _trained(steps=40):
    opt = _optimizer()
    for _ in range(steps):
        opt.step([np.full(3, 0.1)])
    return opt


def _load(target, state):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target.load_state_dict(state)
    return [str(w.message) for w in caught if issubclass(w.category, ScheduleChangeWarning)]


def _lrs(opt, upto=100):
    """The learning rates the optimizer's next steps use, from its iteration to ``upto``."""
    rates = []
    for _ in range(opt.iteration, upto):
        rates.append(opt.lr)
        opt.step([np.full(3, 0.1)])
    return np.array(rates)


# -- the NumPy optimizer ----------------------------------------------------------------------------


def test_optimizer_error_names_the_changed_option():
    state = _trained().state_dict()
    with pytest.raises(
        lrdsl.LRDSLError, match=r"the schedule of lr: the checkpoint was saved with another schedule"
    ) as refused:
        _optimizer(total=200).load_state_dict(state)
    assert "total  saved: 100it   now: 200it" in str(refused.value)


def test_optimizer_error_names_a_changed_text():
    state = _trained().state_dict()
    with pytest.raises(
        lrdsl.LRDSLError,
        match=r"saved 'adamw\(lr=warmup\(5%, base=0.001\) then cosine\(end=1e-05\), weight_decay=0.05\)'",
    ):
        lrdsl.optimizer(f"adamw(lr={LR}, weight_decay=0.1)", [np.ones(3)], total=100).load_state_dict(state)


def test_optimizer_continue():
    opt = _optimizer(total=200, on_change="continue")
    caught = _load(opt, _trained().state_dict())
    assert opt.iteration == 40 and any("the value jumps" in w for w in caught)
    expected = lrdsl.compile(LR, total=200).values(np.arange(40, 200))
    np.testing.assert_array_equal(_lrs(opt, 200), expected)


def test_optimizer_smooth():
    opt = _optimizer(total=200, on_change="smooth")
    _load(opt, _trained().state_dict())
    (label, schedule), *_ = opt.groups[0].config.schedules()
    assert label == "lr" and schedule.expression == SMOOTHED
    expected = lrdsl.compile(SMOOTHED, total=200).values(np.arange(40, 200))
    assert expected[0] == lrdsl.compile(LR, total=100)(40)
    np.testing.assert_array_equal(_lrs(opt, 200), expected)


def test_optimizer_checkpoint_runs_the_saved_text_and_options():
    opt = lrdsl.optimizer("adamw(lr=cosine(), weight_decay=0.5)", [np.ones(3)], total=200, on_change="checkpoint")
    caught = _load(opt, _trained().state_dict())
    assert (
        opt.groups[0].config.text
        == f"adamw(lr={LR.replace('1e-3', '0.001').replace('1e-5', '1e-05')}, weight_decay=0.05)"
    )
    assert opt.hyperparameters()["weight_decay"] == 0.05
    np.testing.assert_array_equal(_lrs(opt, 100), lrdsl.compile(LR, total=100).values(np.arange(40, 100)))
    assert len(caught) == 2  # the optimizer's text, and the schedule's options


def test_optimizer_refuses_another_node_whatever_the_policy():
    state = _trained().state_dict()
    with pytest.raises(ArrayError, match=r"saved from adamw\(\), this optimizer is adam\(\)"):
        lrdsl.optimizer(f"adam(lr={LR})", [np.ones(3)], total=100, on_change="continue").load_state_dict(state)


# -- the Keras schedule -----------------------------------------------------------------------------

keras = pytest.importorskip("keras")
from lrdsl.bridges.keras import LRDSLSchedule

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TEXT = "warmup(5%) then cosine(end=1e-5)"


def _keras_values(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(k)))) for k in steps])


def _keras_state():
    return LRDSLSchedule(TEXT, base=0.1, total=1000).state_dict(iterations=keras.ops.convert_to_tensor(499))


@pytest.mark.parametrize(
    "on_change, expected_text, expected_total",
    [
        ("continue", TEXT, 2000),
        ("smooth", "(warmup(50it) then cosine(end=1e-05) for 950) for 499 then cosine(end=1e-05)", 2000),
        ("checkpoint", TEXT, 1000),
    ],
)
def test_keras_schedule_policies(on_change, expected_text, expected_total):
    schedule = LRDSLSchedule(TEXT, base=0.1, total=2000, on_change=on_change)
    caught = _load(schedule, _keras_state())
    assert caught
    expected = lrdsl.compile(expected_text, base=0.1, total=expected_total)
    assert schedule.get_config()["schedule"] == expected.expression
    assert schedule.get_config()["total"] == f"{expected_total}it"
    steps = np.arange(480, 2010, 17)
    np.testing.assert_allclose(_keras_values(schedule, steps), expected.values(steps), rtol=2e-6, atol=1e-9)
    rebuilt = LRDSLSchedule.from_config(schedule.get_config())  # what model.save keeps
    np.testing.assert_allclose(_keras_values(rebuilt, steps), expected.values(steps), rtol=2e-6, atol=1e-9)


def test_keras_schedule_error_and_the_state_it_saves():
    state = _keras_state()
    assert state["position"] == {"unit": "it", "time": 499.0} and state["options"]["total"] == "1000it"
    with pytest.raises(lrdsl.LRDSLError, match="total  saved: 1000it   now: 2000it"):
        LRDSLSchedule(TEXT, base=0.1, total=2000).load_state_dict(state)


def test_keras_resume_in_training_with_smooth():
    """A model trained 8 steps under one schedule resumes under a longer one: the learning rate the
    optimizer applies continues from the old value."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")

    def model_with(schedule):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
        return model

    first = LRDSLSchedule("warmup(T=4) then cosine()", base=0.05, total=16)
    model = model_with(first)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    state = first.state_dict(model.optimizer.iterations)
    assert state["position"]["time"] == 8.0

    second = LRDSLSchedule("warmup(T=4) then cosine()", base=0.05, total=32, on_change="smooth")
    with pytest.warns(ScheduleChangeWarning):
        second.load_state_dict(state)
    resumed = model_with(second)
    resumed.optimizer.iterations.assign(8)
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: rates.append(
            float(keras.ops.convert_to_numpy(resumed.optimizer.learning_rate))
        )
    )
    resumed.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False, callbacks=[record])
    by_hand = lrdsl.compile("(warmup(T=4) then cosine() for 12) for 8 then cosine()", base=0.05, total=32)
    np.testing.assert_allclose(rates, by_hand.values(np.arange(8, 16)), rtol=2e-6)
    assert rates[0] == pytest.approx(lrdsl.compile("warmup(T=4) then cosine()", base=0.05, total=16)(8), rel=2e-6)
