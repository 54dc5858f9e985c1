"""What a GD step reads of its batch: the pseudo-input a and the train loss (JAX).

A step uses its batch (X, y) only through the residuals Delta = y - X beta / sqrt(D), as

    a = sqrt(D) X^T Delta / P,     train loss = |Delta|^2 / P

(averaged over outputs with C outputs). :func:`pseudo_input` computes both from an explicit
batch, or, for one-pass SGD, from a :class:`OnePass` sample of the batch's sufficient
statistics, drawn without the P x D matrix X (docs/bordelon25.md, section 1.6):

with v = beta* - beta, W = sqrt(lambda) v (W = v for isotropic data) and Q an orthonormal basis
of a space holding the columns of W (D x C; for one output u = W/|W|, or 0 when W = 0),

    Delta   = Z Q^T W / sqrt(D) + sigma E
    xi^T Delta = Q Z^T Delta + (G - Q Q^T G) S,        S = (Delta^T Delta)^{1/2}
    a       = sqrt(D) sqrt(lambda) xi^T Delta / P,

with Z (P x C), E (P x C) and G (D x C) standard Gaussians: exactly the law of the explicit
batch's (a, train loss) given the weights, for 2 P C + D C normals per step instead of
P D + P C.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..conventions import channel_mean_square

BATCHES = ("stats", "explicit")  # how one-pass batches are drawn (full batch: the fixed X, y)


class OnePass(NamedTuple):
    """A one-pass batch by its sufficient statistics (shapes for C outputs; one output: no
    channel axis). ``z``: the standard inputs projected on the basis Q (P, C); ``noise``: the
    label noise sigma eps (P, C); ``g``: standard Gaussians (D, C), whose part orthogonal to Q
    is used. ``beta_star`` and ``sqrt_lam`` (None: isotropic data) come from the data."""
    z: jax.Array
    noise: jax.Array
    g: jax.Array
    beta_star: jax.Array
    sqrt_lam: jax.Array | None


def draw_onepass(key, beta_star, P: int, sigma, dtype, sqrt_lam=None) -> OnePass:
    """The sufficient statistics of a fresh batch of P points (:class:`OnePass`)."""
    out = beta_star.shape[1:]
    C = int(np.prod(out, dtype=int))
    # one draw, split (each random-number call site costs compile time)
    normals = jax.random.normal(key, ((2 * P + beta_star.shape[0]) * C,), dtype)
    z, eps, g = jnp.split(normals, [P * C, 2 * P * C])
    return OnePass(z=z.reshape((P,) + out), noise=sigma * eps.reshape((P,) + out),
                   g=g.reshape(beta_star.shape), beta_star=beta_star, sqrt_lam=sqrt_lam)


def pseudo_input(X, y, beta):
    """(a, train loss) of the batch at end-to-end weights ``beta``.

    ``X, y``: an explicit batch (P x D inputs, labels), or ``X`` a :class:`OnePass` sample and
    ``y`` None. beta is (D,) or (D, C).
    """
    if isinstance(X, OnePass):
        return onepass_pseudo_input(X, beta)
    D, P = beta.shape[0], X.shape[0]
    delta = y - X @ beta / np.sqrt(D)
    return np.sqrt(D) * (X.T @ delta) / P, channel_mean_square(delta) / P


def _basis(W):
    """Orthonormal columns Q with W = Q Q^T W: W/|W| for one output (0 when W = 0), else the
    Q of W's QR decomposition (C columns, also when W is rank deficient)."""
    if W.shape[1] == 1:
        norm = jnp.sqrt(jnp.sum(W * W))
        return W / jnp.where(norm > 0, norm, 1)
    return jnp.linalg.qr(W)[0]


def _sqrt_psd(M):
    """The symmetric square root of a positive semi-definite C x C matrix."""
    if M.shape == (1, 1):
        return jnp.sqrt(M)
    ev, V = jnp.linalg.eigh(M)
    return (V * jnp.sqrt(jnp.maximum(ev, 0))) @ V.T


def onepass_pseudo_input(batch: OnePass, beta):
    """(a, train loss) of a one-pass batch from its sufficient statistics (module docstring);
    the same law as :func:`pseudo_input` of an explicit fresh batch."""
    one = beta.ndim == 1

    def mat(x):  # one output: a column
        return x[:, None] if one else x

    D, P = beta.shape[0], batch.z.shape[0]
    scale = 1 if batch.sqrt_lam is None else batch.sqrt_lam[:, None]
    W = scale * mat(batch.beta_star - beta)
    Q = _basis(W)
    # Q has min(C, D) columns: with more outputs than inputs it spans the whole input space
    z, g = mat(batch.z)[:, :Q.shape[1]], mat(batch.g)
    delta = z @ (Q.T @ W) / np.sqrt(D) + mat(batch.noise)
    S = _sqrt_psd(delta.T @ delta)
    xi_delta = Q @ (z.T @ delta) + (g - Q @ (Q.T @ g)) @ S
    a = np.sqrt(D) * scale * xi_delta / P
    if one:
        a, delta = a[:, 0], delta[:, 0]
    return a, channel_mean_square(delta) / P
