"""MLPs with per-layer widths at the edge of chaos, in JAX (docs/terjek25.md, "Model").

Parameters are a list of (W_l, b_l), l = 1..L, W_l of shape (fan_in, fan_out). The network is

    h_1 = x W_1 + b_1,    h_l = phi(h_{l-1}) W_l + b_l (l = 2..L),    f(x) = h_L,

with W_l ~ N(0, sigma_w2 / fan_in) and b_l ~ N(0, sigma_b2) at the EOC point (sigma_w2, sigma_b2)
of :func:`dlndyn.terjek25.eoc.critical_point`. Exceptions (reconstructed choices, config keys):
the first layer's variance is (q* - sigma_b2) / fan_in under ``first_layer = "fixed_point"`` so
that h_1 already has second moment q* for inputs with E[x^2] = 1, and muP's output layer has
variance sigma_w2 / (fan_in * m), m = fan_in / base width (Yang & Hu 2021, Tensor Programs V).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .eoc import critical_point
from .recon import Setup

PHI = {"tanh": jnp.tanh, "relu": jax.nn.relu, "linear": lambda z: z}


def dims(setup: Setup, d_in: int, d_out: int) -> tuple[int, ...]:
    """(d_in, n_1, ..., n_{L-1}, d_out)."""
    return (d_in, *setup.widths(), d_out)


def weight_variances(setup: Setup, d_in: int, d_out: int) -> list[float]:
    """Per-layer entry variance of W_l (see the module docstring)."""
    sigma_w2, q_star = critical_point(setup.activation, setup.sigma_b2)
    ds = dims(setup, d_in, d_out)
    out = []
    for l in range(setup.depth):
        fan_in = ds[l]
        v = sigma_w2 / fan_in
        if l == 0 and setup.first_layer == "fixed_point" and q_star > setup.sigma_b2:
            v = (q_star - setup.sigma_b2) / fan_in
        if l == setup.depth - 1 and setup.parameterization == "mup":
            v /= fan_in / setup.width
        out.append(v)
    return out


def init(key, setup: Setup, d_in: int, d_out: int, *, sigma_w2: float | None = None):
    """Random EOC parameters [(W_1, b_1), ...]. ``sigma_w2`` overrides the EOC value (off-EOC
    nets for tests and comparisons; the first layer keeps its rule)."""
    ds = dims(setup, d_in, d_out)
    variances = weight_variances(setup, d_in, d_out)
    if sigma_w2 is not None:
        variances = [variances[0]] + [sigma_w2 / ds[l] for l in range(1, setup.depth)]
    stds = tuple(float(np.sqrt(v)) for v in variances)
    return _draw(key, ds, stds, float(np.sqrt(setup.sigma_b2)), jnp.result_type(float))


@partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _draw(key, ds, stds, b_std, dtype):
    # one compiled call (op-by-op dispatch of the draws costs seconds on a CPU)
    params = []
    for l, k in enumerate(jax.random.split(key, len(stds))):
        kw, kb = jax.random.split(k)
        w = jax.random.normal(kw, (ds[l], ds[l + 1]), dtype) * stds[l]
        b = jax.random.normal(kb, (ds[l + 1],), dtype) * b_std
        params.append((w, b))
    return params


def forward(params, x, activation: str = "tanh"):
    """(output, [h_1, ..., h_L]): the output and every layer's preactivations."""
    phi = PHI[activation]
    h = x @ params[0][0] + params[0][1]
    preacts = [h]
    for w, b in params[1:]:
        h = phi(h) @ w + b
        preacts.append(h)
    return h, preacts


def mse(params, x, y, activation: str = "tanh"):
    """Loss = (1/2) mean over samples of ||f(x) - y||^2 (summed over outputs)."""
    out, _ = forward(params, x, activation)
    return 0.5 * jnp.mean(jnp.sum((out - y) ** 2, axis=-1))


def lr_multipliers(setup: Setup, d_in: int, d_out: int) -> list[tuple[float, float]]:
    """Per-layer (W, b) learning-rate multipliers of plain GD/SGD.

    standard: all 1. muP (Tensor Programs V, SGD, with width ratios m = n / base width): input
    weights and hidden biases eta * m_out, hidden weights eta, output weights eta / m_in, output
    bias eta. nuP does not use these (its updates are normalised per layer).
    """
    ds = dims(setup, d_in, d_out)
    L = setup.depth
    if setup.parameterization != "mup":
        return [(1.0, 1.0)] * L
    out = []
    for l in range(L):
        m_in, m_out = ds[l] / setup.width, ds[l + 1] / setup.width
        if l == 0:
            out.append((m_out, m_out))
        elif l < L - 1:
            out.append((1.0, m_out))
        else:
            out.append((1.0 / m_in, 1.0))
    return out
