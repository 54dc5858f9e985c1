"""Synthetic data and initialisations of the law-of-parsimony experiments (numpy, float64).

Everything here is deterministic given a ``numpy.random.Generator``; see docs/yaras23.md,
section "Data and initialisation".
"""

from __future__ import annotations

import numpy as np

from ..core.data import orthonormal

INITS = ("orthogonal", "gaussian", "uniform")


def rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent generator for one use of a seed (data, init, trial ...)."""
    return np.random.default_rng([int(seed), *map(int, stream)])


def init_matrix(gen: np.random.Generator, shape, eps: float, kind: str = "orthogonal"):
    """One m x n factor at scale ``eps``.

    orthogonal: eps times a Haar orthogonal matrix of size max(m, n), cropped to m x n, so
    W W^T = eps^2 I or W^T W = eps^2 I. gaussian / uniform: i.i.d. entries rescaled to the same
    expected Frobenius norm eps sqrt(min(m, n)).
    """
    m, n = shape
    k = min(m, n)
    if kind == "orthogonal":
        return eps * orthonormal(gen, max(m, n), max(m, n))[:m, :n]
    if kind == "gaussian":
        return gen.normal(0.0, eps, (m, n)) * np.sqrt(k / (m * n))
    if kind == "uniform":
        return gen.uniform(-eps, eps, (m, n)) * np.sqrt(3.0 * k / (m * n))
    raise ValueError(f"init={kind!r}: must be one of {INITS}")


def init_weights(gen: np.random.Generator, widths, eps: float, kind: str = "orthogonal"):
    """Factors W_1 .. W_L of a network with layer widths [d_in, w_1, ..., d_out]."""
    return [init_matrix(gen, (widths[i + 1], widths[i]), eps, kind) for i in range(len(widths) - 1)]


def low_rank_gaussian(gen: np.random.Generator, d: int, r: int) -> np.ndarray:
    """The best rank-r approximation (truncated SVD) of a d x d standard Gaussian matrix."""
    u, s, vt = np.linalg.svd(gen.standard_normal((d, d)))
    return (u[:, :r] * s[:r]) @ vt[:r]


def exact_mask(gen: np.random.Generator, d: int, observed: float) -> np.ndarray:
    """A d x d 0/1 mask with exactly floor(observed d^2) entries, drawn without replacement."""
    mask = np.zeros(d * d)
    mask[gen.choice(d * d, int(np.floor(observed * d * d)), replace=False)] = 1.0
    return mask.reshape(d, d)


def whitened_inputs(gen: np.random.Generator, d_in: int, n_samples: int) -> np.ndarray:
    """d_in x N inputs with orthonormal rows (X X^T = I): rows of a Haar N x N orthogonal."""
    if d_in > n_samples:
        raise ValueError(f"d_in={d_in}: whitened inputs need d_in <= N={n_samples}")
    return orthonormal(gen, n_samples, n_samples)[:d_in]


def one_hot(K: int, n: int):
    """One-hot targets (K x K n) and labels of K classes with n samples each, class-major."""
    labels = np.repeat(np.arange(K), n)
    return np.eye(K)[:, labels], labels


def step_rule(phi: np.ndarray, L: int, observed: float = 1.0, target: float = 0.75) -> float:
    """The mean-loss step eta with eta / d^2 * L * sigma_1(Phi)^(2(L-1)/L) * observed = target.

    Keeps the step at the stability margin of the paper's d = 1000 settings when d is reduced
    (docs/yaras23.md, section "Step size").
    """
    s1 = np.linalg.norm(phi, 2)
    return float(target * phi.size / (L * s1 ** (2 * (L - 1) / L) * observed))
