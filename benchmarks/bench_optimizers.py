"""Optimizer rows of the speed table (issue 15): lrdsl against PyTorch, measured in the same run.

    python benchmarks/bench_optimizers.py            # 10M float32 parameters
    python benchmarks/bench_optimizers.py --quick    # small sizes, for a smoke test

:func:`rows` returns one dict per row, ``{"what", "ratio", "goal", "note"}``:

- each NumPy optimizer (``lrdsl.optimizer``) against ``torch.optim`` with ``foreach=True`` (Lion:
  a hand-written torch Lion), one array of ``size`` float32 parameters, the same gradient every
  step; ratio = lrdsl's step time ÷ torch's (min over repeats, the two interleaved; torch at 1
  thread, as NumPy is);
- the optimizer's memory besides the parameters, as a multiple of the parameters' bytes
  (``Optimizer.nbytes``), against PyTorch's state plus one parameter-sized buffer;
- ``lrdsl.bridges.torch.optimizer`` with a scheduled momentum against
  ``OneCycleLR(cycle_momentum=True)``: time of one ``scheduler.step()``, 1 and 8 parameter groups.

Speed is not asserted anywhere: the test suite only runs ``--quick`` to see that every row comes out.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, Dict, List, Tuple

import numpy as np

#: lrdsl text, torch class name, torch keyword arguments, torch state arrays per parameter
OPTIMIZERS: Dict[str, Tuple[str, str, dict, int]] = {
    "sgd(momentum)": ("sgd(lr=1e-3, momentum=0.9)", "SGD", {"lr": 1e-3, "momentum": 0.9}, 1),
    "adam": ("adam(lr=1e-3)", "Adam", {"lr": 1e-3}, 2),
    "adamw": ("adamw(lr=1e-3)", "AdamW", {"lr": 1e-3}, 2),
    "nadam": ("nadam(lr=1e-3)", "NAdam", {"lr": 1e-3}, 2),
    "radam": ("radam(lr=1e-3)", "RAdam", {"lr": 1e-3}, 2),
    "adamax": ("adamax(lr=1e-3)", "Adamax", {"lr": 1e-3}, 2),
    "adagrad": ("adagrad(lr=1e-2)", "Adagrad", {"lr": 1e-2}, 1),
    "rmsprop": ("rmsprop(lr=1e-2)", "RMSprop", {"lr": 1e-2}, 1),
    "adadelta": ("adadelta(lr=1.0)", "Adadelta", {"lr": 1.0}, 2),
    "lion": ("lion(lr=1e-4, weight_decay=0.01)", "", {}, 1),
}


class TorchLion:
    """Lion written by hand with torch's in-place ops (there is no ``torch.optim.Lion``)."""

    def __init__(self, param, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.01):
        import torch

        self.param, self.lr, self.betas, self.weight_decay = param, lr, betas, weight_decay
        self.exp_avg = torch.zeros_like(param)

    def step(self) -> None:
        import torch

        with torch.no_grad():
            beta1, beta2 = self.betas
            grad = self.param.grad
            update = torch.lerp(self.exp_avg, grad, 1 - beta1).sign_()
            self.param.mul_(1 - self.lr * self.weight_decay)
            self.param.add_(update, alpha=-self.lr)
            self.exp_avg.lerp_(grad, 1 - beta2)


def best_seconds(steps: Dict[str, Callable[[], None]], repeats: int, calls: int) -> Dict[str, float]:
    """The fastest single call of each function: ``repeats`` rounds, the functions interleaved."""
    best = {name: float("inf") for name in steps}
    for step in steps.values():
        step()  # warm up: state created, buffers allocated
    for _ in range(repeats):
        for name, step in steps.items():
            for _ in range(calls):
                start = time.perf_counter()
                step()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


def optimizer_rows(size: int, repeats: int, calls: int) -> List[dict]:
    """Speed and memory of every NumPy optimizer against torch, ``size`` float32 parameters."""
    import torch

    import lrdsl

    rng = np.random.default_rng(0)
    start = rng.standard_normal(size, dtype=np.float32)
    grad = rng.standard_normal(size, dtype=np.float32)
    rows = []
    for label, (text, name, kwargs, torch_arrays) in OPTIMIZERS.items():
        param = start.copy()
        ours = lrdsl.optimizer(text, [param])
        tensor = torch.from_numpy(start.copy()).requires_grad_()
        tensor.grad = torch.from_numpy(grad)
        theirs = getattr(torch.optim, name)([tensor], foreach=True, **kwargs) if name else TorchLion(tensor)
        times = best_seconds({"ours": lambda opt=ours: opt.step([grad]), "theirs": theirs.step}, repeats, calls)
        peer = f"torch.optim.{name}(foreach=True)" if name else "a hand-written torch Lion"
        rows.append(
            {
                "what": f"NumPy `{text}`, {size:,} float32, vs {peer}",
                "ratio": times["ours"] / times["theirs"],
                "goal": 1.0,
                "note": f"{times['ours'] * 1e3:.2f} ms vs {times['theirs'] * 1e3:.2f} ms per step",
            }
        )
        multiple = ours.nbytes / param.nbytes
        rows.append(
            {
                "what": f"optimizer memory of `{label}`, × parameter bytes",
                "ratio": multiple,
                "goal": torch_arrays + 1.0,
                "note": f"torch keeps {torch_arrays}×; goal: torch's + 1 scratch buffer "
                "(lrdsl: state + one buffer of result slots and block temporaries, or the temporaries alone)",
            }
        )
    return rows


def factory_seconds(groups: int, steps: int, repeats: int) -> Dict[str, float]:
    """Seconds per ``scheduler.step()``: lrdsl's torch factory with scheduled lr and momentum, and
    ``OneCycleLR(cycle_momentum=True)``, ``groups`` parameter groups (best of ``repeats``, interleaved)."""
    import torch

    from lrdsl.bridges.torch import optimizer as torch_optimizer

    text = f"sgd(lr=onecycle(T={steps}, base=0.1), momentum=0.95 - 0.1 * onecycle(T={steps}, div=1e9, final_div=1e9))"

    def params():
        return [{"params": [torch.nn.Parameter(torch.zeros(4))]} for _ in range(groups)]

    def ours():
        built = torch_optimizer(text, params())
        return built.optimizer, built.scheduler

    def theirs():
        optimizer = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=0.1, total_steps=steps + 1, cycle_momentum=True
        )

    best: Dict[str, float] = {}
    for name, make in (("ours", ours), ("theirs", theirs)) * repeats:
        optimizer, scheduler = make()
        optimizer.step()  # torch warns when a scheduler steps before its optimizer did
        step = scheduler.step
        began = time.perf_counter()
        for _ in range(steps):
            step()
        best[name] = min(best.get(name, float("inf")), (time.perf_counter() - began) / steps)
    return best


def factory_rows(steps: int, repeats: int) -> List[dict]:
    """The torch factory's rows, 1 and 8 parameter groups."""
    rows = []
    for groups in (1, 8):
        best = factory_seconds(groups, steps, repeats)
        rows.append(
            {
                "what": f"torch factory, scheduled lr + momentum, vs OneCycleLR(cycle_momentum=True), {groups} groups",
                "ratio": best["ours"] / best["theirs"],
                "goal": 1.0,
                "note": f"{best['ours'] * 1e6:.2f} µs vs {best['theirs'] * 1e6:.2f} µs per scheduler.step()",
            }
        )
    return rows


def rows(quick: bool = False) -> List[dict]:
    """Every optimizer row; ``quick``: small sizes (seconds), for a smoke test."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if quick:
            return optimizer_rows(20_000, repeats=1, calls=2) + factory_rows(200, repeats=1)
        return optimizer_rows(10_000_000, repeats=5, calls=2) + factory_rows(20_000, repeats=5)
    finally:
        torch.set_num_threads(threads)


def main(argv=None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    args = parser.parse_args(argv)
    result = rows(quick=args.quick)
    for row in result:
        met = "met" if row["ratio"] <= row["goal"] else "NOT met"
        print(f"{row['what']}: {row['ratio']:.2f} (goal <= {row['goal']:g}, {met}) - {row['note']}")
    return result


if __name__ == "__main__":
    main()
