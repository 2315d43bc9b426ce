"""lrdsl.convert.from_keras: every Keras schedule of docs/equivalence.md, as an object, as its
get_config() dict and as its serialize() dict, compared with the live schedule at every step."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import lrdsl
from convert_support import assert_same, values
from lrdsl.convert import from_config, from_keras
from parity import peers
from parity.table import load_cases

ROWS = [
    case
    for case in load_cases()
    if case.library == "keras"
    and not case.differs
    and "metrics" not in case.run
    and not case.peer.startswith("LearningRateScheduler")  # a callback around a Python function: written by hand
]
MORE = [
    "ExponentialDecay(initial_learning_rate=0.2, decay_steps=3, decay_rate=0.9, staircase=True)",
    "PolynomialDecay(initial_learning_rate=0.1, decay_steps=8, end_learning_rate=0.01, power=0.5, cycle=True)",
    "PiecewiseConstantDecay(boundaries=[2, 5, 5.5], values=[0.3, 0.2, 0.1, 0.05])",
    "CosineDecay(initial_learning_rate=0.05, decay_steps=10, alpha=0.2, warmup_target=0.1, warmup_steps=0)",
    "CosineDecayRestarts(initial_learning_rate=0.1, first_decay_steps=7, t_mul=1.5, m_mul=0.8, alpha=0.05)",
]
NAMESPACE = {name: getattr(keras.optimizers.schedules, name) for name in peers._KERAS_CLASSES}


def _check(text: str, steps: int) -> None:
    schedule = peers.build_text(text, NAMESPACE)
    theirs = np.array([float(schedule(step)) for step in range(steps)])
    forms = {
        "object": from_keras(schedule),
        "get_config": from_keras(schedule.get_config(), class_name=type(schedule).__name__),
        "serialize": from_keras(keras.optimizers.schedules.serialize(schedule)),
        "from_config": from_config(keras.optimizers.schedules.serialize(schedule)),
    }
    assert len(set(forms.values())) == 1, forms
    converted = forms["object"]
    # the schedule states its learning rates: the string does not depend on the base it is compiled with
    assert_same(values(converted, 123.0, steps), theirs, "keras", text, converted)


@pytest.mark.parametrize("case", ROWS, ids=[case.id for case in ROWS])
def test_documented_schedule_converts_value_for_value(case):
    _check(case.peer, case.run["steps"] + 20)


@pytest.mark.parametrize("text", MORE)
def test_more_schedules_convert_value_for_value(text):
    _check(text, 60)


def test_a_learning_rate_scheduler_callback_is_refused_clearly():
    callback = keras.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.9)
    with pytest.raises(lrdsl.LRDSLError):
        from_keras(callback)


def test_a_bare_config_is_recognised_by_its_keys():
    schedule = keras.optimizers.schedules.CosineDecayRestarts(0.1, 10)
    assert from_keras(schedule.get_config()) == from_keras(schedule)


def test_the_ambiguous_bare_config_asks_for_the_class_name():
    config = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5).get_config()
    with pytest.raises(lrdsl.LRDSLError, match="fit ExponentialDecay or InverseTimeDecay; pass class_name="):
        from_keras(config)
    assert from_keras(config, class_name="InverseTimeDecay").startswith("inverse_time(")


def test_bad_configs_name_the_key():
    with pytest.raises(lrdsl.LRDSLError, match=r"config.decay_rate: expected a finite number, got '0.5' \(str\)"):
        from_keras(
            {
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": "0.5"},
            }
        )
    with pytest.raises(lrdsl.LRDSLError, match="config.decay_rat: unknown key.*did you mean 'decay_rate'"):
        from_keras(
            {
                "class_name": "ExponentialDecay",
                "config": {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "decay_rat": 1},
            }
        )
    with pytest.raises(
        lrdsl.LRDSLError, match="cannot convert Keras schedule 'CosineDecays'.*did you mean 'CosineDecay'"
    ):
        from_keras({"class_name": "CosineDecays", "config": {}})
    with pytest.raises(lrdsl.LRDSLError, match="values: expected a list of numbers"):
        from_keras({"boundaries": [1], "values": [0.1, "lr0 * 2"]})
