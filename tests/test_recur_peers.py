"""Live parity of recurrences with the schedulers that take the current learning rate: torch
``MultiplicativeLR`` stepped per epoch, and Keras ``LearningRateScheduler`` driven by a real
``model.fit`` (KERAS_BACKEND=torch, set in conftest.py), compared at every epoch."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import lrdsl

EPOCHS = 40


@pytest.mark.parametrize(
    "factor, text",
    [
        (lambda epoch: 0.95, "recur(lr * 0.95, every=1ep)"),
        (lambda epoch: 1 - 0.01 * epoch, "recur(lr * (1 - 0.01 * k), every=1ep)"),
        (
            lambda epoch: 0.5 if epoch % 10 == 0 else 0.99,
            "recur(where(floor(ep / 10) * 10 == ep, lr * 0.5, lr * 0.99), every=1ep)",
        ),
    ],
    ids=["constant", "linear in the epoch", "with a condition"],
)
def test_torch_multiplicative_lr_stepped_per_epoch(factor, text):
    torch = pytest.importorskip("torch")

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    scheduler = torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lr_lambda=factor)
    theirs = []
    for _ in range(EPOCHS):  # the lr in effect during each epoch, then the epoch's step
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    sched = lrdsl.compile(text, base=0.05)
    ours = [sched(epoch=e) for e in range(EPOCHS)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(sched.values(epochs=np.arange(EPOCHS)), theirs, rtol=1e-12, atol=0)


def test_torch_multiplicative_lr_factor_is_read_at_the_tick_s_own_epoch():
    """torch multiplies by λ(e) at its e-th step (e = 1, 2, ...): lrdsl's tick k = e. λ(e − 1), the
    off-by-one a reader might expect, gives other values."""
    torch = pytest.importorskip("torch")

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.05)
    scheduler = torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lr_lambda=lambda epoch: 1 - 0.01 * epoch)
    theirs = []
    for _ in range(5):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert theirs[1] == 0.05 * (1 - 0.01 * 1)
    shifted = lrdsl.compile("recur(lr * (1 - 0.01 * (k - 1)), every=1ep)", base=0.05)
    assert [shifted(epoch=e) for e in range(5)] != pytest.approx(theirs, rel=1e-6)


def _fit(schedule, base: float, epochs: int) -> np.ndarray:
    """The learning rate of each epoch of a real ``model.fit`` with ``LearningRateScheduler(schedule)``."""
    keras = pytest.importorskip("keras")

    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:  # after LearningRateScheduler.on_epoch_begin has set it
                seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=base), loss="mse")
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(-1, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Keras's torch backend: np.array(x, copy=False)
        model.fit(
            x,
            2 * x,
            epochs=epochs,
            batch_size=8,
            verbose=0,
            callbacks=[keras.callbacks.LearningRateScheduler(schedule), Record()],
        )
    return np.array(seen)


@pytest.mark.parametrize(
    "schedule, text, epochs",
    [
        # the example of Keras's documentation
        (
            lambda epoch, lr: lr if epoch < 10 else lr * math.exp(-0.1),
            "recur(where(ep < 10, lr, lr * e ** -0.1), every=1ep)",
            20,
        ),
        # Keras calls the schedule at epoch 0 too: the value there is update(0, base)
        (lambda epoch, lr: lr * 0.9, "recur(lr * 0.9, every=1ep, start=0.9 * base)", 25),
        (lambda epoch, lr: max(lr - 0.002, 0.001), "recur(max(lr - 0.002, 0.001), every=1ep, start=base - 0.002)", 15),
    ],
    ids=["documentation example", "a factor from epoch 0", "a floor"],
)
def test_keras_learning_rate_scheduler_through_model_fit(schedule, text, epochs):
    theirs = _fit(schedule, 0.02, epochs)
    assert theirs.shape == (epochs,)
    sched = lrdsl.compile(text, base=0.02)
    ours = np.array([sched(epoch=e) for e in range(epochs)])
    # Keras keeps the lr in a float32 variable and feeds it back each epoch: one float32 rounding
    # (relative 6e-8, of the largest value for a difference) per epoch
    tolerance = {"rtol": epochs * 6e-8, "atol": epochs * 6e-8 * theirs.max()}
    np.testing.assert_allclose(ours, theirs, **tolerance)
    assert not np.allclose(ours[1:], theirs[:-1], **tolerance)  # an epoch off would be seen
