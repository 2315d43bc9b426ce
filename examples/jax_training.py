"""Fit a linear model with optax and an lrdsl schedule, jitted end to end (synthetic data, CPU).

    python examples/jax_training.py

``lrdsl.bridges.jax.schedule`` turns the string into a jittable ``step -> lr`` function that
any optax optimizer accepts as its learning rate.
"""

import jax
import jax.numpy as jnp
import optax

from lrdsl.bridges.jax import schedule

STEPS = 300
TEXT = "warmup(10%) then cosine(end=1e-3 * base)"


def main():
    key_x, _ = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(key_x, (STEPS, 32, 4))
    true_w = jnp.array([1.0, -2.0, 0.5, 3.0])
    y = x @ true_w

    lr = schedule(TEXT, base=0.1, total=STEPS)
    tx = optax.adam(learning_rate=lr)
    params = jnp.zeros(4)
    state = tx.init(params)

    def loss_fn(params, xb, yb):
        return jnp.mean((xb @ params - yb) ** 2)

    @jax.jit
    def train_step(params, state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    for step in range(STEPS):
        params, state, loss = train_step(params, state, x[step], y[step])
        if step % 60 == 0 or step == STEPS - 1:
            print(f"step {step:3d}: lr {float(lr(step)):.5f}, loss {float(loss):.5f}")
    print("learned", [round(float(w), 3) for w in params], "true", true_w.tolist())


if __name__ == "__main__":
    main()
