"""Cost of the power-law theory as the horizon T grows, and the late-time exponents.

Part 1 times :func:`dlndyn.bordelon25.theory.powerlaw.stepper_theory` (exact forward stepping) for T in
250..2000 (or --T) in four regimes and fits seconds ~ T^p:

* population limit (nu = inf, alpha_B = inf), L = 1, rich, 10^6 modes coarse-grained to 300
  groups: the long-horizon solver of Figures 6 and 10 (O(L T^3 + K T^2));
* the same with 4000 exact modes (no coarse-graining);
* the population limit at depth L = 3;
* finite width and batch (nu = 1, alpha_B = 1): per-mode T x T responses, O(K T^3), on 32
  groups of modes.

Part 2 (--exponents) measures the last-decade slope of L(t) at the settings recommended for
Figures 6 and 10 and compares with t^-b (lazy) and t^-2b/(1+b) (rich).

Writes benchmarks/results/powerlaw.md. Run: python benchmarks/bench_powerlaw.py [--exponents]
(one BLAS thread; the machine's load average is recorded, timings on a loaded machine are
upper bounds).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from dlndyn import Setting  # noqa: E402
from dlndyn.bordelon25.theory.powerlaw import (  # noqa: E402
    fit_exponent,
    physical_setting,
    predicted_exponent,
    stepper_theory,
)

inf = math.inf
MODES, BINS = 10**6, 300


def population(L=1, source=0.5, gamma=1.5, T=1000, modes=MODES, eta=None):
    """Population-limit setting in the physical units of docs/bordelon25.md, section 7 (lambda_1 = 1)."""
    eta = 0.1 / (L + 1) if eta is None else eta
    base = Setting(L=L, nu=inf, alpha_B=inf, data="powerlaw", capacity=1.5, source=source, T=T)
    return physical_setting(base, modes, eta=eta, gamma=gamma)


def timed(fn, repeats=3):
    """Best wall time of up to ``repeats`` runs (one run if it takes over a second)."""
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        if best > 1.0:
            break
    return best, out


def scaling(Ts, secs):
    """Exponent p of seconds ~ T^p, fitted on the two largest T."""
    return float(np.polyfit(np.log(Ts[-2:]), np.log(secs[-2:]), 1)[0])


def bench_T(Ts):
    regimes = {
        "population, L=1, 1e6 modes / 300 groups": lambda T: stepper_theory(
            population(T=T), modes=MODES, bins=BINS),
        "population, L=1, 4000 exact modes": lambda T: stepper_theory(
            population(T=T, modes=4000), modes=4000),
        "population, L=3, 1e6 modes / 300 groups": lambda T: stepper_theory(
            population(L=3, T=T), modes=MODES, bins=BINS),
        "nu=1, alpha_B=1, L=1, 4096 modes / 32 groups": lambda T: stepper_theory(
            physical_setting(Setting(L=1, nu=1.0, alpha_B=1.0, T=T, data="powerlaw",
                                     capacity=1.5, source=0.5), 4096, eta=0.05, gamma=1.5),
            modes=4096, bins=32),
    }
    limits = {"nu=1, alpha_B=1, L=1, 4096 modes / 32 groups": 1000}
    rows = []
    for name, fn in regimes.items():
        Tr = [T for T in Ts if T <= limits.get(name, max(Ts))]
        secs = []
        for T in Tr:
            dt, table = timed(lambda: fn(T))
            assert not table.diverged.any(), (name, T)
            secs.append(dt)
            print(f"{name}: T={T}: {dt:.2f} s", flush=True)
        rows.append((name, Tr, secs, scaling(Tr, secs)))
    return rows


EXPONENT_CASES = [
    # (label, L, gamma, eta, T): physical units, capacity a = 1.5, 10^6 modes / 300 groups
    ("Fig 6/10, L=1", 1, 3.0, 0.05, 3000),
    ("depth, L=1", 1, 1.5, 0.05, 2000),
    ("depth, L=2", 2, 1.5, 0.1 / 3, 2000),
    ("depth, L=3", 3, 1.5, 0.025, 2000),
]


def bench_exponents():
    rows = []
    for label, L, gamma, eta, T in EXPONENT_CASES:
        for source in (0.5, 1.5):
            for regime in ("lazy", "rich"):
                s = population(L=L, source=source, gamma=gamma if regime == "rich" else 0.0,
                               T=T + 1, eta=eta)
                dt, th = timed(lambda: stepper_theory(s, modes=MODES, bins=BINS))
                assert not th.diverged.any()
                slope = fit_exponent(th.step, th.test_loss)
                pred = predicted_exponent(source, regime)
                rows.append((label, L, source, regime, gamma if regime == "rich" else 0.0, eta,
                             T, s.eta0, s.gamma0, slope, pred, dt))
                print(f"{label} b={source} {regime}: slope {slope:.3f} (predicted {pred:.3f}),"
                      f" {dt:.1f} s", flush=True)
    return rows


def write(rows_T, rows_exp, path):
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Power-law theory: solver cost vs horizon T, and late-time exponents",
        "",
        f"`python benchmarks/bench_powerlaw.py{' --exponents' if rows_exp else ''}` on "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, one BLAS "
        f"thread, numpy {np.__version__}; load average at the end {load:.1f} (the machine is "
        "shared: timings are upper bounds).",
        "",
        "Solver: exact forward time stepping (`dlndyn.bordelon25.theory.stepper.step_dmft`, via "
        "`dlndyn.bordelon25.theory.powerlaw.stepper_theory`). Population limit = nu=inf, alpha_B=inf: "
        "O(L T^3 + K T^2) time, O(L T^2 + K T) memory; finite nu or alpha_B: O(K T^3) time, "
        "O(K T^2) memory (K = number of (groups of) modes). Rates in physical units "
        "(lambda_1 = 1, `dlndyn.bordelon25.theory.powerlaw.physical_setting`): population rows eta = 0.1/(L+1), "
        "gamma = 1.5; finite row eta = 0.05, gamma = 1.5 (mapped as at nu = inf); capacity "
        "a = 1.5, source b = 0.5.",
        "",
        "## Seconds per solve",
        "",
    ]
    Ts = sorted({T for _, Tr, _, _ in rows_T for T in Tr})
    lines.append("| regime | " + " | ".join(f"T={T}" for T in Ts) + " | fitted p (s ~ T^p) |")
    lines.append("|---|" + "---|" * len(Ts) + "---|")
    for name, Tr, secs, p in rows_T:
        cells = [f"{secs[Tr.index(T)]:.2f}" if T in Tr else "-" for T in Ts]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {p:.2f} |")
    lines.append("")
    lines.append("p is fitted on the two largest T of each row (asymptotic cost is 3 for the "
                 "T^3 terms; smaller p means the K T^2 or per-step overhead still dominates).")
    if rows_exp:
        lines += [
            "",
            "## Late-time exponents (last-decade log-log slope of L(t))",
            "",
            "Population limit, capacity a = 1.5, 10^6 modes coarse-grained to 300 groups; "
            "eta, gamma in physical units (`dlndyn.bordelon25.theory.powerlaw.physical_setting`), and the "
            "equivalent Setting fields eta0, gamma0 for modes=10^6.",
            "",
            "| case | L | b | regime | gamma | eta | T | eta0 | gamma0 | slope | predicted |"
            " rel. dev. | seconds |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for (label, L, b, regime, g, eta, T, eta0, gamma0, slope, pred, dt) in rows_exp:
            lines.append(
                f"| {label} | {L} | {b} | {regime} | {g:g} | {eta:.4g} | {T} | {eta0:.4g} | "
                f"{gamma0:.4g} | {slope:.3f} | {pred:.3f} | {abs(slope / pred - 1):.1%} |"
                f" {dt:.1f} |")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=int, nargs="+", default=[250, 500, 1000, 2000])
    ap.add_argument("--exponents", action="store_true", help="also measure the exponents")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "powerlaw.md")
    args = ap.parse_args()
    rows_T = bench_T(sorted(args.T))
    rows_exp = bench_exponents() if args.exponents else []
    write(rows_T, rows_exp, args.out)


if __name__ == "__main__":
    main()
