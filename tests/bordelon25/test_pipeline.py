"""Config validation, run expansion, job identity, tables and agreement of the main paper's
pipeline layer."""

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from dlndyn import Setting
from dlndyn.bordelon25 import jobs, pipeline, summaries
from dlndyn.core.config import ConfigError, validate_workflow_config
from dlndyn.core.design import format_value
from dlndyn.core.tables import write_table

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "workflow" / "schemas"


def check(config):
    """What the workflow does with a config (common.smk, then bordelon25.smk): the paper block."""
    config = validate_workflow_config(config, SCHEMAS)
    return pipeline.check_config(config["bordelon25"])


def load(name="config.yaml"):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def merged(*names):
    """Config files merged the way Snakemake merges --configfile over the default."""

    def merge(base, over):
        for k, v in over.items():
            if isinstance(v, dict) and isinstance(base.get(k), dict):
                merge(base[k], v)
            else:
                base[k] = v
        return base

    config = {}
    for name in names:
        merge(config, load(name))
    return config


@pytest.mark.parametrize("names", [["config.yaml"], ["config.yaml", "ci.yaml"],
                                   ["config.yaml", "paper.yaml"]])
def test_shipped_configs_are_valid(names):
    full = merged(*names)
    config = check(full)
    assert full["seed"] == 0
    for fig in config["figures"]:
        assert pipeline.figure_runs(config, fig)


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda c: F(c)["fig1"].update(Dd=3), "bordelon25.figures.fig1.Dd"),
        (lambda c: F(c)["fig1"].update(D="big"), "bordelon25.figures.fig1.D"),
        (lambda c: F(c)["fig1"]["base"].update(nu=-1.0), "bordelon25.figures.fig1.base.nu"),
        (lambda c: F(c)["fig2"]["panels"]["a"]["set"].update(param="sp"),
         "bordelon25.figures.fig2.panels.a.set.param"),
        (lambda c: F(c)["fig1"]["panels"]["a"]["vary"].update(width=[1]),
         "bordelon25.figures.fig1.panels.a.vary"),
        (lambda c: c.update(seeed=1), "seeed"),
        (lambda c: c.update(results=""), "results"),
        (lambda c: c.update(seed=10**20), "seed"),
        (lambda c: F(c)["fig2"]["panels"]["a"].pop("eta0"), "bordelon25.figures.fig2.panels.a"),
        # a union (list or {min, max, num}) names the field that broke the rule
        (lambda c: F(c)["fig2"]["panels"]["a"]["eta0"].update(num=0),
         "bordelon25.figures.fig2.panels.a.eta0.num"),
        # an eta0 grid only on lr_sweep panels; no duplicate sweep values; a layout that fits
        (lambda c: F(c)["fig4"]["panels"]["a"].update(eta0=[0.05, 0.5]),
         "bordelon25.figures.fig4.panels.a"),
        (lambda c: F(c)["fig1"]["panels"]["a"]["vary"].update(nu=[1, 1.0]),
         "bordelon25.figures.fig1.panels.a.vary.nu"),
        (lambda c: F(c)["fig1"].update(layout=[1, 1]), "bordelon25.figures.fig1.layout"),
        # a residual theory too large for memory is refused before anything runs
        (lambda c: F(c)["fig4"]["base"].update(T=10**9), "bordelon25.figures.fig4.panels.a"),
        # a limit cannot be simulated
        (lambda c: F(c)["fig1"]["panels"]["a"]["vary"].update(nu=[float("inf")]),
         "bordelon25.figures.fig1.panels.a"),
        # schema-valid but an invalid Setting: L must be an integer
        (lambda c: F(c)["fig1"]["panels"]["c"]["vary"].update(L=[1.5]),
         "bordelon25.figures.fig1.panels.c"),
    ],
)
def test_bad_config_names_the_key(edit, key):
    config = copy.deepcopy(load())
    edit(config)
    with pytest.raises(ConfigError, match=f"'{key}'"):
        check(config)


def F(config):
    return config["bordelon25"]["figures"]


def test_command_line_strings_are_coerced_before_validation():
    """Snakemake passes nested --config values as strings: '64' must count as 64; a dotted key
    overrides one nested value."""
    config = load()
    F(config)["fig4"]["D"] = "64"
    assert check(config)["figures"]["fig4"]["D"] == 64
    config["bordelon25.figures.fig4.seeds"] = "3"
    assert check(config)["figures"]["fig4"]["seeds"] == 3
    config["bordelon25.figures.fig4.D"] = "-1"
    with pytest.raises(ConfigError, match="'bordelon25.figures.fig4.D'"):
        check(config)


def test_runs_expand_the_panel_grid():
    config = check(load())
    runs = pipeline.panel_runs(config, "fig1", "a")
    nus = config["figures"]["fig1"]["panels"]["a"]["vary"]["nu"]
    assert [r.setting.nu for r in runs] == nus
    assert all(r.setting.param == "ntk" for r in runs)  # the panel's `set` override
    assert runs[0].curve == "nu~0.5" and format_value(2.0) == "2"
    # params round-trip (what Snakemake passes to the scripts)
    for r in runs:
        assert pipeline.Run.from_params(r.params()) == r
    sweep = pipeline.panel_runs(config, "fig2", "b")[0]
    grid = sweep.eta0_grid
    assert len(grid) == 12 and np.isclose(grid[0], 0.02) and np.isclose(grid[-1], 0.6)
    assert np.allclose(np.diff(np.log(grid)), np.log(grid[1] / grid[0]), rtol=1e-4)


def test_a_job_is_keyed_by_what_it_computes():
    config = check(load())
    # Figure 1's base setting appears in panels b, c and d: one simulation, one theory solve.
    base = [r for r in pipeline.figure_runs(config, "fig1")
            if r.setting == Setting(**config["figures"]["fig1"]["base"])]
    assert {r.panel for r in base} == {"b", "c", "d"}
    assert len({r.sim_key(seed=0, dtype="float32") for r in base}) == 1
    assert len({r.theory_key() for r in base}) == 1
    # more seeds: new simulations, the same theory; another dtype or base seed: new simulations
    more = copy.deepcopy(config)
    more["figures"]["fig1"]["seeds"] += 1
    run, run2 = pipeline.figure_runs(config, "fig1")[0], pipeline.figure_runs(more, "fig1")[0]
    assert run.theory_key() == run2.theory_key()
    assert run.sim_key(seed=0, dtype="float32") != run2.sim_key(seed=0, dtype="float32")
    assert run.sim_key(seed=0, dtype="float32") != run.sim_key(seed=1, dtype="float32")
    assert run.sim_key(seed=0, dtype="float32") != run.sim_key(seed=0, dtype="float64")
    # renaming a panel changes no job
    renamed = copy.deepcopy(config)
    panels = renamed["figures"]["fig1"]["panels"]
    panels["z"] = panels.pop("a")
    keys = {r.sim_key(seed=0, dtype="float32") for r in pipeline.figure_runs(config, "fig1")}
    assert keys == {r.sim_key(seed=0, dtype="float32")
                    for r in pipeline.figure_runs(renamed, "fig1")}
    # the whole default config: fewer distinct jobs than runs
    plan = pipeline.plan(config, seed=0, dtype="float32")
    n_runs = sum(len(runs) for runs in plan.runs.values())
    assert len(plan.theory) < n_runs and len(plan.sim) < n_runs
    assert set(plan.sim_keys["fig1"]) <= set(plan.sim) and len(plan.sim_keys["fig1"]) < len(
        plan.runs["fig1"])


def test_write_table_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "t.parquet"
    df = pd.DataFrame({"step": [0, 1], "test_loss": [1.0, 0.5]})
    write_table(df, path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)

    # a write that fails midway leaves the old file untouched and no temporary behind
    def broken(self, tmp, index=False):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError):
        write_table(df.assign(test_loss=[9.0, 9.0]), path)
    monkeypatch.undo()
    pd.testing.assert_frame_equal(pd.read_parquet(path), df)
    assert sorted(p.name for p in path.parent.iterdir()) == ["t.parquet"]


def _fake_tables(kind):
    """Simulation = theory * (1 + 0.1 * seed_sign): seed mean equals theory exactly."""
    steps, etas = np.arange(5), [0.1, 0.2, 0.4]
    th = pd.DataFrame([{"panel": "a", "curve": "c", "eta0": e, "step": t,
                        "test_loss": (1 + e) / (1 + t), "train_loss": 0.5 / (1 + t),
                        "diverged": e == 0.4 and t >= 3} for e in etas for t in steps])
    sims = []
    for seed, sign in [(0, 1.0), (1, -1.0)]:
        sim = th.copy()
        sim["seed"] = seed
        sim[["test_loss", "train_loss"]] *= 1 + 0.1 * sign
        sims.append(sim)
    return pd.concat(sims), th


def test_agreement_of_exact_mean_is_zero_and_detects_bias():
    sim, th = _fake_tables("dynamics")
    sim, th = sim[sim.eta0 == 0.1], th[th.eta0 == 0.1]
    table = summaries.agreement(sim, th, "dynamics")
    assert set(table.quantity) == {"test_loss", "train_loss"}
    assert np.allclose(table.rel_err_max, 0, atol=1e-12)
    assert (table.n_points == 4).all()  # steps 1..4
    biased = sim.assign(test_loss=sim.test_loss * 1.2)
    t = summaries.agreement(biased, th, "dynamics").set_index("quantity")
    assert np.isclose(t.loc["test_loss", "rel_err_mean"], 0.2)


def test_agreement_lr_sweep_skips_diverged_and_finds_optima():
    sim, th = _fake_tables("lr_sweep")
    table = summaries.agreement(sim, th, "lr_sweep")
    row = table.iloc[0]
    assert row.n_points == 2  # eta0 = 0.4 diverged at the last step in both
    assert row.eta0_opt_sim == row.eta0_opt_theory == 0.1


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_simulate_and_theory_jobs_make_tidy_tables(tmp_path, dtype):
    s = Setting(L=1, nu=1.0, alpha=2.0, eta0=0.1, T=6)
    run = pipeline.Run(fig="fig9", panel="a", curve="nu~1", kind="lr_sweep", setting=s,
                       vary={"nu": 1.0}, D=16, seeds=2, eta0_grid=(0.1, 0.2))
    sim = jobs.simulate(run.sim_job(seed=0, dtype=dtype), log=lambda m: None)
    assert len(sim) == 2 * 2 * 6
    assert {"seed", "eta0", "step", "test_loss", "nu", "D", "N", "dtype",
            "device"} <= set(sim.columns)
    assert (sim.dtype == dtype).all()
    th = jobs.theory(run.theory_job(), log=lambda m: None)
    assert len(th) == 2 * 6 and th.converged.all()
    assert np.allclose(th.test_loss[th.step == 0], 2.0)  # 1 + 1/(gamma^2 nu)
    # a figure reads each job once and attaches its panel and curve
    design = pipeline.design_table([run], seed=0, dtype=dtype)
    write_table(sim, tmp_path / f"{design.sim_key[0]}.parquet")
    table = pipeline.figure_tables(design, [tmp_path / f"{design.sim_key[0]}.parquet"], "sim")
    assert (table.curve == "nu~1").all() and (table.fig == "fig9").all() and len(table) == len(sim)


def test_float64_really_runs_float64():
    """float32 losses are all float32 numbers; float64 losses are not (x64 really on)."""
    s = Setting(L=2, nu=1.0, alpha=2.0, eta0=0.2, T=20)
    run = pipeline.Run(fig="f", panel="a", curve="c", kind="dynamics", setting=s, vary={},
                       D=32, seeds=1, eta0_grid=None)
    lo = jobs.simulate(run.sim_job(seed=0, dtype="float32"), log=lambda m: None).test_loss
    hi = jobs.simulate(run.sim_job(seed=0, dtype="float64"), log=lambda m: None).test_loss
    def representable(x):
        return np.array_equal(x.values.astype(np.float32).astype(np.float64), x.values)

    assert representable(lo) and not representable(hi)


def test_curves_combine_with_vary_and_physical_units_convert():
    config = check(load())
    runs = pipeline.panel_runs(config, "fig10", "a")
    pcfg = config["figures"]["fig10"]["panels"]["a"]
    assert len(runs) == len(pcfg["curves"]) * 3 * 2  # curves x source x gamma0
    assert all(not r.simulated and r.kind == "exponent" for r in runs)
    # physical eta = 0.05 at L = 1 -> Setting eta0 = eta / lambda_1 on 10^6 modes
    from dlndyn.bordelon25.theory.powerlaw import physical_units

    r = next(r for r in runs if r.vary == {"L": 1, "eta0": 0.05, "source": 0.5, "gamma0": 1.5})
    scale = physical_units(r.setting, pcfg["modes"])["scale"]
    assert np.isclose(r.setting.eta0 * scale, 0.05) and np.isclose(r.setting.gamma0,
                                                                   1.5 * np.sqrt(scale))
    assert r.curve == "L~1_eta0~0.05_source~0.5_gamma0~1.5"
    # the design table keeps the physical values for the legend, and gives the Setting back
    design = pipeline.design_table(runs, seed=0, dtype="float32")
    back = dict(((p, c), s) for p, c, s in summaries.design_curves(design, "a"))
    assert back[("a", r.curve)] == r.setting
    assert design.loc[design.curve == r.curve, "vary_eta0"].item() == 0.05


def test_exponent_table_measures_a_known_power_law():
    from dlndyn import Setting

    steps = np.arange(1000)
    s_rich = Setting(nu=float("inf"), alpha_B=float("inf"), data="powerlaw", source=0.5)
    s_lazy = s_rich.replace(gamma0=0.0)
    th = pd.concat([
        pd.DataFrame({"panel": "a", "curve": "rich", "step": steps, "diverged": False,
                      "test_loss": 3.0 * np.maximum(steps, 1) ** (-2 / 3)}),
        pd.DataFrame({"panel": "a", "curve": "lazy", "step": steps, "diverged": steps > 500,
                      "test_loss": np.maximum(steps, 1) ** -0.5}),
    ])
    table = summaries.exponent_table(th, [("a", "rich", s_rich), ("a", "lazy", s_lazy)])
    rich, lazy = table.iloc[0], table.iloc[1]
    assert rich.regime == "rich" and np.isclose(rich.slope, -2 / 3, rtol=1e-6)
    assert np.isclose(rich.predicted, -2 / 3)
    assert lazy.regime == "lazy" and np.isnan(lazy.slope) and lazy.predicted == -0.5
    assert list(table.columns) == ["source", "regime", "L", "slope", "predicted", "t_fit_min",
                                   "t_fit_max", "first_rise"]
    assert rich.t_fit_max == 999 and np.isnan(rich.first_rise)
    # a bump (as an edge-of-stability catapult) is cut off the fit window and flagged
    x = np.maximum(th.step - 700, 0) / 30.0
    bumpy = th.assign(test_loss=th.test_loss * (1 + 3 * x**2 * np.exp(-x)))
    row = summaries.exponent_table(bumpy, [("a", "rich", s_rich)]).iloc[0]
    assert 700 < row.first_rise < 720 and row.t_fit_max == row.first_rise - 1
    assert np.isclose(row.slope, -2 / 3, rtol=1e-6)
