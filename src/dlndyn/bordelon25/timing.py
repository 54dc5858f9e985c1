"""Table 1 of the paper, measured: wall time of the DMFT solve against finite-network training
(the rank-one engine and plain autodiff) as the width N, the horizon T and the depth L grow.

The paper quotes O(L T^2) per fixed-point sweep for the theory (our exact forward stepper is
O(L T^3) in total) against O(N^2 L P T) for training a network; the rank-one engine cuts the
latter to O((P D + N D + L N^2) T).
"""

from __future__ import annotations

import time

import pandas as pd

from .jobs import device_name
from .setting import Setting
from .sim.engine import simulate
from .sim.reference import autodiff_step
from .theory.solve import theory

METHODS = ("dmft", "rank_one", "autodiff")


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_setting(s: Setting, D: int, seeds: int = 1, methods=METHODS) -> dict:
    """Seconds per method for one setting. Simulations are timed on their second call (the
    first compiles); the DMFT has nothing to compile."""
    out = {}
    for method in methods:
        if method == "dmft":
            out[method] = _seconds(lambda: theory(s))
            continue
        step_fn = None if method == "rank_one" else autodiff_step

        def run(step_fn=step_fn):
            return simulate(s, D=D, seeds=seeds, step_fn=step_fn)

        run()  # compile
        out[method] = _seconds(run)
    return out


def table1(base: Setting, D: int, sweeps: dict, seeds: int = 1, log=print) -> pd.DataFrame:
    """Time every method while one of nu (width), T or L varies over ``sweeps[field]``.

    Columns: sweep, N, T, L, P, method, seconds, device.
    """
    rows = []
    for field, values in sweeps.items():
        for value in values:
            s = base.replace(**{field: value})
            sizes = s.sizes(D)
            for method, sec in time_setting(s, D, seeds).items():
                rows.append({"sweep": field, "N": sizes["N"], "T": s.T, "L": s.L,
                             "P": sizes["P"], "method": method, "seconds": sec,
                             "device": device_name() if method != "dmft" else "cpu (numpy)"})
                log(f"{field}={value}: N={sizes['N']} T={s.T} L={s.L} {method}: {sec:.3f} s")
    return pd.DataFrame(rows)


def table1_files(cfg: dict, csv_path, figure_paths, log=print) -> pd.DataFrame:
    """Measure Table 1 from its config block (base, D, sweeps, seeds) into a csv and a figure."""
    from ..core.tables import write_table
    from .plotting import plot_table1

    table = table1(Setting(**cfg["base"]), cfg["D"], cfg["sweeps"], cfg.get("seeds", 1), log=log)
    write_table(table, csv_path)
    plot_table1(table, figure_paths)
    return table
