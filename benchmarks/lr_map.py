"""Where is the optimal learning rate interior? A theory-only map for Figure 7's power-law data.

For every combination of horizon T, SGD batch ratio alpha_B, label noise sigma, richness
gamma0, parameterization and width nu, the DMFT (docs/bordelon25.md, section 7; one-pass SGD,
section 4.4) is solved on an eta0 grid and the final test loss L(T) is minimised over it.
The optimum is *interior* when it lies below the largest stable grid point (the divergence
edge) and L there is at least ``--margin`` (default 5%) below L at the edge; otherwise the
optimum sits at the edge of stability. The drift of the optimum across width is
log2(eta0*(nu_max) / eta0*(nu_min)) per (T, alpha_B, sigma, gamma0, param).

Writes a tidy table (one row per curve) to benchmarks/results/lr_map.csv, the drift table to
benchmarks/results/lr_map_drift.csv and the map figure to docs/figures/bordelon25_lr_map.png.
Run: python benchmarks/lr_map.py [--quick]  (one BLAS thread; 34 min on one core of a loaded machine,
--quick about a minute).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dlndyn import Setting  # noqa: E402
from dlndyn.bordelon25.theory.solve import theory  # noqa: E402

# Figure 7's setting (config/config.yaml): L = 1, a = 1.5, b = 0.5 on 128 modes (coarse-grained
# to 16 groups: within 1e-3 of the exact modes here).
BASE = dict(L=1, data="powerlaw", capacity=1.5, source=0.5)
MODES, BINS = 128, 16
FULL = dict(T=[25, 50, 100, 200], alpha_B=[0.25, 1.0, 4.0], sigma=[0.0, 0.5, 1.0],
            gamma0=[0.5, 1.0, 2.0], param=["ntk", "mup"], nu=[0.5, 2.0, 8.0])
QUICK = dict(T=[25, 100], alpha_B=[0.25, 4.0], sigma=[0.0, 1.0], gamma0=[1.0],
             param=["ntk", "mup"], nu=[0.5, 8.0])
GRID = np.geomspace(0.002, 0.08, 17)


def sweep(s: Setting, grid=GRID) -> np.ndarray:
    """Final test loss on the grid (inf where diverged); stops after two diverged points."""
    out = np.full(len(grid), np.inf)
    bad = 0
    for i, eta0 in enumerate(grid):
        th = theory(s.replace(eta0=float(eta0)), modes=MODES, bins=BINS)
        if th.diverged.any() or not np.isfinite(th.test_loss.iloc[-1]):
            bad += 1
            if bad == 2:
                break
            continue
        out[i] = th.test_loss.iloc[-1]
    return out


def classify(grid, loss, margin: float) -> dict:
    """Optimum, edge (largest stable grid point) and whether the optimum is interior."""
    ok = np.isfinite(loss)
    if not ok.any():
        return dict(eta0_opt=math.nan, eta0_edge=math.nan, loss_opt=math.nan,
                    loss_edge=math.nan, interior=False)
    i_opt = int(np.nanargmin(np.where(ok, loss, np.nan)))
    i_edge = int(np.flatnonzero(ok)[-1])
    interior = i_opt < i_edge and loss[i_edge] > (1 + margin) * loss[i_opt]
    return dict(eta0_opt=grid[i_opt], eta0_edge=grid[i_edge], loss_opt=loss[i_opt],
                loss_edge=loss[i_edge], interior=bool(interior))


def drift_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per (T, alpha_B, sigma, gamma0, param): log2 of the optimum's move from the smallest to
    the largest width, and whether the optimum is interior at every width."""
    keys = ["T", "alpha_B", "sigma", "gamma0", "param"]
    rows = []
    for k, g in table.groupby(keys, sort=False):
        g = g.sort_values("nu")
        lo, hi = g.iloc[0], g.iloc[-1]
        rows.append({**dict(zip(keys, k)), "eta0_opt_nu_min": lo.eta0_opt,
                     "eta0_opt_nu_max": hi.eta0_opt,
                     "log2_drift": math.log2(hi.eta0_opt / lo.eta0_opt),
                     "interior_all": bool(g.interior.all())})
    return pd.DataFrame(rows)


def plot_map(table: pd.DataFrame, drift: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gammas, sigmas = sorted(table.gamma0.unique()), sorted(table.sigma.unique())
    Ts, aBs = sorted(table["T"].unique()), sorted(table.alpha_B.unique())
    fig, axes = plt.subplots(len(gammas), 2 * len(sigmas), squeeze=False,
                             figsize=(2.1 * 2 * len(sigmas), 2.0 * len(gammas) + 0.6))
    for i, g0 in enumerate(gammas):
        for j, (sig, param) in enumerate(itertools.product(sigmas, ["ntk", "mup"])):
            ax = axes[i, j]
            d = drift[(drift.gamma0 == g0) & (drift.sigma == sig) & (drift.param == param)]
            z = np.full((len(aBs), len(Ts)), np.nan)
            for _, r in d.iterrows():
                z[aBs.index(r.alpha_B), Ts.index(r["T"])] = r.log2_drift
            ax.imshow(z, origin="lower", cmap="RdBu_r", vmin=-2, vmax=2, aspect="auto")
            for _, r in d.iterrows():
                x, y = Ts.index(r["T"]), aBs.index(r.alpha_B)
                ax.text(x, y, f"{r.log2_drift:+.1f}" + ("" if r.interior_all else "e"),
                        ha="center", va="center", fontsize=6.5)
            ax.set_xticks(range(len(Ts)), [f"{t:g}" for t in Ts], fontsize=6)
            ax.set_yticks(range(len(aBs)), [f"{a:g}" for a in aBs], fontsize=6)
            ax.set_title(f"{param}, $\\sigma={sig:g}$, $\\gamma_0={g0:g}$", fontsize=7)
            if i == len(gammas) - 1:
                ax.set_xlabel("$T$", fontsize=7)
            if j == 0:
                ax.set_ylabel(r"$\alpha_B$", fontsize=7)
    nus = sorted(table.nu.unique())
    fig.suptitle(f"log2 drift of the optimal $\\eta_0$ from $\\nu={nus[0]:g}$ to $\\nu={nus[-1]:g}$ "
                 "(DMFT; 'e': optimum at the edge of stability at some width)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small map (about a minute)")
    ap.add_argument("--margin", type=float, default=0.05)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "lr_map.csv"))
    ap.add_argument("--figure", default=str(ROOT / "docs" / "figures" / "bordelon25_lr_map.png"))
    args = ap.parse_args()
    axes = QUICK if args.quick else FULL
    rows, start = [], time.perf_counter()
    for values in itertools.product(*axes.values()):
        point = dict(zip(axes, values))
        s = Setting(**BASE, **point, eta0=GRID[0])
        loss = sweep(s)
        rows.append({**point, **classify(GRID, loss, args.margin),
                     "losses": " ".join(f"{x:.5g}" for x in loss)})
        print(f"{time.perf_counter() - start:7.1f}s", {k: rows[-1][k] for k in
              (*axes, "eta0_opt", "eta0_edge", "interior")}, flush=True)
    table = pd.DataFrame(rows)
    drift = drift_table(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    drift.to_csv(out.with_name(out.stem + "_drift.csv"), index=False)
    plot_map(table, drift, Path(args.figure))
    print(drift.to_string(index=False))
    print(f"eta0 grid: {GRID[0]:g}..{GRID[-1]:g}, {len(GRID)} points; {MODES} modes in {BINS} "
          f"groups; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
