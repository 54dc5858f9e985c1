"""Exact forward time stepping of the residual network's joint (layer, time) DMFT.

The equations are those of :mod:`dlndyn.bordelon25.theory.residual` (single-site process,
kernels B_0, A_l, E_l, weight/data block of the plain network); this module computes their
solution one time row at a time, with no iteration, as :mod:`.stepper` does for plain
networks. The derivation (also in docs/bordelon25_residual_stepper.md):

Notation. States j = 0..L are x_j = (h^{j+1}, g^{j+1}) (1-based layers); block j maps x_j to
x_{j+1} = Phi_j x_j + n_j with Phi_j = [[I - A_j E_j, A_j], [-E_j, I]] and the block's source
n_j = (b xi^j - b A_j zeta^j, -b zeta^j), Cov(n_j) = Sigma_j. The layer shooting of the
fixed-point solver writes x_j = P_j g^1 + y_j, with y_j the sources below j (y_0 = (xi^0, 0),
Cov(y_j) = V_j), g^1 = Omega^{-1}(w0 1 - U y_L), U = [-c Theta, I], and Z_j = Omega^{-1} U
Phi_{L-1}..Phi_j, so that Cov(g^1, y_j) = -Z_j V_j, S = Cov(g^1) = C_g^1, and
Cov(x_m, x_j) = P_m S P_j' - P_m Z_j V_j - V_m Z_m' P_j' + Phi_{m-1}..Phi_j V_j  (m >= j).
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
(d g^1 / d zeta^m = b Zg_m, d g^1 / d n_m = -Z_{m+1}, Cov(w0, x_l) = P_l Omega^{-1} 1 = P_l o),

    Cov(f_l, x_l(<t)) = P_l q_l + V_l rho_l,  q_l = S a_l' - beta_l' + o + b^2 zeta_l,
                                             rho_l = omega_l - a_l Z_l,
    C_g^l(t, <t) = its g part,   R_g^{l-1}(t, <t) = dg^l(t)/dxi^{l-1} = b rho_l[h]
    (R_g1 = rho_1[h] for l = 1),
    Var f_l = a S a' - 2 a beta' + omega V omega' + psi + 1 + b^2 sigma + 2 a o
              + 2 b^2 (a zeta + theta)       (all at level l).

Each level costs a few products of (2t)-vectors with 2t x 2t matrices: O(L t^2) per step.

Phase 2 is :class:`dlndyn.bordelon25.theory.stepper.WeightData` (shared with the plain
stepper, so power-law modes and one-pass SGD come for free): B_0(t, .) = gamma B^_1(t, .).

Phase 3 (bottom-up, completes row t of every factor). The g rows of P_j at t need only
E(t, .) and past h rows (Pg_{j+1} = Pg_j - E_j Ph_j), hence Omega(t, .) = Pg_L(t, .) -
c sum_{s<t} Ph_L(s, .), the row t of Omega^{-1} (forward substitution, no inverse) and the
rows t of Z_j top-down (Zg_j = Zh_{j+1} A_j + Zg_{j+1}, Zh_j = Zh_{j+1} - Zg_j E_j; row t never
reads A_j(t, .) since Zh(t, t) = 0). Then bottom-up: V_j's row by the Lyapunov step
V_{j+1} = Phi_j V_j Phi_j' + Sigma_j, X_j = Cov(g^1, y_j) = -Z_j V_j (row and column t),
C_h^j(t, .) from Cov(x_j) = P S P' + V + P X + (P X)', R_h^j(t, .) = b Ph_j Zg_j, the kernel
row A_j(t, .) and with it the h row of P_{j+1} and the rows of Phi_j and Sigma_j.

Cost: O(L T^3) time and O(L T^2) memory (about 20 T x T arrays per layer), against
O(L T^3) per sweep for the windowed fixed point. The equal-time responses come out of the
stepping exactly (R_h^l(t, t) = b Ph(t, t)); they equal
:func:`dlndyn.bordelon25.theory.residual.equal_time_response`.
"""

from __future__ import annotations

import numpy as np

from ..conventions import divergence_threshold
from ..setting import Setting
from .stepper import MAX_BYTES, Modes, StepperResult, WeightData, _result


class ResidualHidden:
    """The joint (layer, time) hidden process of the residual network, one row per step.

    Arrays in time-major interleaved order: index 2s is h(s), 2s+1 is g(s), so the steps
    <= t of a state are the prefix [:2t+2]. States j = 0..L (x_j = (h^{j+1}, g^{j+1})):
    P[j] (2T x T), V[j] (2T x 2T), Z[j] (T x 2T), X[j] = Cov(g^1, y_j) (T x 2T); blocks
    j = 0..L-1: Phi[j], Sig[j] (2T x 2T), kernels A[j], E[j] (T x T). Order parameters:
    C_h[j] (j < L), C_g[j] (j <= L, C_g[L] the readout's), R_h[j], R_g[j] (j < L), R_g1.
    """

    def __init__(self, s: Setting):
        T, L = s.T, s.L
        self.T, self.L = T, L
        self.b = float(s.branch)
        self.c = float(s.eta0 * s.gamma)
        self.gamma, self.eta = float(s.gamma), float(s.eta0)

        def m(r=T, k=T):
            return np.zeros((r, k))

        self.P = [m(2 * T, T) for _ in range(L + 1)]
        self.V = [m(2 * T, 2 * T) for _ in range(L + 1)]
        self.Z = [m(T, 2 * T) for _ in range(L + 1)]
        self.X = [m(T, 2 * T) for _ in range(L + 1)]
        self.Phi = [m(2 * T, 2 * T) for _ in range(L)]
        self.Sig = [m(2 * T, 2 * T) for _ in range(L)]
        self.A = [m() for _ in range(L)]
        self.E = [m() for _ in range(L)]
        self.C_h = [m() for _ in range(L)]
        self.C_g = [m() for _ in range(L + 1)]
        self.R_h = [m() for _ in range(L)]
        self.R_g = [m() for _ in range(L)]
        self.R_g1 = m()
        self.Oinv = m()
        self.o = np.zeros(T)  # Omega^{-1} 1 = dg^1/dw0
        self.cumPh = np.zeros(T)  # sum_{s < t} Ph_L(s, .)

    # ---- phase 1 ------------------------------------------------------------------------
    def backward_row(self, t: int) -> None:
        """Row t of C_g (all states), R_g and R_g1, top-down, from the past alone."""
        L, b, c = self.L, self.b, self.c
        b2 = b * b
        tt = 2 * t
        P, V, Z, Phi, Sig, A, E = self.P, self.V, self.Z, self.Phi, self.Sig, self.A, self.E
        Cg, Rg = self.C_g, self.R_g
        S, o = Cg[0][:t, :t], self.o[:t]
        e_h = np.full(t, c)  # e_{L+1}: g^{L+1}(t) = w0 + c sum_{s<t} h^{L+1}(s)
        e = np.zeros(tt)
        e[0::2] = e_h
        omega = e
        a = e_h @ P[L][0:tt:2, :t]
        beta = Z[L][:t, :tt] @ (V[L][:tt, :tt] @ e)
        zeta = np.zeros(t)
        psi = theta = sigma = 0.0
        for j in range(L, -1, -1):
            if j < L:
                cj = Cg[j + 1][t, :t]  # Cov(zeta^j(t), zeta^j(<t))
                cvec = np.zeros(tt)
                cvec[1::2] = cj
                d = np.zeros(tt)
                d[0::2] = -(A[j][:t, :t] @ cj)
                d[1::2] = -cj
                psi += omega @ (Sig[j][:tt, :tt] @ omega)
                theta += omega @ d
                sigma += Cg[j + 1][t, t]
                zeta = zeta + Z[j][:t, :tt] @ cvec
                E_row = b * Rg[j][t, :t] + c * b2 * Cg[j + 1][t, :t]
                E[j][t, :t] = E_row
                e = np.zeros(tt)
                e[0::2] = E_row
                omega = e + omega @ Phi[j][:tt, :tt]
                a = a + E_row @ P[j][0:tt:2, :t]
                beta = beta + Z[j][:t, :tt] @ (V[j][:tt, :tt] @ e)
            rho = omega - a @ Z[j][:t, :tt]
            q = S @ a - beta + o + b2 * zeta
            Vrho = V[j][:tt, :tt] @ rho
            kappa = P[j][:tt, :t] @ q + Vrho
            var = (a @ (S @ a) - 2.0 * (a @ beta) + omega @ (V[j][:tt, :tt] @ omega) + psi
                   + 1.0 + b2 * sigma + 2.0 * (a @ o) + 2.0 * b2 * (a @ zeta + theta))
            row = kappa[1::2]
            Cg[j][t, :t] = row
            Cg[j][:t, t] = row
            Cg[j][t, t] = var
            if j >= 1:
                Rg[j - 1][t, :t] = b * rho[0::2]
            else:
                self.R_g1[t, :t] = rho[0::2]

    def M_row(self, t: int) -> np.ndarray:
        """Row t of the weight-space kernel M = R_g1/gamma + eta0 Theta*C_g1 (s < t)."""
        return self.R_g1[t, :t] / self.gamma + self.eta * self.C_g[0][t, :t]

    # ---- phase 3 ------------------------------------------------------------------------
    def forward_row(self, t: int, B0_row: np.ndarray, Ca: np.ndarray) -> None:
        """Complete row t of every factor and order parameter, given B_0(t, <= t)."""
        L, b, c = self.L, self.b, self.c
        b2 = b * b
        n, tt = t + 1, 2 * t
        nn = tt + 2
        P, V, Z, X, Phi, Sig, A, E = (self.P, self.V, self.Z, self.X, self.Phi, self.Sig,
                                      self.A, self.E)
        Cg, Ch, Rh = self.C_g, self.C_h, self.R_h
        Oinv = self.Oinv
        # g rows of P at t (need E(t, .) and past h rows only)
        P[0][tt, :n] = B0_row
        P[0][tt + 1, t] = 1.0
        for j in range(L):
            P[j + 1][tt + 1, :n] = P[j][tt + 1, :n] - E[j][t, :t] @ P[j][0:tt:2, :n]
        # row t of Omega and of its inverse (forward substitution)
        Om = P[L][tt + 1, :n] - c * self.cumPh[:n]
        Oinv[t, :t] = -(Om[:t] @ Oinv[:t, :t])
        Oinv[t, t] = 1.0
        self.o[t] = Oinv[t, :n].sum()
        # rows t of Z, top-down (never reads A_j(t, .): Zh(t, t) = 0)
        orow = Oinv[t, :n]
        Z[L][t, 1:nn:2] = orow
        Z[L][t, 0:nn:2] = -c * (np.cumsum(orow[::-1])[::-1] - orow)  # -c (Oinv Theta)(t, .)
        for j in range(L - 1, -1, -1):
            Zh1 = Z[j + 1][t, 0:nn:2]
            Zg = Zh1[:t] @ A[j][:t, :n] + Z[j + 1][t, 1:nn:2]
            Z[j][t, 1:nn:2] = Zg
            Z[j][t, 0:nn:2] = Zh1 - Zg @ E[j][:n, :n]
        # bottom-up: V, X, C_h, R_h, A, Phi, Sigma and the h rows of P
        S = Cg[0][:n, :n]
        V[0][tt, 0:nn:2] = Ca[t, :n]
        V[0][0:nn:2, tt] = Ca[t, :n]
        for j in range(L + 1):
            Vj = V[j][:nn, :nn]
            X[j][t, :nn] = -(Z[j][t, :nn] @ Vj)
            X[j][:t, tt:nn] = -(Z[j][:t, :nn] @ Vj[:, tt:nn])
            if j == L:
                break
            Ph = P[j][0:nn:2, :n]
            Pt = P[j][tt, :n]
            row = (Ph @ (S @ Pt) + V[j][tt, 0:nn:2] + Pt @ X[j][:n, 0:nn:2]
                   + Ph @ X[j][:n, tt])
            Ch[j][t, :n] = row
            Ch[j][:n, t] = row
            Rh[j][t, :n] = b * (Pt @ Z[j][:n, 1:nn:2])
            A_row = b * Rh[j][t, :n] + c * b2 * row
            A_row[t] = b * Rh[j][t, t]
            A[j][t, :n] = A_row
            Phi_j = Phi[j]
            Phi_j[tt, 0:nn:2] = -(A_row @ E[j][:n, :n])
            Phi_j[tt, tt] += 1.0
            Phi_j[tt, 1:nn:2] = A_row
            Phi_j[tt + 1, 0:nn:2] = -E[j][t, :n]
            Phi_j[tt + 1, tt + 1] = 1.0
            P[j + 1][tt, :n] = Phi_j[tt, :nn] @ P[j][:nn, :n]
            # Sigma_j = b^2 [[C_h + A C A', A C], [C A', C]] with C = C_g^{j+1}
            C = Cg[j + 1][:n, :n]
            CA = C @ A_row  # row t of A C
            Sg = Sig[j]
            Sg[tt, 0:nn:2] = b2 * (row + A[j][:n, :n] @ CA)
            Sg[tt, 1:nn:2] = b2 * CA
            Sg[tt + 1, 0:nn:2] = b2 * (A[j][:n, :n] @ C[t])
            Sg[tt + 1, 1:nn:2] = b2 * C[t]
            Sg[:nn, tt:nn] = Sg[tt:nn, :nn].T
            # V_{j+1} rows t: Phi_j V_j Phi_j' + Sigma_j
            rows = (Phi_j[:nn, :nn] @ (Vj @ Phi_j[tt:nn, :nn].T)).T + Sg[tt:nn, :nn]
            V[j + 1][tt:nn, :nn] = rows
            V[j + 1][:nn, tt:nn] = rows.T
        self.cumPh += P[L][tt, :]

    def order(self, m: int) -> dict:
        cut = [A[:m, :m] for A in self.C_g]
        return {"C_g": cut, "C_h": [A[:m, :m] for A in self.C_h],
                "R_h": [A[:m, :m] for A in self.R_h], "R_g": [A[:m, :m] for A in self.R_g],
                "R_g1": self.R_g1[:m, :m]}


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
