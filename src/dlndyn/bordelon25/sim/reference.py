"""Plain autodiff training of the same network: the independent check on the rank-one engine.

The network is evaluated on the whole data matrix and differentiated with ``jax.grad``; the
update is ``params -= eta * grad(loss / 2)`` with the raw learning rate eta = eta0 gamma^2 N.
With C outputs (an (N, C) readout) the loss is (1/P) sum over samples and outputs, and the
returned train loss is averaged over outputs, as the engine records it.
Tests compare its iterates with :func:`dlndyn.bordelon25.sim.engine.rank_one_step`; the benchmark times both.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..conventions import raw_learning_rate, readout
from .engine import end_to_end


def network(params, X, gamma):
    """f(X) for the data matrix X (P x D), layer by layer (each W^l scaled by its fan-in, the
    readout by the last width: unequal widths too)."""
    D = params["W0"].shape[1]
    H = X @ params["W0"].T / np.sqrt(D)
    for W in params["Ws"]:
        H = H @ W.T / np.sqrt(W.shape[1])
    return readout(D, params["w"].shape[0], gamma) * (H @ params["w"])


def half_loss(params, X, y, gamma):
    r = y - network(params, X, gamma)
    return 0.5 * jnp.sum(r**2) / X.shape[0]


def autodiff_step(params, X, y, eta0, gamma, branch=None):
    """One GD step by jax.grad. Same signature and returns as ``rank_one_step``."""
    N = params["w"].shape[0]  # the last hidden width
    eta = raw_learning_rate(eta0, gamma, N)
    loss2, grads = jax.value_and_grad(half_loss)(params, X, y, gamma)
    new = jax.tree_util.tree_map(lambda p, g: p - eta * g, params, grads)
    beta, _, _ = end_to_end(params, gamma)
    return new, 2 * loss2 / _outputs(y), beta


def _outputs(y) -> int:
    return 1 if y.ndim == 1 else y.shape[1]


# ----------------------------------------------------------------------------------------
# Residual network (docs/bordelon25.md, section 5): W^1..W^L are the branch matrices in params["Ws"]
# ----------------------------------------------------------------------------------------
def residual_network(params, X, gamma, branch):
    """f(X) of the residual network: h <- h + branch W h / sqrt(N) for each block."""
    N, D = params["W0"].shape
    H = X @ params["W0"].T / np.sqrt(D)
    for W in params["Ws"]:
        H = H + branch * (H @ W.T) / np.sqrt(N)
    return readout(D, N, gamma) * (H @ params["w"])


def residual_half_loss(params, X, y, gamma, branch):
    r = y - residual_network(params, X, gamma, branch)
    return 0.5 * jnp.sum(r**2) / X.shape[0]


def residual_autodiff_step(params, X, y, eta0, gamma, branch):
    """One GD step of the residual network by jax.grad (same returns as ``rank_one_step``).

    beta is read off the network itself (f(x) = beta.x/sqrt(D) on the basis vectors), not
    from the backward vectors of the rank-one engine.
    """
    N, D = params["W0"].shape
    eta = raw_learning_rate(eta0, gamma, N)
    loss2, grads = jax.value_and_grad(residual_half_loss)(params, X, y, gamma, branch)
    new = jax.tree_util.tree_map(lambda p, g: p - eta * g, params, grads)
    beta = np.sqrt(D) * residual_network(params, jnp.eye(D, dtype=X.dtype), gamma, branch)
    return new, 2 * loss2 / _outputs(y), beta
