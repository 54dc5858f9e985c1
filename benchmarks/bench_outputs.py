"""Many outputs (docs/bordelon25.md, section 11): the rank-C engine against jax.grad, and its
low-rank path against the dense one.

1. Max abs difference of the test and train losses, engine (low rank and dense) against
   ``jax.grad`` training, whole runs through ``simulate`` in float64 and float32.
2. Seconds of one compiled call (compilation not timed), low rank vs dense, at one setting
   and several numbers of outputs C.

Usage:
    python benchmarks/bench_outputs.py [--D 128 --C 1 4 16 --T 50 --seeds 4
        --out benchmarks/results/outputs.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from _common import cpu_name, write_result  # noqa: E402
from dlndyn import Setting, simulate  # noqa: E402
from dlndyn.bordelon25.sim.engine import choose_path, grid_arguments, run_grid  # noqa: E402
from dlndyn.bordelon25.sim.reference import autodiff_step  # noqa: E402


def steady(s, D, seeds, **kw):
    """Seconds of one compiled call (compiled ahead of time, compilation not timed)."""
    args, kwargs = grid_arguments(s, D, seeds, **kw)
    compiled = run_grid.lower(*args, **kwargs).compile()
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args, spectrum=kwargs["spectrum"]))
    return time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=128)
    ap.add_argument("--C", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "outputs.md")
    args = ap.parse_args(argv)

    lines = [f"# Many outputs: rank-C engine ({datetime.date.today()}, {cpu_name()}, "
             f"load {os.getloadavg()[0]:.1f})", "",
             "## Engine against jax.grad (whole runs, simulate, D = 12, C = 4, 2 seeds, T = 8)",
             "", "| setting | dtype | path | max abs diff test loss | max abs diff train loss |",
             "|---|---|---|---|---|"]
    cases = {"L2 full batch muP": Setting(L=2, nu=1.5, alpha=1.5, eta0=0.2, T=8, sigma=0.3,
                                          kappa=4 / 12),
             "L3 one-pass NTK": Setting(L=3, nu=1.0, alpha_B=0.5, eta0=0.1, T=8, param="ntk",
                                        kappa=4 / 12)}
    for name, s in cases.items():
        for dtype in ("float64", "float32"):
            kw = dict(D=12, seeds=2, seed=1, dtype=dtype)
            ref = simulate(s, step_fn=autodiff_step, **kw)
            for method in ("lowrank", "dense"):
                got = simulate(s, method=method, **kw)
                d = [np.max(np.abs(got[c] - ref[c])) for c in ("test_loss", "train_loss")]
                lines.append(f"| {name} | {dtype} | {method} | {d[0]:.1e} | {d[1]:.1e} |")
    s = Setting(L=3, nu=2.0, alpha=2.0, eta0=0.05, T=args.T)
    lines += ["", f"## Low rank vs dense: L = 3, nu = 2, alpha = 2, D = {args.D}, T = {args.T}, "
              f"{args.seeds} seeds, float32, one learning rate", "",
              "| C | low rank (s) | dense (s) | choose_path |", "|---|---|---|---|"]
    for C in args.C:
        sc = s.replace(kappa=C / args.D)
        sec = {m: steady(sc, args.D, args.seeds, method=m) for m in ("lowrank", "dense")}
        rule = choose_path(sc.sizes(args.D), sc.L - 1, sc.T)
        lines.append(f"| {C} | {sec['lowrank']:.3f} | {sec['dense']:.3f} | {rule} |")
    write_result(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
