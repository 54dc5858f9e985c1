"""Figures F1-F12 and their checks tables (numpy, pandas, matplotlib; no JAX).

:func:`plot_figure` draws one figure from the tables of :func:`dlndyn.yaras23.figures.compute`
and :func:`checks_table` measures the C-quantities it shows (docs/yaras23.md, "Figures" and
"Checks"), with the paper's value where the paper gives one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection

from ..core import plot as cplot
from .figures import kind

# The paper's numbers (docs/yaras23.md, "Checks"): C10 at L = 8, eps = 0.5, tol = 1e-6.
C10_D = [11.3, 2.08, 0.39, 0.071, 0.013, 0.0025, 4.7e-4, 9.6e-5]
C11_RATIO_OVER_EPS2 = {0.5: 0.136 / 0.25, 0.25: 0.034 / 0.0625, 0.125: 0.0087 / 0.015625}
ORIGINAL, COMPRESSED = "#1f3b73", "#d95f02"


# ------------------------------------------------------------------------------------------
# F1-F4: ribbons of singular values and angles over iterations
# ------------------------------------------------------------------------------------------
def _ribbons(ax, x, ts, values, cmap="viridis", zlabel="", base=0.0):
    """One filled polygon per iteration: values[t] against x, stacked along the t axis
    (filled down to ``base``)."""
    verts = [[(x[0], base), *zip(x, v), (x[-1], base)] for v in values]
    colours = cplot.colors(len(ts), cmap)
    poly = PolyCollection(verts, facecolors=colours, edgecolors=[(0, 0, 0, 0.35)] * len(ts),
                          linewidths=0.3, alpha=0.75)
    ax.add_collection3d(poly, zs=ts, zdir="y")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(ts[0], ts[-1])
    ax.set_zlim(base, np.nanmax(values) * 1.05)
    ax.set_ylabel("iteration $t$", labelpad=2)
    ax.set_zlabel(zlabel, labelpad=2)
    ax.view_init(elev=22, azim=-130)
    ax.tick_params(pad=0)


def _svd_panels(axes, sv, angles, layer, r):
    s = sv[sv.layer == layer].pivot(index="step", columns="index", values="sigma")
    k = s.shape[1]
    vals = s.to_numpy()
    _ribbons(axes[0], np.arange(1, k + 1), s.index.to_numpy(), vals,
             zlabel=r"$\sigma_i(W_%d)$" % layer, base=0.9 * vals.min())
    axes[0].set_xlabel("index $i$", labelpad=2)
    axes[0].set_title(f"layer {layer}: singular values")
    for ax, side in zip(axes[1:], ("right", "left")):
        a = angles[(angles.layer == layer) & (angles.side == side) & (angles.step >= 1)]
        if a.empty:
            ax.set_axis_off()
            continue
        piv = a.pivot(index="step", columns="group", values="angle")
        _ribbons(ax, np.arange(piv.shape[1]), piv.index.to_numpy(), piv.to_numpy(),
                 cmap="magma", zlabel="angle (rad)")
        ax.set_xticks([0, r, 2 * r])
        ax.set_xticklabels([r"$1$", "passive", str(k)])
        ax.set_title(f"layer {layer}: {side} singular vectors\n"
                     r"$\angle(\cdot(t), \cdot(1))$, passive block as one")


def _plot_svd(t, cfg):
    layers = cfg["layers"]
    fig, axes = cplot.panel_grid(3 * len(layers), (len(layers), 3),
                                 projections=["3d"] * (3 * len(layers)), size=(3.6, 3.1))
    for i, layer in enumerate(layers):
        _svd_panels(axes[3 * i: 3 * i + 3], t["singular_values"], t["angles"], layer, cfg["r"])
    return fig


def _svd_checks(t, cfg):
    s, rho = t["summary"], t["rho"]
    a = t["angles"]
    rows = []
    exact = cfg["task"] in ("factorization", "whitened")
    for _, row in s.iterrows():
        layer = int(row.layer)
        pa = a[(a.layer == layer) & (a.label == "passive") & (a.step >= 1)]
        if exact:
            rows += [
                _c("C1", f"layer {layer}: spread of the d-2r middle singular values, last step",
                   row.spread, None, "< 1e-12"),
                _c("C1", f"layer {layer}: largest passive principal angle, max over t >= 1",
                   pa.angle.max(), None, "< 1e-9"),
                _c("C2", f"layer {layer}: passive singular value rho, last step", row.rho,
                   0.950961 if _is_f1_setup(cfg) else None,
                   f"= recursion {row.rho_recursion:.10g} to 1e-10"),
            ]
            if np.isfinite(row.angle_chain):
                rows.append(_c("C3", f"layer {layer}->{layer + 1}: passive left of W_l vs "
                               "passive right of W_(l+1)", row.angle_chain, None, "< 1e-9"))
        else:
            rows += [
                _c("C12", f"layer {layer}: spread of the middle singular values (approximate)",
                   row.spread, None, "small next to the active ones (qualitative)"),
                _c("C12", f"layer {layer}: largest passive principal angle, last step",
                   pa.angle.iloc[-1], None, "qualitative"),
            ]
    first = t["singular_values"]
    last = first[(first.layer == 1) & (first.step == first.step.max())].sort_values("index")
    r = cfg["r"]
    for i, v in enumerate(last.sigma.iloc[:r]):
        rows.append(_c("F1", f"layer 1: singular value {i + 1} at the last step", v,
                       [1.52, 1.43, 1.30][i] if _is_f1_setup(cfg) and i < 3 else None,
                       "seed-dependent (the paper's seed is not reproducible here)"))
    rows.append(_c("C2", "rho recursion at the last step", rho.rho_recursion.iloc[-1],
                   0.950961 if _is_f1_setup(cfg) else None, "seed-free closed form"))
    return rows


def _is_f1_setup(cfg):
    return (cfg["task"] == "factorization" and cfg["d"] == 30 and cfg["r"] == 3
            and cfg["L"] == 3 and cfg["eps"] == 1.0 and cfg["eta"] == 1.0
            and cfg["steps"] == 50 and cfg["momentum"] == 0.0)


# ------------------------------------------------------------------------------------------
# F5-F8: D_l against the layer, semilog, with the fitted geometric line
# ------------------------------------------------------------------------------------------
def _plot_separation(t, cfg, fig_name):
    df = t["layers"]
    acts = cfg["activations"]
    if fig_name == "f7":  # one line per epsilon, a panel per activation
        fig, axes = cplot.panel_grid(len(acts), (1, len(acts)), size=(3.4, 2.9))
        for ax, act in zip(axes, acts):
            sub = df[df.activation == act]
            for c, (eps, g) in zip(cplot.colors(sub.eps.nunique(), "plasma"),
                                   sub.groupby("eps", sort=False)):
                _semilog(ax, g, c, label=rf"$\epsilon$={eps:g}: ratio {g.ratio.iloc[0]:.3g}")
            ax.set_title(f"{act}, L = {int(sub.depth.iloc[0])}")
            ax.legend(loc="lower left")
        return fig
    cols = cfg["depths"] if len(cfg["depths"]) > 1 else cfg["inits"]
    key = "depth" if len(cfg["depths"]) > 1 else "init"
    fig, axes = cplot.panel_grid(len(acts) * len(cols), (len(acts), len(cols)) if len(cols) > 1
                                 else (1, len(acts)), size=(3.2, 2.8))
    for i, act in enumerate(acts):
        for j, col in enumerate(cols):
            ax = axes[i * len(cols) + j]
            g = df[(df.activation == act) & (df[key] == col)]
            _semilog(ax, g, "k")
            ax.set_title(f"{act}, " + (f"L = {col}" if key == "depth" else f"{col} init"))
            ax.text(0.97, 0.95, f"ratio {g.ratio.iloc[0]:.3g}\n$R^2$ = {g.r2.iloc[0]:.4f}",
                    transform=ax.transAxes, ha="right", va="top", fontsize=7.5)
    return fig


def _semilog(ax, g, colour, label=None):
    ax.semilogy(g.layer, g.D, "o", color=colour, ms=4, label=label)
    x = np.linspace(g.layer.min(), g.layer.max(), 50)
    ax.semilogy(x, g.prefactor.iloc[0] * g.ratio.iloc[0] ** x, "-", color=colour, lw=1.0,
                alpha=0.7)
    ax.set_xlabel("layer $l$")
    ax.set_ylabel(r"$D_l = \mathrm{tr}\,\Sigma_W / \mathrm{tr}\,\Sigma_B$")
    ax.set_xticks(g.layer.to_numpy())


def _separation_checks(t, cfg, fig_name):
    df = t["layers"]
    rows = []
    for keys, g in df.groupby(["depth", "activation", "init", "eps"], sort=False):
        L, act, init, eps = keys
        tag = f"L={L}, {act}, {init}, eps={eps:g}, tol={g.tol.iloc[0]:g}"
        rows.append(_c("C10", f"{tag}: geometric ratio of D_l (fit on {g.fit.iloc[0]} layers)",
                       g.ratio.iloc[0], None, "straight line on a semilog plot"))
        rows.append(_c("C10", f"{tag}: R^2 of the log-linear fit", g.r2.iloc[0], None,
                       "> 0.99 for linear nets" if act == "linear" else "qualitative"))
        rows.append(_c("C10", f"{tag}: GD steps to train loss < tol", g.steps.iloc[0], None,
                       "converged" if g.converged.iloc[0] else "NOT converged"))
        if (L, act, init, eps) == (8, "linear", "orthogonal", 0.5) and g.tol.iloc[0] == 1e-6:
            for layer, d, p in zip(g.layer, g.D, C10_D):
                rows.append(_c("C10", f"{tag}: D_{layer}", d, p, "within 3%"))
        if fig_name == "f7" and act == "linear" and eps in C11_RATIO_OVER_EPS2:
            rows.append(_c("C11", f"{tag}: ratio / eps^2", g.ratio.iloc[0] / eps**2,
                           C11_RATIO_OVER_EPS2[eps], "about 0.55, within 3%"))
    return rows


# ------------------------------------------------------------------------------------------
# F9-F10: PCA trajectory beside loss against wall time
# ------------------------------------------------------------------------------------------
def _label(method, gamma):
    return "original" if method == "original" else rf"compressed, $\gamma$={gamma:g}"


def _runs(curve):
    return curve.groupby(["method", "gamma"], dropna=False, sort=False)


def _style(method, gamma, i):
    if method == "original":
        return {"color": ORIGINAL, "ls": "-", "lw": 2.2}
    return {"color": [COMPRESSED, "#1b9e77", "#7570b3"][i % 3], "ls": "--", "lw": 1.5}


def _plot_compression(t, cfg, fig_name):
    curve, traj = t["curve"], t["trajectory"]
    mc = cfg["observed"] is not None and cfg["observed"] < 1
    n = 3 if mc else 2
    fig, axes = cplot.panel_grid(n, (1, n), projections=["3d"] + [None] * (n - 1),
                                 size=(3.4, 3.0))
    ax3 = axes[0]
    for i, ((method, gamma), g) in enumerate(traj.groupby(["method", "gamma"], dropna=False,
                                                          sort=False)):
        st = _style(method, gamma, i)
        ax3.plot(g.pc1, g.pc2, g.pc3, label=_label(method, gamma), **st)
        ax3.scatter(g.pc1.iloc[0], g.pc2.iloc[0], g.pc3.iloc[0], marker="*", s=60,
                    color=st["color"])
    comps = [c + 1 for c in cfg["pca_components"]]
    ax3.set_xlabel(f"PC {comps[0]}", labelpad=0)
    ax3.set_ylabel(f"PC {comps[1]}", labelpad=0)
    ax3.set_zlabel(f"PC {comps[2]}", labelpad=0)
    ax3.set_title(r"trajectory of $W_{L:1}$ from the escape" + "\n" +
                  f"({cfg['pca_checkpoints']} checkpoints, every {cfg['block']} steps)")
    ax3.tick_params(pad=0, labelsize=6)
    ax3.legend(loc="upper left", fontsize=6.5)
    y = "recovery_error" if mc else "train_loss"
    ylab = "recovery error" if mc else "train loss"
    panels = [("step", "iteration"), ("seconds", "wall time (s, compilation excluded)")]
    if not mc:
        panels = panels[1:]
    for ax, (x, xlab) in zip(axes[1:], panels):
        for i, ((method, gamma), g) in enumerate(_runs(curve)):
            ax.semilogy(g[x], g[y].clip(lower=1e-300), label=_label(method, gamma),
                        **_style(method, gamma, i))
        ax.set_xlabel(xlab)
        ax.set_ylabel(ylab)
        ax.legend()
    sp = _speedup(curve, cfg["tol"])
    if sp is not None:
        axes[-1].set_title(f"time to tol: {sp[0]:.3g} s vs {sp[1]:.3g} s "
                           f"({sp[0] / sp[1]:.1f}x)")
    fig.suptitle(f"d = {int(curve.d.iloc[0])}, L = {cfg['L']}, r = {cfg['r']}, "
                 rf"$\epsilon$ = {cfg['eps']:g}, $\eta$ = {curve.eta.iloc[0]:.4g}"
                 + (f", {cfg['observed']:.0%} observed" if mc else ""), y=1.02)
    return fig


def _speedup(curve, tol):
    """(original, fastest compressed) wall time to train loss < tol, if both get there."""
    def to_tol(g):
        hit = g.seconds[g.train_loss < tol]
        return float(hit.iloc[0]) if len(hit) else np.nan

    t_orig = to_tol(curve[curve.method == "original"])
    times = [to_tol(g) for _, g in curve[curve.method == "compressed"].groupby("gamma")]
    times = [x for x in times if np.isfinite(x)]
    if not times or not np.isfinite(t_orig):
        return None
    return t_orig, min(times)


def _compression_checks(t, cfg, fig_name):
    curve = t["curve"]
    rows = []
    d, r, L, eps = cfg["d"], cfg["r"], cfg["L"], cfg["eps"]
    mc = cfg["observed"] is not None and cfg["observed"] < 1
    orig = curve[curve.method == "original"]
    for gamma, g in curve[curve.method == "compressed"].groupby("gamma"):
        if not mc and gamma == 0:
            pred = eps**L * np.sqrt(d - 2 * r) / g.phi_norm.iloc[0]
            rows.append(_c("C4", "gap ||W_comp - W_orig||_F / ||Phi||_F at the last step",
                           g.gap.iloc[-1], pred,
                           "paper column: eps^L sqrt(d-2r) / ||Phi||_F (docs/yaras23.md); to 10%"))
            rows.append(_c("C4", "gap, max over the trajectory", g.gap.max(), pred, "to 10%"))
        rows.append(_c("C5" if mc else "C4", f"gamma={gamma:g}: final recovery error",
                       g.recovery_error.iloc[-1],
                       (5e-4 if gamma == 0 else 1e-12) if mc else None,
                       "stalls" if (mc and gamma == 0) else "reaches the original's"))
        rows.append(_c("C6", f"gamma={gamma:g}: GD steps taken", g.step.iloc[-1], None, ""))
        rows.append(_c("C6", f"gamma={gamma:g}: seconds per step (blocks only)",
                       g.seconds.iloc[-1] / max(g.step.iloc[-1], 1), None, ""))
    rows.append(_c("C5" if mc else "C4", "original: final recovery error",
                   orig.recovery_error.iloc[-1], 1e-12 if mc else None, ""))
    rows.append(_c("C6", "original: GD steps taken", orig.step.iloc[-1], None, ""))
    rows.append(_c("C6", "original: seconds per step (blocks only)",
                   orig.seconds.iloc[-1] / max(orig.step.iloc[-1], 1), None, ""))
    sp = _speedup(curve, cfg["tol"])
    paper = 43 / 6 if mc else 45 / 4
    rows.append(_c("C6", "wall-time speed-up to train loss < tol (one run, "
                   "compilation excluded)", np.nan if sp is None else sp[0] / sp[1], paper,
                   "7-10x on the authors' GPU at d = 1000"))
    per_step = [g.seconds.iloc[-1] / max(g.step.iloc[-1], 1) for _, g in
                curve[curve.method == "compressed"].groupby("gamma")]
    rows.append(_c("C6", "per-step time ratio original / compressed",
                   (orig.seconds.iloc[-1] / max(orig.step.iloc[-1], 1)) / min(per_step), None,
                   ""))
    return rows


# ------------------------------------------------------------------------------------------
# F11-F12: sweeps
# ------------------------------------------------------------------------------------------
def _mean_std(ax, g, x, y, **kw):
    s = g.groupby(x)[y].agg(["mean", "std"]).reset_index()
    ax.errorbar(s[x], s["mean"], yerr=s["std"].fillna(0), capsize=2.5, marker="o", ms=3.5, **kw)


def _plot_depth_width(t, cfg):
    runs = t["runs"]
    block = int(runs.block.iloc[0])
    fig, axes = cplot.panel_grid(2, (1, 2), size=(3.4, 2.8))
    for c, (L, g) in zip(("#7570b3", ORIGINAL), runs.groupby("depth")):
        _mean_std(axes[0], g, "width", "recovery_error", color=c, label=f"L = {L}")
    axes[0].set_xlabel("width")
    axes[0].set_ylabel("final recovery error")
    axes[0].set_title("Benefit of depth")
    axes[0].legend()
    deep = runs[runs.depth == runs.depth.max()].assign(iters=lambda f: f.steps / block)
    _mean_std(axes[1], deep, "width", "iters", color=ORIGINAL,
              label=f"L = {runs.depth.max()}")
    axes[1].set_xlabel("width")
    axes[1].set_ylabel(f"iterations (x{block}) to tol")
    axes[1].set_title("Benefit of width")
    axes[1].legend()
    fig.suptitle(f"matrix completion, d = {cfg['d']}, r = {cfg['r']}, "
                 f"{cfg['observed']:.0%} observed, {cfg['trials']} inits", y=1.03)
    return fig


def _depth_width_checks(t, cfg):
    runs = t["runs"]
    rows = []
    block = int(runs.block.iloc[0])
    s = runs.groupby(["depth", "width"]).agg(err=("recovery_error", "mean"),
                                             steps=("steps", "mean"),
                                             conv=("converged", "mean")).reset_index()
    wmin, wmax = s.width.min(), s.width.max()
    at_paper = (cfg["d"], cfg["r"], cfg["observed"], cfg["eps"]) == (100, 10, 0.3, 1e-3)
    for _, row in s.iterrows():
        paper = None
        if at_paper and row.depth == 3:
            paper = 0.0
        elif at_paper and row.depth == 2 and row.width in (10, 100):
            paper = 0.0 if row.width == 10 else 1.1e-3
        rows.append(_c("C7", f"L={int(row.depth)}, width={int(row.width)}: mean final "
                       "recovery error", row.err, paper,
                       f"converged fraction {row.conv:.2f}"))
    for w, p in ((wmin, 420 if at_paper and wmin == 10 else None),
                 (wmax, 110 if at_paper and wmax == 100 else None)):
        g = s[(s.depth == s.depth.max()) & (s.width == w)]
        rows.append(_c("C8", f"L={int(s.depth.max())}, width={int(w)}: mean iterations "
                       f"(x{block}) to tol", g.steps.iloc[0] / block, p,
                       "falls with width (paper at d = 100)"))
    return rows


def _plot_narrow(t, cfg):
    runs = t["runs"]
    block = int(runs.block.iloc[0])
    runs = runs.assign(iters=runs.steps / block)
    fig, axes = cplot.panel_grid(2, (1, 2), size=(3.4, 2.8))
    for method, c in (("narrow", "#7570b3"), ("compressed", COMPRESSED)):
        g = runs[runs.method == method]
        _mean_std(axes[0], g, "rank", "iters", color=c, label=method)
        _mean_std(axes[1], g, "rank", "seconds", color=c, label=method)
    axes[0].set_ylabel(f"iterations (x{block}) to tol")
    axes[1].set_ylabel("wall time (s, compilation excluded)")
    for ax in axes:
        ax.set_xlabel(r"assumed rank $\hat r$ (width $2\hat r$)")
        ax.legend()
    fig.suptitle(f"matrix completion, d = {cfg['d']}, r = {cfg['r']}, "
                 f"{cfg['observed']:.0%} observed, " + r"$\gamma$" + f" = {cfg['gamma']:g}",
                 y=1.03)
    return fig


def _narrow_checks(t, cfg):
    runs = t["runs"]
    block = int(runs.block.iloc[0])
    rows = []
    s = runs.groupby(["method", "rank"]).agg(steps=("steps", "mean"), sec=("seconds", "mean"),
                                             err=("recovery_error", "mean"),
                                             conv=("converged", "mean")).reset_index()
    paper = {("narrow", 5): 620, ("narrow", 20): 450, ("compressed", 5): 195,
             ("compressed", 20): 195}
    for _, row in s.iterrows():
        rows.append(_c("C9", f"{row.method}, rank {int(row['rank'])}: mean iterations "
                       f"(x{block}) to tol", row.steps / block,
                       paper.get((row.method, int(row["rank"]))),
                       f"converged fraction {row.conv:.2f}; paper at d = 1000"))
        rows.append(_c("C9", f"{row.method}, rank {int(row['rank'])}: mean seconds",
                       row.sec, None, "paper: narrow 10-12.5 s, compressed 4.6-6.8 s (GPU)"))
    n = s[s.method == "narrow"].set_index("rank")
    c = s[s.method == "compressed"].set_index("rank")
    rows.append(_c("C9", "time ratio narrow / compressed, mean over ranks",
                   float((n.sec / c.sec).mean()), 11.25 / 5.7, "one run, same machine"))
    return rows


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------
def _c(check, quantity, measured, paper, criterion):
    return {"check": check, "quantity": quantity, "measured": float(measured),
            "paper": np.nan if paper is None else float(paper), "criterion": criterion}


def plot_figure(fig_name: str, cfg: dict, tables: dict, paths) -> None:
    """Draw figure ``fig_name`` from its tables and save it to every path in ``paths``."""
    k = kind(fig_name)
    with cplot.style():
        if k == "svd":
            fig = _plot_svd(tables, cfg)
        elif k == "separation":
            fig = _plot_separation(tables, cfg, fig_name)
        elif k == "compression":
            fig = _plot_compression(tables, cfg, fig_name)
        elif k == "depth_width":
            fig = _plot_depth_width(tables, cfg)
        else:
            fig = _plot_narrow(tables, cfg)
        fig.tight_layout()
        cplot.save_figure(fig, paths)
    import matplotlib.pyplot as plt

    plt.close(fig)


def checks_table(fig_name: str, cfg: dict, tables: dict) -> pd.DataFrame:
    """The C-quantities figure ``fig_name`` shows: check, quantity, measured, paper, criterion."""
    k = kind(fig_name)
    rows = {"svd": lambda: _svd_checks(tables, cfg),
            "separation": lambda: _separation_checks(tables, cfg, fig_name),
            "compression": lambda: _compression_checks(tables, cfg, fig_name),
            "depth_width": lambda: _depth_width_checks(tables, cfg),
            "compressed_vs_narrow": lambda: _narrow_checks(tables, cfg)}[k]()
    return pd.DataFrame(rows, columns=["check", "quantity", "measured", "paper", "criterion"])


def plot_files(fig_name: str, cfg: dict, table_paths, figure_paths, checks_path) -> None:
    """Read a figure's tables (order of :func:`dlndyn.yaras23.figures.tables`), draw it to
    ``figure_paths`` and write its checks table to ``checks_path``."""
    from ..core.tables import read_table, write_table
    from .figures import tables as table_names

    t = {name: read_table(path) for name, path in zip(table_names(fig_name), table_paths,
                                                      strict=True)}
    plot_figure(fig_name, cfg, t, figure_paths)
    write_table(checks_table(fig_name, cfg, t), checks_path)
