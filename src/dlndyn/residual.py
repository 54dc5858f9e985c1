"""Residual deep linear networks (spec section 5): rank-one GD step and joint (layer, time) DMFT.

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
Weight and data space are those of the plain network (:func:`dlndyn.dmft.weight_data_block`),
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
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .dmft import Order, _inv_unit_lower, weight_data_block
from .setting import Setting


# ----------------------------------------------------------------------------------------
# Finite network: the exact rank-one GD step (JAX)
# ----------------------------------------------------------------------------------------
def residual_end_to_end(params, gamma, branch):
    """beta = sqrt(D)/(gamma N) W0^T g^1 and the backward vectors (g^1, g^{l+1} of block l).

    Returns (beta, g1, g_upper) with g_upper[i] = g^{i+2}, the backward input of block i+1.
    """
    N, D = params["W0"].shape

    def back(g, W):  # g^{l+1} -> g^l
        return g + branch * (W.T @ g) / np.sqrt(N), g

    g1, g_upper = jax.lax.scan(back, params["w"], params["Ws"], reverse=True)
    beta = np.sqrt(D) / (gamma * N) * (params["W0"].T @ g1)
    return beta, g1, g_upper


def residual_step(params, X, y, eta0, gamma, branch):
    """One exact GD step of the residual network (same signature as ``rank_one_step``).

    ``params["Ws"]`` holds the L branch matrices W^1..W^L. Returns (new params, train loss,
    beta before the step).
    """
    N, D = params["W0"].shape
    P = X.shape[0]
    beta, g1, g_upper = residual_end_to_end(params, gamma, branch)
    delta = y - X @ beta / np.sqrt(D)
    a = np.sqrt(D) * (X.T @ delta) / P

    def fwd(h, W):  # h^l_a -> h^{l+1}_a
        return h + branch * (W @ h) / np.sqrt(N), h

    h_first = params["W0"] @ a / np.sqrt(D)
    h_last, h_lower = jax.lax.scan(fwd, h_first, params["Ws"])  # h_lower[i] = h^{i+1}_a
    c = eta0 * gamma
    new = {
        "W0": params["W0"] + c * jnp.outer(g1, a) / np.sqrt(D),
        "Ws": params["Ws"]
        + (c * branch / np.sqrt(N)) * jnp.einsum("in,im->inm", g_upper, h_lower),
        "w": params["w"] + c * h_last,
    }
    return new, delta @ delta / P, beta


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


def _kernels(o: ResidualOrder, s: Setting):
    """Memory kernels B_0, A_l, E_l (l = 1..L) of the single-site process."""
    T = o.C_v.shape[0]
    Theta = np.tril(np.ones((T, T)), -1)
    b, c = s.branch, s.eta0 * s.gamma
    B0 = o.R_a / np.sqrt(s.nu) + c * Theta * o.C_a
    A = [b * o.R_h[l] + c * b * b * Theta * o.C_h[l] for l in range(s.L)]
    E = [b * o.R_g[l] + c * b * b * Theta * o.C_g[l + 1] for l in range(s.L)]
    return Theta, B0, A, E


def hidden_block(o: ResidualOrder, s: Setting) -> dict:
    """Joint (layer, time) hidden process by shooting over layers: O(L T^3)."""
    T, L, b = o.C_v.shape[0], s.L, s.branch
    c = s.eta0 * s.gamma
    I, Z0 = np.eye(T), np.zeros((T, T))
    Theta, B0, A, E = _kernels(o, s)

    # forward over layers: x_l = P_l g^1 + y_l, V_l = Cov(y_l)
    P = [np.vstack([B0, I])]
    V = [np.block([[o.C_a, Z0], [Z0, Z0]])]
    Phi = []
    for l in range(L):
        Al, El, Ch, Cg = A[l], E[l], o.C_h[l], o.C_g[l + 1]
        Phi.append(np.block([[I - Al @ El, Al], [-El, I]]))
        ACg = Al @ Cg
        noise = b * b * np.block([[Ch + ACg @ Al.T, ACg], [ACg.T, Cg]])
        P.append(Phi[l] @ P[l])
        V.append(Phi[l] @ V[l] @ Phi[l].T + noise)

    # top boundary g^{L+1} - c Theta h^{L+1} = w0 1 determines g^1
    U = np.hstack([-c * Theta, I])
    Oinv = _inv_unit_lower(U @ P[L])
    S_g = Oinv @ (np.ones((T, T)) + U @ V[L] @ U.T) @ Oinv.T  # Cov(g^1)

    # backward over layers: Z_l = Omega^{-1} U Phi_L .. Phi_l  (dg^1/dy_l = -Z_l)
    Zs = [None] * (L + 1)
    Zs[L] = Oinv @ U
    for l in range(L - 1, -1, -1):
        Zs[l] = Zs[l + 1] @ Phi[l]

    C_h, C_g = [], []
    for l in range(L + 1):
        PX = P[l] @ (-Zs[l] @ V[l])  # P_l Cov(g^1, y_l)
        cov = P[l] @ S_g @ P[l].T + V[l] + PX + PX.T
        cov = 0.5 * (cov + cov.T)
        if l < L:
            C_h.append(cov[:T, :T])
        C_g.append(cov[T:, T:])
    R_h = [b * P[l][:T] @ (Zs[l + 1][:, :T] @ A[l] + Zs[l + 1][:, T:]) for l in range(L)]
    R_g = [-b * P[l + 1][T:] @ Zs[l + 1][:, :T] for l in range(L)]
    return {"C_h": C_h, "C_g": C_g, "R_h": R_h, "R_g": R_g, "R_g1": -Zs[0][:, :T]}


def dense_hidden_block(o: ResidualOrder, s: Setting) -> dict:
    """The same hidden block by inverting the stacked 2(L+1)T system: O((LT)^3), for checks.

    Unknowns z = (h^1..h^{L+1}, g^1..g^{L+1}) with z = K z + S, Q = (I - K)^{-1},
    Cov(z) = Q Sigma_S Q^T; responses are blocks of Q (spec section 5).
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
    """(initial order parameters, sweep) for :func:`dlndyn.dmft.solve`."""
    return ResidualOrder.initial, sweep
