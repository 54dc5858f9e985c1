"""Residual deep linear networks, finite width: the exact rank-one GD step (JAX).

Model and update equations: docs/bordelon25.md, "Residual networks"; the theory of the same
networks is :mod:`dlndyn.bordelon25.theory.residual`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..conventions import readout, update_scale
from .batches import pseudo_input
from .lowrank import outer

# ----------------------------------------------------------------------------------------
# Finite network: the exact rank-one GD step (JAX)
# ----------------------------------------------------------------------------------------
def residual_end_to_end(params, gamma, branch):
    """beta = sqrt(D)/(gamma N) W0^T g^1 and the backward vectors (g^1, g^{l+1} of block l).

    Returns (beta, g1, g_upper) with g_upper[i] = g^{i+2}, the backward input of block i+1.
    """
    N, D = params["W0"].shape

    def back(g, W):  # g^{l+1} -> g^l
        return g + branch * (W.T @ g) / np.sqrt(N), g

    g1, g_upper = jax.lax.scan(back, params["w"], params["Ws"], reverse=True)
    beta = readout(D, N, gamma) * (params["W0"].T @ g1)
    return beta, g1, g_upper


def residual_step(params, X, y, eta0, gamma, branch):
    """One exact GD step of the residual network (same signature as ``rank_one_step``).

    ``params["Ws"]`` holds the L branch matrices W^1..W^L; ``X, y`` a batch
    (:func:`.batches.pseudo_input`). Returns (new params, train loss,
    beta before the step).
    """
    N, D = params["W0"].shape
    beta, g1, g_upper = residual_end_to_end(params, gamma, branch)
    a, train_l = pseudo_input(X, y, beta)

    def fwd(h, W):  # h^l_a -> h^{l+1}_a
        return h + branch * (W @ h) / np.sqrt(N), h

    h_first = params["W0"] @ a / np.sqrt(D)
    h_last, h_lower = jax.lax.scan(fwd, h_first, params["Ws"])  # h_lower[i] = h^{i+1}_a
    c = update_scale(eta0, gamma)
    new = {
        "W0": params["W0"] + c * outer(g1, a) / np.sqrt(D),
        "Ws": params["Ws"] + (c * branch / np.sqrt(N)) * jax.vmap(outer)(g_upper, h_lower),
        "w": params["w"] + c * h_last,
    }
    return new, train_l, beta

