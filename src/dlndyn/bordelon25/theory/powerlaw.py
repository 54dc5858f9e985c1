"""Power-law structured data (docs/bordelon25.md, sections 3 and 7): modes, per-mode DMFT, scaling exponents.

Data. x ~ N(0, diag(lambda)) on D eigen-directions, lambda_k ~ k^(-a) with mean 1, and a teacher
with target power lambda_k b_k ~ k^(-a b - 1), normalised so the signal part of the initial
test loss is 1 (:func:`dlndyn.bordelon25.setting.spectrum`, the one place of that convention). a is
``Setting.capacity``, b is ``Setting.source``.

Number of modes. The spectrum depends on how many directions it is spread over, so the theory
takes it as an argument: ``theory(s, modes=D)`` is the theory of the simulation
``simulate(s, D=D)`` (each of the D directions is one mode of weight 1/D). For the
infinite-width curves no simulation is needed and ``modes`` only has to exceed the directions
that are learnt within the horizon (a mode k is learnt once eta0 lambda_k t ~ 1).

Theory. Two solvers of the same per-mode equations (docs/bordelon25.md, section 7):

* :func:`dlndyn.bordelon25.theory.stepper.step_dmft`, exact forward time stepping (the default of
  ``theory``): O(L T^3 + K T^2) at nu = inf, alpha_B = inf (thousands of steps in seconds),
  O(K T^3) with per-mode T x T responses at finite width or batch;
* the fixed-point solver of :mod:`dlndyn.bordelon25.theory.dmft` with the per-mode weight/data block below
  (``theory(s, modes=D, method="picard")``), a check on the stepper, for plain and residual
  networks (residual networks step by :mod:`dlndyn.bordelon25.theory.residual_stepper`,
  which shares the stepper's per-mode weight/data phase).

Units. With mean eigenvalue 1 the top eigenvalue is lambda_1 = K / Z_K (Z_K = sum_k k^-a) for
K modes, so gradient descent needs eta0 < 2 / ((L+1) lambda_1) (:func:`lazy_max_eta0`). At
nu = inf and alpha_B = inf the dynamics with (eta0, gamma0) on K modes are exactly those in the
"physical units" of docs/bordelon25.md, section 7 (lambda_k = k^-a, sum_k lambda_k b_k = 1, no 1/D weights) with
eta = eta0 s and gamma = gamma0 / sqrt(s), s = K / Z_K (:func:`physical_units`): richness that
matters at large K needs gamma0 ~ sqrt(s).

Exponents. Lazy (gamma0 = 0): L(t) ~ t^(-b). Rich: t^(-2b/(1+b)) for b < 1, t^(-b) for b >= 1
(:func:`predicted_exponent`); :func:`fit_exponent` measures the slope over the last decade.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from .. import conventions
from ..conventions import REGIMES
from ..setting import Setting, spectrum
from . import residual
from .dmft import Order, _inv_unit_lower, data_block, layer1_backward
from .dmft import hidden_block as plain_hidden_block
from .residual_stepper import step_residual
from .stepper import Modes, step_dmft


# A loss that rises by more than this fraction above its running minimum is not monotone
# (exponent fits stop before it, :func:`exponent_fit`); float64 rounding of a decaying
# theory curve is ~1e-15, the catapults of section 7.5 reach O(1).
RISE_RTOL = 1e-6


# ----------------------------------------------------------------------------------------
# Modes
# ----------------------------------------------------------------------------------------
def mode_set(s: Setting, modes: int | None = None, bins: int | None = None) -> Modes:
    """The eigen-modes of the data of ``s``: one mode for isotropic data, else ``modes``.

    ``bins`` coarse-grains the K = ``modes`` directions into at most ``bins`` groups of
    consecutive k, geometrically spaced (the top directions stay single). Each group keeps its
    total weight, its mean eigenvalue sum w lambda and its signal sum w lambda b, so the initial
    loss is unchanged; the dynamics change at second order in a group's spread of log lambda.
    A quadrature for long horizons at finite width or batch (docs/bordelon25.md, section 7: O(K T^3) otherwise).
    """
    if s.data == "isotropic":
        return Modes.isotropic()
    if modes is None:
        raise ValueError(
            "power-law data needs the number of modes: theory(s, modes=D) with the simulation's "
            "input dimension D (each direction is one mode)")
    lam, b = spectrum(s.capacity, s.source, modes)
    K = len(lam)
    w = np.full(K, 1.0 / K)
    if bins is None or bins >= K:
        return Modes(lam, b, w)
    if int(bins) != bins or bins < 1:
        raise ValueError(f"bins={bins!r}: must be an integer >= 1 (or None)")
    edges = np.unique(np.round(np.geomspace(1, K + 1, int(bins) + 1)).astype(int)) - 1
    edges[-1] = K
    W = np.add.reduceat(w, edges[:-1])
    Wl = np.add.reduceat(w * lam, edges[:-1])
    Wlb = np.add.reduceat(w * lam * b, edges[:-1])
    return Modes(Wl / W, Wlb / Wl, W)


def physical_units(s: Setting, modes: int) -> dict:
    """The docs/bordelon25.md, section 7 'physical units' equivalent of ``s`` at nu = inf, alpha_B = inf.

    Returns {"scale": s_K, "eta": eta0 s_K, "gamma": gamma0 / sqrt(s_K)} with s_K = lambda_1 =
    K / sum_k k^-a: the stepper in physical units (lambda_1 = 1) with these rates gives the same
    loss curve (exact identity of the two systems; see the module docstring).
    """
    lam, _ = spectrum(s.capacity, s.source, modes)
    scale = float(lam[0])
    return {"scale": scale, "eta": s.eta0 * scale, "gamma": s.gamma / math.sqrt(scale)}


def physical_setting(s: Setting, modes: int, *, eta: float, gamma: float) -> Setting:
    """``s`` with eta0, gamma0 chosen so that on ``modes`` modes it runs at physical rates.

    Physical units (docs/bordelon25.md, section 7): lambda_1 = 1, per-mode learning rate eta lambda_k,
    richness gamma. Exact at nu = inf and alpha_B (or alpha) = inf under muP, where the
    dynamics depend on (eta0, gamma0, modes) only through (eta, gamma):
    eta0 = eta / s_K and gamma0 = gamma sqrt(s_K), s_K = lambda_1 = K / sum_k k^-a.
    """
    if s.param != "mup":
        raise ValueError("physical_setting: physical units are defined under muP (param='mup')")
    scale = physical_units(s, modes)["scale"]
    return s.replace(eta0=eta / scale, gamma0=gamma * math.sqrt(scale))


def lazy_max_eta0(s: Setting, modes: int | None = None) -> float:
    """Largest stable eta0 of lazy infinite-width GD: 2 / ((L+1) lambda_max).

    The lazy kernel of a plain net with L hidden layers at nu = inf is (L+1) I, so the top
    mode contracts by 1 - eta0 (L+1) lambda_max per step. Feature learning and finite width
    move the edge; use it to place learning-rate grids.
    """
    lam_max = float(mode_set(s, modes).lam.max())
    return 2.0 / ((s.L + 1) * lam_max)


# ----------------------------------------------------------------------------------------
# Per-mode weight/data block for the fixed-point solver (the check on the steppers)
# ----------------------------------------------------------------------------------------
def weight_data_block(o: Order, s: Setting, C_g1, R_g1, modes: Modes) -> dict:
    """docs/bordelon25.md, section 7's per-mode weight and data blocks (the isotropic block is one mode).

    Same contract as :func:`dlndyn.bordelon25.theory.dmft.weight_data_block`: ``C_v`` holds C_u = sum_k w_k
    lambda_k C_v^k (test loss diag(C_u) + sigma^2), ``R_v`` holds R_u. O(K T^3) per sweep.
    """
    T = o.C_v.shape[0]
    I, ones = np.eye(T), np.ones((T, T))
    Theta = np.tril(ones, -1)
    g, k2 = s.gamma, s.init_variance
    ratio = s.alpha_B if s.online else s.alpha
    inv_r = 0.0 if math.isinf(ratio) else 1.0 / ratio
    sq = math.sqrt(ratio)
    lam, b, w = modes.lam, modes.b, modes.w
    lam3 = lam[:, None, None]

    M = R_g1 / g + s.eta0 * Theta * C_g1
    G = _inv_unit_lower(I + lam3 * (M @ o.R_D))  # (K, T, T)
    F = _inv_unit_lower(I + lam3 * (o.R_D @ M))
    Hv = G.sum(axis=2)  # G_k 1
    N = M @ o.C_D @ M.T

    def sandwich(weights, left, X):  # sum_k weights_k left_k X_k left_k'
        return np.tensordot(weights[:, None, None] * (left @ X), left, axes=([0, 2], [0, 2]))

    C_u = (Hv.T * (w * lam * b)) @ Hv
    C_u += sandwich(w * lam, G, k2 * C_g1 + inv_r * lam3 * N)
    C_a = sandwich(w * lam * inv_r, F, o.C_D)
    inner = (Hv.T * (w * lam**2 * b)) @ Hv + sandwich(w * lam**2 * k2, G, C_g1)
    C_a += o.R_D @ inner @ o.R_D.T
    R_u = -(np.tensordot(w * lam, G, axes=1) @ M) / sq
    R_a = -(np.tensordot(w * lam, F, axes=1) @ o.R_D) / (g * math.sqrt(s.nu_L))
    return {"C_v": C_u, "C_a": C_a, "R_v": R_u, "R_a": R_a, **data_block(s, C_u, R_u)}


def picard_model(s: Setting, modes: int | None = None, bins: int | None = None):
    """(initial order parameters, sweep) of the per-mode DMFT for :func:`dlndyn.bordelon25.theory.solve.solve`."""
    ms = mode_set(s, modes, bins)
    if s.residual:
        def sweep(o, s):
            o = dataclasses.replace(o, **weight_data_block(o, s, o.C_g[0], o.R_g1, ms))
            return dataclasses.replace(o, **residual.hidden_block(o, s))

        return residual.ResidualOrder.initial, sweep

    def sweep(o, s):
        o = dataclasses.replace(o, **weight_data_block(o, s, *layer1_backward(o, s), ms))
        return dataclasses.replace(o, **plain_hidden_block(o, s))

    return Order.initial, sweep


# ----------------------------------------------------------------------------------------
# Theory by forward stepping
# ----------------------------------------------------------------------------------------
def stepper_theory(s: Setting, *, modes: int | None = None, bins: int | None = None,
                   max_bytes: int | None = None) -> pd.DataFrame:
    """The DMFT of ``s`` by exact forward stepping.

    Plain networks: :mod:`dlndyn.bordelon25.theory.stepper`; residual networks:
    :mod:`dlndyn.bordelon25.theory.residual_stepper`.

    Columns: step, train_loss, test_loss, diverged (as :func:`dlndyn.bordelon25.theory.solve.theory`).
    """
    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    step = step_residual if s.residual else step_dmft
    res = step(s, mode_set(s, modes, bins), **kwargs)
    steps = np.arange(s.T)
    return pd.DataFrame({
        "step": steps,
        "train_loss": res.train_loss,
        "test_loss": res.test_loss,
        "diverged": steps >= (s.T if res.t_div is None else res.t_div),
    })


def top_mode_multiplier(M: np.ndarray, modes: Modes) -> np.ndarray:
    """eta0 lambda_max M(t+1, t), t = 0..T-2: the step multiplier of the top mode (docs/bordelon25.md, section 7.5).

    ``M`` is the weight-space kernel of a stepper run (``order["M"]``). A fresh error on the
    top mode is multiplied by 1 - eta0 lambda_max M(t+1, t) in one step (lazy:
    eta0 (L+1) lambda_max), so gradient descent on it is stable while this is below 2.
    """
    return float(np.max(modes.lam)) * np.diagonal(np.asarray(M), -1)


# ----------------------------------------------------------------------------------------
# Exponents
# ----------------------------------------------------------------------------------------
def predicted_exponent(source: float, regime: str) -> float:
    """Predicted log-log slope of L(t) (docs/bordelon25.md, section 7): lazy -b; rich -2b/(1+b) if b < 1."""
    if regime not in REGIMES:
        raise ValueError(f"regime={regime!r}: must be one of {REGIMES}")
    b = float(source)
    if regime == "rich" and b < 1:
        return -2.0 * b / (1.0 + b)
    return -b


def fit_exponent(step, loss, *, decades: float = 1.0, floor: float = 0.0,
                 points: int = 64, t_max: float | None = None) -> float:
    """Least-squares slope of log(loss - floor) against log(step) over the last ``decades``.

    The fit uses up to ``points`` steps spaced evenly in log t over [t_max 10^-decades, t_max]
    (t >= 1), so every part of the decade counts equally; ``t_max`` defaults to the last step.
    ``floor`` is subtracted first (e.g. sigma^2, the label-noise floor of the test loss).
    Raises ValueError if the window holds fewer than 3 usable points (diverged, non-finite
    or at the floor).
    """
    step = np.asarray(step, dtype=float)
    loss = np.asarray(loss, dtype=float) - floor
    ok = np.isfinite(loss) & (loss > 0) & (step >= 1)
    if t_max is not None:
        ok &= step <= t_max
    step, loss = step[ok], loss[ok]
    if step.size < 3:
        raise ValueError("fit_exponent: fewer than 3 usable points")
    t_max = step.max()
    t_min = max(1.0, t_max * 10.0 ** (-decades))
    want = np.unique(np.round(np.geomspace(t_min, t_max, points)))
    sel = np.isin(step, want) & (step >= t_min)
    if sel.sum() < 3:
        sel = step >= t_min
    if sel.sum() < 3:
        raise ValueError("fit_exponent: fewer than 3 points in the fit window")
    slope, _ = np.polyfit(np.log(step[sel]), np.log(loss[sel]), 1)
    return float(slope)


def first_rise(step, loss, *, rtol: float = RISE_RTOL) -> float | None:
    """The first step whose loss exceeds (1 + ``rtol``) times the lowest loss before it.

    None for a loss that never rises. A rich run whose top-mode multiplier passes 2 (edge of
    stability, docs/bordelon25.md, section 7.5) rises here: its catapults are not a power law.
    """
    step = np.asarray(step, dtype=float)
    loss = np.asarray(loss, dtype=float)
    lowest = np.minimum.accumulate(np.where(np.isfinite(loss), loss, np.inf))
    up = np.flatnonzero(loss[1:] > (1.0 + rtol) * lowest[:-1])
    return None if up.size == 0 else float(step[up[0] + 1])


def exponent_fit(step, loss, *, decades: float = 1.0, floor: float = 0.0,
                 rtol: float = RISE_RTOL) -> dict:
    """:func:`fit_exponent` over the last ``decades`` before the loss first rises, flagged.

    A loss that rises (:func:`first_rise` of loss - floor) is fitted on the decade ending
    the step before, so that a late catapult neither bends the slope nor goes unnoticed.
    Returns {"slope", "t_fit_min", "t_fit_max", "first_rise"} (first_rise NaN if the loss
    never rises; slope NaN if the window holds fewer than 3 usable points).
    """
    step = np.asarray(step, dtype=float)
    loss = np.asarray(loss, dtype=float)
    rise = first_rise(step, loss - floor, rtol=rtol)
    usable = step[np.isfinite(loss) & (loss > floor) & (step >= 1)]
    t_max = float(usable.max()) if rise is None or usable.size == 0 else rise - 1.0
    try:
        slope = fit_exponent(step, loss, decades=decades, floor=floor, t_max=t_max)
    except ValueError:
        slope = math.nan
    return {"slope": slope, "t_fit_min": max(1.0, t_max * 10.0 ** (-decades)),
            "t_fit_max": t_max, "first_rise": math.nan if rise is None else rise}


def exponent(s: Setting, *, modes: int, decades: float = 1.0, bins: int | None = None) -> dict:
    """Solve the theory of ``s`` (forward stepper) and measure its late-time exponent.

    Returns {"slope", "t_fit_min", "t_fit_max", "first_rise", "predicted", "regime",
    "final_loss"}; the regime is "lazy" for gamma0 = 0 (or NTK at nu = inf), else "rich".
    The slope is fitted to L(t) - sigma^2 before the loss first rises (:func:`exponent_fit`).
    """
    table = stepper_theory(s, modes=modes, bins=bins)
    if table.diverged.any():
        raise ValueError(f"the theory diverges at step {int(table.diverged.idxmax())} for {s}")
    regime = conventions.regime(s)
    fit = exponent_fit(table.step, table.test_loss, decades=decades, floor=s.sigma**2)
    return {**fit, "predicted": predicted_exponent(s.source, regime), "regime": regime,
            "final_loss": float(table.test_loss.iloc[-1])}
