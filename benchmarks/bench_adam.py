"""The NumPy Adam step of lrdsl against torch.optim.Adam(foreach=True) on the CPU, same run.

    python benchmarks/bench_adam.py [--size 10000000] [--steps 10]

Both update 10M float32 parameters (one array) with the same gradient; the time of a step
is the median over ``--steps`` steps after two warm-up steps. Prints both times and the ratio
lrdsl / torch (below 1: lrdsl is faster). The lrdsl step includes its input checks (shapes,
dtypes, the finite-gradient check) and what makes a step all or nothing (a copy of the
parameter to undo it, moments written into second buffers, the finite-parameter check).
The machine may be noisy: run it a few times and compare medians. Runs in well under a minute.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def median_step_seconds(step, steps: int) -> float:
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)

    import torch

    import lrdsl

    rng = np.random.default_rng(0)
    start = rng.standard_normal(args.size, dtype=np.float32)
    grad = rng.standard_normal(args.size, dtype=np.float32)

    param = start.copy()
    opt = lrdsl.optimizer("adam(lr=1e-3)", [param])
    ours = median_step_seconds(lambda: opt.step([grad]), args.steps)

    tensor = torch.from_numpy(start.copy()).requires_grad_()
    tensor.grad = torch.from_numpy(grad)
    peer = torch.optim.Adam([tensor], lr=1e-3, foreach=True)
    theirs = median_step_seconds(peer.step, args.steps)

    ratio = ours / theirs
    print(
        f"Adam step, {args.size:,} float32 parameters, torch {torch.__version__} with "
        f"{torch.get_num_threads()} thread(s), NumPy {np.__version__}"
    )
    print(f"  lrdsl (NumPy):                  {ours * 1e3:8.2f} ms")
    print(f"  torch.optim.Adam(foreach=True): {theirs * 1e3:8.2f} ms")
    print(f"  ratio lrdsl / torch: {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
