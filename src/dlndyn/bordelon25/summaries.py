"""Numbers the figures show and the pipeline writes next to them, from tidy tables only:
seed averages, final losses, theory-vs-simulation agreement, optimal learning rates, exponents.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.tables import read_table, write_table
from . import conventions
from .pipeline import KINDS, figure_tables
from .setting import Setting


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
    """The loss at the last step of each run and eta0 (mean and s.e.m. over seeds if simulated).

    The last step of each (panel, curve): panels of one figure may have different horizons."""
    last = table[table.step == table.groupby(["panel", "curve"]).step.transform("max")]
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


def optimal_lr(sim: pd.DataFrame, design: pd.DataFrame, th: pd.DataFrame | None = None
               ) -> pd.DataFrame:
    """Optimal eta0 (lowest seed-mean final test loss, diverged points excluded) per lr_sweep run.

    Columns: the Setting fields that differ between the runs (e.g. branch_scale, L), eta0_opt
    (simulation) and, given the theory's table ``th``, eta0_opt_theory (the DMFT's).
    """
    runs = design[design.kind == "lr_sweep"]
    fields = [k for k in Setting.__dataclass_fields__
              if k != "eta0" and runs[k].astype(str).nunique() > 1]
    swept = set(str(runs.iloc[0]["vary"]).split(","))
    fields.sort(key=lambda k: k in swept)  # panel-level fields first, then swept ones
    summary = final_losses(sim)
    rows = []
    for _, run in runs.iterrows():
        mine = summary[(summary.panel == run["panel"]) & (summary.curve == run["curve"])]
        row = {**{k: run[k] for k in fields}, "eta0_opt": _argmin_eta0(mine)}
        if th is not None:
            theirs = th[(th.panel == run["panel"]) & (th.curve == run["curve"])]
            row["eta0_opt_theory"] = _argmin_eta0(final_losses(theirs))
        rows.append(row)
    return pd.DataFrame(rows)


def exponent_table(th: pd.DataFrame, curves, decades: float = 1.0) -> pd.DataFrame:
    """Late-time log-log slope of each curve's theory loss against its prediction.

    ``curves``: (panel, curve, Setting) triples. Columns: source, regime (lazy: gamma = 0,
    else rich), L, slope (fitted over the last ``decades`` of t to L(t) - sigma^2 before the
    loss first rises; NaN if the run diverged), predicted (docs/bordelon25.md, section 7),
    t_fit_min, t_fit_max (the fit window) and first_rise (the step where the loss first
    rises, e.g. an edge-of-stability catapult, section 7.5; NaN if it never does).
    """
    from .theory.powerlaw import exponent_fit, predicted_exponent

    rows = []
    for panel, curve, s in curves:
        t = th[(th.panel == panel) & (th.curve == curve)]
        regime = conventions.regime(s)
        fit = {"slope": math.nan, "t_fit_min": math.nan, "t_fit_max": math.nan,
               "first_rise": math.nan}
        if not t.diverged.any():
            fit = exponent_fit(t.step, t.test_loss, decades=decades, floor=s.sigma**2)
        rows.append({"source": s.source, "regime": regime, "L": s.L, "slope": fit["slope"],
                     "predicted": predicted_exponent(s.source, regime),
                     **{k: fit[k] for k in ("t_fit_min", "t_fit_max", "first_rise")}})
    return pd.DataFrame(rows)


def finite_size_table(sim: pd.DataFrame, th: pd.DataFrame, design: pd.DataFrame) -> pd.DataFrame:
    """Theory against simulation at the last step as the input dimension D grows.

    One row per finite_size run: D, seeds, diverged (seeds whose run diverged, left out of the
    mean), the seed mean and s.e.m. of the final test loss, the theory's, the relative gap
    |sim - theory| / theory with its s.e.m., and gap_slope, the least-squares slope of
    log(rel_gap) against log(D) over the D of the same point (docs/bordelon25.md, section 4.6).
    """
    runs = design[design.kind == "finite_size"]
    rows = []
    for _, run in runs.iterrows():
        s = sim[(sim.panel == run["panel"]) & (sim.curve == run["curve"])]
        last = s[s.step == s.step.max()]
        bad = last.groupby("seed").diverged.any()
        ok = last[last.seed.isin(bad.index[~bad])].test_loss
        t = th[(th.panel == run["panel"]) & (th.curve == run["curve"])]
        t_last = float(t.test_loss[t.step == t.step.max()].iloc[0]) if len(t) else math.nan
        mean = float(ok.mean()) if len(ok) else math.nan
        sem = float(ok.std(ddof=1) / math.sqrt(len(ok))) if len(ok) > 1 else math.nan
        point = ",".join(k for k in str(run["vary"]).split(",") if k not in ("D", "nan", ""))
        rows.append({"panel": run["panel"], "curve": run["curve"],
                     "point": "_".join(f"{k}~{run[f'vary_{k}']}" for k in point.split(",") if k),
                     "D": int(run["D"]), "seeds": int(run["seeds"]), "diverged": int(bad.sum()),
                     "sim_mean": mean, "sim_sem": sem, "theory": t_last,
                     "rel_gap": abs(mean - t_last) / t_last, "rel_gap_sem": sem / t_last})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for _, g in table.groupby(["panel", "point"], sort=False):
        ok = g[np.isfinite(g.rel_gap) & (g.rel_gap > 0)]
        slope = (np.polyfit(np.log(ok.D), np.log(ok.rel_gap), 1)[0] if ok.D.nunique() > 1
                 else math.nan)
        table.loc[g.index, "gap_slope"] = slope
    return table


def design_curves(design: pd.DataFrame, panel: str):
    """(panel, curve, Setting) of every run of a panel, read back from the design table."""
    for _, row in design[design.panel == panel].iterrows():
        row = row.to_dict()
        row["alpha_B"] = None if pd.isna(row["alpha_B"]) else float(row["alpha_B"])
        row["residual"] = bool(row["residual"])
        yield panel, row["curve"], Setting.from_table(row)


def _argmin_eta0(summary: pd.DataFrame) -> float:
    finite = summary[np.isfinite(summary["mean"]) & ~summary["diverged"]]
    return math.nan if finite.empty else float(finite.loc[finite["mean"].idxmin(), "eta0"])


def figure_summary(name: str, fcfg: dict, design_path, sim_paths, theory_paths) -> pd.DataFrame:
    """The summary table ``name`` (agreement, optimal_lr, exponents) of a figure from its files."""
    design = read_table(design_path)
    sim = figure_tables(design, sim_paths, "sim")
    th = figure_tables(design, theory_paths, "theory")
    kinds = {panel: pcfg.get("kind", "dynamics") for panel, pcfg in fcfg["panels"].items()}
    if name == "agreement":
        parts = [agreement(sim[sim.panel == p], th[th.panel == p], k).assign(kind=k)
                 for p, k in kinds.items() if "agreement" in KINDS[k].summaries]
        # a theory-only panel has no rows; its empty (object) columns would turn every
        # column of the concatenation into objects, written unrounded
        return pd.concat([t for t in parts if not t.empty] or parts[:1], ignore_index=True)
    if name == "optimal_lr":
        return optimal_lr(sim, design, th)
    if name == "exponents":
        curves = [c for p, k in kinds.items() if k == "exponent" for c in design_curves(design, p)]
        return exponent_table(th, curves)
    if name == "finite_size":
        return finite_size_table(sim, th, design)
    raise ValueError(f"summary={name!r}: must be one of agreement, optimal_lr, exponents, "
                     "finite_size")


def write_figure_summary(name: str, fcfg: dict, inputs, out, log) -> None:
    """:func:`figure_summary` from a rule's inputs (design, sim, theory) to ``out``, logged."""
    table = figure_summary(name, fcfg, inputs.design, inputs.sim, inputs.theory)
    with open(log, "w") as f:
        print(table.to_string(index=False), file=f)
    write_table(table, out)
