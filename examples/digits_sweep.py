"""A schedule search on a real (small) problem: a NumPy MLP on scikit-learn's handwritten digits.

    lrdsl sweep examples/sweep.yaml --workers 2 --plot best.png   # the search (Optuna, SQLite)
    python examples/digits_sweep.py [--study sqlite:///sweep.db]  # the default vs. the study's best

The 1,797 8x8 digits ship with scikit-learn (no download). A 64-64-10 tanh MLP is trained with
SGD and momentum for 15 epochs; :func:`objective` is what ``lrdsl sweep`` calls with each trial's
concrete schedule: it reports the validation loss after every epoch (so the pruner can stop a
hopeless trial) and returns the last one.
"""

from __future__ import annotations

import argparse

import numpy as np

import lrdsl

EPOCHS, BATCH, HIDDEN, SEED = 15, 32, 64, 0
DEFAULT = "0.05"  # a constant learning rate: what a training script without a schedule does


def digits():
    """(train x, train y, validation x, validation y): 1,300 and 497 digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(SEED).permutation(len(y))
    x, y = x[order] / 16.0, y[order]
    return x[:1300], y[:1300], x[1300:], y[1300:]


def loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray):
    """Softmax cross-entropy of a tanh MLP, its gradients by hand, and the accuracy."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(y)), y] + 1e-12))
    dlogits = p.copy()
    dlogits[np.arange(len(y)), y] -= 1
    dlogits /= len(y)
    dh = dlogits @ params["W2"].T * (1 - h**2)
    grads = {"W1": x.T @ dh, "b1": dh.sum(0), "W2": h.T @ dlogits, "b2": dlogits.sum(0)}
    return loss, grads, float((p.argmax(axis=1) == y).mean())


def train(schedule: str, report=None):
    """Train with ``sgd(lr=<schedule>, momentum=0.9)``; ``report(validation loss, epoch)`` after each
    epoch. Returns (validation loss, validation accuracy)."""
    x, y, vx, vy = digits()
    rng = np.random.default_rng(SEED)
    params = {
        "W1": rng.normal(scale=1 / 8, size=(64, HIDDEN)),
        "b1": np.zeros(HIDDEN),
        "W2": rng.normal(scale=1 / np.sqrt(HIDDEN), size=(HIDDEN, 10)),
        "b2": np.zeros(10),
    }
    steps_per_epoch = len(y) // BATCH
    opt = lrdsl.optimizer(
        f"sgd(lr=({schedule}), momentum=0.9)", params, steps_per_epoch=steps_per_epoch, total=f"{EPOCHS}ep"
    )
    loss, accuracy = float("inf"), 0.0
    for epoch in range(EPOCHS):
        order = rng.permutation(len(y))
        for start in range(0, steps_per_epoch * BATCH, BATCH):
            index = order[start : start + BATCH]
            opt.step(loss_and_grads(params, x[index], y[index])[1])
        loss, _, accuracy = loss_and_grads(params, vx, vy)
        if not np.isfinite(loss):
            return float("inf"), accuracy  # diverged: the worst score, not an error
        if report is not None:
            report(loss, epoch)
    return float(loss), accuracy


def objective(schedule: str, trial) -> float:
    """The sweep's objective: the validation loss after training with ``schedule``; pruned by the
    study's pruner when it is far behind the other trials at the same epoch."""
    import optuna

    def report(loss: float, epoch: int) -> None:
        trial.report(loss, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()

    return train(schedule, report)[0]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="sqlite:///sweep.db", help="the sweep's storage")
    parser.add_argument("--name", default="digits", help="the study's name")
    args = parser.parse_args(argv)
    import optuna

    study = optuna.load_study(study_name=args.name, storage=args.study)
    best = study.best_trial.user_attrs["schedule"]
    for label, schedule in (("default", DEFAULT), ("best of the sweep", best)):
        loss, accuracy = train(schedule)
        print(f"{label:<18} validation loss {loss:.4f}  accuracy {accuracy:.3f}  {schedule}")


if __name__ == "__main__":
    main()
