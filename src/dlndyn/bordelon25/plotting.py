"""Paper figures from the tidy tables: simulation solid (mean over seeds, +-1 s.e.m. band),
DMFT theory dashed, one colour per curve, log axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from ..core.plot import STYLE, colors, panel_grid, save_figure
from ..core.tables import read_table
from .pipeline import figure_tables
from . import conventions
from .summaries import (design_curves, exponent_table, final_losses, finite_size_table,
                        seed_summary)
from .theory.powerlaw import predicted_exponent

SYMBOLS = {"nu": r"\nu", "alpha": r"\alpha", "alpha_B": r"\alpha_B", "gamma0": r"\gamma_0",
           "eta0": r"\eta_0", "sigma": r"\sigma", "beta0": r"\beta_0", "L": "L",
           "source": "b", "capacity": "a", "kappa": r"\kappa"}

DIVERGED_MARKER = dict(marker="x", ms=5, mew=1.2, ls="none")


def curve_label(vary: dict) -> str:
    parts = [f"${SYMBOLS.get(k, k)}={_num(v)}$" for k, v in vary.items()]
    return ", ".join(parts)


def _num(v) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def _vary(row) -> dict:
    """The swept values of a design row (as given in the config, e.g. physical units)."""
    return {k: row[f"vary_{k}"] for k in str(row["vary"]).split(",") if k and k != "nan"}


def _curves(design: pd.DataFrame, panel: str):
    rows = design[design.panel == panel]
    for (_, row), color in zip(rows.iterrows(), colors(len(rows))):
        yield row["curve"], curve_label(_vary(row)), color


def _power_law_guides(ax, design, th, panel):
    """Dotted guides t^-b (lazy) and t^-2b/(1+b) (rich, b < 1) through half of each theory
    curve's value at a tenth of its horizon (docs/bordelon25.md, section 7)."""
    for _, curve, setting in design_curves(design, panel):
        t = th[(th.panel == panel) & (th.curve == curve)]
        t = t[np.isfinite(t.test_loss) & (t.step >= 1)]
        if t.empty:
            continue
        slope = predicted_exponent(setting.source, conventions.regime(setting))
        t0 = max(1, int(t.step.max() / 10))
        y0 = float(t.test_loss[t.step >= t0].iloc[0]) * 0.5
        x = np.array([t0, t.step.max()])
        ax.plot(x, y0 * (x / t0) ** slope, color="0.35", lw=0.9, ls=":")
        ax.annotate(f"$t^{{{slope:.2f}}}$", (x[1], y0 * (x[1] / t0) ** slope), fontsize=7,
                    color="0.3", xytext=(2, 0), textcoords="offset points", va="center")


def plot_dynamics(ax, pcfg, design, sim, th, panel):
    show_train = pcfg.get("show_train", False)
    for curve, label, color in _curves(design, panel):
        for q, alpha, lw in [("test_loss", 1.0, 1.6), ("train_loss", 0.55, 1.0)][: 1 + show_train]:
            s = seed_summary(sim[(sim.panel == panel) & (sim.curve == curve) & (sim.step >= 1)], q)
            finite = s[np.isfinite(s["mean"])]
            if s.empty:  # a theory-only curve
                finite = s
            lo = np.clip(finite["mean"] - finite["sem"], 1e-300, None)
            ax.plot(finite.step, finite["mean"], color=color, alpha=alpha, lw=lw,
                    label=label if q == "test_loss" and not s.empty else None)
            ax.fill_between(finite.step, lo, finite["mean"] + finite["sem"], color=color,
                            alpha=0.18 * alpha, lw=0)
            if len(finite) < len(s) and len(finite):  # diverged: mark where it blew up
                ax.plot(finite.step.iloc[-1], finite["mean"].iloc[-1], color=color,
                        **DIVERGED_MARKER)
            t = th[(th.panel == panel) & (th.curve == curve) & (th.step >= 1)]
            t = t[np.isfinite(t[q])]
            ax.plot(t.step, t[q], color=color, alpha=alpha, lw=lw, ls=(0, (3, 2)),
                    label=label if s.empty and q == "test_loss" else None)
    if pcfg.get("guides"):
        _power_law_guides(ax, design, th, panel)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("loss (test solid, train faint)" if show_train else "test loss")


def plot_lr_sweep(ax, pcfg, design, sim, th, panel):
    ymax = 0.0
    for curve, label, color in _curves(design, panel):
        s = final_losses(sim[(sim.panel == panel) & (sim.curve == curve)])
        t = final_losses(th[(th.panel == panel) & (th.curve == curve)])
        ok = s[np.isfinite(s["mean"]) & ~s.diverged]
        ax.errorbar(ok.eta0, ok["mean"], yerr=ok["sem"], color=color, marker="o", ms=3,
                    capsize=0, label=label)
        tok = t[np.isfinite(t["mean"]) & ~t.diverged]
        ax.plot(tok.eta0, tok["mean"], color=color, ls=(0, (3, 2)), lw=1.2)
        if len(ok):
            best = ok.loc[ok["mean"].idxmin()]
            ax.plot(best.eta0, best["mean"], color=color, marker="*", ms=10, mec="k", mew=0.5)
            ymax = max(ymax, ok["mean"].max(), tok["mean"].max() if len(tok) else 0.0)
        div = s[s.diverged]
        if len(div):
            ax.plot(div.eta0, np.full(len(div), np.nan), color=color)  # keeps colour order
            ax.plot(div.eta0, [1.0] * len(div), color=color, transform=ax.get_xaxis_transform(),
                    clip_on=False, **DIVERGED_MARKER)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate $\\eta_0$")
    ax.set_ylabel(f"test loss at $t={int(sim[sim.panel == panel].step.max())}$")


def plot_final(ax, pcfg, design, sim, th, panel):
    """Final test loss against the panel's first swept field; one curve per value of the rest."""
    rows = design[design.panel == panel]
    keys = str(rows["vary"].iloc[0]).split(",")
    x_key, group_keys = keys[0], keys[1:]
    groups = rows.groupby([f"vary_{k}" for k in group_keys], sort=False) if group_keys else [
        ((), rows)]
    for (key, g), color in zip(groups, colors(len(groups))):
        label = curve_label(dict(zip(group_keys, np.atleast_1d(key)))) if group_keys else None
        xs, sm, se, tm = [], [], [], []
        for _, row in g.iterrows():
            s = final_losses(sim[(sim.panel == panel) & (sim.curve == row["curve"])])
            t = final_losses(th[(th.panel == panel) & (th.curve == row["curve"])])
            xs.append(row[f"vary_{x_key}"])
            sm.append(s["mean"].iloc[0] if len(s) else np.nan)
            se.append(s["sem"].iloc[0] if len(s) else np.nan)
            tm.append(t["mean"].iloc[0] if len(t) else np.nan)
        ax.errorbar(xs, sm, yerr=se, color=color, marker="o", ms=3.5, capsize=0, label=label)
        ax.plot(xs, tm, color=color, ls=(0, (3, 2)), lw=1.2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = []
    for x in sorted(xs):  # the swept values, at least a factor 1.6 apart
        if not ticks or x / ticks[-1] >= 1.6:
            ticks.append(x)
    ax.set_xticks(ticks, [f"{x:g}" for x in ticks])
    ax.set_xlabel(f"${SYMBOLS.get(x_key, x_key)}$")
    ax.set_ylabel(f"final test loss ($t={int(th.step.max())}$)")


def plot_exponent(ax, pcfg, design, sim, th, panel):
    """Measured late-time decay exponent of the theory against the predictions, vs source b."""
    table = exponent_table(th, design_curves(design, panel))
    b = np.linspace(0.05, max(2.0, table.source.max() * 1.1), 200)
    for regime, color in (("lazy", "tab:blue"), ("rich", "tab:red")):
        ax.plot(b, [-predicted_exponent(x, regime) for x in b], color=color, lw=1.2,
                ls=(0, (3, 2)), label=f"{regime}: " + ("$b$" if regime == "lazy"
                                                        else "$2b/(1+b)$ for $b<1$"))
        sub = table[table.regime == regime]
        for (L, g), marker in zip(sub.groupby("L"), "osD^v"):
            ax.plot(g.source, -g.slope, color=color, marker=marker, ls="none", ms=5, mfc="none",
                    label=f"{regime}, $L={L}$")
    cut = table[np.isfinite(table.first_rise)]  # fitted before a loss bump (edge of stability)
    if not cut.empty:
        ax.plot(cut.source, -cut.slope, color="k", marker="x", ls="none", ms=4,
                label="fit ends at a loss bump")
    ax.set_xlabel("source exponent $b$")
    ax.set_ylabel(r"decay exponent $-d\log\mathcal{L}/d\log t$")


def plot_finite_size(ax, pcfg, design, sim, th, panel):
    """Final test loss against the input dimension D (simulation) beside the DMFT (a level),
    with the fitted slope of the relative gap against D (summaries.finite_size_table)."""
    table = finite_size_table(sim[sim.panel == panel], th[th.panel == panel],
                              design[design.panel == panel])
    groups = list(table.groupby("point", sort=False))
    for (point, g), color in zip(groups, colors(len(groups))):
        label = point.replace("~", "=").replace("_", ", ") if point else "simulation"
        ax.errorbar(g.D, g.sim_mean, yerr=g.sim_sem, color=color, marker="o", ms=3.5, capsize=0,
                    label=f"{label}: gap $\\propto D^{{{g.gap_slope.iloc[0]:.2f}}}$")
        ax.axhline(g.theory.iloc[0], color=color, ls=(0, (3, 2)), lw=1.2)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    Ds = sorted(table.D.unique())
    ax.set_xticks(Ds, [f"{d:g}" for d in Ds])
    ax.set_xlabel("input dimension $D$ (width $N=\\nu D$, data $P=\\alpha D$)")
    ax.set_ylabel(f"test loss at $t={int(th.step.max())}$")


PLOTTERS = {"dynamics": plot_dynamics, "lr_sweep": plot_lr_sweep, "final": plot_final,
            "exponent": plot_exponent, "finite_size": plot_finite_size}


def style_legend_handles(kind: str):
    handles = [Line2D([], [], color="0.3", label="simulation"),
               Line2D([], [], color="0.3", ls=(0, (3, 2)), label="DMFT theory")]
    if kind == "lr_sweep":
        handles += [Line2D([], [], color="0.3", marker="*", ls="none", ms=8, label="optimum"),
                    Line2D([], [], color="0.3", label="diverged", **DIVERGED_MARKER)]
    return handles


def plot_figure_files(fcfg: dict, design_path, sim_paths, theory_paths, outputs) -> None:
    """Draw a figure from its design table and job tables (paths) into ``outputs``."""
    design = read_table(design_path)
    plot_figure(fcfg, design, figure_tables(design, sim_paths, "sim"),
                figure_tables(design, theory_paths, "theory"), outputs)


def plot_figure(fcfg: dict, design: pd.DataFrame, sim: pd.DataFrame, th: pd.DataFrame, outputs):
    """Draw every panel of a figure and save it to each path in ``outputs`` (pdf, png, ...)."""
    panels = list(fcfg["panels"])
    rows, _ = fcfg.get("layout", [1, len(panels)])
    with plt.rc_context(STYLE):
        fig, axes = panel_grid(len(panels), fcfg.get("layout"))
        for ax, panel in zip(axes, panels):
            pcfg = fcfg["panels"][panel]
            kind = pcfg.get("kind", "dynamics")
            PLOTTERS[kind](ax, pcfg, design, sim, th, panel)
            ax.xaxis.set_minor_formatter(NullFormatter())  # no crowded minor labels
            if pcfg.get("ylim"):
                ax.set_ylim(*pcfg["ylim"])
            ax.set_title(f"({panel}) {pcfg.get('title', '')}", loc="left")
            if kind == "exponent":  # markers for every (regime, L): beside the axes
                leg = ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), handlelength=1.6)
            else:
                leg = ax.legend(loc="best", handlelength=1.6)
            ax.add_artist(leg)
        kinds = {fcfg["panels"][p].get("kind", "dynamics") for p in panels}
        if kinds != {"exponent"}:  # an exponent panel explains its own markers
            handles = style_legend_handles("lr_sweep" if "lr_sweep" in kinds else "dynamics")
            fig.legend(handles=handles, loc="upper center", ncol=len(handles),
                       bbox_to_anchor=(0.5, 1.0 + 0.02 / rows))
        if fcfg.get("title"):
            fig.suptitle(fcfg["title"], y=1.0 + 0.09 / rows, fontsize=10.5)
        fig.tight_layout()
        save_figure(fig, outputs)
        plt.close(fig)


def plot_table1(table: pd.DataFrame, outputs) -> None:
    """Wall time per method against N, T and L (one panel per sweep), log-log."""
    sweeps = list(dict.fromkeys(table.sweep))
    x_of = {"nu": "N", "T": "T", "L": "L"}
    styles = {"dmft": ("tab:red", "DMFT theory (N = inf)"),
              "rank_one": ("tab:blue", "rank-one engine"),
              "autodiff": ("0.4", "jax.grad training")}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(sweeps), figsize=(3.1 * len(sweeps), 2.6), squeeze=False)
        for ax, sweep in zip(axes.flat, sweeps):
            part = table[table.sweep == sweep]
            x = x_of.get(sweep, sweep)
            for method, g in part.groupby("method", sort=False):
                color, label = styles.get(method, ("k", method))
                ax.plot(g[x], g.seconds, color=color, marker="o", ms=3.5, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(sorted(set(part[x])), [f"{v:g}" for v in sorted(set(part[x]))])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"${x}$")
            ax.set_ylabel("wall time (s)")
            fixed = part.iloc[0]
            others = ", ".join(f"{k}={fixed[k]}" for k in ("N", "T", "L", "P") if k != x)
            ax.set_title(others, loc="left", fontsize=8)
        axes.flat[0].legend()
        fig.suptitle("Table 1, measured: theory vs simulation cost", fontsize=10.5)
        fig.tight_layout()
        save_figure(fig, outputs)
        plt.close(fig)
