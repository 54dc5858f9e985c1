"""The theory's one entry point: which solver solves a setting, and the windowed Picard driver.

``theory(s)`` runs the exact forward stepper by default (plain networks: :mod:`.stepper`;
residual networks: :mod:`.residual_stepper`); ``method="picard"`` runs the windowed
Gauss-Seidel fixed point (:func:`solve`) over the sweep of the architecture and data: plain
(:mod:`.dmft`), residual (:mod:`.residual`) or per-mode power-law (:mod:`.powerlaw`), kept as
an independent check of the stepper.
The equations: docs/bordelon25.md, "The DMFT".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..conventions import divergence_threshold
from ..setting import Setting
from . import outputs, powerlaw, residual
from .dmft import DMFTConvergenceError, Order, _first_bad, _losses, sweep


def _model(s: Setting, modes=None, bins=None):
    """(initial order parameters, sweep) for the architecture and data of ``s``."""
    if s.data == "powerlaw":
        return powerlaw.picard_model(s, modes, bins)
    if s.residual:
        return residual.model(s)
    return Order.initial, sweep


def solve(s: Setting, *, window: int = 5, tol: float = 1e-10, max_iter: int = 300,
          modes: int | None = None, bins: int | None = None):
    """Solve the DMFT for ``s.T`` steps.

    Returns (order parameters, test loss, train loss, index of the first diverged step or
    None). A run whose loss crosses the divergence threshold stops there: later steps are
    left out of the order parameters and read inf in the losses. Raises
    DMFTConvergenceError if a window does not converge within ``max_iter`` sweeps.
    Power-law data needs ``modes`` (the simulation's D; ``bins`` coarse-grains them, see
    :func:`dlndyn.bordelon25.theory.powerlaw.mode_set`). Infinite nu / alpha / alpha_B are solved as values; the
    lazy limit gamma = 0 is not (the sweep divides by gamma): :func:`theory` steps it forward.
    """
    if s.gamma == 0:
        raise ValueError(f"Setting.gamma0={s.gamma0!r} (param={s.param!r}, nu={s.nu!r}) is the "
                         "lazy limit gamma -> 0, which the fixed-point solver cannot take; "
                         "use theory(s), whose forward stepper can")
    initial, sweep = _model(s, modes, bins)
    T = s.T
    threshold = np.inf  # set from the solved initial loss (step 0), as in the simulation
    # Windows of steps 0..Tw-1: first the initial network alone (exact, sets the threshold),
    # then `window` more steps at a time.
    o = initial(1, s.L)
    Tw = 0
    while Tw < T:
        T_prev, Tw = Tw, (1 if Tw == 0 else min(Tw + window, T))
        o = o.padded(Tw) if o.C_v.shape[0] < Tw else o
        converged = blew_up = False
        for it in range(max_iter):
            with np.errstate(all="ignore"):
                new = sweep(o, s)
            if not all(np.all(np.isfinite(A)) for A in new.correlations()):
                blew_up = True  # keep o, the last finite iterate: its settled steps are exact
                break
            scale = max(1.0, max(np.max(np.abs(A)) for A in new.correlations()))
            change = max(
                np.max(np.abs(a - b)) for a, b in zip(new.correlations(), o.correlations())
            ) / scale
            o = new
            if change < tol:
                converged = True
                break
            # A window whose settled prefix already blew up is a divergence, not a failure.
            if _first_bad(o, s, threshold) < T_prev:
                break
        threshold = min(threshold, divergence_threshold(_losses(o, s)[0][0]))
        t_div = _first_bad(o, s, threshold)
        if blew_up:  # overflow inside this window's unsettled steps
            t_div = min(t_div, max(T_prev, 1))
        if t_div < Tw:
            test, train = _losses(o, s)
            test_full, train_full = np.full(T, np.inf), np.full(T, np.inf)
            test_full[:t_div], train_full[:t_div] = test[:t_div], train[:t_div]
            return o, test_full, train_full, t_div
        if not converged:
            raise DMFTConvergenceError(
                f"DMFT did not converge on steps 0..{Tw - 1} after {max_iter} sweeps "
                f"(last relative change {change:.2e}) for {s}"
            )
    test, train = _losses(o, s)
    return o, test, train, None


def has_theory(s: Setting) -> bool:
    """Whether the DMFT covers ``s``: one output (kappa = 0), or kappa > 0 outputs at infinite
    width on infinite data (docs/bordelon25.md, section 11.4; :mod:`.outputs`). A fixed number
    of outputs is the kappa -> 0 limit, where every channel follows the single-output theory
    (section 11.3); kappa > 0 at finite width or on finite data has no derived theory."""
    return s.kappa == 0 or outputs.covers(s)


def theory(s: Setting, *, method: str = "auto", **solver_options) -> pd.DataFrame:
    """Infinite-width test and train loss of setting ``s``.

    Columns: step, train_loss, test_loss, diverged. Under one-pass SGD the train (batch) loss
    equals the test loss in expectation.

    ``method``: "picard" (windowed fixed point, :func:`solve`), "stepper" (exact forward
    stepping: :mod:`dlndyn.bordelon25.theory.stepper` for plain networks,
    :mod:`dlndyn.bordelon25.theory.residual_stepper` for residual ones) or "auto" (= "stepper":
    the same numbers as Picard to ~1e-11, plain 30-800x and residual 10-100x faster; it also
    flags a divergence at the step where the loss crosses the threshold, where Picard may
    flag the start of the window whose iteration overflowed).
    Power-law data needs ``modes=`` (the simulation's D) and accepts ``bins=``.
    """
    if method not in ("auto", "picard", "stepper"):
        raise ValueError(f"method={method!r}: must be 'auto', 'picard' or 'stepper'")
    if not has_theory(s):
        raise ValueError(f"Setting.kappa={s.kappa!r}: no DMFT of a proportional number of "
                         "outputs is derived at finite width or on finite data "
                         f"(nu={s.nu!r}, alpha={s.alpha!r}, alpha_B={s.alpha_B!r}; "
                         "docs/bordelon25.md, section 11.4); kappa=0 is its limit kappa -> 0, "
                         "exact for any fixed number of outputs")
    if s.kappa > 0:
        return outputs.infinite_width_theory(s, method=method, **solver_options)
    if method in ("stepper", "auto"):
        return powerlaw.stepper_theory(s, **solver_options)
    _, test, train, t_div = solve(s, **solver_options)
    steps = np.arange(s.T)
    return pd.DataFrame(
        {
            "step": steps,
            "train_loss": train,
            "test_loss": test,
            "diverged": steps >= (s.T if t_div is None else t_div),
        }
    )
