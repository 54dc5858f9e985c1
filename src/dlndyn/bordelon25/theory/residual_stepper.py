"""Exact forward time stepping of the residual network's joint (layer, time) DMFT.

The equations are those of :mod:`dlndyn.bordelon25.theory.residual` (single-site process,
kernels B_0, A_l, E_l, weight/data block of the plain network); this module computes their
solution one time row at a time, with no iteration, as :mod:`.stepper` does for plain
networks. The derivation (also in docs/bordelon25.md, section 5.1):

Notation (1-based as in residual.py; the code's index is j = l - 1). States x_l = (h^l, g^l),
l = 1..L+1; block l maps x_l to x_{l+1} = Phi_l x_l + n_l with Phi_l = [[I - A_l E_l, A_l],
[-E_l, I]] and the block's source n_l = (b xi^l - b A_l zeta^l, -b zeta^l), Cov(n_l) =
Sigma_l. The layer shooting of the fixed-point solver writes x_l = P_l g^1 + y_l, with y_l the
sources below l (y_1 = (xi^0, 0), Cov(y_l) = V_l), g^1 = Omega^{-1}(w0 1 - U y_{L+1}),
U = [-c Theta, I], Omega = U P_{L+1}, and Z_l = Omega^{-1} U Phi_L..Phi_l, so that
Cov(g^1, y_l) = X_l = -Z_l V_l, S = Cov(g^1) = C_g^1, and
Cov(x_m, x_l) = P_m S P_l' - P_m Z_l V_l - V_m Z_m' P_l' + Phi_{m-1}..Phi_l V_l  (m >= l).
Every one of these T x T objects is causal: its block on steps < t is the same object for
the horizon t. So after step t-1 all of them are known on steps < t ("the past").

Causality inside a step. At step t the new fields are computed in the order
(1) backward fields g^{L+1}(t), ..., g^1(t), top-down: g^{L+1}(t) = w0 + c sum_{s<t} h^{L+1}(s)
    and g^l(t) = g^{l+1}(t) + b zeta^l(t) + E_l(t, <t) h^l(<t) (E_l and Theta are strictly
    causal, so only past h enter);
(2) the weight/data block, which needs only M(t, <t) = R_g1(t, <t)/gamma + eta0 C_g^1(t, <t)
    and C_g^1(t, <=t), giving C_a(t, .), R_a(t, .) and so B_0(t, .);
(3) forward fields h^1(t), ..., h^{L+1}(t), bottom-up (A_l(t, .) needs C_h^l, R_h^l at row t).
The kernel rows at t depend on order-parameter rows at t only in this triangular way, so each
row is computed exactly once.

Phase 1 (top-down, from the past alone). g^l(t) = f_l = sum_{m >= l} e_m x_m(<t) + w0 +
b sum_{m >= l} zeta^m(t), with e_{L+1} = (c 1, 0) and e_m = (E_m(t, <t), 0). With the
accumulators (sums over m >= l, all on steps < t)

    a_l = sum e_m P_m,   beta_l = sum e_m V_m Z_m',   omega_l = e_l + omega_{l+1} Phi_l,
    zeta_l = sum Zg_m c_m,  psi_l = sum omega_{m+1} Sigma_m omega_{m+1}',
    theta_l = sum omega_{m+1} (-A_m c_m; -c_m),  sigma_l = sum C_g^{m+1}(t, t),

where c_m = C_g^{m+1}(<t, t) is the covariance of the new source zeta^m(t) with its past
(dg^1/dzeta^m = b Zg_m, dg^1/dn_m = -Z_{m+1}, Cov(w0, x_l) = P_l Omega^{-1} 1 = P_l o).
In practice beta_l = -sum (Xh_m e_m[h])' (X_m = -Z_m V_m), and with u = omega_{m+1,h} A_m +
omega_{m+1,g} one has omega_{m+1} n_m = b omega_h xi^m - b u zeta^m, so psi and theta need
only C_h^m omega_h, C_g^{m+1} u and u . c_m. Then

    Cov(f_l, x_l(<t)) = P_l q_l + V_l rho_l,  q_l = S a_l' - beta_l' + o + b^2 zeta_l,
                                             rho_l = omega_l - a_l Z_l,
    C_g^l(t, <t) = its g part,   R_g^{l-1}(t, <t) = dg^l(t)/dxi^{l-1} = b rho_l[h]
    (R_g1 = rho_1[h] for l = 1),
    Var f_l = a S a' - 2 a beta' + omega V omega' + psi + 1 + b^2 sigma + 2 a o
              + 2 b^2 (a zeta + theta)       (all at level l).

Each level costs about 16 matrix-vector products with t x t blocks: O(L t^2) per step.

Phase 2 is :class:`dlndyn.bordelon25.theory.stepper.WeightData` (shared with the plain
stepper, so power-law modes and one-pass SGD come for free): B_0(t, .) = gamma B^_1(t, .).

Phase 3 (bottom-up, completes row t of every factor). The g rows of P_l at t need only
E(t, .) and past h rows (Pg_{l+1} = Pg_l - E_l Ph_l), hence Omega(t, .) = Pg_{L+1}(t, .) -
c sum_{s<t} Ph_{L+1}(s, .), the row t of Omega^{-1} (forward substitution, no inverse) and the
rows t of Z_l top-down (Zg_l = Zh_{l+1} A_l + Zg_{l+1}, Zh_l = Zh_{l+1} - Zg_l E_l; row t never
reads A_l(t, .) since Zh(t, t) = 0). Then bottom-up: X_l = -Z_l V_l (row and column t),
C_h^l(t, .) from Cov(x_l) = P S P' + V + P X + (P X)', R_h^l(t, .) = b Ph_l Zg_l, the kernel
row A_l(t, .), the h row of P_{l+1}, and the rows of V_{l+1} = Cov(y_h + b xi + A w, w) with
w = y_g - E y_h - b zeta (Phi_l and Sigma_l are applied, never stored).

Cost: O(L T^3) time and O(L T^2) memory (14 T x T arrays per layer), against
O(L T^3) per sweep for the windowed fixed point. The equal-time responses come out of the
stepping exactly (R_h^l(t, t) = b Ph(t, t)); they equal
:func:`dlndyn.bordelon25.theory.residual.equal_time_response`.
"""

from __future__ import annotations

import numpy as np

from ..conventions import divergence_threshold
from ..setting import Setting
from .stepper import MAX_BYTES, Modes, StepperResult, WeightData, _result


def memory_bytes(s: Setting) -> int:
    """Bytes of the T x T arrays the residual stepper holds (14 per layer, 9 more)."""
    return (14 * s.L + 9) * s.T * s.T * 8


class ResidualHidden:
    """The joint (layer, time) hidden process of the residual network, one row per step.

    All arrays are T x T, split into their h and g blocks (so the steps <= t are the prefix
    [:t+1, :t+1], read by BLAS without copies). States j = 0..L (x_j = (h^{j+1}, g^{j+1})):
    Ph[j], Pg[j]; Vhh[j], Vhg[j], Vgg[j] (Cov(y_j)); Zh[j], Zg[j]; Xh[j] = Cov(g^1, yh_j)
    (= -(Z_j V_j)_h, which also gives phase 1's beta).
    Blocks j = 0..L-1: kernels A[j], E[j] (Phi_j and Sigma_j are applied, never stored).
    Order parameters: C_h[j] (j < L), C_g[j] (j <= L, C_g[L] the readout's), R_h[j], R_g[j]
    (j < L), R_g1.
    """

    def __init__(self, s: Setting):
        T, L = s.T, s.L
        self.T, self.L = T, L
        self.b = float(s.branch)
        self.c = float(s.eta0 * s.gamma)
        self.gamma, self.eta = float(s.gamma), float(s.eta0)

        def mats(k):
            return [np.zeros((T, T)) for _ in range(k)]

        self.Ph, self.Pg = mats(L + 1), mats(L + 1)
        self.Vhh, self.Vhg, self.Vgg = mats(L + 1), mats(L + 1), mats(L + 1)
        self.Zh, self.Zg, self.Xh = mats(L + 1), mats(L + 1), mats(L + 1)
        self.A, self.E = mats(L), mats(L)
        self.C_h, self.C_g = mats(L), mats(L + 1)
        self.R_h, self.R_g = mats(L), mats(L)
        self.R_g1 = np.zeros((T, T))
        self.Oinv = np.zeros((T, T))
        self.o = np.zeros(T)  # Omega^{-1} 1 = dg^1/dw0
        self.cumPh = np.zeros(T)  # sum_{s < t} Ph_L(s, .)

    # ---- phase 1 ------------------------------------------------------------------------
    def backward_row(self, t: int) -> None:
        """Row t of C_g (all states), R_g and R_g1, top-down, from the past alone."""
        L, b, c = self.L, self.b, self.c
        b2 = b * b
        k = slice(0, t)
        Ph, Pg, Vhh, Vhg, Vgg, Zh, Zg = (self.Ph, self.Pg, self.Vhh, self.Vhg, self.Vgg,
                                         self.Zh, self.Zg)
        A, E, Cg, Ch, Rg = self.A, self.E, self.C_g, self.C_h, self.R_g
        S, o = Cg[0][k, k], self.o[k]
        om_h, om_g = np.full(t, c), np.zeros(t)  # omega_{L+1} = e_{L+1} = (c 1, 0)
        a = om_h @ Ph[L][k, k]
        Xh = self.Xh  # e_m V_m Z_m' = -(Xh_m e_m[h])': X_m = Cov(g^1, y_m) = -Z_m V_m
        beta = -(Xh[L][k, k] @ om_h)
        zeta = np.zeros(t)
        psi = theta = sigma = 0.0
        for j in range(L, -1, -1):
            if j < L:
                cj = Cg[j + 1][t, k]  # Cov(zeta^j(t), zeta^j(<t))
                u = om_h @ A[j][k, k] + om_g
                psi += b2 * (om_h @ (Ch[j][k, k] @ om_h) + u @ (Cg[j + 1][k, k] @ u))
                theta -= u @ cj
                sigma += Cg[j + 1][t, t]
                zeta = zeta + Zg[j][k, k] @ cj
                E_row = b * Rg[j][t, k] + c * b2 * cj
                E[j][t, k] = E_row
                om_h = E_row + om_h - u @ E[j][k, k]
                om_g = u
                a = a + E_row @ Ph[j][k, k]
                beta = beta - Xh[j][k, k] @ E_row
            rho_h = om_h - a @ Zh[j][k, k]
            rho_g = om_g - a @ Zg[j][k, k]
            Sa = S @ a
            q = Sa - beta + o + b2 * zeta
            row = Pg[j][k, k] @ q + rho_h @ Vhg[j][k, k] + Vgg[j][k, k] @ rho_g
            oVo = (om_h @ (Vhh[j][k, k] @ om_h) + 2.0 * (om_h @ (Vhg[j][k, k] @ om_g))
                   + om_g @ (Vgg[j][k, k] @ om_g))
            var = (a @ Sa - 2.0 * (a @ beta) + oVo + psi + 1.0 + b2 * sigma + 2.0 * (a @ o)
                   + 2.0 * b2 * (a @ zeta + theta))
            Cg[j][t, k] = row
            Cg[j][k, t] = row
            Cg[j][t, t] = var
            if j >= 1:
                Rg[j - 1][t, k] = b * rho_h
            else:
                self.R_g1[t, k] = rho_h

    def M_row(self, t: int) -> np.ndarray:
        """Row t of the weight-space kernel M = R_g1/gamma + eta0 Theta*C_g1 (s < t)."""
        return self.R_g1[t, :t] / self.gamma + self.eta * self.C_g[0][t, :t]

    # ---- phase 3 ------------------------------------------------------------------------
    def forward_row(self, t: int, B0_row: np.ndarray, Ca: np.ndarray) -> None:
        """Complete row t of every factor and order parameter, given B_0(t, <= t)."""
        L, b, c = self.L, self.b, self.c
        b2 = b * b
        n = t + 1
        k, p = slice(0, n), slice(0, t)
        Ph, Pg, Vhh, Vhg, Vgg, Zh, Zg, Xh = (self.Ph, self.Pg, self.Vhh, self.Vhg, self.Vgg,
                                             self.Zh, self.Zg, self.Xh)
        A, E, Cg, Ch, Rh, Oinv = self.A, self.E, self.C_g, self.C_h, self.R_h, self.Oinv
        # g rows of P at t (need E(t, .) and past h rows only)
        Ph[0][t, k] = B0_row
        Pg[0][t, t] = 1.0
        for j in range(L):
            Pg[j + 1][t, k] = Pg[j][t, k] - E[j][t, p] @ Ph[j][p, k]
        # row t of Omega and of its inverse (forward substitution)
        Om = Pg[L][t, k] - c * self.cumPh[k]
        Oinv[t, p] = -(Om[p] @ Oinv[p, p])
        Oinv[t, t] = 1.0
        orow = Oinv[t, k]
        self.o[t] = orow.sum()
        # rows t of Z, top-down (never reads A_j(t, .): Zh(t, t) = 0)
        Zg[L][t, k] = orow
        Zh[L][t, k] = -c * (np.cumsum(orow[::-1])[::-1] - orow)  # -c (Oinv Theta)(t, .)
        for j in range(L - 1, -1, -1):
            Zg[j][t, k] = Zh[j + 1][t, p] @ A[j][p, k] + Zg[j + 1][t, k]
            Zh[j][t, k] = Zh[j + 1][t, k] - Zg[j][t, k] @ E[j][k, k]
        # bottom-up: X, C_h, R_h, A, the h rows of P and the rows of V
        S = Cg[0][k, k]
        Vhh[0][t, k] = Ca[t, k]
        Vhh[0][k, t] = Ca[t, k]
        for j in range(L + 1):
            vhh, vhg, vgg = Vhh[j][k, k], Vhg[j][k, k], Vgg[j][k, k]
            Xh[j][t, k] = -(Zh[j][t, k] @ vhh + vhg @ Zg[j][t, k])
            Xh[j][p, t] = -(Zh[j][p, k] @ vhh[t] + Zg[j][p, k] @ vhg[t])
            if j == L:
                break
            Pt, PhM = Ph[j][t, k], Ph[j][k, k]
            row = PhM @ (S @ Pt + Xh[j][k, t]) + vhh[t] + Pt @ Xh[j][k, k]
            Ch[j][t, k] = row
            Ch[j][k, t] = row
            Rh[j][t, k] = b * (Pt @ Zg[j][k, k])
            A_row = b * Rh[j][t, k] + c * b2 * row
            A_row[t] = b * Rh[j][t, t]
            A[j][t, k] = A_row
            Ph[j + 1][t, k] = Pt + A_row @ Pg[j + 1][k, k]
            # y_{j+1} = (y_h + b xi + A w, w), w = y_g - E y_h - b zeta: rows t of its Cov
            Aj, Ej, Et, C = A[j][k, k], E[j][k, k], E[j][t, k], Cg[j + 1][k, k]
            kg = vgg[t] - Et @ vhg  # Cov(w(t), y_g)
            kh = vhg[:, t] - Et @ vhh  # Cov(w(t), y_h)
            gg = kg - Ej @ kh + b2 * C[t]  # Cov(w(t), w)
            Vgg[j + 1][t, k] = gg
            Vgg[j + 1][k, t] = gg
            gh = kh + Aj @ gg  # Cov(w(t), y_h')
            hg = vhg[t] - Ej @ vhh[t] + A_row @ Vgg[j + 1][k, k]  # Cov(y_h'(t), w)
            Vhg[j + 1][t, k] = hg
            Vhg[j + 1][k, t] = gh
            hh = (vhh[t] + vhg @ A_row - (A_row @ Ej) @ vhh + b2 * row + Aj @ hg)
            Vhh[j + 1][t, k] = hh
            Vhh[j + 1][k, t] = hh
        self.cumPh += Ph[L][t]

    def order(self, m: int) -> dict:
        def cut(As):
            return [X[:m, :m] for X in As]

        return {"C_g": cut(self.C_g), "C_h": cut(self.C_h), "R_h": cut(self.R_h),
                "R_g": cut(self.R_g), "R_g1": self.R_g1[:m, :m]}


def step_residual(s: Setting, modes: Modes, *, max_bytes: int = MAX_BYTES) -> StepperResult:
    """Solve the DMFT of the residual network ``s`` on ``modes`` by exact forward stepping.

    Each step runs :meth:`ResidualHidden.backward_row`, :meth:`WeightData.row` and
    :meth:`ResidualHidden.forward_row`. The divergence threshold is set from the solved
    initial loss; the first step whose loss is non-finite or above it ends the run
    (``t_div``), at any step including the first update (no exception).
    """
    if not s.residual:
        raise ValueError("step_residual solves residual networks; plain ones use step_dmft")
    if s.gamma == 0:
        raise ValueError(f"Setting.gamma0={s.gamma0!r}: the residual DMFT is written in "
                         "gamma (R/gamma, c = eta0 gamma); the lazy limit gamma -> 0 of a "
                         "residual network is not implemented")
    need = memory_bytes(s)
    if need > max_bytes:
        raise MemoryError(f"the residual stepper needs {need / 2**30:.1f} GiB for L={s.L}, "
                          f"T={s.T} (14 T x T arrays per layer): use a shorter horizon")
    wd = WeightData(s, modes, max_bytes=max_bytes)
    hid = ResidualHidden(s)
    threshold, t_div = np.inf, None
    with np.errstate(all="ignore"):
        for t in range(s.T):
            hid.backward_row(t)
            test, train = wd.row(t, hid.M_row(t), hid.C_g[0])
            if t == 0:
                threshold = divergence_threshold(test) if np.isfinite(test) else -np.inf
            if not (np.isfinite(test) and np.isfinite(train) and test < threshold):
                t_div = t
                break
            hid.forward_row(t, s.gamma * wd.B_row(t), wd.Ca)
    res = _result(wd, t_div, threshold, {})
    m = s.T if t_div is None else t_div
    res.order.update(hid.order(m))
    return res
