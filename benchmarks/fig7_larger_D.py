"""Figure 7's setting at a larger input dimension: does the simulated optimum follow the DMFT's?

    python benchmarks/fig7_larger_D.py            # D = 128 and 512, about 1-2 min on 2 cores

Figure 7's base setting (config/config.yaml) and eta0 grid, NTK and muP at nu = 0.5 and 4,
4 seeds; the theory on the same D modes. Writes benchmarks/results/fig7_larger_D.md.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import cpu_name, write_result  # noqa: E402
from dlndyn.bordelon25 import Setting  # noqa: E402
from dlndyn.bordelon25.setting import spectrum  # noqa: E402
from dlndyn.bordelon25.sim.engine import simulate  # noqa: E402
from dlndyn.bordelon25.theory.solve import theory  # noqa: E402

BASE = Setting(L=1, T=100, alpha_B=4.0, capacity=1.5, data="powerlaw", gamma0=2.0, source=0.5)
GRID = list(np.geomspace(0.005, 0.04, 12))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--D", type=int, nargs="+", default=[128, 512])
    ap.add_argument("--seeds", type=int, default=4)
    args = ap.parse_args()
    lines = [f"# Figure 7's setting at larger D ({time.strftime('%Y-%m-%d')}, {cpu_name()})", "",
             "`python benchmarks/fig7_larger_D.py`: optimal eta0 on the grid 0.005 ... 0.04 "
             f"(12 points), {args.seeds} seeds, final test loss at t = {BASE.T - 1}.", "",
             "| D | lambda_1 (modes = D) | param | nu | simulated optimum | DMFT optimum |",
             "|---|---|---|---|---|---|"]
    for D in args.D:
        lam1 = spectrum(BASE.capacity, BASE.source, D)[0][0]
        for param in ("ntk", "mup"):
            for nu in (0.5, 4.0):
                s = BASE.replace(param=param, nu=nu)
                df = simulate(s, D=D, seeds=args.seeds, eta0_grid=GRID)
                final = df[df.step == s.T - 1].groupby("eta0").test_loss.mean()
                th = [theory(s.replace(eta0=e), modes=D).test_loss.iloc[-1] for e in GRID]
                lines.append(f"| {D} | {lam1:.1f} | {param} | {nu} | {final.idxmin():.4f} | "
                             f"{GRID[int(np.nanargmin(th))]:.4f} |")
                print(lines[-1], flush=True)
    write_result(ROOT / "benchmarks" / "results" / "fig7_larger_D.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
