"""A proportional number of outputs, kappa = C/D > 0 (docs/bordelon25.md, section 11.4).

Partial: the DMFT of kappa > 0 at finite width or on finite data is NOT derived (section 11.4
says why T x T order parameters cannot be the whole story there). What this module holds is
derived and checked: the limit of infinite width and infinite data (``nu = inf`` and
``alpha = inf`` or ``alpha_B = inf``), where the channels decouple along the teacher's singular
directions; :func:`.solve.theory` dispatches kappa > 0 here and refuses it elsewhere.

There every Gram matrix of the network (W^0(t)^T W^0(t)/N, w(t)^T w(t)/N, the end-to-end
B(t)) is a function of the teacher B* alone, so right singular vector k of B* is a single
output with teacher norm s_k = sqrt(lambda_k), lambda_k an eigenvalue of B*^T B*/D (the
Marchenko-Pastur law of ratio kappa, mean 1). A single output with teacher s beta* trains like
one with teacher beta*, richness s gamma and noise sigma/s, at s^2 times the loss (the
readout's 1/gamma and the raw learning rate eta0 gamma^2 N absorb the scale), so

    L_kappa(t) = sigma^2 + E_lambda[ lambda * L_0(t; gamma0 sqrt(lambda), sigma = 0) ],

with L_0 the single-output DMFT; kappa -> 0 concentrates lambda at 1 and gives L_0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..setting import Setting


def teacher_spectrum_rule(ratio: float, nodes: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature (lambda_i, q_i) with sum_i q_i g(lambda_i) ~ E[lambda g(lambda)], lambda an
    eigenvalue of B*^T B*/D for a D x C Gaussian teacher, C/D = ``ratio`` (Marchenko-Pastur,
    mean 1; for ratio > 1 its atom at 0 carries no signal and drops out).

    lambda = 1 + ratio + 2 sqrt(ratio) x turns lambda times the density into
    (2/pi) sqrt(1 - x^2) dx on [-1, 1]: Gauss-Chebyshev of the second kind, exact for
    polynomials of degree < 2 nodes, so the q_i sum to 1.
    """
    if not ratio > 0 or math.isinf(ratio):
        raise ValueError(f"ratio={ratio!r}: must be a finite number > 0")
    if int(nodes) != nodes or nodes < 1:
        raise ValueError(f"nodes={nodes!r}: must be an integer >= 1")
    theta = np.arange(1, nodes + 1) * np.pi / (nodes + 1)
    lam = 1 + ratio + 2 * np.sqrt(ratio) * np.cos(theta)
    q = 2 / (nodes + 1) * np.sin(theta) ** 2
    return lam, q


def covers(s: Setting) -> bool:
    """Whether the kappa > 0 theory of this module covers ``s``: isotropic data, nu = inf and
    infinite data (plain or residual network)."""
    try:
        _check_limit(s)
    except ValueError:
        return False
    return True


def _check_limit(s: Setting) -> None:
    if not math.isinf(s.nu_L):
        raise ValueError(f"Setting.nu={s.nu!r}: the kappa > 0 theory is derived only at "
                         "infinite width, nu=inf (docs/bordelon25.md, section 11.4)")
    if s.online and not math.isinf(s.alpha_B):
        raise ValueError(f"Setting.alpha_B={s.alpha_B!r}: the kappa > 0 theory is derived only "
                         "on infinite data, alpha_B=inf (docs/bordelon25.md, section 11.4)")
    if not s.online and not math.isinf(s.alpha):
        raise ValueError(f"Setting.alpha={s.alpha!r}: the kappa > 0 theory is derived only on "
                         "infinite data, alpha=inf (docs/bordelon25.md, section 11.4)")
    if s.data != "isotropic":
        raise ValueError(f"Setting.data={s.data!r}: the kappa > 0 theory is derived on "
                         "isotropic data only (docs/bordelon25.md, section 11.4)")


def mode_losses(s: Setting, lam, **solver_options) -> np.ndarray:
    """L_0(t; gamma0 sqrt(lambda), sigma=0) for each teacher eigenvalue ``lam``: (len(lam), T).
    lambda times it is the signal loss of one teacher singular direction (nu = inf, infinite
    data); lambda = 0 (a channel without teacher) gives 0 either way."""
    from .solve import theory  # here, not at the top: solve dispatches kappa > 0 to this module

    _check_limit(s)
    out = np.zeros((len(lam), s.T))
    for i, l in enumerate(np.asarray(lam, float)):
        if l > 0:
            single = s.replace(kappa=0.0, gamma0=s.gamma0 * math.sqrt(l), sigma=0.0)
            out[i] = theory(single, **solver_options).test_loss.to_numpy()
    return out


def infinite_width_theory(s: Setting, nodes: int = 32, **solver_options) -> pd.DataFrame:
    """Test and train loss of ``s`` with kappa >= 0 outputs at nu = inf on infinite data
    (columns as :func:`.solve.theory`; train = test loss there). kappa = 0 is the single-output
    DMFT itself; a lazy network (gamma = 0, NTK at nu = inf) has the kernel (L+1) I for every
    kappa.
    A step where a quadrature node diverged reads inf. ``solver_options`` go to each
    single-output :func:`.solve.theory`."""
    from .solve import theory

    _check_limit(s)
    if s.kappa == 0 or s.gamma == 0:
        return theory(s.replace(kappa=0.0), **solver_options)
    lam, q = teacher_spectrum_rule(s.kappa, nodes)
    with np.errstate(invalid="ignore"):
        test = s.sigma**2 + q @ mode_losses(s, lam, **solver_options)
    test[~np.isfinite(test)] = np.inf
    steps = np.arange(s.T)
    return pd.DataFrame({"step": steps, "train_loss": test, "test_loss": test,
                         "diverged": ~np.isfinite(test)})
