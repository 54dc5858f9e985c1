"""Full-batch gradient descent for deep (linear) networks in JAX, float64.

Two drivers share one update rule (docs/yaras23.md, section "Training"):

* :func:`trajectory`: a fixed number of steps under ``lax.scan``, every iterate kept (F1-F4);
* :class:`Runner`: blocks of ``block`` steps under ``lax.fori_loop``, compiled ahead of time,
  each block timed on the host (compilation excluded); optionally vmapped over trials. A run
  stops, in the graph, at the first step whose train loss is below ``tol``: its parameters are
  frozen from then on and its step counter stops.

The loss is 1/2 the **mean** squared residual over all output entries; ``eta`` is the step on
that loss. ``scales`` multiplies the step per factor (the discrepant step gamma of the outer
factors of a compressed network). Heavy-ball momentum m: v <- m v + grad, W <- W - eta v.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np


# ------------------------------------------------------------------------------------------
# Models and losses (params: tuple of factors, first factor applied first)
# ------------------------------------------------------------------------------------------
def product(factors):
    """W_L ... W_1 for factors (W_1, ..., W_L)."""
    out = factors[0]
    for w in factors[1:]:
        out = w @ out
    return out


def features(factors, x, relu: bool = False):
    """Features h_0 = x, h_l = sigma(W_l h_{l-1}) for l < L (ReLU on hidden layers only) and
    the output W_L h_{L-1}."""
    hs = [x]
    for w in factors[:-1]:
        h = w @ hs[-1]
        hs.append(jax.nn.relu(h) if relu else h)
    return hs, factors[-1] @ hs[-1]


def half_mean_sq(residual):
    return 0.5 * jnp.mean(residual**2)


def factorization_loss(params, data):
    """DMF / DMC: 1/2 mean over all d^2 entries of (mask * (W_{L:1} - Phi))^2."""
    return half_mean_sq(data["mask"] * (product(params) - data["phi"]))


def compressed_product(params):
    """U W~_L ... W~_1 V^T for params (V, W~_1, ..., W~_L, U)."""
    v, inner, u = params[0], params[1:-1], params[-1]
    return u @ (product(inner) @ v.T)


def compressed_loss(params, data):
    return half_mean_sq(data["mask"] * (compressed_product(params) - data["phi"]))


def regression_loss(params, data, relu: bool = False):
    """Supervised: 1/2 mean over all output entries of (f(X) - Y)^2."""
    _, out = features(params, data["x"], relu)
    return half_mean_sq(out - data["y"])


def recovery_error(e2e, data):
    """1/2 mean over all d^2 entries of the residual on the unobserved entries (1 - mask);
    under full observation, on all entries (it then equals the train loss)."""
    hidden = 1.0 - data["mask"]
    hidden = jnp.where(jnp.sum(hidden) > 0, hidden, jnp.ones_like(hidden))
    return half_mean_sq(hidden * (e2e - data["phi"]))


# ------------------------------------------------------------------------------------------
# Update rule
# ------------------------------------------------------------------------------------------
def _step(loss_fn, eta, scales, momentum, tol):
    def step(state, data):
        params, vel, n, done = state
        loss, grads = jax.value_and_grad(loss_fn)(params, data)
        done = done | (loss < tol)
        vel_new = tuple(momentum * v + g for v, g in zip(vel, grads))
        new = tuple(p - (eta * s) * v for p, v, s in zip(params, vel_new, scales))
        params = tuple(jnp.where(done, p, q) for p, q in zip(params, new))
        vel = tuple(jnp.where(done, v, w) for v, w in zip(vel, vel_new))
        return params, vel, n + jnp.where(done, 0, 1), done

    return step


def _scales(scales, n):
    scales = (1.0,) * n if scales is None else tuple(float(s) for s in scales)
    if len(scales) != n:
        raise ValueError(f"scales: {len(scales)} entries for {n} factors")
    return scales


def initial_state(params):
    params = tuple(jnp.asarray(p) for p in params)
    return params, tuple(jnp.zeros_like(p) for p in params), jnp.array(0), jnp.array(False)


def trajectory(loss_fn, params, data, *, eta, steps, momentum=0.0, scales=None):
    """Every iterate of ``steps`` GD steps: a tuple of arrays (steps + 1, *shape) per factor."""
    step = _step(loss_fn, eta, _scales(scales, len(params)), momentum, -jnp.inf)

    @jax.jit
    def run(state, data):
        def body(s, _):
            s = step(s, data)
            return s, s[0]

        _, hist = jax.lax.scan(body, state, None, length=steps)
        return tuple(jnp.concatenate([p[None], h]) for p, h in zip(state[0], hist))

    state = initial_state(params)
    data = jax.tree_util.tree_map(jnp.asarray, data)
    return tuple(np.asarray(h) for h in run(state, data))


class Runner:
    """Blocks of GD steps, compiled once, timed per block on the host.

    ``record(params, data)`` returns a dict of arrays measured after each block (its time is
    not counted). With ``batched=True`` every leaf of params and data carries a leading trial
    axis and the block is vmapped over it (``data_axes`` names the data leaves shared by all
    trials with None, as a dict of the same keys).
    """

    def __init__(self, loss_fn, record, *, eta, block=100, tol=0.0, momentum=0.0,
                 scales=None, n_factors, batched=False, data_axes=None):
        self.block = int(block)
        step = _step(loss_fn, eta, _scales(scales, n_factors), momentum, tol)

        def run_block(state, data):
            return jax.lax.fori_loop(0, self.block, lambda i, s: step(s, data), state)

        if batched:
            run_block = jax.vmap(run_block, in_axes=(0, data_axes))
            record = jax.vmap(record, in_axes=(0, data_axes))
        self._block_fn = jax.jit(run_block)
        self._record_fn = jax.jit(record)
        self._compiled = None

    def start(self, params, data, batched=False):
        """Initial state; on the first call compiles the block and the record (not timed)."""
        if batched:
            state = jax.vmap(initial_state)(tuple(jnp.asarray(p) for p in params))
        else:
            state = initial_state(params)
        data = jax.tree_util.tree_map(jnp.asarray, data)
        if self._compiled is None:  # same shapes on every start of one runner
            self._compiled = (self._block_fn.lower(state, data).compile(),
                              self._record_fn.lower(state[0], data).compile())
        return state, data

    def advance(self, state, data):
        """One block; returns (state, seconds of the block alone)."""
        t0 = time.perf_counter()
        state = self._compiled[0](state, data)
        jax.block_until_ready(state)
        return state, time.perf_counter() - t0

    def record(self, state, data):
        return {k: np.asarray(v) for k, v in self._compiled[1](state[0], data).items()}
