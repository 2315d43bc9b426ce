"""Train a small NumPy MLP with an optimizer and schedule written as an lrdsl string.

    python examples/numpy_training.py [--config examples/numpy_training.yaml]

The data (two interleaving half-moons with noise) is generated from a fixed seed. The
config's ``optimizer`` string trains the model with progress printed every few epochs,
biases in a parameter group without weight decay; then every string of ``compare`` is trained
from the same initial weights and the results are printed side by side.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

import lrdsl


def moons(samples: int, rng: np.random.Generator):
    """Two interleaving half-circles in 2-D with Gaussian noise; labels 0 and 1."""
    half = samples // 2
    angles = rng.uniform(0, np.pi, size=samples)
    upper = np.stack([np.cos(angles[:half]), np.sin(angles[:half])], axis=1)
    lower = np.stack([1 - np.cos(angles[half:]), 0.5 - np.sin(angles[half:])], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(scale=0.15, size=(samples, 2))
    y = np.concatenate([np.zeros(half), np.ones(samples - half)])
    return (x - x.mean(0)) / x.std(0), y


def init_params(hidden: int, rng: np.random.Generator) -> dict:
    return {
        "W1": rng.normal(scale=1.0, size=(2, hidden)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(scale=1.0 / np.sqrt(hidden), size=(hidden, 1)),
        "b2": np.zeros(1),
    }


def loss_and_grads(params: dict, x: np.ndarray, y: np.ndarray):
    """Binary cross-entropy of a tanh MLP, and its gradients by hand."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    logits = (h @ params["W2"] + params["b2"])[:, 0]
    loss = np.mean(np.logaddexp(0, logits) - y * logits)
    dlogits = (1 / (1 + np.exp(-logits)) - y)[:, None] / len(y)
    dh = dlogits @ params["W2"].T * (1 - h**2)
    grads = {"W1": x.T @ dh, "b1": dh.sum(0), "W2": h.T @ dlogits, "b2": dlogits.sum(0)}
    return loss, grads, ((logits > 0) == y).mean()


def train(text: str, config: dict, x, y, verbose: bool = False):
    rng = np.random.default_rng(config["seed"])
    params = init_params(config["hidden"], rng)
    batch, epochs = config["batch_size"], config["epochs"]
    steps_per_epoch = len(y) // batch
    no_decay = set(config.get("no_weight_decay", []))
    groups = [
        {"params": {k: v for k, v in params.items() if k not in no_decay}},
        {"params": {k: v for k, v in params.items() if k in no_decay}, "weight_decay": 0},
    ]
    opt = lrdsl.optimizer(text, groups, steps_per_epoch=steps_per_epoch, total=f"{epochs}ep")
    for epoch in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, steps_per_epoch * batch, batch):
            index = order[start : start + batch]
            _, grads, _ = loss_and_grads(params, x[index], y[index])
            opt.step(grads)
        if verbose and (epoch % 5 == 4 or epoch == 0):
            loss, _, accuracy = loss_and_grads(params, x, y)
            print(f"  epoch {epoch + 1:3d}  loss {loss:.4f}  accuracy {accuracy:.3f}  next lr {opt.lr:.2e}")
    loss, _, accuracy = loss_and_grads(params, x, y)
    return loss, accuracy


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("numpy_training.yaml"))
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    x, y = moons(config["samples"], np.random.default_rng(config["seed"]))

    print(f"optimizer: {config['optimizer']}")
    loss, accuracy = train(config["optimizer"], config, x, y, verbose=True)
    print(f"final: loss {loss:.4f}  accuracy {accuracy:.3f}\n")

    print(f"{'optimizer':<72} {'loss':>8} {'accuracy':>9}")
    for text in [config["optimizer"], *config.get("compare", [])]:
        loss, accuracy = train(text, config, x, y)
        print(f"{text:<72} {loss:8.4f} {accuracy:9.3f}")


if __name__ == "__main__":
    main()
