"""From the paper's config block to tidy tables and the numbers next to each figure
(used by the Snakemake rules; docs/terjek25.md, "Figures").

F1 (depth), one job per parameterization: the loss after a fixed number of steps against the
learning rate for every depth, then, at the deepest depth and the best learning rate found there,
one instrumented run whose per-layer preactivation second moments at initialisation and after
training are the profile panel. F2 (catapult), one job per schedule: constant eta = c / lambda_0
against the geometry-aware eta_t = c / lambda_max(t), both from the same initial eta * sharpness.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import design
from ..core.config import ConfigError
from .eoc import critical_point
from .recon import Setup

CATAPULT_WINDOW = (2.0, 4.0)  # eta * sharpness: lazy below 2, catapult between (docs, "F2")


def base_setup(cfg: dict, seed: int = 0) -> Setup:
    """The Setup shared by every run of the paper's config block (model, data, nuP choices)."""
    m, d, nup = cfg["model"], cfg["data"], cfg["nup"]
    return Setup(data=d["name"], teacher_dim=d["teacher_dim"],
                 activation=m["activation"], sigma_b2=m["sigma_b2"],
                 first_layer=m["first_layer"], width_exponent=nup["width_exponent"],
                 base_depth=nup["base_depth"], update_target=nup["update_target"],
                 seed=int(seed))


def f1_setups(cfg: dict, parameterization: str, seed: int = 0) -> list[Setup]:
    f = cfg["figures"]["f1"]
    base = base_setup(cfg, seed)
    return [base.replace(depth=int(depth), width=f["width"], steps=f["steps"],
                         n_train=f["n_train"], probe=f["n_train"],
                         parameterization=parameterization,
                         width_rule=f["width_rule"][parameterization], layer_stats=False,
                         sharpness_every=0)
            for depth in f["depths"]]


def f2_setup(cfg: dict, schedule: str, seed: int = 0) -> Setup:
    f = cfg["figures"]["f2"]
    return base_setup(cfg, seed).replace(
        depth=f["depth"], width=f["width"], steps=f["steps"], width_rule=f["width_rule"],
        n_train=f["n_train"],
        parameterization=f["parameterization"], schedule=schedule, c=f["c"],
        eta_max=f["eta_max"], sharpness_every=f["sharpness_every"],
        power_iters=f["power_iters"], probe=f["probe"], optimizer=f["optimizer"],
        batch_size=f["batch_size"])


def check_config(cfg: dict) -> dict:
    """Check every run of the (schema-validated) block builds a valid Setup and that the EOC
    point exists; raises ConfigError naming the key."""
    try:
        critical_point(cfg["model"]["activation"], cfg["model"]["sigma_b2"])
    except ValueError as err:
        raise ConfigError(f"config key 'terjek25.model': {err}") from None
    for fig, check in (("f1", lambda: [f1_setups(cfg, p) for p in
                                       cfg["figures"]["f1"]["parameterizations"]]),
                       ("f2", lambda: [f2_setup(cfg, s) for s in
                                       cfg["figures"]["f2"]["schedules"]])):
        try:
            check()
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"config key 'terjek25.figures.{fig}': {err}") from None
    return cfg


# ----------------------------------------------------------------------------------------
# F1: depth
# ----------------------------------------------------------------------------------------
def run_f1(cfg: dict, parameterization: str, seed: int = 0):
    """(sweep, profile) tables of one parameterization.

    sweep: parameterization, depth, width, eta, loss, diverged (loss after `steps` updates).
    profile: parameterization, depth, width, eta, when (init | trained), layer, preact_var.
    """
    from .training import final_losses, train

    etas = design.grid(cfg["figures"]["f1"]["etas"][parameterization])
    rows = []
    for setup in f1_setups(cfg, parameterization, seed):
        df = final_losses(setup, etas)
        df.insert(0, "width", setup.widths()[0])
        df.insert(0, "depth", setup.depth)
        rows.append(df)
    sweep = pd.concat(rows, ignore_index=True)
    sweep.insert(0, "parameterization", parameterization)
    deepest = f1_setups(cfg, parameterization, seed)[-1]
    eta = best_eta(sweep[sweep.depth == deepest.depth])
    _, layers = train(deepest.replace(layer_stats=True, eta=eta))
    ends = layers[layers.step.isin([0, deepest.steps])].copy()
    ends["when"] = np.where(ends.step == 0, "init", "trained")
    profile = ends[["when", "layer", "preact_var", "feature_change"]].reset_index(drop=True)
    for col, value in (("steps", deepest.steps), ("eta", eta), ("width", deepest.widths()[0]),
                       ("depth", deepest.depth), ("parameterization", parameterization)):
        profile.insert(0, col, value)
    return sweep, profile


def best_eta(sweep: pd.DataFrame) -> float:
    """The learning rate of the lowest finite loss (NaN when every run diverged)."""
    ok = sweep[np.isfinite(sweep.loss)]
    return float(ok.eta[ok.loss.idxmin()]) if len(ok) else float("nan")


def f1_numbers(sweep: pd.DataFrame) -> pd.DataFrame:
    """Optimal learning rate per depth and parameterization, and its shift across depth.

    Columns: parameterization, depth, width, eta_opt, loss_at_opt, eta_opt_over_shallowest,
    edge_of_grid (the optimum is the grid's first or last point, so the true one may lie outside).
    """
    rows = []
    for (par, depth), g in sweep.groupby(["parameterization", "depth"], sort=True):
        eta = best_eta(g)
        finite = g[np.isfinite(g.loss)]
        rows.append({"parameterization": par, "depth": depth, "width": int(g.width.iloc[0]),
                     "eta_opt": eta,
                     "loss_at_opt": float(finite.loss.min()) if len(finite) else float("inf"),
                     "edge_of_grid": bool(eta in (g.eta.min(), g.eta.max()))})
    out = pd.DataFrame(rows)
    out["eta_opt_over_shallowest"] = out.groupby("parameterization").eta_opt.transform(
        lambda s: s / s.iloc[0])
    return out


# ----------------------------------------------------------------------------------------
# F2: catapult
# ----------------------------------------------------------------------------------------
def run_f2(cfg: dict, schedule: str, seed: int = 0):
    """(steps, layers) tables of one schedule, with a 'schedule' column first.

    Both schedules start from eta_0 * lambda_0 = c, lambda_0 the sharpness at initialisation
    (measured with `power_iters_init` iterations): constant keeps eta_0, geometric sets
    eta_t = min(c / lambda_max(t), eta_max).
    """
    import jax

    from .model import init
    from .training import load_data, sharpness, train

    setup = f2_setup(cfg, schedule, seed)
    x, y = load_data(setup)
    params0 = init(jax.random.fold_in(jax.random.key(setup.seed), 1), setup, x.shape[1],
                   y.shape[1])
    lam0 = float(sharpness(params0, x, y, setup.activation,
                           iters=cfg["figures"]["f2"]["power_iters_init"]))
    steps, layers = train(setup.replace(eta=setup.c / lam0))
    steps.insert(0, "schedule", schedule)
    layers.insert(0, "schedule", schedule)
    steps["lambda0"] = lam0
    return steps, layers


def f2_numbers(steps: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per schedule: eta_0, lambda_0, the fraction of measured steps with eta * sharpness in the
    catapult window (2, 4), the fraction below 2, the sharpness at the end, the first and final
    loss, the number of steps where the loss rose, and the mean update cosine over layers in the
    first and second half of training."""
    rows = []
    for sched, g in steps.groupby("schedule", sort=False):
        run = g[g.step < g.step.max()]
        m = run.dropna(subset=["sharpness"])
        prod = (m.eta * m.sharpness).to_numpy()
        lay = layers[(layers.schedule == sched) & layers.update_cosine.notna()]
        half = g.step.max() / 2
        rows.append({
            "schedule": sched, "eta_0": float(run.eta.iloc[0]), "lambda_0": float(g.lambda0.iloc[0]),
            "catapult_fraction": float(np.mean((prod > CATAPULT_WINDOW[0])
                                               & (prod < CATAPULT_WINDOW[1]))),
            "below_2_fraction": float(np.mean(prod <= CATAPULT_WINDOW[0])),
            "sharpness_end": float(g.sharpness.dropna().iloc[-1]),
            "loss_0": float(g.loss.iloc[0]), "loss_end": float(g.loss.iloc[-1]),
            "loss_increases": int(np.sum(np.diff(g.loss.to_numpy()) > 0)),
            "diverged": bool(g.diverged.any()),
            "cosine_first_half": float(lay[lay.step < half].update_cosine.mean()),
            "cosine_second_half": float(lay[lay.step >= half].update_cosine.mean()),
        })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------
# Jobs (one call per Snakemake job)
# ----------------------------------------------------------------------------------------
def f1_job(cfg: dict, parameterization: str, seed: int, dtype: str, sweep_path, profile_path):
    """Run F1 for one parameterization in ``dtype`` and write its two tables."""
    from ..core.tables import write_table
    from ..core.train import precision

    with precision(dtype):
        sweep, profile = run_f1(cfg, parameterization, seed)
    write_table(sweep, sweep_path)
    write_table(profile, profile_path)


def f2_job(cfg: dict, schedule: str, seed: int, dtype: str, steps_path, layers_path):
    """Run F2 for one schedule in ``dtype`` and write its two tables."""
    from ..core.tables import write_table
    from ..core.train import precision

    with precision(dtype):
        steps, layers = run_f2(cfg, schedule, seed)
    write_table(steps, steps_path)
    write_table(layers, layers_path)


def f1_outputs(cfg: dict, sweep_paths, profile_paths, figure_paths, numbers_path):
    """Read F1's tables, write the optimal-eta table and draw the figure."""
    from ..core.tables import read_tables, write_table
    from .plotting import plot_f1

    sweep, profile = read_tables(sweep_paths), read_tables(profile_paths)
    write_table(f1_numbers(sweep), numbers_path)
    _, q_star = critical_point(cfg["model"]["activation"], cfg["model"]["sigma_b2"])
    plot_f1(sweep, profile, q_star, figure_paths)


def f2_outputs(steps_paths, layers_paths, figure_paths, numbers_path):
    """Read F2's tables, write the catapult numbers and draw the figure."""
    from ..core.tables import read_tables, write_table
    from .plotting import plot_f2

    steps, layers = read_tables(steps_paths), read_tables(layers_paths)
    write_table(f2_numbers(steps, layers), numbers_path)
    plot_f2(steps, layers, figure_paths, CATAPULT_WINDOW)
