"""The two computations of the pipeline, keyed by what they compute (not by where they are used).

A simulation job is identified by its canonical setting, size D, seeds, base seed, dtype and
learning-rate grid; a theory job by its setting, modes, bins and grid. Each distinct computation
runs once however many panels use it, and its table holds only what it computed (figure, panel
and curve are attached when a figure reads it: :func:`dlndyn.bordelon25.pipeline.figure_tables`).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ..core import design
from .setting import Setting


def _canonical(setting: Setting) -> dict:
    """The setting's fields, without ``kappa`` when it is 0 (one output): single-output jobs
    keep the keys they had before the field existed."""
    fields = setting.asdict()
    if fields["kappa"] == 0:
        del fields["kappa"]
    return fields


def sim_job(setting: Setting, *, D: int, seeds: int, seed: int, dtype: str, eta0_grid) -> dict:
    """Canonical params of a simulation (with a grid, the setting's own eta0 is irrelevant)."""
    if eta0_grid is not None:
        setting = setting.replace(eta0=0.0)
    return {"setting": _canonical(setting), "D": int(D), "seeds": int(seeds), "seed": int(seed),
            "dtype": str(dtype), "eta0_grid": None if eta0_grid is None else list(eta0_grid)}


def theory_job(setting: Setting, *, D: int, modes, bins, eta0_grid) -> dict:
    """Canonical params of a theory solve (isotropic data has one mode: D, modes, bins unused)."""
    if eta0_grid is not None:
        setting = setting.replace(eta0=0.0)
    powerlaw = setting.data == "powerlaw"
    return {"setting": _canonical(setting),
            "modes": int(modes or D) if powerlaw else None,
            "bins": bins if powerlaw else None,
            "eta0_grid": None if eta0_grid is None else list(eta0_grid)}


# A theory solve costs about L T^3 operations per eta0 (the forward steppers). Above this it
# runs as a process of its own (rule bordelon25_theory_long, truly parallel); below it, inside
# Snakemake's process, where a new process would cost more than the solve.
LONG_THEORY = 2e9


def is_long_theory(job: dict) -> bool:
    s = job["setting"]
    return len(job["eta0_grid"] or [1]) * s["L"] * float(s["T"]) ** 3 > LONG_THEORY


def key(kind: str, job: dict) -> str:
    """File-name key of a job: readable prefix, then a hash of everything it computes from.

    Long theory solves are marked ``long_`` (they run in a rule of their own)."""
    s = job["setting"]
    prefix = f"L{s['L']}_{s['param']}_T{s['T']}"
    if kind == "sim":
        prefix += f"_D{job['D']}_s{job['seeds']}"
    elif is_long_theory(job):
        prefix = f"long_{prefix}"
    return f"{prefix}_{design.digest(job)}"


def device_name() -> str:
    import jax

    d = jax.devices()[0]
    return f"{d.platform}:{getattr(d, 'device_kind', '')}"


def simulate(job: dict, *, log=print) -> pd.DataFrame:
    """Run a simulation job over its seeds (and eta0 grid): tidy table, one row per
    (seed, eta0, step), with the setting's fields, sizes, dtype and device as columns."""
    from ..core.train import precision  # JAX: only simulation jobs load it
    from .sim.engine import simulate as simulate_setting

    s = Setting(**job["setting"])
    grid = job["eta0_grid"]
    start = time.perf_counter()
    with precision(job["dtype"]):  # before JAX makes any array
        table = simulate_setting(s, D=job["D"], seeds=job["seeds"], seed=job["seed"],
                                 eta0_grid=grid, dtype=job["dtype"])
    if "eta0" not in table:
        table.insert(0, "eta0", s.eta0)
    sizes = s.sizes(job["D"])
    log(f"{s}: {job['seeds']} seeds x {len(grid or [1])} eta0 x {s.T} steps, "
        f"N={sizes['N']} P={sizes['P']}, {job['dtype']} on {device_name()}: "
        f"{time.perf_counter() - start:.1f} s, diverged runs: "
        f"{int(table.groupby(['seed', 'eta0']).diverged.any().sum())}")
    cols = {k: v for k, v in s.table_fields().items() if k != "eta0"}
    return table.assign(**cols, D=job["D"], N=sizes["N"], P=sizes["P"], dtype=job["dtype"],
                        device=device_name())


def theory(job: dict, *, log=print) -> pd.DataFrame:
    """Solve a theory job at each eta0 of its grid: tidy table, one row per (eta0, step).

    A point whose solve does not converge is kept as rows with ``converged=False`` and NaN
    losses, and logged; it is never silently dropped or filled in.
    """
    from .theory.dmft import DMFTConvergenceError
    from .theory.solve import theory as solve_theory

    setting = Setting(**job["setting"])
    grid = job["eta0_grid"] or [setting.eta0]
    start = time.perf_counter()
    parts = []
    for eta0 in grid:
        s = setting.replace(eta0=eta0)
        try:
            df = solve_theory(s, modes=job["modes"], bins=job["bins"]).assign(converged=True)
        except DMFTConvergenceError as err:
            log(f"WARNING: {err}")
            df = pd.DataFrame({"step": np.arange(s.T), "train_loss": np.nan,
                               "test_loss": np.nan, "diverged": False, "converged": False})
        parts.append(df.assign(eta0=eta0))
    table = pd.concat(parts, ignore_index=True)
    log(f"{setting}: DMFT, {len(grid)} eta0 x {setting.T} steps: "
        f"{time.perf_counter() - start:.2f} s")
    cols = {k: v for k, v in setting.table_fields().items() if k != "eta0"}
    return table.assign(**cols, dtype="float64")


def _write(compute, job: dict, out, log) -> None:
    """``compute(job, log=...)`` into the table ``out``, its log lines into the file ``log``."""
    from ..core.tables import write_table

    with open(log, "w") as f:
        write_table(compute(job, log=lambda m: print(m, file=f, flush=True)), out)


def write_theory(job: dict, out, log) -> None:
    """:func:`theory` of a job into the table ``out``, its log into ``log``."""
    _write(theory, job, out, log)


def write_simulation(job: dict, out, log, *, cache=None) -> None:
    """:func:`simulate` a job into the table ``out``, its log into ``log``.

    ``cache``: a directory for JAX's persistent compile cache (a build's jobs share it, and
    equal shapes compile once across builds). Jobs of one process also share compiled
    programs in memory.
    """
    from ..core.train import use_compile_cache

    if cache is not None:
        use_compile_cache(cache)
    _write(simulate, job, out, log)

