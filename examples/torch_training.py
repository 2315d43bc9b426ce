"""Train a small PyTorch model with an optimizer string read from a YAML config (synthetic data, CPU).

    python examples/torch_training.py

``lrdsl.bridges.torch.optimizer`` builds the ``torch.optim.AdamW`` and the ``ScheduleLR`` that
drives its scheduled learning rate, stepped once per batch; durations in epochs follow
``steps_per_epoch``. Halfway through, the run is checkpointed and resumed, which continues
the schedule exactly.
"""

import io
import os

import torch

import lrdsl.config
from lrdsl.bridges.torch import optimizer as make_optimizer

CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_training.yaml")


def main():
    config = lrdsl.config.load_document(CONFIG)
    epochs = config["trainer"]["epochs"]
    steps_per_epoch = config["trainer"]["steps_per_epoch"]
    entry = lrdsl.config.load_entry(config, "optimizer.spec")  # $lr resolved from optimizer.lr

    torch.manual_seed(0)
    x = torch.randn(epochs * steps_per_epoch, 32, 8)
    y = (x @ torch.linspace(-1, 1, 8)).unsqueeze(-1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    optimizer, scheduler = make_optimizer(
        entry.text, model.parameters(), variables=entry.variables, steps_per_epoch=steps_per_epoch, total=f"{epochs}ep"
    )

    for epoch in range(epochs):
        if epoch == epochs // 2:  # save and resume, as a restarted job would
            checkpoint = io.BytesIO()
            torch.save(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
                checkpoint,
            )
            checkpoint.seek(0)
            state = torch.load(checkpoint, weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
        lr_at_start = scheduler.get_last_lr()[0]
        for step in range(steps_per_epoch):
            batch = epoch * steps_per_epoch + step
            loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        print(f"epoch {epoch}: lr {lr_at_start:.5f} -> {scheduler.get_last_lr()[0]:.5f}, loss {loss.item():.4f}")
    print("done:", scheduler)


if __name__ == "__main__":
    main()
