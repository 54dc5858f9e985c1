"""A proportional number of outputs, kappa = C/D > 0 (docs/bordelon25.md, section 11.4).

1. The derived limit (nu = inf, infinite data; theory/outputs.py) against simulation as
   nu = alpha_B grow (one-pass SGD), next to the single-output DMFT at the same nu, alpha_B.
2. At the setting of section 11.4's table (finite nu and alpha, where no theory is derived):
   the simulation against three mode averages of the single-output DMFT that are exact in a
   limit each and are GUESSES here: over the teacher's singular values (exact at nu = inf on
   infinite data), over the eigenvalues of the readout's Gram matrix w(0)^T w(0)/N (exact for
   the linearised, lazy network, whose kernel is a Kronecker sum), and over both as if
   independent.

Usage:
    python benchmarks/bench_kappa.py [--D 128 --seeds 8 --nodes 16
        --out benchmarks/results/kappa.md]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import math
import os
import sys
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("JAX_PLATFORMS", "cpu")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from scipy.special import roots_jacobi  # noqa: E402

from _common import cpu_name, write_result  # noqa: E402
from dlndyn import Setting, simulate, theory  # noqa: E402
from dlndyn.bordelon25.theory import dmft  # noqa: E402
from dlndyn.bordelon25.theory import solve as solve_module  # noqa: E402
from dlndyn.bordelon25.theory.outputs import teacher_spectrum_rule  # noqa: E402

INF = math.inf
LIMIT = Setting(L=2, eta0=0.05, gamma0=2.0, T=9, kappa=1.0)
TABLE = Setting(L=2, nu=1.0, alpha=2.0, eta0=0.15, T=20, sigma=0.2)  # section 11.4


def mp_rule(ratio, nodes):
    """(mu_j, p_j): E[g(mu)] ~ sum_j p_j g(mu_j) for Marchenko-Pastur of ``ratio``, mean 1,
    atom at 0 included (Gauss-Jacobi, exact for the density's edge at 0 when ratio = 1)."""
    x, w = roots_jacobi(nodes, 0.5, -0.5)
    mu = 1 + ratio + 2 * math.sqrt(ratio) * x
    p = 2 / math.pi * w * (1 + x) / mu
    if ratio > 1:
        mu, p = np.append(mu, 0.0), np.append(p, 1 - 1 / ratio)
    return mu, p


def single(s, w0_norm=1.0):
    """Single-output test loss with readout |w(0)|^2/N = w0_norm (Picard)."""
    with mock.patch.object(solve_module, "sweep", functools.partial(dmft.sweep,
                                                                     w0_norm=w0_norm)):
        return theory(s, method="picard").test_loss.to_numpy()


def teacher_scaled(s, lam, w0_norm=1.0):
    """lambda * L_0 with teacher norm sqrt(lambda): richness gamma0 sqrt(lambda), noise
    sigma/sqrt(lambda) (theory/outputs.py)."""
    return lam * single(s.replace(gamma0=s.gamma0 * math.sqrt(lam),
                                  sigma=s.sigma / math.sqrt(lam)), w0_norm)


def mode_averages(s, kappa, nodes):
    lam, q = teacher_spectrum_rule(kappa, nodes)
    mu, p = mp_rule(kappa / s.nu, nodes)
    teacher = sum(qi / li * teacher_scaled(s, li) for li, qi in zip(lam, q))
    readout = sum(pj * single(s, mj) for mj, pj in zip(mu, p))
    both = sum(pj * qi / li * teacher_scaled(s, li, mj)
               for mj, pj in zip(mu, p) for li, qi in zip(lam, q))
    return {"teacher modes": teacher, "readout modes": readout, "both": both}


def sim_stats(s, D, seeds):
    g = simulate(s, D=D, seeds=seeds, seed=0).groupby("step").test_loss
    return g.mean().to_numpy(), g.sem().to_numpy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=128)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kappa.md")
    args = ap.parse_args(argv)
    start = time.time()

    steps = [2, 4, 6, 8]
    lines = [f"# Many outputs, kappa > 0 ({datetime.date.today()}, {cpu_name()}, "
             f"load {os.getloadavg()[0]:.1f})", "",
             f"## 1. The nu = inf, infinite-data theory against one-pass SGD as nu = alpha_B "
             f"grow (L = {LIMIT.L}, muP, gamma0 = {LIMIT.gamma0}, eta0 = {LIMIT.eta0}, "
             f"kappa = {LIMIT.kappa}, 4 seeds; test loss at t = {steps})", "",
             "| curve | " + " | ".join(f"t = {t}" for t in steps) + " |",
             "|---|" + "---|" * len(steps)]

    def row(name, values, sems=None):
        cells = [f"{v:.4f}" if sems is None else f"{v:.4f} ± {e:.4f}"
                 for v, e in zip(values, sems if sems is not None else values)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")

    limit = LIMIT.replace(nu=INF, alpha=INF)
    row("theory, nu = alpha = inf, kappa = 1", theory(limit).test_loss.to_numpy()[steps])
    row("theory, nu = alpha = inf, kappa = 0",
        theory(limit.replace(kappa=0.0)).test_loss.to_numpy()[steps])
    for r, Ds in ((4.0, (32, 64)), (16.0, (32, 64)), (32.0, (32,))):
        s = LIMIT.replace(nu=r, alpha_B=r)
        row(f"DMFT kappa = 0 at nu = alpha_B = {r:g}",
            theory(s.replace(kappa=0.0)).test_loss.to_numpy()[steps])
        for D in Ds:
            m, e = sim_stats(s, D, 4)
            row(f"simulation kappa = 1, nu = alpha_B = {r:g}, D = {D}", m[steps], e[steps])

    steps = [5, 10, 19]
    lines += ["", f"## 2. Section 11.4's setting (L = {TABLE.L}, nu = {TABLE.nu}, "
              f"alpha = {TABLE.alpha}, eta0 = {TABLE.eta0}, sigma = {TABLE.sigma}, muP): "
              f"simulation (D = {args.D}, {args.seeds} seeds) against mode averages of the "
              f"single-output DMFT ({args.nodes} nodes each), guesses at finite nu and alpha",
              "", "| kappa | curve | " + " | ".join(f"t = {t}" for t in steps) + " |",
              "|---|---|" + "---|" * len(steps)]
    base = single(TABLE)
    for kappa in (0.25, 1.0):
        m, e = sim_stats(TABLE.replace(kappa=kappa), args.D, args.seeds)
        lines.append(f"| {kappa} | simulation | "
                     + " | ".join(f"{m[t]:.4f} ± {e[t]:.4f}" for t in steps) + " |")
        lines.append(f"| {kappa} | single-output DMFT | "
                     + " | ".join(f"{base[t]:.4f}" for t in steps) + " |")
        for name, curve in mode_averages(TABLE, kappa, args.nodes).items():
            lines.append(f"| {kappa} | average over {name} | "
                         + " | ".join(f"{curve[t]:.4f}" for t in steps) + " |")
    lines += ["", f"Wall time {time.time() - start:.0f} s.", ""]
    write_result(args.out, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
