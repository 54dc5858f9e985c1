"""From a figure's config to runs, tidy tables and agreement numbers (used by the Snakemake rules).

A figure has panels; a panel varies one or more Setting fields over values (a grid) on top of
the figure's ``base`` setting and the panel's ``set`` overrides. Each grid point is a *run*
(one curve): simulated at finite D over seeds, and solved by the DMFT. ``lr_sweep`` panels
run each curve over an eta0 grid (one compiled call for all eta0 x seeds).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import design
from ..core.config import ConfigError
from ..core.tables import read_tables as _read_tables
from . import conventions
from .setting import Setting

KINDS = ("dynamics", "lr_sweep", "final", "exponent")


# ----------------------------------------------------------------------------------------
# Config validation
# ----------------------------------------------------------------------------------------
def check_config(config: dict) -> dict:
    """Check every run of the paper's config (already schema-validated) builds a valid Setting.

    Raises ConfigError naming the panel.
    """
    for fig in config["figures"]:
        for panel, pcfg in config["figures"][fig]["panels"].items():
            try:
                panel_runs(config, fig, panel)
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"config key 'bordelon25.figures.{fig}.panels.{panel}': {err}") from None
    return config


# ----------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    fig: str
    panel: str
    curve: str
    kind: str
    setting: Setting
    vary: dict  # the swept fields and their values for this curve
    D: int
    seeds: int
    eta0_grid: tuple | None
    simulated: bool = True  # False: a theory-only curve (e.g. an infinite-width limit)
    modes: int | None = None  # power-law data: modes of the theory (default D)
    bins: int | None = None  # power-law data: coarse-grain the modes into this many groups

    def params(self) -> dict:
        """Plain dict for Snakemake params (changes to it rerun the job)."""
        return {
            "fig": self.fig,
            "panel": self.panel,
            "curve": self.curve,
            "kind": self.kind,
            "setting": self.setting.asdict(),
            "vary": dict(self.vary),
            "D": self.D,
            "seeds": self.seeds,
            "eta0_grid": None if self.eta0_grid is None else list(self.eta0_grid),
            "simulated": self.simulated,
            "modes": self.modes,
            "bins": self.bins,
        }

    @classmethod
    def from_params(cls, p: dict) -> Run:
        p = dict(p)
        p["setting"] = Setting(**p["setting"])
        p["eta0_grid"] = None if p["eta0_grid"] is None else tuple(p["eta0_grid"])
        return cls(**p)

    def columns(self) -> dict:
        """Identifying columns prepended to every table row of this run."""
        return {"fig": self.fig, "panel": self.panel, "curve": self.curve,
                **self.setting.asdict(), "D": self.D}


def eta0_grid(spec) -> tuple | None:
    return design.grid(spec)


def panel_runs(config: dict, fig: str, panel: str) -> list[Run]:
    """The runs of a panel: each entry of ``curves`` (default one empty entry) combined with
    every point of the ``vary`` grid, on top of the figure's ``base`` and the panel's ``set``.

    With ``units: physical`` the eta0 and gamma0 of the panel are physical rates (spec 7:
    lambda_1 = 1), converted to Setting units on the theory's number of modes.
    """
    fcfg = config["figures"][fig]
    pcfg = fcfg["panels"][panel]
    vary = pcfg.get("vary", {})
    kind = pcfg.get("kind", "dynamics")
    D = int(pcfg.get("D", fcfg["D"]))
    modes = pcfg.get("modes")
    runs = []
    for extra in pcfg.get("curves", [{}]):
        for values in design.product(vary):
            point = {**extra, **values}
            setting = Setting(**{**fcfg.get("base", {}), **pcfg.get("set", {}), **point})
            if pcfg.get("units") == "physical":
                from .theory.powerlaw import physical_setting

                setting = physical_setting(setting, modes or D, eta=setting.eta0,
                                           gamma=setting.gamma0)
            curve = "_".join(f"{k}~{design.format_value(v)}" for k, v in point.items()) or "base"
            runs.append(
                Run(
                    fig=fig,
                    panel=panel,
                    curve=curve,
                    kind=kind,
                    setting=setting,
                    vary=point,
                    D=D,
                    seeds=int(pcfg.get("seeds", fcfg["seeds"])),
                    eta0_grid=eta0_grid(pcfg.get("eta0")),
                    simulated=not pcfg.get("theory_only", kind == "exponent"),
                    modes=modes,
                    bins=pcfg.get("bins"),
                )
            )
    return runs


def figure_runs(config: dict, fig: str) -> list[Run]:
    return [r for p in config["figures"][fig]["panels"] for r in panel_runs(config, fig, p)]


def find_run(config: dict, fig: str, panel: str, curve: str) -> Run:
    for run in panel_runs(config, fig, panel):
        if run.curve == curve:
            return run
    raise KeyError(f"no run {fig}/{panel}/{curve} in the config")


def design_table(runs: list[Run]) -> pd.DataFrame:
    """One row per run: the experimental design of a figure."""
    rows = []
    for r in runs:
        rows.append({**r.columns(), "kind": r.kind, "seeds": r.seeds,
                     "vary": ",".join(r.vary), "n_eta0": len(r.eta0_grid or ()),
                     "simulated": r.simulated, **{f"vary_{k}": v for k, v in r.vary.items()}})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------
# Computing the tables
# ----------------------------------------------------------------------------------------
def device_name() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', '')}"


def simulate_run(run: Run, *, seed: int = 0, dtype: str = "float32", log=print) -> pd.DataFrame:
    """Simulate one run over its seeds (and eta0 grid): tidy table with run columns."""
    s = run.setting
    start = time.perf_counter()
    from .sim.engine import simulate  # JAX: only simulation jobs load it

    table = simulate(s, D=run.D, seeds=run.seeds, seed=seed, eta0_grid=run.eta0_grid, dtype=dtype)
    if "eta0" not in table:
        table.insert(0, "eta0", s.eta0)
    sizes = s.sizes(run.D)
    log(
        f"{run.fig}/{run.panel}/{run.curve}: {run.seeds} seeds x {len(run.eta0_grid or [1])} eta0"
        f" x {s.T} steps, N={sizes['N']} P={sizes['P']}, on {device_name()}:"
        f" {time.perf_counter() - start:.1f} s, diverged runs:"
        f" {int(table.groupby(['seed', 'eta0']).diverged.any().sum())}"
    )
    cols = {k: v for k, v in run.columns().items() if k != "eta0"}
    table = table.assign(**cols, N=sizes["N"], P=sizes["P"], device=device_name())
    return table


def theory_run(run: Run, *, log=print) -> pd.DataFrame:
    """DMFT of one run (each eta0 of its grid): tidy table with run columns.

    A point whose solve does not converge is kept as a row with ``converged=False`` and NaN
    losses, and logged; it is never silently dropped or filled in.
    """
    start = time.perf_counter()
    from .theory.dmft import DMFTConvergenceError
    from .theory.solve import theory

    grid = run.eta0_grid or (run.setting.eta0,)
    parts = []
    for eta0 in grid:
        s = run.setting.replace(eta0=eta0)
        try:
            df = theory(s, modes=run.modes or run.D, bins=run.bins).assign(converged=True)
        except DMFTConvergenceError as err:
            log(f"WARNING: {err}")
            steps = np.arange(s.T)
            df = pd.DataFrame({"step": steps, "train_loss": np.nan, "test_loss": np.nan,
                               "diverged": False, "converged": False})
        parts.append(df.assign(eta0=eta0))
    table = pd.concat(parts, ignore_index=True)
    cols = {k: v for k, v in run.columns().items() if k not in ("eta0", "D")}
    log(f"{run.fig}/{run.panel}/{run.curve}: DMFT, {len(grid)} eta0 x {run.setting.T} steps:"
        f" {time.perf_counter() - start:.1f} s")
    return table.assign(**cols)


def read_tables(paths) -> pd.DataFrame:
    """Concatenate run tables (an empty table with the key columns when there are none)."""
    return _read_tables(paths, columns=["panel", "curve", "eta0", "step", "seed", "train_loss",
                                        "test_loss", "diverged"])


# ----------------------------------------------------------------------------------------
# Summaries shared by plots and agreement tables
# ----------------------------------------------------------------------------------------
def seed_summary(sim: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Mean and standard error over seeds per (panel, curve, eta0, step).

    A point where any seed diverged has mean inf and ``diverged`` True.
    """
    keys = ["panel", "curve", "eta0", "step"]
    g = sim.groupby(keys, sort=False)
    out = g[quantity].agg(["mean", "sem"]).reset_index()
    out["diverged"] = g["diverged"].any().values
    out.loc[out.diverged, "mean"] = np.inf
    return out


def final_losses(table: pd.DataFrame, quantity: str = "test_loss") -> pd.DataFrame:
    """The loss at the last step of each run and eta0 (mean and s.e.m. over seeds if simulated)."""
    last = table[table.step == table.step.max()]
    if "seed" in last:
        return seed_summary(last, quantity)
    out = last[["panel", "curve", "eta0", "step", quantity, "diverged"]]
    return out.rename(columns={quantity: "mean"}).assign(sem=0.0)


def agreement(sim: pd.DataFrame, th: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Theory vs simulation per curve: relative error of the seed-mean against the DMFT.

    dynamics: over steps t >= 1 for test and train loss. lr_sweep: final test loss over the
    eta0 grid points where neither diverged, plus both optimal eta0. final: final test loss.
    """
    rows = []
    if sim.empty or kind == "exponent":  # theory-only curves
        return pd.DataFrame(columns=["panel", "curve", "quantity", "n_points", "rel_err_mean",
                                     "rel_err_max", "rel_sem_mean"])
    quantities = ["test_loss", "train_loss"] if kind == "dynamics" else ["test_loss"]
    for q in quantities:
        if kind == "dynamics":
            s = seed_summary(sim[sim.step >= 1], q)
            t = th[th.step >= 1][["panel", "curve", "eta0", "step", q, "diverged"]]
        else:  # lr_sweep, final
            s, t = final_losses(sim, q), final_losses(th, q).rename(columns={"mean": q})
        m = s.merge(t, on=["panel", "curve", "eta0", "step"], suffixes=("", "_th"))
        ok = ~m.diverged & ~m.diverged_th & np.isfinite(m[q]) & (m[q] > 0)
        m = m[ok]
        m["rel_err"] = (m["mean"] - m[q]).abs() / m[q]
        m["rel_sem"] = m["sem"] / m[q]
        for (panel, curve), c in m.groupby(["panel", "curve"], sort=False):
            row = {"panel": panel, "curve": curve, "quantity": q, "n_points": len(c),
                   "rel_err_mean": c.rel_err.mean(), "rel_err_max": c.rel_err.max(),
                   "rel_sem_mean": c.rel_sem.mean()}
            if kind == "lr_sweep":
                row["eta0_opt_sim"] = _argmin_eta0(s[(s.panel == panel) & (s.curve == curve)])
                row["eta0_opt_theory"] = _argmin_eta0(
                    t[(t.panel == panel) & (t.curve == curve)].rename(columns={q: "mean"}))
            rows.append(row)
    return pd.DataFrame(rows)


def optimal_lr(sim: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """Optimal eta0 (lowest seed-mean final test loss, diverged points excluded) per lr_sweep run.

    Columns: the Setting fields that differ between the runs (e.g. branch_scale, L), eta0_opt.
    """
    runs = [r for r in runs if r.kind == "lr_sweep"]
    settings = [r.setting.asdict() for r in runs]
    fields = [k for k in settings[0] if k != "eta0" and len({str(d[k]) for d in settings}) > 1]
    fields.sort(key=lambda k: k in runs[0].vary)  # panel-level fields first, then swept ones
    summary = final_losses(sim)
    rows = []
    for run, d in zip(runs, settings):
        mine = summary[(summary.panel == run.panel) & (summary.curve == run.curve)]
        rows.append({**{k: d[k] for k in fields}, "eta0_opt": _argmin_eta0(mine)})
    return pd.DataFrame(rows)


def exponent_table(th: pd.DataFrame, curves, decades: float = 1.0) -> pd.DataFrame:
    """Late-time log-log slope of each curve's theory loss against its prediction.

    ``curves``: (panel, curve, Setting) triples. Columns: source, regime (lazy: gamma = 0,
    else rich), L, slope (fitted over the last ``decades`` of t to L(t) - sigma^2; NaN if the
    run diverged), predicted (spec section 7).
    """
    from .theory.powerlaw import fit_exponent, predicted_exponent

    rows = []
    for panel, curve, s in curves:
        t = th[(th.panel == panel) & (th.curve == curve)]
        regime = conventions.regime(s)
        slope = math.nan
        if not t.diverged.any():
            slope = fit_exponent(t.step, t.test_loss, decades=decades, floor=s.sigma**2)
        rows.append({"source": s.source, "regime": regime, "L": s.L, "slope": slope,
                     "predicted": predicted_exponent(s.source, regime)})
    return pd.DataFrame(rows)


def design_curves(design: pd.DataFrame, panel: str):
    """(panel, curve, Setting) of every run of a panel, read back from the design table."""
    fields = Setting.__dataclass_fields__
    for _, row in design[design.panel == panel].iterrows():
        kw = {k: row[k] for k in fields}
        kw["alpha_B"] = None if pd.isna(kw["alpha_B"]) else float(kw["alpha_B"])
        kw["residual"] = bool(kw["residual"])
        yield panel, row["curve"], Setting(**kw)


def _argmin_eta0(summary: pd.DataFrame) -> float:
    finite = summary[np.isfinite(summary["mean"]) & ~summary["diverged"]]
    return math.nan if finite.empty else float(finite.loc[finite["mean"].idxmin(), "eta0"])
