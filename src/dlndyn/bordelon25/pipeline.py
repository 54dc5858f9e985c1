"""From the paper's config to runs, jobs and a figure's tables (used by the Snakemake rules).

A figure has panels; a panel varies one or more Setting fields over values (a grid) on top of
the figure's ``base`` setting and the panel's ``set`` overrides. Each grid point is a *run*
(one curve). A run needs a simulation job (finite D over seeds) and, where a theory exists, a
theory job (the DMFT); theory-only runs have no simulation. Jobs are keyed by what they
compute (:mod:`.jobs`), so runs that share a computation share the job. ``lr_sweep`` panels
run each curve over an eta0 grid (one compiled call).

Panel kinds are a registry (:data:`KINDS`): whether the kind is simulated and which summary
tables it writes; :mod:`.plotting` registers how each kind draws under the same names.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd

from ..core import design
from ..core.config import ConfigError
from ..core.tables import read_table, write_table
from . import jobs
from .setting import Setting
from .theory.solve import has_theory


@dataclass(frozen=True)
class Kind:
    """A panel kind: is it simulated, and which summary tables (``<fig>_<name>.csv``) it writes."""

    simulated: bool
    summaries: tuple[str, ...]
    description: str


KINDS = {
    "dynamics": Kind(True, ("agreement",), "loss against step"),
    "lr_sweep": Kind(True, ("agreement", "optimal_lr"), "final loss against an eta0 grid"),
    "final": Kind(True, ("agreement",), "final loss against the first swept field"),
    "exponent": Kind(False, ("exponents",), "late-time exponent against the source b (theory)"),
    "finite_size": Kind(True, ("finite_size",),
                        "final loss against the input dimension D (one curve per D in Ds)"),
}
SUMMARIES = ("agreement", "optimal_lr", "exponents", "finite_size")


def check_config(config: dict) -> dict:
    """Check that every run of the paper's (schema-valid) config builds a valid Setting.

    Raises ConfigError naming the panel.
    """
    for fig, fcfg in config["figures"].items():
        rows, cols = fcfg.get("layout", [1, len(fcfg["panels"])])
        if rows * cols < len(fcfg["panels"]):
            raise ConfigError(f"config key 'bordelon25.figures.{fig}.layout': {[rows, cols]} has "
                              f"{rows * cols} cells for {len(fcfg['panels'])} panels")
        for panel in fcfg["panels"]:
            try:
                for run in panel_runs(config, fig, panel):
                    if not (run.simulated or run.with_theory):
                        raise ValueError(f"kappa={run.setting.kappa}: no theory exists for "
                                         "kappa > 0 at finite width or on finite data, so "
                                         "the curve must be simulated")
                    if run.simulated:
                        run.setting.sizes(run.D)  # a limit (inf) cannot be simulated
                    _check_theory_memory(run.setting)
            except (TypeError, ValueError) as err:
                raise ConfigError(
                    f"config key 'bordelon25.figures.{fig}.panels.{panel}': {err}") from None
    return config


# ----------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    fig: str
    panel: str
    curve: str
    kind: str
    setting: Setting
    vary: dict  # the swept fields and their values for this curve
    D: int
    seeds: int
    eta0_grid: tuple | None
    simulated: bool = True  # False: a theory-only curve (e.g. an infinite-width limit)
    modes: int | None = None  # power-law data: modes of the theory (default D)
    bins: int | None = None  # power-law data: coarse-grain the modes into this many groups
    with_theory: bool = True  # False: no DMFT covers the setting (kappa > 0 at finite nu or
    # alpha): simulation only

    def params(self) -> dict:
        """Plain dict for Snakemake params (a change to it reruns the job)."""
        return {
            "fig": self.fig,
            "panel": self.panel,
            "curve": self.curve,
            "kind": self.kind,
            "setting": self.setting.asdict(),
            "vary": dict(self.vary),
            "D": self.D,
            "seeds": self.seeds,
            "eta0_grid": None if self.eta0_grid is None else list(self.eta0_grid),
            "simulated": self.simulated,
            "modes": self.modes,
            "bins": self.bins,
            "with_theory": self.with_theory,
        }

    @classmethod
    def from_params(cls, p: dict) -> Run:
        p = dict(p)
        p["setting"] = Setting(**p["setting"])
        p["eta0_grid"] = None if p["eta0_grid"] is None else tuple(p["eta0_grid"])
        return cls(**p)

    def columns(self) -> dict:
        """Identifying columns of this run in a figure's tables."""
        return {"fig": self.fig, "panel": self.panel, "curve": self.curve,
                **self.setting.table_fields(), "D": self.D}

    def sim_job(self, *, seed: int, dtype: str) -> dict:
        return jobs.sim_job(self.setting, D=self.D, seeds=self.seeds, seed=seed, dtype=dtype,
                            eta0_grid=self.eta0_grid)

    def theory_job(self) -> dict:
        return jobs.theory_job(self.setting, D=self.D, modes=self.modes, bins=self.bins,
                               eta0_grid=self.eta0_grid)

    def sim_key(self, *, seed: int, dtype: str) -> str:
        return jobs.key("sim", self.sim_job(seed=seed, dtype=dtype))

    def theory_key(self) -> str:
        return jobs.key("theory", self.theory_job())


def panel_runs(config: dict, fig: str, panel: str) -> list[Run]:
    """The runs of a panel: each entry of ``curves`` (default one empty entry) combined with
    every point of the ``vary`` grid, on top of the figure's ``base`` and the panel's ``set``.

    With ``units: physical`` the eta0 and gamma0 of the panel are physical rates (docs/bordelon25.md, section 7:
    lambda_1 = 1), converted to Setting units on the theory's number of modes.
    A ``finite_size`` panel runs every point once per input dimension in its ``Ds`` (curve
    names end in ``D~<D>``); the theory, independent of D, is one job they share.
    """
    fcfg = config["figures"][fig]
    pcfg = fcfg["panels"][panel]
    vary = pcfg.get("vary", {})
    kind = pcfg.get("kind", "dynamics")
    if (kind == "finite_size") != ("Ds" in pcfg):
        raise ValueError("a panel has a list Ds of input dimensions exactly when its kind is "
                         f"finite_size (kind: {kind})")
    sizes = [{"D": int(d)} for d in pcfg["Ds"]] if kind == "finite_size" else [{}]
    modes = pcfg.get("modes")
    runs = []
    for extra, values, size in itertools.product(pcfg.get("curves", [{}]),
                                                 design.product(vary), sizes):
        D = size.get("D", int(pcfg.get("D", fcfg["D"])))
        point = {**extra, **values}
        setting = Setting(**{**fcfg.get("base", {}), **pcfg.get("set", {}), **point})
        if pcfg.get("units") == "physical":
            from .theory.powerlaw import physical_setting

            setting = physical_setting(setting, modes or D, eta=setting.eta0,
                                       gamma=setting.gamma0)
        point = {**point, **size}
        curve = "_".join(f"{k}~{design.format_value(v)}" for k, v in point.items()) or "base"
        runs.append(
            Run(
                fig=fig,
                panel=panel,
                curve=curve,
                kind=kind,
                setting=setting,
                vary=point,
                D=D,
                seeds=int(pcfg.get("seeds", fcfg["seeds"])),
                eta0_grid=design.grid(pcfg.get("eta0")),
                simulated=KINDS[kind].simulated and not pcfg.get("theory_only", False),
                modes=modes,
                bins=pcfg.get("bins"),
                with_theory=has_theory(setting),
            )
        )
    return runs


def figure_runs(config: dict, fig: str) -> list[Run]:
    return [r for p in config["figures"][fig]["panels"] for r in panel_runs(config, fig, p)]


def figure_summaries(config: dict, fig: str) -> list[str]:
    """The summary tables a figure writes, from the kinds of its panels (registry order)."""
    kinds = {p.get("kind", "dynamics") for p in config["figures"][fig]["panels"].values()}
    wanted = {name for k in kinds for name in KINDS[k].summaries}
    return [name for name in SUMMARIES if name in wanted]


@dataclass
class Plan:
    """Every run of the paper's config and its distinct jobs, computed once per workflow."""

    runs: dict  # figure -> [Run]
    sim: dict  # key -> simulation job params
    theory: dict  # key -> theory job params
    sim_keys: dict  # figure -> sorted keys of the simulations it reads
    theory_keys: dict  # figure -> sorted keys of the theory solves it reads


def _check_theory_memory(setting: Setting) -> None:
    """Refuse up front a residual theory whose arrays cannot fit (instead of failing in a job)."""
    if setting.residual:
        from .theory.residual_stepper import memory_bytes
        from .theory.stepper import MAX_BYTES

        if memory_bytes(setting) > MAX_BYTES:
            raise ValueError(f"the residual theory at L={setting.L}, T={setting.T} needs "
                             f"{memory_bytes(setting) / 2**30:.1f} GiB (limit "
                             f"{MAX_BYTES / 2**30:.0f} GiB): use a shorter horizon T")


def plan(config: dict, *, seed: int, dtype: str) -> Plan:
    """Check the paper's config (errors name the panel) and plan its jobs."""
    check_config(config)
    p = Plan({}, {}, {}, {}, {})
    for fig in config["figures"]:
        p.runs[fig] = figure_runs(config, fig)
        sims, theories = set(), set()
        for run in p.runs[fig]:
            if run.with_theory:
                k = run.theory_key()
                p.theory.setdefault(k, run.theory_job())
                theories.add(k)
            if run.simulated:
                job = run.sim_job(seed=seed, dtype=dtype)
                k = jobs.key("sim", job)
                p.sim.setdefault(k, job)
                sims.add(k)
        p.sim_keys[fig], p.theory_keys[fig] = sorted(sims), sorted(theories)
    return p


def design_table(runs: list[Run], *, seed: int, dtype: str) -> pd.DataFrame:
    """One row per run: the experimental design of a figure, with the keys of its jobs."""
    rows = []
    for r in runs:
        rows.append({**r.columns(), "kind": r.kind, "seeds": r.seeds,
                     "vary": ",".join(r.vary), "n_eta0": len(r.eta0_grid or ()),
                     "simulated": r.simulated,
                     "sim_key": r.sim_key(seed=seed, dtype=dtype) if r.simulated else "",
                     "theory_key": r.theory_key() if r.with_theory else "",
                     **{f"vary_{k}": design.format_value(v) if isinstance(v, list) else v
                        for k, v in r.vary.items()}})
    return pd.DataFrame(rows)


def write_design(run_params: list[dict], out, *, seed: int, dtype: str) -> None:
    """The design table of a figure from its runs' params (as the rule passes them)."""
    runs = [Run.from_params(p) for p in run_params]
    write_table(design_table(runs, seed=seed, dtype=dtype), out)


TABLE_COLUMNS = ["panel", "curve", "eta0", "step", "seed", "train_loss", "test_loss", "diverged"]


def figure_tables(design_rows: pd.DataFrame, paths, source: str) -> pd.DataFrame:
    """A figure's simulation or theory tables (``source`` 'sim' or 'theory'), each job read
    once, with the figure, panel and curve of every run that uses it attached."""
    by_key = {_stem(p): p for p in paths}
    cache, parts = {}, []
    for _, row in design_rows.iterrows():
        k = row[f"{source}_key"]
        if not isinstance(k, str) or not k:  # theory-only run (an empty cell reads back NaN)
            continue
        if k not in cache:
            cache[k] = read_table(by_key[k])
        parts.append(cache[k].assign(fig=row["fig"], panel=row["panel"], curve=row["curve"]))
    if not parts:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.concat(parts, ignore_index=True)


def _stem(path) -> str:
    name = str(path).rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0]
