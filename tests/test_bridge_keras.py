"""The Keras 3 bridge (KERAS_BACKEND=torch, set in conftest): values, training, save and reload."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import lrdsl
from lrdsl.bridges import BridgeError
from lrdsl.bridges.keras import LRDSLSchedule

STEPS = np.arange(0, 120)
# Keras's torch backend converts tensors with np.array(x) (its own NumPy 2 deprecation, not ours).
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def evaluate(schedule, steps=STEPS):
    return np.array([float(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(k)))) for k in steps])


@pytest.mark.parametrize(
    "text, options",
    [
        ("warmup(T=10, base=1e-2) then cosine(T=90, end=1e-4)", {}),
        ("step(s=10) then exp(s=5)", {"base": 0.1}),
        ("warmup(5%) then cosine(end=$floor)", {"base": 0.02, "total": 100, "variables": {"floor": 1e-4}}),
        ("warmup(T=1ep) then cosine(T=3ep)", {"base": 0.1, "steps_per_epoch": 25}),
    ],
)
def test_values_match_the_numpy_evaluator(text, options):
    expected = lrdsl.compile(text, **options).values(STEPS)
    np.testing.assert_allclose(
        evaluate(LRDSLSchedule(text, **options)), expected, rtol=2e-6, atol=1e-7 * expected.max()
    )


@pytest.mark.parametrize(
    "text, peer",
    [
        ("cosine(T=100, end=0.1 * base)", keras.optimizers.schedules.CosineDecay(0.3, 100, alpha=0.1)),
        ("exp(s=7, rate=0.5)", keras.optimizers.schedules.ExponentialDecay(0.3, 7, 0.5)),
        (
            "exp(s=7, rate=0.5, staircase=true)",
            keras.optimizers.schedules.ExponentialDecay(0.3, 7, 0.5, staircase=True),
        ),
        ("inverse_time(d=0.5, s=10)", keras.optimizers.schedules.InverseTimeDecay(0.3, 10, 0.5)),
    ],
)
def test_matches_keras_schedules_live(text, peer):
    np.testing.assert_allclose(evaluate(LRDSLSchedule(text, base=0.3)), evaluate(peer), rtol=3e-6, atol=1e-8)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], dtype="float32"))


def model_with(schedule=None, optimizer=None):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer or keras.optimizers.Adam(learning_rate=schedule), loss="mse")
    return model


class RecordRate(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.rates = getattr(self, "rates", []) + [float(optimizer.learning_rate)]


def test_trains_saves_and_reloads(tmp_path):
    text = "warmup(T=8) then cosine(T=24, end=1e-4)"
    x, y = data()
    model = model_with(LRDSLSchedule(text, base=0.05))
    before = model.evaluate(x, y, verbose=0)
    record = RecordRate()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False, callbacks=[record])
    assert model.evaluate(x, y, verbose=0) < before / 2
    np.testing.assert_allclose(record.rates, lrdsl.compile(text, base=0.05).values(np.arange(16)), rtol=2e-6, atol=1e-9)

    path = os.fspath(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    schedule = loaded.optimizer._learning_rate
    assert isinstance(schedule, LRDSLSchedule)
    assert schedule.get_config() == {
        "schedule": text,
        "base": 0.05,
        "steps_per_epoch": None,
        "total": None,
        "variables": {},
        "name": "LRDSLSchedule",
        "counter": "it",
        "tokens_per_step": None,
        "samples_per_step": None,
        "on_change": "error",
    }
    assert int(loaded.optimizer.iterations) == 16
    # Both continue identically: the reloaded optimizer resumes the schedule at iteration 16.
    more = RecordRate()
    loaded.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[more])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(more.rates, lrdsl.compile(text, base=0.05).values(np.arange(16, 24)), rtol=2e-6)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_serialization_is_registered():
    schedule = LRDSLSchedule("warmup(T=$w) then exp(s=10)", base=0.1, variables={"w": 5}, total=50)
    config = keras.optimizers.schedules.serialize(schedule)
    assert config["registered_name"] == "lrdsl>LRDSLSchedule"
    json.dumps(config)  # plain JSON
    again = keras.optimizers.schedules.deserialize(config)
    np.testing.assert_allclose(evaluate(again, range(20)), evaluate(schedule, range(20)))


def test_metric_driven_schedules_are_refused():
    with pytest.raises(BridgeError, match="ReduceLROnPlateau"):
        LRDSLSchedule("plateau(factor=0.5)")
    with pytest.raises(lrdsl.LRDSLError):
        LRDSLSchedule("cosine()")  # no horizon and no total


def test_jax_backend_in_a_subprocess(tmp_path):
    pytest.importorskip("jax")
    script = textwrap.dedent("""
        import numpy as np, keras, lrdsl
        from lrdsl.bridges.keras import LRDSLSchedule
        assert keras.backend.backend() == "jax"
        text = "warmup(T=4) then cosine(T=12)"
        x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LRDSLSchedule(text, base=0.1)), loss="mse")
        model.fit(x, x.sum(1, keepdims=True), batch_size=8, epochs=1, verbose=0)
        assert int(model.optimizer.iterations) == 8
        expected = lrdsl.compile(text, base=0.1)(8)
        assert abs(float(model.optimizer.learning_rate) - expected) < 1e-7, float(model.optimizer.learning_rate)
        model.save(r"%s")
        keras.models.load_model(r"%s")
        print("ok")
    """) % (tmp_path / "m.keras", tmp_path / "m.keras")
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


# -- the optimizer factory -------------------------------------------------------------------------


def test_keras_optimizer_factory_trains_and_round_trips(tmp_path):
    from lrdsl.bridges.keras import optimizer

    text = "adamw(lr=warmup(T=8, base=0.05) then cosine(T=24, end=1e-4), weight_decay=0.01, eps=1e-7)"
    opt = optimizer(text)
    assert isinstance(opt, keras.optimizers.AdamW) and opt.weight_decay == 0.01 and opt.epsilon == 1e-7
    x, y = data()
    model = model_with(optimizer=opt)
    record = RecordRate()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False, callbacks=[record])
    np.testing.assert_allclose(
        record.rates,
        lrdsl.compile("warmup(T=8, base=0.05) then cosine(T=24, end=1e-4)").values(np.arange(8)),
        rtol=2e-6,
        atol=1e-9,
    )
    path = os.fspath(tmp_path / "m.keras")
    model.save(path)
    assert isinstance(keras.models.load_model(path).optimizer._learning_rate, LRDSLSchedule)


@pytest.mark.parametrize(
    "text, cls, config",
    [
        ("sgd(lr=0.1, momentum=0.9, nesterov=true)", "SGD", {"momentum": 0.9, "nesterov": True}),
        ("lion(lr=1e-4, weight_decay=0.1)", "Lion", {"beta_1": 0.9, "beta_2": 0.99, "weight_decay": 0.1}),
        ("rmsprop(alpha=0.9, centered=true)", "RMSprop", {"rho": 0.9, "centered": True, "epsilon": 1e-8}),
        ("nadam(betas=(0.8, 0.99))", "Nadam", {"beta_1": 0.8, "beta_2": 0.99}),
    ],
)
def test_keras_optimizer_mapping(text, cls, config):
    from lrdsl.bridges.keras import optimizer

    built = optimizer(text)
    assert type(built).__name__ == cls
    assert {k: built.get_config()[k] for k in config} == pytest.approx(config)


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "radam()",
            "'radam' has no counterpart in Keras; optimizers with one: adadelta, adagrad, adam, adamax, adamw, "
            "lion, nadam, rmsprop, sgd",
        ),
        ("adam(weight_decay=0.1)", "decoupled"),
        ("adam(betas=(linear(T=3, start=0.9, end=0.95), 0.999))", "only lr, not betas"),
        ("nadam(momentum_decay=0.01)", "4e-3"),
    ],
)
def test_keras_optimizer_refusals(text, match):
    from lrdsl.bridges.keras import optimizer

    with pytest.raises(BridgeError, match=match):
        optimizer(text)
