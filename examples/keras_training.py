"""Train a small Keras 3 model with an lrdsl schedule, save it and load it back (synthetic data, CPU).

    python examples/keras_training.py              # KERAS_BACKEND defaults to torch here

The schedule's config holds the string, so ``model.save`` / ``keras.models.load_model``
round-trip it; importing ``lrdsl.bridges.keras`` registers the class for loading.
"""

import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np

from lrdsl.bridges.keras import LRDSLSchedule

TEXT = "warmup(T=1ep) then cosine(T=4ep, end=1e-4)"


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1))).astype("float32")
    batch_size = 16
    steps_per_epoch = len(x) // batch_size

    keras.utils.set_random_seed(0)
    lr = LRDSLSchedule(TEXT, base=0.01, steps_per_epoch=steps_per_epoch)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    history = model.fit(x, y, batch_size=batch_size, epochs=5, verbose=0)
    for epoch, loss in enumerate(history.history["loss"]):
        print(f"epoch {epoch}: lr at start {float(lr(epoch * steps_per_epoch)):.5f}, loss {loss:.4f}")

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path)
    schedule = loaded.optimizer._learning_rate
    print(
        "reloaded schedule:",
        schedule.get_config()["schedule"],
        "at iteration",
        int(loaded.optimizer.iterations),
        "lr",
        float(loaded.optimizer.learning_rate),
    )


if __name__ == "__main__":
    main()
