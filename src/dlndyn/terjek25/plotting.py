"""The figures of the reconstruction (docs/terjek25.md, "Figures"). Titles say "reconstruction":
nothing here is the paper's own figure or numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import plot

LABELS = {"standard": "standard (EOC)", "mup": "muP (EOC)", "nup": "nuP (reconstr.)",
          "constant": "constant eta = c / lambda_0", "geometric": "eta_t = c / lambda_max(t)"}
SMOOTH = 5  # steps in the rolling mean of the update cosine


def plot_f1(sweep: pd.DataFrame, profile: pd.DataFrame, q_star: float, paths) -> None:
    """F1: preactivation profile at the deepest depth, then loss against eta per depth for each
    parameterization (one panel each)."""
    pars = list(dict.fromkeys(sweep.parameterization))
    with plot.style():
        fig, axes = plot.panel_grid(1 + len(pars), size=(3.3, 3.6))
        ax = axes[0]
        for i, par in enumerate(pars):
            p = profile[profile.parameterization == par]
            color = f"C{i}"
            for when, ls in (("init", ":"), ("trained", "-")):
                q = p[p.when == when].sort_values("layer")
                q = q[q.layer < q.layer.max()]  # hidden layers (the last is the output)
                ax.plot(q.layer, q.preact_var, ls, color=color,
                        label=f"{LABELS.get(par, par)}, {when}")
        ax.axhline(q_star, color="k", lw=0.8, ls="--", label=f"q* = {q_star:.3f}")
        depth, = set(profile.depth)
        ax.set(xlabel="layer l", ylabel="E[h_l^2] (probe set)", yscale="log",
               title=f"(a) preactivations, depth {depth}")
        ax.legend(fontsize=6.5, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
        for ax, par in zip(axes[1:], pars):
            g = sweep[sweep.parameterization == par]
            depths = sorted(set(g.depth))
            for color, depth in zip(plot.colors(len(depths)), depths):
                d = g[g.depth == depth].sort_values("eta")
                width = int(d.width.iloc[0])
                ax.plot(d.eta, d.loss.where(np.isfinite(d.loss)), "o-", ms=3, color=color,
                        label=f"L={depth}, n={width}")
                finite = d[np.isfinite(d.loss)]
                if len(finite):
                    best = finite.loc[finite.loss.idxmin()]
                    ax.plot(best.eta, best.loss, "*", ms=10, color=color, mec="k", mew=0.5)
            letter = "bcd"[pars.index(par)]
            ax.set(xscale="log", yscale="log", xlabel="learning rate eta",
                   ylabel=f"train loss after {_steps(profile)} steps",
                   title=f"({letter}) {LABELS.get(par, par)}")
            ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
        fig.suptitle("Terjek 2025, F1 (reconstruction, not the paper's numbers): depth at the EOC;"
                     " stars mark the best eta, gaps diverged", fontsize=9)
        fig.tight_layout()
        plot.save_figure(fig, paths)


def _steps(profile):
    return int(profile.steps.iloc[0]) if "steps" in profile else "T"


def plot_f2(steps: pd.DataFrame, layers: pd.DataFrame, paths, window=(2.0, 4.0)) -> None:
    """F2: loss, eta * sharpness against the catapult window, and the per-layer update cosine
    for each schedule."""
    scheds = list(dict.fromkeys(steps.schedule))
    with plot.style():
        fig, axes = plot.panel_grid(2 + len(scheds), (1, 2 + len(scheds)))
        for i, s in enumerate(scheds):
            g = steps[steps.schedule == s]
            axes[0].plot(g.step, g.loss, color=f"C{i}", label=LABELS.get(s, s))
            m = g.dropna(subset=["sharpness", "eta"])
            axes[1].plot(m.step, m.eta * m.sharpness, color=f"C{i}", label=LABELS.get(s, s))
        axes[0].set(yscale="log", xlabel="step", ylabel="train loss", title="(a) loss")
        axes[0].legend(fontsize=6.5)
        axes[1].axhspan(*window, color="0.9", zorder=0, label="catapult window (2, 4)")
        axes[1].axhline(2.0, color="k", lw=0.8, ls="--")
        top = max(5.0, float(np.nanmax((steps.eta * steps.sharpness).to_numpy(), initial=0)))
        axes[1].set(xlabel="step", ylabel="eta_t * lambda_max(t)", ylim=(0, 1.05 * top),
                    title="(b) eta x sharpness against 2")
        axes[1].legend(fontsize=6.5)
        for k, (ax, s) in enumerate(zip(axes[2:], scheds)):
            lay = layers[layers.schedule == s]
            L = int(lay.layer.max())
            for color, layer in zip(plot.colors(L, "plasma"), range(1, L + 1)):
                c = lay[lay.layer == layer].sort_values("step")
                ax.plot(c.step, c.update_cosine.rolling(SMOOTH, min_periods=1).mean(),
                        color=color, lw=1.0, label=f"layer {layer}" if layer in (1, L) else None)
            ax.axhline(0, color="k", lw=0.6)
            ax.set(xlabel="step", ylabel="cos(dW_t, W_t - W_0)", ylim=(-1.05, 1.05),
                   title=f"({'cd'[k]}) cosine, {LABELS.get(s, s)}\n(mean of {SMOOTH} steps)")
            ax.legend(fontsize=6.5)
        fig.suptitle("Terjek 2025, F2 (reconstruction, not the paper's numbers): the catapult under"
                     " a constant and a geometry-aware learning rate", fontsize=9)
        fig.tight_layout()
        plot.save_figure(fig, paths)
