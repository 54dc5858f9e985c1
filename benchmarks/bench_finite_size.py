"""Figure 2 near the edge of stability: the finite-size gap to the DMFT, and what a larger D costs.

Part 1 (default): at Figure 2's NTK point nu = 0.5, eta0 = 0.24 (L = 2, alpha = 4, T = 50)
simulates D = 64 ... 2048 and prints, per D, the seed mean of the final test loss beside the
DMFT, and the median *departure step*: the first step t >= 1 at which a run's loss falls below
half the DMFT's (docs/bordelon25.md, section 4.6).

Part 2 (--cost): the run time (compile excluded, compiled ahead of time) of one Figure 2 curve
(12 eta0 x 6 seeds, T = 50) at nu = 0.5 and nu = 8 (the cheapest and the costliest width) as
D grows, and the compile time.

Part 3 (--sharpness): per seed, eta0 lambda_max(K) / 2 of the initial network's lazy kernel
K = [|g^1|^2 I + |w|^2/N W0^T W0/N + A A^T/N] X^T X/(N P), A = W0^T W1^T/sqrt(N) (L = 2; above 1
lazy gradient descent diverges), and its correlation over seeds with the final test loss.

Writes benchmarks/results/finite_size.md (parts 1, 2). Run:
python benchmarks/bench_finite_size.py [--cost | --sharpness]
(the machine's load average is recorded; timings on a loaded machine are upper bounds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from _common import cpu_name, write_result  # noqa: E402
from dlndyn import Setting  # noqa: E402

EDGE = Setting(L=2, nu=0.5, alpha=4.0, gamma0=1.0, eta0=0.24, T=50, sigma=0.0, param="ntk")
GRID = np.geomspace(0.02, 0.6, 12)  # Figure 2's eta0 grid


def gap_table(Ds, seeds) -> str:
    from dlndyn.bordelon25.sim.engine import simulate
    from dlndyn.bordelon25.theory.solve import theory

    th = theory(EDGE).test_loss.to_numpy()
    lines = [f"DMFT: final loss {th[-1]:.3f}, loss at t = 10, 20, 25: {th[10]:.3f}, "
             f"{th[20]:.3f}, {th[25]:.3f}", "",
             "| D | seeds | diverged | sim final loss (mean +- s.e.m.) | median | rel. gap | "
             "median departure step |", "|---|---|---|---|---|---|---|"]
    for D, S in zip(Ds, seeds):
        sim = simulate(EDGE, D=D, seeds=S)
        curves = sim.pivot(index="step", columns="seed", values="test_loss").to_numpy()
        final = curves[-1][np.isfinite(curves[-1])]
        below = curves[1:] < 0.5 * th[1:, None]
        depart = np.where(below.any(0), below.argmax(0) + 1, EDGE.T)
        m, e = final.mean(), final.std(ddof=1) / np.sqrt(len(final))
        lines.append(f"| {D} | {S} | {S - len(final)} | {m:.3g} +- {e:.2g} | "
                     f"{np.median(final):.3g} | {abs(m - th[-1]) / th[-1]:.3f} | "
                     f"{np.median(depart):.0f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def cost_table(Ds, nus) -> str:
    import jax

    from dlndyn.bordelon25.sim.engine import grid_arguments, run_grid
    from dlndyn.core.train import precision

    lines = ["| nu | D | N | P | path | compile (s) | run (s) |", "|---|---|---|---|---|---|---|"]
    for nu in nus:
        for D in Ds:
            s = EDGE.replace(nu=nu)
            with precision("float32"):
                args, kw = grid_arguments(s, D, 6, eta0_grid=GRID)
                spec = kw.pop("spectrum")  # an array argument of the compiled call
                t0 = time.perf_counter()
                fn = run_grid.lower(*args, spectrum=spec, **kw).compile()
                t1 = time.perf_counter()
                jax.block_until_ready(fn(*args, spectrum=spec))
                t2 = time.perf_counter()
            lines.append(f"| {nu:g} | {D} | {kw['N']} | {kw['P']} | {kw['path']} | "
                         f"{t1 - t0:.1f} | {t2 - t1:.2f} |")
            print(lines[-1], flush=True)
    return "\n".join(lines)


def sharpness_table(Ds, seeds) -> str:
    """eta0 lambda_max(K(0)) / 2 per seed (the engine's own initial weights and data)."""
    from dlndyn.bordelon25.sim.engine import init_state, simulate

    lines = ["| D | seeds | eta0 lmax / 2 (mean, s.d.) | corr. with final loss |",
             "|---|---|---|---|"]
    for D, S in zip(Ds, seeds):
        sz = EDGE.sizes(D)
        N, P = sz["N"], sz["P"]
        final = simulate(EDGE, D=D, seeds=S).query(f"step == {EDGE.T - 1}").test_loss.to_numpy()
        sharp = []
        for r in range(S):
            params, data = init_state(0, r, D=D, N=N, P=P, n_mid=EDGE.L - 1, sigma=0.0,
                                      online=False, dtype=np.float32)
            W0, W1, w, X = (np.asarray(a, float) for a in
                            (params["W0"], params["Ws"][0], params["w"], data["X"]))
            g1, A = W1.T @ w / np.sqrt(N), W0.T @ W1.T / np.sqrt(N)
            theta = (g1 @ g1 / N) * np.eye(D) + (w @ w / N) * W0.T @ W0 / N + A @ A.T / N
            c = np.linalg.cholesky(X.T @ X / P)
            sharp.append(EDGE.eta0 * np.linalg.eigvalsh(c.T @ theta @ c)[-1] / 2)
        sharp = np.array(sharp)
        ok = np.isfinite(final)
        corr = np.corrcoef(sharp[ok], final[ok])[0, 1] if ok.sum() > 2 else float("nan")
        lines.append(f"| {D} | {S} | {sharp.mean():.3f}, {sharp.std():.3f} | {corr:+.2f} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cost", action="store_true", help="time one Figure 2 curve against D")
    ap.add_argument("--sharpness", action="store_true",
                    help="initial lazy-kernel sharpness per seed against the final loss")
    ap.add_argument("--Ds", type=int, nargs="+", default=None)
    args = ap.parse_args()
    if args.sharpness:
        Ds = args.Ds or [128, 256, 512, 1024]
        print(sharpness_table(Ds, [16 if D <= 256 else 8 if D <= 512 else 4 for D in Ds]))
        return
    head = (f"Machine: {cpu_name()}, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f} at the start.\n\n")
    if args.cost:
        Ds = args.Ds or [128, 256, 512, 1024]
        body = ("One Figure 2 curve (12 eta0 x 6 seeds, T = 50, float32), compiled ahead of "
                "time:\n\n" + cost_table(Ds, [0.5, 8.0]))
        write_result(ROOT / "benchmarks" / "results" / "finite_size_cost.md",
                     "# Figure 2: simulation cost against D\n\n" + head + body + "\n")
        return
    Ds = args.Ds or [64, 128, 256, 512, 1024, 2048]
    seeds = [16 if D <= 256 else 8 if D <= 512 else 4 for D in Ds]
    body = (f"Setting: {EDGE}\n\n" + gap_table(Ds, seeds))
    write_result(ROOT / "benchmarks" / "results" / "finite_size.md",
                 "# Figure 2 at the edge of stability: simulation against the DMFT as D grows\n\n"
                 + head + body + "\n")


if __name__ == "__main__":
    main()
