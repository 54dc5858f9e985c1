"""Data shared by the papers: seeded streams, power-law spectra, low-rank targets, observation
masks (numpy)."""

from __future__ import annotations

import functools

import numpy as np


def streams(seed: int, replicate: int, names) -> dict:
    """Independent numpy generators, one per name, for replicate ``replicate`` of base seed
    ``seed`` (children of ``SeedSequence([seed, replicate])`` in the order of ``names``)."""
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= int(seed) < 2**63:
        raise ValueError(f"seed={seed!r}: must be an integer in [0, 2^63)")
    children = np.random.SeedSequence([int(seed), int(replicate)]).spawn(len(names))
    return {name: np.random.default_rng(c) for name, c in zip(names, children)}


@functools.lru_cache(maxsize=32)
def power_law_spectrum(capacity: float, source: float, modes: int):
    """Eigenvalues lambda_k ~ k^-capacity and target variances b_k for k = 1..modes.

    Normalised so that mean(lambda) = 1 and the target power lambda_k b_k ~ k^-(capacity
    source + 1) has mean 1. The arrays are cached and read-only (shared by every caller).
    """
    if int(modes) != modes or modes < 1:
        raise ValueError(f"modes={modes!r}: must be an integer >= 1")
    k = np.arange(1, int(modes) + 1, dtype=float)
    lam = k ** (-float(capacity))
    lam /= lam.mean()
    power = k ** (-float(capacity) * float(source) - 1.0)
    power /= power.mean()
    b = power / lam
    lam.flags.writeable = b.flags.writeable = False
    return lam, b


def orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """An n x k matrix with orthonormal columns, Haar-distributed (QR with sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((n, k)))
    return q * np.sign(np.diag(r))


def low_rank_target(d: int, r: int, seed: int = 0, *, singular_values=None) -> np.ndarray:
    """A d x d matrix of rank r, U diag(s) V^T with Haar U, V; unit singular values by default."""
    if not 1 <= r <= d:
        raise ValueError(f"r={r!r}: must be between 1 and d={d}")
    rng = np.random.default_rng(seed)
    s = np.ones(r) if singular_values is None else np.asarray(singular_values, float)
    return orthonormal(rng, d, r) @ np.diag(s) @ orthonormal(rng, d, r).T


def observation_mask(shape, observed: float, seed: int = 0) -> np.ndarray:
    """A 0/1 mask with each entry observed independently with probability ``observed``."""
    if not 0 < observed <= 1:
        raise ValueError(f"observed={observed!r}: must be in (0, 1]")
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < observed).astype(float)
