"""Wall-clock cost of the residual-network DMFT solve (docs/bordelon25.md, section 5).

Times :func:`dlndyn.solve` for L in {2, 4, 8, 16, 32} at T = 100 and for T in {25, 50, 100} at
L = 8, in the docs/bordelon25.md, section 4.7 setting (muP, nu = 1, alpha = 4, gamma0 = 1, beta0/sqrt(L) with
beta0 = 1, eta0 = 0.05). It also times one hidden-block evaluation by layer shooting
(O(L T^3)) against the dense O((LT)^3) inversion of the stacked system, for small L.

Prints a markdown table and writes benchmarks/results/residual_dmft.md.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_residual_dmft.py

The matrices are small (T to 2T on a side), so a multi-threaded BLAS gains little and, on a
machine shared with other jobs, its spinning threads can make a sweep several times slower:
on a 2-core machine at load average 4-7 the same L=32, T=100 solve took 12 s with one BLAS
thread and 130-160 s with two (about 18 s with two on a quieter machine). The thread setting
in force is recorded in the results file.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np

from dlndyn import Setting, solve
from dlndyn.bordelon25.theory import residual as res
from _common import write_result

OUT = Path(__file__).resolve().parent / "results" / "residual_dmft.md"
BASE = dict(nu=1.0, alpha=4.0, gamma0=1.0, eta0=0.05, residual=True, beta0=1.0)


def count_sweeps(s: Setting):
    """Solve s while counting the sweeps; returns (seconds, sweeps, test loss)."""
    n = {"sweeps": 0}

    def counted(o, s_):
        n["sweeps"] += 1
        return res.sweep(o, s_)

    original = res.model
    res.model = lambda s_: (res.ResidualOrder.initial, counted)
    try:
        t0 = time.perf_counter()
        _, test, _, _ = solve(s)
        seconds = time.perf_counter() - t0
    finally:
        res.model = original
    return seconds, n["sweeps"], test


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> str:
    load_start = os.getloadavg()[0]
    rows = []
    cases = [(L, 100) for L in (2, 4, 8, 16, 32)] + [(8, T) for T in (25, 50)]
    for L, T in sorted(set(cases), key=lambda c: (c[1] != 100, c)):
        s = Setting(L=L, T=T, **BASE)
        seconds, sweeps, test = count_sweeps(s)
        rows.append((L, T, seconds, sweeps, seconds / sweeps * 1e3, test[10], test[-1]))
        print(f"L={L:3d} T={T:4d}  {seconds:7.2f} s  {sweeps} sweeps", flush=True)

    # one hidden-block evaluation at T = 100: shooting over layers vs dense inversion
    block_rows = []
    for L in (2, 4, 8):
        s = Setting(L=L, T=100, **BASE)
        o, _, _, _ = solve(s)
        fast = best_of(lambda: res.hidden_block(o, s), 3)
        dense = best_of(lambda: res.dense_hidden_block(o, s), 1)
        block_rows.append((L, fast, dense))
        print(f"hidden block L={L}: shooting {fast*1e3:.1f} ms, dense {dense*1e3:.1f} ms",
              flush=True)

    lines = [
        "# Residual-network DMFT solve time",
        "",
        f"Setting: muP, nu=1, alpha=4, gamma0=1, beta0=1 with branches beta0/sqrt(L), "
        f"eta0=0.05, sigma=0 (docs/bordelon25.md, section 4.7); default solver options (window 5, tol 1e-10). "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs visible "
        f"(shared with other jobs), numpy {np.__version__}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
        f"load average at the start {load_start:.1f}, at the end {os.getloadavg()[0]:.1f}.",
        "",
        "| L | T | solve (s) | sweeps | ms / sweep | test loss t=10 | test loss t=T-1 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for L, T, sec, sw, ms, l10, lend in rows:
        lines.append(f"| {L} | {T} | {sec:.2f} | {sw} | {ms:.1f} | {l10:.4f} | {lend:.4f} |")
    lines += [
        "",
        "One hidden-block evaluation at T=100 (the converged order parameters): layer "
        "shooting, O(L T^3), against inverting the stacked 2(L+1)T system, O((LT)^3).",
        "",
        "| L | shooting (ms) | dense (ms) | ratio |",
        "|---:|---:|---:|---:|",
    ]
    for L, fast, dense in block_rows:
        lines.append(f"| {L} | {fast*1e3:.1f} | {dense*1e3:.1f} | {dense/fast:.0f}x |")
    return write_result(OUT, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
