"""Infinite-width DMFT of deep linear networks as T x T matrix algebra (docs/bordelon25.md, section 4).

Every order parameter is a T x T matrix over the steps t, s = 0..T-1: correlations C (e.g.
C_v(t,s) = v(t).v(s)/D) and causal responses R. The equations of docs/bordelon25.md, section 4.3 (full batch, reused
data) and 4.4 (one-pass SGD) are solved by Gauss-Seidel fixed-point sweeps on a growing time
window: by causality the converged early rows stay correct, so each window only has to settle
its new steps. All matrices that get inverted are lower triangular with a unit diagonal.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_triangular

from ..setting import Setting


class DMFTConvergenceError(RuntimeError):
    """The fixed-point iteration did not converge; no result is returned."""


@dataclass
class Order:
    """Order parameters on a window of T steps (names as in docs/bordelon25.md, section 4.2)."""

    C_v: np.ndarray
    C_a: np.ndarray
    R_v: np.ndarray
    R_a: np.ndarray
    R_D: np.ndarray  # R_Delta
    C_D: np.ndarray  # C_Delta
    C_h: list = field(default_factory=list)  # per hidden layer l = 1..L
    C_g: list = field(default_factory=list)
    R_h: list = field(default_factory=list)
    R_g: list = field(default_factory=list)

    @classmethod
    def initial(cls, T: int, L: int) -> Order:
        one, zero, eye = np.ones((T, T)), np.zeros((T, T)), np.eye(T)
        return cls(one, one, zero, zero, eye, one.copy(),
                   [one] * L, [one] * L, [zero] * L, [zero] * L)

    def padded(self, T: int) -> Order:
        """Extend to T steps: correlations by repeating the last row/column, responses by 0."""
        T0 = self.C_v.shape[0]

        def corr(A):
            return np.pad(A, (0, T - T0), mode="edge")

        def resp(A):
            return np.pad(A, (0, T - T0))

        R_D = resp(self.R_D)
        R_D[np.arange(T0, T), np.arange(T0, T)] = 1.0
        return Order(corr(self.C_v), corr(self.C_a), resp(self.R_v), resp(self.R_a), R_D,
                     corr(self.C_D), [corr(A) for A in self.C_h], [corr(A) for A in self.C_g],
                     [resp(A) for A in self.R_h], [resp(A) for A in self.R_g])

    def correlations(self):
        return [self.C_v, self.C_a, self.C_D, *self.C_h, *self.C_g]


def _inv_unit_lower(A: np.ndarray) -> np.ndarray:
    """Inverse of a lower-triangular matrix (or a stack of them) by forward substitution.

    No pivoting: by causality, huge late rows (a blowing-up run) cannot touch the early ones.
    """
    eye = np.eye(A.shape[-1])
    if A.ndim == 3:
        return np.stack([solve_triangular(a, eye, lower=True, check_finite=False) for a in A])
    return solve_triangular(A, eye, lower=True, check_finite=False)


def width_factors(s: Setting) -> tuple[float, list[float]]:
    """Unequal widths (docs/bordelon25.md, section 10): (c1, rho), all 1 at equal widths.

    ``c1 = nu_1/nu_L`` turns layer 1's backward order parameters (normalised by N_1) into the
    units of weight space (g^1.g^1/N_L, see :func:`layer1_backward`); ``rho[l] = nu_{l+2}/nu_{l+1}``
    (0-based l: layer l+1 of the code's lists) is the aspect ratio rows/cols of the matrix above
    layer l+1, which scales that layer's backward source and kernel.
    """
    if not isinstance(s.nu, tuple):
        return 1.0, [1.0] * (s.L - 1)
    nus = s.nus
    return nus[0] / nus[-1], [nus[l + 1] / nus[l] for l in range(s.L - 1)]


def layer1_backward(o: Order, s: Setting):
    """(C_g^1, R_g^1) as weight space sees them: times nu_1/nu_L (the identity at equal widths)."""
    c1 = width_factors(s)[0]
    return (o.C_g[0], o.R_g[0]) if c1 == 1.0 else (c1 * o.C_g[0], c1 * o.R_g[0])


def data_block(s: Setting, C_v: np.ndarray, R_v: np.ndarray) -> dict:
    """Data space (one P-site): R_Delta and C_Delta from the weight-space C_v and R_v."""
    T = C_v.shape[0]
    if s.online:  # fresh batch each step: white data noise, instantaneous response
        return {"R_D": np.eye(T), "C_D": np.diag(np.diag(C_v) + s.sigma**2)}
    R_D = _inv_unit_lower(np.eye(T) - R_v / np.sqrt(s.alpha))
    return {"R_D": R_D, "C_D": R_D @ (C_v + s.sigma**2) @ R_D.T}


def weight_data_block(o: Order, s: Setting, C_g1: np.ndarray, R_g1: np.ndarray) -> dict:
    """Weight-space (one D-site) and data-space (one P-site) blocks of docs/bordelon25.md, sections 4.3-4.4.

    They see the hidden layers only through layer 1's backward correlation C_g1 and response
    R_g1, so the plain and the residual network share them (with unequal widths these are in
    units of N_L, :func:`layer1_backward`, and nu is nu_L).
    """
    T = o.C_v.shape[0]
    I, ones = np.eye(T), np.ones((T, T))
    Theta = np.tril(ones, -1)
    g, nu = s.gamma, s.nu_L
    ratio = s.alpha_B if s.online else s.alpha
    sq = np.sqrt(ratio)

    M = R_g1 / g + s.eta0 * Theta * C_g1  # effective kernel in time
    signal = ones + C_g1 / (g**2 * nu)  # teacher + finite-width init noise
    G = _inv_unit_lower(I + M @ o.R_D)
    F = _inv_unit_lower(I + o.R_D @ M)
    C_v = G @ (signal + M @ o.C_D @ M.T / ratio) @ G.T
    C_a = F @ o.C_D @ F.T / ratio + F @ o.R_D @ signal @ o.R_D.T @ F.T
    R_v = -G @ M / sq
    R_a = -F @ o.R_D / (g * np.sqrt(nu))
    return {"C_v": C_v, "C_a": C_a, "R_v": R_v, "R_a": R_a, **data_block(s, C_v, R_v)}


def hidden_block(o: Order, s: Setting, w0_norm: float = 1.0) -> dict:
    """Hidden layers l = 1..L of the plain network: h = xi + B g, g = zeta + E h.

    Unequal widths: the backward source of layer l and its kernel E carry the aspect ratio
    nu_{l+1}/nu_l of W^l (:func:`width_factors`). ``w0_norm`` is the readout's |w(0)|^2/N (1;
    other values only for the many-output mode averages of docs/bordelon25.md, section 11.4)."""
    T = o.C_v.shape[0]
    I, ones = np.eye(T), np.ones((T, T))
    Theta = np.tril(ones, -1)
    C_h, C_g, R_h, R_g = list(o.C_h), list(o.C_g), list(o.R_h), list(o.R_g)
    c = s.eta0 * s.gamma
    rho = width_factors(s)[1]
    for l in range(s.L):
        if l == 0:
            C_xi, B = o.C_a, o.R_a / np.sqrt(s.nu_L) + c * Theta * o.C_a
        else:
            C_xi, B = C_h[l - 1], R_h[l - 1] + c * Theta * C_h[l - 1]
        if l < s.L - 1:
            C_zeta, E = C_g[l + 1], R_g[l + 1] + c * Theta * C_g[l + 1]
            if rho[l] != 1.0:
                C_zeta, E = rho[l] * C_zeta, rho[l] * E
        else:
            C_zeta, E = w0_norm * ones, c * Theta  # g^L = w(t): w(0) plus its updates
        H = _inv_unit_lower(I - B @ E)
        HB, EH = H @ B, E @ H
        K = I + E @ HB
        C_h[l] = H @ (C_xi + B @ C_zeta @ B.T) @ H.T
        C_g[l] = K @ C_zeta @ K.T + EH @ C_xi @ EH.T
        R_h[l], R_g[l] = HB, EH
    return {"C_h": C_h, "C_g": C_g, "R_h": R_h, "R_g": R_g}


def sweep(o: Order, s: Setting, w0_norm: float = 1.0) -> Order:
    """One Gauss-Seidel sweep of the plain network: weight and data space, then the layers."""
    o = dataclasses.replace(o, **weight_data_block(o, s, *layer1_backward(o, s)))
    return dataclasses.replace(o, **hidden_block(o, s, w0_norm))


def _losses(o: Order, s: Setting):
    test = np.diag(o.C_v) + s.sigma**2
    train = test.copy() if s.online else np.diag(o.C_D).copy()
    return test, train


def _first_bad(o: Order, s: Setting, threshold: float) -> int:
    """First step whose loss is non-finite, negative or above threshold; the window length if
    none."""
    test, train = _losses(o, s)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(test) | ~np.isfinite(train) | (test < 0) | (test > threshold)
    return int(np.argmax(bad)) if bad.any() else len(test)
