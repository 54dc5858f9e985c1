"""Measure the crossover in T between the engine's low-rank and dense paths.

Per run and step the dense path costs a constant, the low-rank path a + b T (its factor
buffers hold T rows). Both are timed (one call, compiled ahead of time) at two horizons per width and
grid size, the per-step costs fitted, and the crossover T* where they are equal reported with
the rule's constant kappa* = T* sum(rows + cols) / sum(rows cols) (``engine.CROSSOVER``).

Usage:
    python benchmarks/bench_crossover.py [--D 64 128 --E 1 12 --T 64 256 --seeds 8
        --out benchmarks/results/engine_crossover.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from dlndyn import Setting  # noqa: E402
from dlndyn.bordelon25.sim.engine import grid_arguments, matrix_shapes, run_grid  # noqa: E402


def steady(s, D, seeds, **kw):
    """Seconds of one compiled call (compiled ahead of time, compilation not timed)."""
    args, kwargs = grid_arguments(s, D, seeds, **kw)
    compiled = run_grid.lower(*args, **kwargs).compile()
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--E", type=int, nargs="+", default=[1, 12])
    ap.add_argument("--T", type=int, nargs=2, default=[64, 256])
    ap.add_argument("--nu", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--L", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--out", type=Path,
                    default=ROOT / "benchmarks" / "results" / "engine_crossover.md")
    args = ap.parse_args(argv)

    rows = []
    for D in args.D:
        for E in args.E:
            grid = list(np.linspace(0.02, 0.3, E)) if E > 1 else None
            sec = {}
            for method in ("dense", "lowrank"):
                for T in args.T:
                    s = Setting(L=args.L, nu=args.nu, alpha=args.alpha, eta0=0.1, T=T)
                    sec[method, T] = steady(s, D, args.seeds, eta0_grid=grid, method=method)
                    print(f"D={D} E={E} {method} T={T}: {sec[method, T]:.3f} s", flush=True)
            T1, T2 = args.T
            d = (sec["dense", T1] / T1 + sec["dense", T2] / T2) / 2  # s per step
            b = (sec["lowrank", T2] / T2 - sec["lowrank", T1] / T1) / (T2 - T1)
            a = sec["lowrank", T1] / T1 - b * T1
            t_star = (d - a) / b if b > 0 else np.inf
            sizes = Setting(L=args.L, nu=args.nu, alpha=args.alpha).sizes(D)
            shapes = matrix_shapes(sizes, args.L - 1)
            kappa = t_star * sum(r + c for r, c in shapes) / sum(r * c for r, c in shapes)
            rows.append((D, sizes["N"], E, sec, t_star, kappa))

    load = os.getloadavg()
    lines = [
        "# Low-rank vs dense engine path: the crossover in T",
        "",
        f"L={args.L}, nu={args.nu:g}, alpha={args.alpha:g} (full batch), {args.seeds} seeds, "
        f"float32; seconds of one compiled call (compilation not timed).",
        f"Machine: {jax.devices()[0].platform}, {os.cpu_count()} CPU cores, {platform.machine()}, "
        f"jax {jax.__version__}; load average at the end {tuple(round(x, 2) for x in load)}.",
        f"Date: {datetime.datetime.now().isoformat(timespec='seconds')}.",
        "",
        f"| D | N | grid size E | dense T={args.T[0]} | dense T={args.T[1]} | low-rank T={args.T[0]} "
        f"| low-rank T={args.T[1]} | crossover T* | kappa* |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for D, N, E, sec, t_star, kappa in rows:
        T1, T2 = args.T
        lines.append(f"| {D} | {N} | {E} | {sec['dense', T1]:.3f} | {sec['dense', T2]:.3f} | "
                     f"{sec['lowrank', T1]:.3f} | {sec['lowrank', T2]:.3f} | {t_star:.0f} | "
                     f"{kappa:.2f} |")
    lines += ["", "kappa* = T* sum(rows+cols)/sum(rows cols); the engine picks low rank while "
              "T sum(rows+cols) <= CROSSOVER sum(rows cols).", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
