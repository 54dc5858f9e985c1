"""Residual deep linear networks (docs/bordelon25.md, section 5): rank-one GD step and joint (layer, time) DMFT.

Model, with branch multiplier ``b = Setting.branch`` (beta0/sqrt(L) or beta0):

    h^1     = W^0 x / sqrt(D)
    h^{l+1} = h^l + b W^l h^l / sqrt(N)              l = 1..L   (W^l in R^{N x N})
    f(x)    = sqrt(D)/(gamma N) w . h^{L+1}
    g^{L+1} = w,   g^l = g^{l+1} + b W^l^T g^{l+1} / sqrt(N)

so f(x) = beta . x / sqrt(D) with beta = sqrt(D)/(gamma N) W^0^T g^1. With the learning rate
eta0 gamma^2 N for every parameter, one full-batch GD step on half the loss is rank one per
matrix (a = sqrt(D) X^T Delta / P is the gradient pseudo-input, h^l_a its forward pass):

    W^0 += eta0 gamma g^1 a^T / sqrt(D)
    W^l += eta0 gamma b g^{l+1} (h^l_a)^T / sqrt(N)
    w   += eta0 gamma h^{L+1}_a

Theory. One neuron index carries the residual stream through every block, so the single-site
process is joint over (layer, time). With c = eta0 gamma and T-vectors h^l, g^l:

    h^1     = xi^0 + B_0 g^1,              B_0 = R_a/sqrt(nu) + c Theta*C_a
    h^{l+1} = h^l + b xi^l + A_l g^{l+1},   A_l = b R_h^l + c b^2 Theta*C_h^l
    g^{L+1} = w0 1 + c Theta h^{L+1}
    g^l     = g^{l+1} + b zeta^l + E_l h^l, E_l = b R_g^l + c b^2 Theta*C_g^{l+1}

with independent Gaussian sources xi^0 ~ C_a, xi^l ~ C_h^l, zeta^l ~ C_g^{l+1}, w0 ~ N(0,1);
R_h^l = dh^l/dzeta^l (response of the block-l input to W^l's backward field) and
R_g^l = dg^{l+1}/dxi^l (response of the block-l backward input to W^l's forward field).
Weight and data space are those of the plain network (:func:`dlndyn.bordelon25.theory.dmft.weight_data_block`),
fed with C_g^1 and R_g^1 = dg^1/dxi^0.

Solver. Stacking all 2(L+1) T unknowns and inverting costs O((LT)^3). Instead the layer
recursion is solved by shooting: the state x_l = (h^l, g^l) obeys x_{l+1} = Phi_l x_l + n_l
with Phi_l = [[I - A_l E_l, A_l], [-E_l, I]], so x_l = P_l g^1 + y_l, where P_l = Phi_{l-1}..
Phi_1 [B_0; I] and y_l collects the sources below layer l (covariance V_l by a Lyapunov
recursion). The top boundary condition g^{L+1} - c Theta h^{L+1} = w0 1 fixes g^1 through the
unit lower-triangular T x T matrix Omega = [-c Theta, I] P_{L+1}. Covariances and the needed
responses follow from one forward pass (P_l, V_l) and one backward pass
(Z_l = Omega^{-1} [-c Theta, I] Phi_L..Phi_l) over the layers: O(L T^3) per sweep.
:func:`dense_hidden_block` is the naive O((LT)^3) solve of the same equations, kept as a check.
The default solver is the exact forward time stepper of
:mod:`dlndyn.bordelon25.theory.residual_stepper` (the same factorization, one time row per
step, O(L T^3) in all); this windowed fixed point is ``theory(s, method="picard")``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..setting import Setting
from .dmft import Order, _inv_unit_lower, weight_data_block


def initial_loss(s: Setting) -> float:
    """Closed-form expected test loss at t = 0: 1 + (1 + b^2)^L / (gamma^2 nu) + sigma^2.

    C_g^1(0,0) = (1 + b^2)^L since every block adds an independent backward field of the
    current variance times b^2. Under b = beta0/sqrt(L) it tends to 1 + e^{beta0^2}/(gamma^2 nu).
    """
    return 1.0 + (1.0 + s.branch**2) ** s.L / (s.gamma**2 * s.nu) + s.sigma**2


def initial_loss_infinite_depth(s: Setting) -> float:
    """L -> infinity limit of :func:`initial_loss` under beta0/sqrt(L) branches."""
    return 1.0 + math.exp(s.beta0**2) / (s.gamma**2 * s.nu) + s.sigma**2


# ----------------------------------------------------------------------------------------
# Theory: order parameters and the joint (layer, time) hidden block
# ----------------------------------------------------------------------------------------
@dataclass
class ResidualOrder(Order):
    """Order parameters of the residual network.

    C_h[l-1] = C_h^l (block inputs, l = 1..L), C_g[l-1] = C_g^l (l = 1..L+1, C_g^{L+1} is the
    readout's), R_h[l-1] = dh^l/dzeta^l, R_g[l-1] = dg^{l+1}/dxi^l (blocks l = 1..L) and
    R_g1 = dg^1/dxi^0 (the response the weight-space block needs).
    """

    R_g1: np.ndarray | None = None

    @classmethod
    def initial(cls, T: int, L: int) -> ResidualOrder:
        one, zero, eye = np.ones((T, T)), np.zeros((T, T)), np.eye(T)
        return cls(one, one, zero, zero, eye, one.copy(),
                   [one] * L, [one] * (L + 1), [zero] * L, [zero] * L, zero)

    def padded(self, T: int) -> ResidualOrder:
        base = Order.padded(self, T)
        T0 = self.R_g1.shape[0]
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(Order)}
        return ResidualOrder(**fields, R_g1=np.pad(self.R_g1, (0, T - T0)))


def equal_time_response(s: Setting, l: int) -> float:
    """R_h^l(t,t) = -(b/(gamma nu)) (1 + b^2)^(l-1) at every t (exact).

    At equal times g^l(t) does not react to h (E_l and c Theta are strictly causal) and
    R_a(t,t) = -1/(gamma sqrt(nu)) (F and R_Delta have unit diagonals), so a kick b to g^l(t)
    reaches g^1..g^l unchanged and h^l(t) through B_0(t,t) = -1/(gamma nu) and the diagonals
    of A_1..A_{l-1}: r_l = b (B_0(t,t) + b sum_{k<l} r_k).
    """
    b = s.branch
    return -(b / (s.gamma * s.nu)) * (1.0 + b * b) ** (l - 1)


def _kernels(o: ResidualOrder, s: Setting):
    """Memory kernels B_0, A_l, E_l (l = 1..L) of the single-site process.

    The equal-time part of A_l is set to its exact value (:func:`equal_time_response`), which
    the fixed point reproduces; otherwise the sweeps would need about L iterations to carry it
    up the layers, and far from the fixed point the iterates can blow up on the way.
    """
    T = o.C_v.shape[0]
    Theta = np.tril(np.ones((T, T)), -1)
    b, c = s.branch, s.eta0 * s.gamma
    B0 = o.R_a / np.sqrt(s.nu) + c * Theta * o.C_a
    A = []
    for l in range(s.L):
        Al = b * o.R_h[l] + c * b * b * Theta * o.C_h[l]
        np.fill_diagonal(Al, b * equal_time_response(s, l + 1))
        A.append(Al)
    E = [b * o.R_g[l] + c * b * b * Theta * o.C_g[l + 1] for l in range(s.L)]
    return Theta, B0, A, E


def _sym(C: np.ndarray) -> np.ndarray:
    return 0.5 * (C + C.T)


def hidden_block(o: ResidualOrder, s: Setting) -> dict:
    """Joint (layer, time) hidden process by shooting over layers: O(L T^3).

    State x_l = (h^l, g^l) = P_l g^1 + y_l with Cov(y_l) = V_l; every 2T x 2T product with
    Phi_l = [[I - A E, A], [-E, I]] is done blockwise, using Phi_l x = (x_h + A w, w) with
    w = x_g - E x_h (about 23 T^3 multiply-adds per layer).
    """
    T, L, b = o.C_v.shape[0], s.L, s.branch
    c = s.eta0 * s.gamma
    b2 = b * b
    I, Z0 = np.eye(T), np.zeros((T, T))
    Theta, B0, A, E = _kernels(o, s)

    # forward over layers: P_l = (Ph, Pg), V_l = [[Vhh, Vhg], [Vhg^T, Vgg]]
    Ph, Pg = [B0], [I]
    Vhh, Vhg, Vgg = [o.C_a], [Z0], [Z0]
    for l in range(L):
        Al, El, Cg = A[l], E[l], o.C_g[l + 1]
        w = Pg[l] - El @ Ph[l]
        Ph.append(Ph[l] + Al @ w)
        Pg.append(w)
        # Y = Phi V (rows), then Y Phi^T (columns); only the hh, hg, gg blocks are kept
        Yg_h = Vhg[l].T - El @ Vhh[l]  # g-row of Phi V, h- and g-columns
        Yg_g = Vgg[l] - El @ Vhg[l]
        Yh_h = Vhh[l] + Al @ Yg_h
        Yh_g = Vhg[l] + Al @ Yg_g
        hg = Yh_g - Yh_h @ El.T  # column g of Y Phi^T, rows h and g
        gg = Yg_g - Yg_h @ El.T
        hh = Yh_h + hg @ Al.T
        ACg = Al @ Cg
        Vhh.append(_sym(hh + b2 * (o.C_h[l] + ACg @ Al.T)))
        Vhg.append(hg + b2 * ACg)
        Vgg.append(_sym(gg + b2 * Cg))

    # top boundary g^{L+1} - c Theta h^{L+1} = w0 1 determines g^1
    Oinv = _inv_unit_lower(Pg[L] - c * Theta @ Ph[L])
    UVU = Vgg[L] - c * (Theta @ Vhg[L] + (Theta @ Vhg[L]).T) + c * c * Theta @ Vhh[L] @ Theta.T
    S_g = Oinv @ (np.ones((T, T)) + UVU) @ Oinv.T  # Cov(g^1)

    # backward over layers: Z_l = Omega^{-1} U Phi_L .. Phi_l = (Zh, Zg); dg^1/dy_l = -Z_l
    Zh, Zg = [None] * (L + 1), [None] * (L + 1)
    Zh[L], Zg[L] = -c * Oinv @ Theta, Oinv
    for l in range(L - 1, -1, -1):
        Zg[l] = Zh[l + 1] @ A[l] + Zg[l + 1]
        Zh[l] = Zh[l + 1] - Zg[l] @ E[l]

    C_h, C_g = [], []
    for l in range(L + 1):
        # Cov(x_l) = P S P^T + V + P X + (P X)^T with X = Cov(g^1, y_l) = -Z_l V_l
        Xg = -(Zh[l] @ Vhg[l] + Zg[l] @ Vgg[l])
        Mg = Pg[l] @ (0.5 * S_g @ Pg[l].T + Xg)
        C_g.append(_sym(Vgg[l] + Mg + Mg.T))
        if l < L:
            Xh = -(Zh[l] @ Vhh[l] + Zg[l] @ Vhg[l].T)
            Mh = Ph[l] @ (0.5 * S_g @ Ph[l].T + Xh)
            C_h.append(_sym(Vhh[l] + Mh + Mh.T))
    R_h = [b * Ph[l] @ Zg[l] for l in range(L)]  # Zg[l] = Zh[l+1] A_l + Zg[l+1]
    R_g = [-b * Pg[l + 1] @ Zh[l + 1] for l in range(L)]
    return {"C_h": C_h, "C_g": C_g, "R_h": R_h, "R_g": R_g, "R_g1": -Zh[0]}


def dense_hidden_block(o: ResidualOrder, s: Setting) -> dict:
    """The same hidden block by inverting the stacked 2(L+1)T system: O((LT)^3), for checks.

    Unknowns z = (h^1..h^{L+1}, g^1..g^{L+1}) with z = K z + S, Q = (I - K)^{-1},
    Cov(z) = Q Sigma_S Q^T; responses are blocks of Q (docs/bordelon25.md, section 5).
    """
    T, L, b = o.C_v.shape[0], s.L, s.branch
    c = s.eta0 * s.gamma
    I = np.eye(T)
    Theta, B0, A, E = _kernels(o, s)
    n = 2 * (L + 1)

    def h(l):  # block index of h^l, l = 1..L+1
        return slice((l - 1) * T, l * T)

    def g(l):
        return slice((L + l) * T, (L + l + 1) * T)

    K = np.zeros((n * T, n * T))
    Sig = np.zeros((n * T, n * T))
    K[h(1), g(1)] = B0
    Sig[h(1), h(1)] = o.C_a
    for l in range(1, L + 1):
        K[h(l + 1), h(l)] = I
        K[h(l + 1), g(l + 1)] = A[l - 1]
        Sig[h(l + 1), h(l + 1)] = b * b * o.C_h[l - 1]
        K[g(l), g(l + 1)] = I
        K[g(l), h(l)] = E[l - 1]
        Sig[g(l), g(l)] = b * b * o.C_g[l]
    K[g(L + 1), h(L + 1)] = c * Theta
    Sig[g(L + 1), g(L + 1)] = np.ones((T, T))
    Q = np.linalg.inv(np.eye(n * T) - K)
    cov = Q @ Sig @ Q.T
    return {
        "C_h": [cov[h(l), h(l)] for l in range(1, L + 1)],
        "C_g": [cov[g(l), g(l)] for l in range(1, L + 2)],
        "R_h": [b * Q[h(l), g(l)] for l in range(1, L + 1)],
        "R_g": [b * Q[g(l + 1), h(l + 1)] for l in range(1, L + 1)],
        "R_g1": Q[g(1), h(1)],
    }


def sweep(o: ResidualOrder, s: Setting, *, hidden=hidden_block) -> ResidualOrder:
    """One sweep: weight and data space (fed with C_g^1, R_g^1), then the joint hidden block."""
    o = dataclasses.replace(o, **weight_data_block(o, s, o.C_g[0], o.R_g1))
    return dataclasses.replace(o, **hidden(o, s))


def dense_sweep(o: ResidualOrder, s: Setting) -> ResidualOrder:
    return sweep(o, s, hidden=dense_hidden_block)


def model(s: Setting):
    """(initial order parameters, sweep) for :func:`dlndyn.bordelon25.theory.solve.solve`."""
    return ResidualOrder.initial, sweep
