"""Training data (numpy; no JAX, no download): scikit-learn's bundled digits and a teacher task.

Both return float64 arrays (x, y) with x standardised per feature and then rescaled so that the
mean squared entry of x is exactly 1 (E[x^2] = 1 fixes the first layer's preactivation second
moment, docs/terjek25.md, section "Data").
"""

from __future__ import annotations

import numpy as np


def _normalise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)  # constant pixels stay 0
    return x / np.sqrt(np.mean(x**2))


def digits(n_train: int, seed: int = 0):
    """``n_train`` of the 1797 8x8 digit images (a seeded subset), standardised, and one-hot
    labels (10 outputs). Raises ValueError when more samples are asked for than exist."""
    from sklearn.datasets import load_digits

    x, labels = load_digits(return_X_y=True)
    if not 1 <= n_train <= len(x):
        raise ValueError(f"n_train={n_train!r}: digits has {len(x)} samples")
    idx = np.random.default_rng(seed).permutation(len(x))[:n_train]
    x = _normalise(x[idx].astype(np.float64))
    y = np.eye(10)[labels[idx]]
    return x, y


def teacher(n_train: int, dim: int = 32, seed: int = 0, width: int = 64):
    """A synthetic regression task: Gaussian inputs in ``dim`` dimensions and the scalar output of
    a random one-hidden-layer tanh teacher (weights N(0, 1/fan_in)), standardised to unit variance.
    """
    rng = np.random.default_rng(seed + 7919)
    x = _normalise(rng.standard_normal((n_train, dim)))
    w1 = rng.standard_normal((dim, width)) / np.sqrt(dim)
    w2 = rng.standard_normal((width, 1)) / np.sqrt(width)
    y = np.tanh(2.0 * x @ w1) @ w2
    y = (y - y.mean()) / y.std()
    return x, y


def load(name: str, n_train: int, seed: int = 0, dim: int = 32):
    """Dispatch on the data set's name ("digits" or "teacher")."""
    if name == "digits":
        return digits(n_train, seed)
    if name == "teacher":
        return teacher(n_train, dim, seed)
    raise ValueError(f"data={name!r}: must be 'digits' or 'teacher'")
