"""Every convention of the model, written once (docs/bordelon25.md, "Conventions").

The simulation (rank-one engine), the autodiff reference and the theory all import these; a
change here changes all three. Nothing here imports JAX: the functions work on Python floats
and on traced JAX values alike.
"""

from __future__ import annotations

import math

# A run whose test loss exceeds this multiple of max(1, initial loss), or turns non-finite,
# is recorded as diverged from that step on (in simulation and theory alike).
DIVERGENCE_FACTOR = 1e3

REGIMES = ("lazy", "rich")


def readout_width(widths):
    """The width N of the readout, the learning rate and NTK's gamma: the LAST hidden layer's.

    With unequal widths N_1..N_L (docs/bordelon25.md, section 10, a reconstruction of the
    paper's App. F) every W^l is still scaled by 1/sqrt(its fan-in), and these three use N_L.
    Works on widths (N_l) and on width ratios (nu_l) alike.
    """
    return widths[-1]


def gamma_eff(gamma0: float, nu: float, param: str) -> float:
    """Effective richness gamma: gamma0 under muP, gamma0/sqrt(nu) under NTK (nu = nu_L, the
    last hidden layer's ratio, when widths are unequal)."""
    return gamma0 if param == "mup" else gamma0 / math.sqrt(nu)


def readout(D: int, N: int, gamma):
    """Readout multiplier of the last layer: f = readout * w . h^L = sqrt(D) / (gamma N), N = N_L."""
    return math.sqrt(D) / (gamma * N)


def raw_learning_rate(eta0, gamma, N: int):
    """The step size of gradient descent on half the loss: eta = eta0 gamma^2 N, N = N_L."""
    return eta0 * gamma**2 * N


def regime(setting) -> str:
    """'lazy' when the effective richness vanishes (gamma0 = 0, or NTK at nu = inf), else 'rich'.

    The one test of laziness: tables, exponent predictions and guide lines all call it.
    """
    return "lazy" if setting.gamma == 0 else "rich"


def divergence_threshold(initial_loss):
    """Loss above which a run counts as diverged, from its loss at t = 0."""
    return DIVERGENCE_FACTOR * max(1.0, initial_loss)


def output_channels(kappa: float, D: int) -> int:
    """Number of outputs C = max(1, round(kappa D)) (docs/bordelon25.md, section 11).

    Many outputs (the paper's App. G, a reconstruction: its text was not available) *(choice)*:
    C channels with independent teachers, training loss (1/P) sum over samples and outputs,
    test and recorded train losses averaged over outputs (:func:`channel_mean_square`), the
    readout an N x C matrix with the single output's per-entry scale. kappa = 0 is one output.
    """
    return max(1, round(kappa * D))


def channel_mean_square(x):
    """Squared norm over the first (site or sample) axis, averaged over output channels.

    ``x @ x`` for one output (a vector); ``sum(x**2) / C`` for an (n, C) matrix. Works on
    numpy and traced JAX arrays alike.
    """
    return x @ x if x.ndim == 1 else (x * x).sum() / x.shape[1]


def update_scale(eta0, gamma):
    """Multiplier of each rank-one weight update: eta0 gamma = eta * readout / sqrt(D)."""
    return eta0 * gamma
