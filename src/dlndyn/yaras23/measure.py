"""Measurements (numpy, float64): principal angles, the passive block, the within/between
ratio D_l and its geometric fit, and the scalar recursion of the passive singular value.

See docs/yaras23.md, sections "Invariant subspaces" and "Progressive separation".
"""

from __future__ import annotations

import numpy as np


def principal_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Largest principal angle between the column spans of orthonormal ``a`` and ``b``.

    atan2(||(I - a a^T) b||_2, sigma_min(a^T b)) resolves angles down to ~1e-16 rad, where
    arccos of a clipped cosine stops at ~1e-8 (docs/yaras23.md, "Angles").
    """
    a = np.atleast_2d(a.T).T
    b = np.atleast_2d(b.T).T
    cross = a.T @ b
    sin = np.linalg.norm(b - a @ cross, 2)
    cos = np.linalg.svd(cross, compute_uv=False).min()
    return float(np.arctan2(sin, cos))


def principal_angles_series(a: np.ndarray, bs: np.ndarray) -> np.ndarray:
    """:func:`principal_angle` of the d x k basis ``a`` against every basis bs[t] (T x d x k)."""
    cross = np.einsum("ij,tik->tjk", a, bs)
    resid = bs - np.einsum("ij,tjk->tik", a, cross)
    if a.shape[1] == 1:
        sin = np.linalg.norm(resid[:, :, 0], axis=1)
        cos = np.abs(cross[:, 0, 0])
    else:
        sin = np.linalg.norm(resid, 2, axis=(1, 2))
        cos = np.linalg.svd(cross, compute_uv=False).min(axis=1)
    return np.arctan2(sin, cos)


def rho_recursion(eps: float, L: int, eta: float, n_out: int, steps: int,
                  momentum: float = 0.0) -> np.ndarray:
    """The passive singular value rho(t), t = 0..steps, of square deep matrix factorisation.

    With the mean loss over n_out = d^2 entries, the passive block of every gradient is
    rho^(2L-1) / d^2, so plain GD gives rho <- rho (1 - (eta/d^2) rho^(2(L-1))); heavy-ball
    momentum m applies the same to v <- m v + rho^(2L-1)/d^2, rho <- rho - eta v.
    """
    rho = np.empty(steps + 1)
    rho[0] = r = eps
    v = 0.0
    for t in range(steps):
        v = momentum * v + r ** (2 * L - 1) / n_out
        r = r - eta * v
        rho[t + 1] = r
    return rho


def within_between(h: np.ndarray, labels: np.ndarray) -> float:
    """D = tr(Sigma_W) / tr(Sigma_B) of features h (p x N) with integer class labels.

    Sigma_W averages over all N samples their scatter about the class mean; Sigma_B averages
    over the K classes the scatter of the class means about the global mean.
    """
    classes = np.unique(labels)
    means = np.stack([h[:, labels == k].mean(axis=1) for k in classes], axis=1)
    within = np.sum((h - means[:, np.searchsorted(classes, labels)]) ** 2) / h.shape[1]
    between = np.sum((means - h.mean(axis=1, keepdims=True)) ** 2) / len(classes)
    return float(within / between)


def geometric_fit(layers, values):
    """Least squares of log(values) on the layer index: (ratio = exp(slope), prefactor, R^2)."""
    x = np.asarray(layers, float)
    y = np.log(np.asarray(values, float))
    slope, intercept = np.polyfit(x, y, 1)
    resid = y - (slope * x + intercept)
    r2 = 1.0 - resid @ resid / np.sum((y - y.mean()) ** 2)
    return float(np.exp(slope)), float(np.exp(intercept)), float(r2)
