"""One-pass SGD batches: drawn as matrices (``batches="explicit"``) against their sufficient
statistics (``batches="stats"``, the default; docs/bordelon25.md, section 1.6).

For each setting, both options side by side in one process: wall and CPU seconds of the first
``simulate`` call (compilation included) and of a second, identical call (compiled program
reused), the number of normals each draws per step and run, and the final seed-mean test loss
of both (the same law, different random numbers: they agree within a few standard errors).

Usage:
    python benchmarks/bench_online.py [--D 128 --T 300 --seeds 6 --alpha-B 0.5 8
        --paper-D 1024 --paper-T 20 --paper-seeds 2 --out benchmarks/results/online.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))


from _common import cpu_name, write_result  # noqa: E402
from dlndyn import Setting, simulate  # noqa: E402
from dlndyn.bordelon25.sim.engine import choose_path  # noqa: E402


def timed(s, D, seeds, batches):
    """(wall, CPU) seconds of one simulate call, and its table."""
    wall, cpu = time.perf_counter(), time.process_time()
    table = simulate(s, D=D, seeds=seeds, seed=0, batches=batches)
    return time.perf_counter() - wall, time.process_time() - cpu, table


def row(name, s, D, seeds):
    sz = s.sizes(D)
    C = sz.get("C", 1)
    normals = {"explicit": sz["P"] * (D + C), "stats": 2 * sz["P"] * C + D * C}
    cells, finals = [], []
    for batches in ("explicit", "stats"):
        w1, c1, _ = timed(s, D, seeds, batches)
        w2, c2, table = timed(s, D, seeds, batches)
        last = table[table.step == s.T - 1].test_loss
        finals.append(f"{last.mean():.4f} ± {last.sem():.1e}")
        cells.append((w1, c1, w2, c2))
    (ew1, ec1, ew2, ec2), (sw1, sc1, sw2, sc2) = cells
    path = choose_path(sz, s.L if s.residual else s.L - 1, s.T)
    return (f"| {name} | {D} | {sz['P']} | {s.T} | {seeds} | {path} | "
            f"{normals['explicit']} / {normals['stats']} | "
            f"{ew1:.2f} / {ec1:.2f} | {sw1:.2f} / {sc1:.2f} | "
            f"{ew2:.2f} / {ec2:.2f} | {sw2:.2f} / {sc2:.2f} | {ew2 / sw2:.1f} | "
            f"{finals[0]} | {finals[1]} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=128)
    ap.add_argument("--T", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--alpha-B", type=float, nargs="+", default=[0.5, 8.0])
    ap.add_argument("--paper-D", type=int, default=1024)
    ap.add_argument("--paper-T", type=int, default=20)
    ap.add_argument("--paper-seeds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "online.md")
    args = ap.parse_args(argv)

    load = os.getloadavg()[0]
    lines = [f"# One-pass SGD: explicit batches vs sufficient statistics "
             f"({datetime.date.today()}, {cpu_name()}, {os.cpu_count()} CPUs, "
             f"load {load:.1f} at the start)", "",
             "Seconds as wall / CPU (CPU: all threads of the process). First call: "
             "compilation included; second: the same call again (compiled program reused). "
             "Normals: per step and run. Final loss: seed mean ± standard error of the test "
             "loss at the last step (float32).", "",
             "| setting | D | P | T | seeds | path | normals explicit / stats | "
             "1st explicit | 1st stats | 2nd explicit | 2nd stats | 2nd-call speed-up | "
             "final explicit | final stats |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    # Figure 3's one-pass panels (base L = 1, nu = 4, sigma = 0.5) and Figure 6's power-law data
    fig3 = Setting(L=1, nu=4.0, alpha_B=1.0, gamma0=1.0, eta0=0.1, T=args.T, sigma=0.5)
    fig6 = Setting(L=1, nu=1.0, alpha_B=1.0, gamma0=1.0, eta0=0.015, T=args.T, sigma=0.0,
                   data="powerlaw", capacity=1.5, source=0.5)
    for aB in args.alpha_B:
        lines.append(row(f"L=1, nu=4, alpha_B={aB:g}", fig3.replace(alpha_B=aB), args.D,
                         args.seeds))
        print(lines[-1], flush=True)
    for aB in args.alpha_B:
        lines.append(row(f"power law, L=1, nu=1, alpha_B={aB:g}", fig6.replace(alpha_B=aB),
                         args.D, args.seeds))
        print(lines[-1], flush=True)
    paper = fig3.replace(alpha_B=max(args.alpha_B), T=args.paper_T)
    lines.append(row(f"L=1, nu=4, alpha_B={paper.alpha_B:g} (paper scale)", paper,
                     args.paper_D, args.paper_seeds))
    lines += ["", f"Load at the end: {os.getloadavg()[0]:.1f}. Reproduce: "
              f"`python benchmarks/bench_online.py` (defaults as above)."]
    write_result(args.out, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
