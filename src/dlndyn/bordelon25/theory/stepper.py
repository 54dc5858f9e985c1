"""Exact forward time stepping of the per-mode DMFT (docs/bordelon25.md, sections 4 and 7), plain networks.

The DMFT of :mod:`dlndyn.bordelon25.theory.dmft` is causal: the row t of every order parameter (C(t, s <= t),
R(t, s <= t)) depends only on rows <= t. Instead of Picard sweeps over growing windows, this
module computes the rows one step at a time, exactly (no iteration, no dense inverse). Within
a step the order is fixed by which kernels are strictly causal:

1. top-down over the hidden layers, the backward fields g^l(t) (E_l is strictly lower);
2. the weight/data block of every eigen-mode k: v_k(t), a_k(t), Delta(t);
3. bottom-up over the layers, the forward fields h^l(t) (B_l has a diagonal at finite width).

Modes. Data with eigenvalues lambda_k, target variances b_k and weights w_k (sum w = 1, the
fraction of the D input directions in mode k; sum w lambda = 1, sum w lambda b = 1). Isotropic
data is the single mode (1, 1, 1). Per mode, with M = R_g^1/gamma + eta0 Theta*C_g^1:

    v_k = beta*_k 1 - kappa zeta^0 - M a_k,   a_k = sqrt(lambda_k/rho) zeta^X + lambda_k R_D v_k

(kappa^2 = 1/(gamma^2 nu) the initial output variance, rho = alpha or alpha_B), so
G_k = (I + lambda_k M R_D)^{-1}, F_k = (I + lambda_k R_D M)^{-1} and the sums of docs/bordelon25.md, section 7.

Limits as values. Everything is written in gamma^2, kappa^2, 1/rho and eta0, with the reduced
responses R^_g = R_g/gamma, R^_h = R_h/gamma (finite as gamma -> 0): nu = inf gives kappa = 0,
rho = inf removes the data noise, gamma0 = 0 (after nu = inf) is the lazy limit. No division by
zero occurs. In reduced form the layer process h = xi + B g, g = zeta + E h reads

    B^_1 = -kappa^2 S_F + eta0 Theta*C_a      (S_F = sum_k w_k lambda_k F_k R_D)
    B^_l = R^_h^{l-1} + eta0 Theta*C_h^{l-1},  E^_l = R^_g^{l+1} + eta0 Theta*C_g^{l+1},  E^_L = eta0 Theta
    h = P xi + gamma Q^ zeta,  g = gamma U^ xi + V zeta,
    P = I + gamma^2 B^ U^,  U^ = E^ P,  Q^ = B^ V,  V = I + gamma^2 E^ Q^     (row by row)

with R^_h = Q^, R^_g = U^, C_h = P C_xi P' + gamma^2 Q^ C_zeta Q^', C_g = gamma^2 U^ C_xi U^' +
V C_zeta V'. The top layer's backward source is the constant w(0) 1, so its Q^, V are vectors.

Cost. With nu = inf and rho = inf (the population-gradient limit) every mode is a vector,
v_k = beta*_k H_k with H_k(t) = 1 - lambda_k sum_{s<t} M(t,s) H_k(s): O(L T^3 + K T^2) time
and O(L T^2 + K T) memory. At finite nu or rho each mode carries its T x T response G_k (and
F_k for reused data): O(K T^3) time and O(K T^2) memory; coarse-grain the spectrum
(:func:`dlndyn.bordelon25.theory.powerlaw.mode_set` with ``bins``) for long horizons there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..conventions import divergence_threshold
from ..setting import Setting
from .dmft import width_factors

MAX_BYTES = 3 * 2**30  # refuse per-mode response matrices larger than this (memory guard)
_BLOCK = 256  # row-block size of the triangular products


def _vec_tri(x: np.ndarray, A: np.ndarray, n: int) -> np.ndarray:
    """x[:n] @ A[:n, :n] for lower-triangular A, reading only the lower half (row blocks)."""
    if n <= 2 * _BLOCK:
        return x[:n] @ A[:n, :n]
    out = np.zeros(n)
    for i0 in range(0, n, _BLOCK):
        i1 = min(i0 + _BLOCK, n)
        out[:i1] += x[i0:i1] @ A[i0:i1, :i1]
    return out


def _vec_tri_k(x: np.ndarray, A: np.ndarray, n: int) -> np.ndarray:
    """x[:n] @ A[k, :n, :n] for a stack of lower-triangular A: shape (K, n)."""
    if n <= 2 * _BLOCK:
        return x[:n] @ A[:, :n, :n]
    out = np.zeros((A.shape[0], n))
    for i0 in range(0, n, _BLOCK):
        i1 = min(i0 + _BLOCK, n)
        out[:, :i1] += x[i0:i1] @ A[:, i0:i1, :i1]
    return out


def _tri_vec_k(A: np.ndarray, Y: np.ndarray, n: int) -> np.ndarray:
    """A[k, :n, :n] @ Y[k, :n] for a stack of lower-triangular A: shape (K, n)."""
    if n <= 2 * _BLOCK:
        return np.matmul(A[:, :n, :n], Y[:, :n, None])[:, :, 0]
    out = np.empty((A.shape[0], n))
    for i0 in range(0, n, _BLOCK):
        i1 = min(i0 + _BLOCK, n)
        out[:, i0:i1] = np.matmul(A[:, i0:i1, :i1], Y[:, :i1, None])[:, :, 0]
    return out


def _tri_vec(A: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    """A[:n, :n] @ y[:n] for lower-triangular A, reading only the lower half (row blocks)."""
    if n <= 2 * _BLOCK:
        return A[:n, :n] @ y[:n]
    out = np.empty(n)
    for i0 in range(0, n, _BLOCK):
        i1 = min(i0 + _BLOCK, n)
        out[i0:i1] = A[i0:i1, :i1] @ y[:i1]
    return out


@dataclass(frozen=True)
class Modes:
    """Eigen-modes of the data: eigenvalues, target variances, weights (fractions of D)."""

    lam: np.ndarray
    b: np.ndarray
    w: np.ndarray

    @classmethod
    def isotropic(cls) -> Modes:
        one = np.ones(1)
        return cls(one, one, one)

    def __len__(self) -> int:
        return len(self.lam)


@dataclass
class StepperResult:
    """Test and train loss per step (inf from ``t_div`` on) and the order parameters.

    ``order`` holds the computed T x T matrices (rows/columns up to the last computed step):
    C_u (test-loss correlation, or only its diagonal ``c_u`` when nothing needs the rest),
    C_a, M, C_g (list over layers), R_g (reduced, R_g/gamma), and R_D, C_D for reused data.
    """

    test_loss: np.ndarray
    train_loss: np.ndarray
    t_div: int | None
    order: dict = field(default_factory=dict)


class WeightData:
    """Weight space (every mode) and data space, one row per step (phase 2 of a step).

    Holds the T x T arrays of the per-mode weight/data block. It sees the hidden layers only
    through the kernel M = R^_g1 + eta0 Theta*C_g1 (row ``M_row`` at step t) and the layer-1
    backward correlation C_g1 (rows and columns up to t), so the plain and the residual
    stepper share it. :meth:`row` returns the losses at t; :meth:`B_row` is the reduced
    forward kernel of layer 1, B^_1(t, s <= t) = -kappa^2 S_F(t, s) + eta0 Theta*C_a(t, s).
    """

    def __init__(self, s: Setting, modes: Modes, *, max_bytes: int = MAX_BYTES):
        T = s.T
        self.T = T
        self.eta, self.k2, self.sig2 = float(s.eta0), float(s.init_variance), s.sigma**2
        ratio = s.alpha_B if s.online else s.alpha
        self.ratio = ratio
        self.inv_r = 0.0 if math.isinf(ratio) else 1.0 / ratio
        self.full = full = (not s.online) and self.inv_r > 0  # reused data: R_D and a dense C_D
        self.need_G = need_G = self.k2 > 0 or self.inv_r > 0  # per-mode responses needed
        lam, b, w = (np.asarray(a, dtype=float) for a in (modes.lam, modes.b, modes.w))
        self.lam, self.w = lam, w
        K = len(lam)
        if need_G and K * T * T * 8 * (2 if full else 1) > max_bytes:
            raise MemoryError(
                f"{K} modes x {T}^2 steps of per-mode responses need "
                f"{K * T * T * 8 * (2 if full else 1) / 2**30:.1f} GiB: use fewer modes "
                "(bins=...) or a shorter horizon (only nu=inf with alpha_B=inf avoids them)")
        self.wl, self.wlb, self.wl2b = w * lam, w * lam * b, w * lam**2 * b
        self.M, self.Ca = np.zeros((T, T)), np.zeros((T, T))
        self.SF = np.zeros((T, T)) if self.k2 > 0 else None
        self.Nm = np.zeros((T, T)) if self.inv_r > 0 else None  # M C_D M'
        self.Hm = np.zeros((T, K))  # H[t, k] = (G_k 1)(t)
        self.G = np.zeros((K, T, T)) if need_G else None
        if full:
            self.RD, self.CD, self.Cu, self.Cgt = (np.zeros((T, T)) for _ in range(4))
            self.Jm = np.zeros((T, K))  # (R_D G_k 1)(t)
            self.F = np.zeros((K, T, T))
        else:
            self.RD = self.CD = self.Cu = self.Cgt = None
            self.Jm, self.F = self.Hm, self.G
        self.d = np.zeros(T)  # online: C_D = diag(d)
        self.cu = np.zeros(T)
        self.test, self.train = np.full(T, np.inf), np.full(T, np.inf)

    def row(self, t: int, M_row: np.ndarray, Cg1: np.ndarray) -> tuple[float, float]:
        """Fill row t of every weight/data order parameter; returns (test, train) loss at t."""
        n = t + 1
        lam, wl, wlb, wl2b, w = self.lam, self.wl, self.wlb, self.wl2b, self.w
        k2, inv_r, sig2, full, need_G = self.k2, self.inv_r, self.sig2, self.full, self.need_G
        M, RD, CD, Cu, Cgt, G, F = self.M, self.RD, self.CD, self.Cu, self.Cgt, self.G, self.F
        Hm, Jm, Nm, d = self.Hm, self.Jm, self.Nm, self.d
        M[t, :t] = M_row
        A_row = M_row @ RD[:t, :t] if full else M_row
        Hm[t] = 1.0 - lam * (A_row @ Hm[:t])
        if need_G:
            G[:, t, :t] = -lam[:, None] * _vec_tri_k(A_row, G, t)
            G[:, t, t] = 1.0
        if full:
            sq = math.sqrt(self.ratio)
            Ru_row = -((wl @ G[:, t, :n]) @ M[:n, :t]) / sq
            RD[t, :t] = (Ru_row @ RD[:t, :t]) / sq
            RD[t, t] = 1.0
            At_row = RD[t, :n] @ M[:n, :t]
            F[:, t, :t] = -lam[:, None] * _vec_tri_k(At_row, F, t)
            F[:, t, t] = 1.0
            Jm[t] = RD[t, :n] @ Hm[:n]
        if inv_r > 0:
            x = CD[:t, :t] @ M_row if full else d[:t] * M_row
            N_row = M[:n, :t] @ x
            Nm[t, :n] = N_row
            Nm[:n, t] = N_row
        # test-loss correlation C_u = sum_k w_k lambda_k C_v^k
        if full:
            Cu_row = (wlb * Hm[t]) @ Hm[:n].T
        else:
            cu_t = wlb @ Hm[t] ** 2
        if need_G:
            G_row = G[:, t, :n]
            Y = np.zeros_like(G_row)
            if k2 > 0:
                Y += k2 * (G_row @ Cg1[:n, :n])
            if inv_r > 0:
                Y += (inv_r * lam)[:, None] * (G_row @ Nm[:n, :n])
            if full:
                Cu_row += wl @ _tri_vec_k(G, Y, n)
            else:
                cu_t += wl @ np.einsum("kr,kr->k", G_row, Y)
        if full:
            Cu[t, :n] = Cu_row
            Cu[:n, t] = Cu_row
            cu_t = Cu_row[t]
        self.cu[t] = cu_t
        test = cu_t + sig2
        if full:
            RD_t = RD[t, :n]  # (C_u + sigma^2 11') R_D(t, .)' without an n x n temporary
            CD_row = _tri_vec(RD, Cu[:n, :n] @ RD_t + sig2 * RD_t.sum(), n)
            CD[t, :n] = CD_row
            CD[:n, t] = CD_row
            train = CD_row[t]
            if k2 > 0:
                Cgt_row = _tri_vec(RD, Cg1[:n, :n] @ RD_t, n)
                Cgt[t, :n] = Cgt_row
                Cgt[:n, t] = Cgt_row
        else:
            d[t] = cu_t + sig2
            train = test
        # C_a = sum_k w_k Cov(a_k)
        Ca_row = (wl2b * Jm[t]) @ Jm[:n].T
        if need_G:
            F_row = F[:, t, :n]
            Y = np.zeros_like(F_row)
            if inv_r > 0:
                Y += (inv_r * lam)[:, None] * (F_row @ CD[:n, :n] if full else F_row * d[:n])
            if k2 > 0:
                Y += (k2 * lam**2)[:, None] * (F_row @ (Cgt if full else Cg1)[:n, :n])
            Ca_row += w @ _tri_vec_k(F, Y, n)
        self.Ca[t, :n] = Ca_row
        self.Ca[:n, t] = Ca_row
        if k2 > 0:
            SF_row = wl @ F[:, t, :n]
            self.SF[t, :n] = SF_row @ RD[:n, :n] if full else SF_row
        self.test[t], self.train[t] = test, train
        return test, train

    def B_row(self, t: int) -> np.ndarray:
        """Reduced forward kernel of layer 1 at step t: B^_1(t, s), s = 0..t."""
        n = t + 1
        B_row = self.eta * self.Ca[t, :n]
        if self.k2 > 0:
            B_row = B_row - self.k2 * self.SF[t, :n]
        B_row[t] = -self.k2 * self.SF[t, t] if self.k2 > 0 else 0.0
        return B_row

    def order(self, m: int) -> dict:
        """The computed weight/data order parameters on the first m steps."""
        out = {"M": self.M[:m, :m], "C_a": self.Ca[:m, :m], "c_u": self.cu[:m]}
        if self.full:
            out.update(C_u=self.Cu[:m, :m], R_D=self.RD[:m, :m], C_D=self.CD[:m, :m])
        return out


class PlainHidden:
    """Hidden layers of the plain network, one row per step (phases 1 and 3 of a step).

    Layer l (index l = 0..L-1 is layer l+1) in reduced form: h = P xi + gamma Q^ zeta,
    g = gamma U^ xi + V zeta, with R^_g = U^ and R^_h = Q^ (module docstring).
    :meth:`backward_row` fills the backward fields top-down (E^ is strictly causal, so only
    the past is needed); :meth:`forward_row` fills the forward fields bottom-up from the
    reduced layer-1 kernel B^_1(t, .) of the weight/data phase.
    """

    def __init__(self, s: Setting):
        T, L = s.T, s.L
        self.L, self.eta, self.g2 = L, float(s.eta0), float(s.gamma) ** 2
        # unequal widths (docs/bordelon25.md, section 10): aspect ratios of the backward
        # sources, and layer 1's C_g in weight-space units (c1 C_g^1) for the weight/data phase
        self.c1, self.rho = width_factors(s)
        self.Cg1 = np.zeros((T, T)) if self.c1 != 1.0 else None

        def mat():
            return np.zeros((T, T))

        self.P = [mat() for _ in range(L)]
        self.Uh = [mat() for _ in range(L)]
        self.Cg = [mat() for _ in range(L)]
        self.Qh = [mat() for _ in range(L - 1)]
        self.V = [mat() for _ in range(L - 1)]
        self.Ch = [mat() for _ in range(L - 1)]
        self.q, self.r = np.zeros(T), np.zeros(T)  # top layer: dh^L/dw0 (reduced), dg^L/dw0

    def backward_row(self, t: int, Ca: np.ndarray) -> None:
        """Row t of R^_g and C_g of every layer, top-down (``Ca``: C_a, rows < t used).

        At gamma = 0 (g2 = 0) P = V = I and nothing of the forward phase reaches these rows:
        each costs O(t) (C_g^l = prod rho, R^_g^l = const * Theta), not O(t^2).
        """
        n = t + 1
        eta, g2, L = self.eta, self.g2, self.L
        P, Uh, Cg, Qh, V, Ch, q, r = self.P, self.Uh, self.Cg, self.Qh, self.V, self.Ch, \
            self.q, self.r
        for l in range(L - 1, -1, -1):
            top = l == L - 1
            if top:
                E_row = np.full(t, eta)
            else:
                E_row = self.rho[l] * (Uh[l + 1][t, :t] + eta * Cg[l + 1][t, :t])
            if g2 == 0.0:  # P = I
                Uh[l][t, :t] = E_row
            elif top and t > 0:  # E^ = eta Theta: running sum of P's rows
                Uh[l][t, :t] = Uh[l][t - 1, :t] + eta * P[l][t - 1, :t]
            else:
                Uh[l][t, :t] = _vec_tri(E_row, P[l], t)
            if top:
                r[t] = 1.0 + g2 * (E_row @ q[:t])
            else:
                if g2 > 0:  # else V = I (rows < t stay zero)
                    V[l][t, :t] = g2 * _vec_tri(E_row, Qh[l], t)
                V[l][t, t] = 1.0
            row = np.zeros(n)
            if g2 > 0 and t > 0:
                C_xi = Ca if l == 0 else Ch[l - 1]
                u = Uh[l][t, :t]
                row[:] = g2 * _tri_vec(Uh[l], np.append(C_xi[:t, :t] @ u, 0.0), n)
            if top:
                row += r[t] * r[:n]
            else:
                if g2 > 0:
                    vr = V[l][t, :n]
                    row += self.rho[l] * _tri_vec(V[l], Cg[l + 1][:n, :n] @ vr, n)
                else:  # V = I
                    row += self.rho[l] * Cg[l + 1][t, :n]
            Cg[l][t, :n] = row
            Cg[l][:n, t] = row
        if self.Cg1 is not None:
            self.Cg1[t, :n] = self.Cg1[:n, t] = self.c1 * Cg[0][t, :n]

    def C_g1(self) -> np.ndarray:
        """Layer 1's backward correlation as weight space sees it: c1 C_g^1 (C_g^1 if c1 = 1)."""
        return self.Cg[0] if self.Cg1 is None else self.Cg1

    def M_row(self, t: int) -> np.ndarray:
        """Row t of the weight-space kernel M = c1 (R^_g1 + eta0 Theta*C_g1) (s < t)."""
        row = self.Uh[0][t, :t] + self.eta * self.Cg[0][t, :t]
        return row if self.c1 == 1.0 else self.c1 * row

    def forward_row(self, t: int, B1_row: np.ndarray, Ca: np.ndarray) -> None:
        """Row t of P, R^_h (= Q^) and C_h of every layer, bottom-up."""
        n = t + 1
        eta, g2, L = self.eta, self.g2, self.L
        P, Uh, Cg, Qh, V, Ch, q, r = self.P, self.Uh, self.Cg, self.Qh, self.V, self.Ch, \
            self.q, self.r
        for l in range(L):
            top = l == L - 1
            if l == 0:
                B_row = B1_row
            else:
                B_row = Qh[l - 1][t, :n] + eta * Ch[l - 1][t, :n]
                B_row[t] = Qh[l - 1][t, t]
            if g2 > 0:
                P[l][t, :n] = g2 * _vec_tri(B_row, Uh[l], n)
            P[l][t, t] += 1.0
            if top:
                q[t] = B_row @ r[:n]
                continue
            Qh[l][t, :n] = _vec_tri(B_row, V[l], n)
            C_xi = Ca if l == 0 else Ch[l - 1]
            row = _tri_vec(P[l], C_xi[:n, :n] @ P[l][t, :n], n)
            if g2 > 0:
                row += (g2 * self.rho[l]) * _tri_vec(Qh[l], Cg[l + 1][:n, :n] @ Qh[l][t, :n], n)
            Ch[l][t, :n] = row
            Ch[l][:n, t] = row


def step_dmft(s: Setting, modes: Modes, *, max_bytes: int = MAX_BYTES) -> StepperResult:
    """Solve the per-mode DMFT of the plain network ``s`` on ``modes`` by forward stepping.

    Each step t runs three phases (see the module docstring): :meth:`PlainHidden.backward_row`,
    :meth:`WeightData.row`, :meth:`PlainHidden.forward_row`. The first step whose loss is
    non-finite or above the divergence threshold ends the run (``t_div``).
    """
    if s.residual:
        raise ValueError("step_dmft solves plain networks; residual networks use "
                         "dlndyn.bordelon25.theory.residual_stepper.step_residual")
    T = s.T
    wd = WeightData(s, modes, max_bytes=max_bytes)
    hid = PlainHidden(s)
    threshold = divergence_threshold(1.0 + wd.k2 + wd.sig2)
    t_div = None
    with np.errstate(all="ignore"):
        for t in range(T):
            hid.backward_row(t, wd.Ca)
            test, train = wd.row(t, hid.M_row(t), hid.C_g1())
            if not (np.isfinite(test) and np.isfinite(train) and test < threshold):
                t_div = t
                break
            if hid.g2 > 0:  # at gamma = 0 the forward fields do not feed back
                hid.forward_row(t, wd.B_row(t), wd.Ca)
    return _result(wd, t_div, threshold, {"C_g": hid.Cg, "R_g": hid.Uh})


def _result(wd: WeightData, t_div, threshold, hidden: dict) -> StepperResult:
    test, train = wd.test.copy(), wd.train.copy()
    test[test >= threshold] = np.inf
    if t_div is not None:
        test[t_div:], train[t_div:] = np.inf, np.inf
    T = len(test)
    m = T if t_div is None else t_div
    order = wd.order(m)
    order.update({k: [A[:m, :m] for A in v] for k, v in hidden.items()})
    return StepperResult(test, train, t_div, order)
