"""Per-step overhead of ``ScheduleLR.step()`` against torch's own ``CosineAnnealingLR.step()``.

    python benchmarks/bench_torch_overhead.py [--steps 20000] [--repeats 5]

Both schedulers drive the same kind of optimizer in the same process; only ``scheduler.step()``
is timed (best of ``repeats``). Prints microseconds per step and the ratio lrdsl / torch.
"""

import argparse
import time

import torch

from lrdsl.bridges.torch import ScheduleLR


def make_optimizer(groups: int) -> torch.optim.Optimizer:
    params = [{"params": [torch.nn.Parameter(torch.zeros(4))], "lr": 0.1 / (g + 1)} for g in range(groups)]
    optimizer = torch.optim.SGD(params, lr=0.1)
    return optimizer


def seconds_per_step(make_scheduler, groups: int, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        optimizer = make_optimizer(groups)
        scheduler = make_scheduler(optimizer, steps)
        optimizer.step()  # torch warns when a scheduler steps before its optimizer ever did
        step = scheduler.step
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


CASES = {
    "cosine(T=...)": lambda o, n: ScheduleLR(o, f"cosine(T={n})"),
    "warmup(5%) then cosine(end=1e-5)": lambda o, n: ScheduleLR(o, "warmup(5%) then cosine(end=1e-5)", total=n),
    "warmup then cosine + momentum": lambda o, n: ScheduleLR(
        o,
        "warmup(5%) then cosine(end=1e-5)",
        total=n,
        hyperparameters={"momentum": "linear(T=50%, start=0.85, end=0.95)"},
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for groups in (1, 4):
        torch_time = seconds_per_step(
            lambda o, n: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=n), groups, args.steps, args.repeats
        )
        print(f"{groups} param group(s): torch CosineAnnealingLR.step() {torch_time * 1e6:.2f} us")
        for name, make in CASES.items():
            ours = seconds_per_step(make, groups, args.steps, args.repeats)
            print(f"  ScheduleLR {name:<36} {ours * 1e6:7.2f} us   ratio {ours / torch_time:.2f}")


if __name__ == "__main__":
    main()
