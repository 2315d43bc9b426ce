"""The JAX bridge under jax.jit, as a ratio against optax's own schedule in the same run.

    python benchmarks/bench_jax.py            # 10M points
    python benchmarks/bench_jax.py --quick    # 100k points, a smoke test

The README's warmup + cosine, ``warmup(T=500) then cosine(T=9500, end=1e-5)``, against
``optax.warmup_cosine_decay_schedule`` with the same values (optax's decay_steps include the
warmup), both jitted and evaluated over the same float32 array of iterations. The exact
boundaries (``lrdsl.exact``) cost a few comparisons per point; the goal is <= 1.3x optax.
"""

from __future__ import annotations

import argparse
import json
import timeit

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrdsl.bridges.jax import schedule

TEXT = "warmup(T=500) then cosine(T=9500, end=1e-5)"


def ratio(size: int) -> float:
    ours = jax.jit(schedule(TEXT, dtype=jnp.float32))
    theirs = jax.jit(
        optax.warmup_cosine_decay_schedule(
            init_value=0.0, peak_value=1.0, warmup_steps=500, decay_steps=10_000, end_value=1e-5
        )
    )
    t = jnp.arange(size, dtype=jnp.float32)
    np.testing.assert_allclose(np.asarray(ours(t)), np.asarray(theirs(t)), rtol=1e-5, atol=1e-7)

    def timed(function) -> float:
        function(t).block_until_ready()  # compiled before timing
        return min(timeit.repeat(lambda: function(t).block_until_ready(), number=3, repeat=5)) / 3

    return timed(ours) / timed(theirs)


def main(argv=None) -> dict:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = options.parse_args(argv)
    results = {"jax_jit_vs_optax_schedule": ratio(100_000 if args.quick else 10_000_000)}
    for name, value in results.items():
        print(f"{name:42s} {value:6.2f}x   (goal <= 1.3x)")
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
