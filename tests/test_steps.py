"""``lrdsl.steps``: the number of optimizer updates, counted as the DataLoader and DistributedSampler cut
the data (compared against torch's own objects in test_torch_clock.py), and ``total="auto"`` outside a
trainer. Core only: no framework."""

import math

import numpy as np
import pytest

import lrdsl


@pytest.mark.parametrize(
    "options, expected",
    [
        (dict(dataset_size=1000, batch_size=32), {"steps_per_epoch": 32}),  # 31 full batches and one of 8
        (dict(dataset_size=1000, batch_size=32, drop_last=True), {"steps_per_epoch": 31}),
        (dict(dataset_size=1000, batch_size=32, epochs=3, accumulate=4), {"steps_per_epoch": 8, "total": 24}),
        (dict(dataset_size=1000, batch_size=32, accumulate=5), {"steps_per_epoch": 7}),  # 6 full windows + 2 batches
        # 3 ranks: ceil(1000 / 3) = 334 samples each (the sampler pads), 11 batches of 32 (10 with drop_last)
        (dict(dataset_size=1000, batch_size=32, world_size=3), {"steps_per_epoch": 11}),
        (dict(dataset_size=1000, batch_size=32, world_size=3, drop_last=True), {"steps_per_epoch": 10}),
        (dict(dataset_size=7, batch_size=8, epochs=2), {"steps_per_epoch": 1, "total": 2}),
        (dict(dataset_size=1, batch_size=1, epochs=1, accumulate=9, world_size=4), {"steps_per_epoch": 1, "total": 1}),
    ],
)
def test_counts_updates_per_epoch_and_in_all(options, expected):
    assert lrdsl.steps(**options) == expected


def test_a_last_partial_window_is_an_update():
    # 10 batches in windows of 4: updates after batches 4, 8 and 10 (the last, partial window)
    counted = sum(1 for batch in range(1, 11) if batch % 4 == 0 or batch == 10)
    assert lrdsl.steps(dataset_size=10, batch_size=1, accumulate=4)["steps_per_epoch"] == counted == 3


def test_the_result_is_the_options_of_compile():
    sched = lrdsl.compile(
        "warmup(1ep) then cosine(end=0)", base=0.1, **lrdsl.steps(dataset_size=640, batch_size=32, epochs=5)
    )
    assert sched.phase_starts() == [0.0, 20.0]  # 20 updates per epoch, 100 in all
    assert sched(20) == 0.1 and sched(99) > 0 and sched(100) == 0.0
    assert sched(60) == pytest.approx(0.1 * (1 + math.cos(math.pi / 2)) / 2)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(dataset_size=0, batch_size=1), "dataset_size=0: expected a whole number >= 1"),
        (dict(dataset_size=10, batch_size=2.0), "batch_size=2.0"),
        (dict(dataset_size=10, batch_size=2, epochs=True), "epochs=True"),
        (dict(dataset_size=10, batch_size=2, accumulate=0), "accumulate=0"),
        (dict(dataset_size=10, batch_size=2, world_size=-1), "world_size=-1"),
        (dict(dataset_size=10, batch_size=2, epochs=1.5), "epochs=1.5"),
        (dict(dataset_size=10, batch_size=2, drop_last=1), "drop_last=1: expected True or False"),
        (dict(dataset_size=10, batch_size=8, world_size=4, drop_last=True), "3 sample.*one batch of 8.*no update"),
    ],
)
def test_bad_arguments_are_lrdsl_errors(options, match):
    with pytest.raises(lrdsl.LRDSLError, match=match):
        lrdsl.steps(**options)


def test_total_auto_outside_a_trainer_names_the_three_routes():
    routes = r"lightning\.LRDSLCallback.*transformers\.LRDSLTrainer.*lrdsl\.steps\(dataset_size="
    with pytest.raises(lrdsl.LRDSLError, match=r'total="auto".*' + routes):
        lrdsl.compile("warmup(5%) then cosine()", total="auto")
    with pytest.raises(lrdsl.LRDSLError, match=routes):
        lrdsl.optimizer("sgd(lr=cosine())", [{"params": {"w": np.zeros(2)}}], total="auto")
    with pytest.raises(lrdsl.LRDSLError, match="expected a training length"):
        lrdsl.compile("cosine()", total="automatic")  # only the exact word means a trainer's total
