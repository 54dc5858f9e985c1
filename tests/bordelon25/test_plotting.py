"""Panels drawn from given tables carry the expected artists: one simulation curve and band and
one dashed theory curve per run, optimum stars, diverged crosses and power-law guides."""

import matplotlib

matplotlib.use("Agg")  # a test process: no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

from dlndyn import Setting  # noqa: E402
from dlndyn.bordelon25 import pipeline, plotting  # noqa: E402


def design_and_tables(kind, etas=(None,), diverge_at=None):
    """Two runs (nu = 1, 2); simulation = theory x (1 +- 0.1) over two seeds."""
    runs = [pipeline.Run(fig="f", panel="a", curve=f"nu~{nu}", kind=kind,
                         setting=Setting(nu=nu, T=6), vary={"nu": nu}, D=16, seeds=2,
                         eta0_grid=None if etas == (None,) else tuple(etas))
            for nu in (1, 2)]
    design = pipeline.design_table(runs, seed=0, dtype="float32")
    th, sim = [], []
    for r in runs:
        for eta in etas:
            for t in range(6):
                loss = (1 + r.setting.nu) / (1 + t) * (1 + (eta or 0))
                div = diverge_at is not None and eta == etas[-1] and t >= diverge_at
                row = {"panel": "a", "curve": r.curve, "eta0": eta or 0.1, "step": t,
                       "test_loss": np.inf if div else loss, "train_loss": loss / 2,
                       "diverged": div}
                th.append(row)
                for seed, sign in ((0, 1), (1, -1)):
                    sim.append({**row, "seed": seed, "test_loss": row["test_loss"] * (1 + sign / 10)})
    return design, pd.DataFrame(sim), pd.DataFrame(th)


def styles(ax):
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata())]
    dashed = [ln for ln in lines if ln.get_linestyle() == "--"]
    solid = [ln for ln in lines if ln.get_linestyle() == "-"]
    return lines, dashed, solid


def test_dynamics_panel_draws_simulation_band_and_theory_per_run():
    design, sim, th = design_and_tables("dynamics")
    fig, ax = plt.subplots()
    plotting.plot_dynamics(ax, {}, design, sim, th, "a")
    _, dashed, solid = styles(ax)
    assert len(solid) == 2 and len(dashed) == 2
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == 2  # s.e.m. bands
    assert sorted(ax.get_legend_handles_labels()[1]) == ["$\\nu=1$", "$\\nu=2$"]
    plt.close(fig)


def test_lr_sweep_panel_marks_optima_and_diverged_points():
    design, sim, th = design_and_tables("lr_sweep", etas=(0.1, 0.2, 0.4), diverge_at=3)
    fig, ax = plt.subplots()
    plotting.plot_lr_sweep(ax, {}, design, sim, th, "a")
    markers = [ln.get_marker() for ln in ax.get_lines()]
    assert markers.count("*") == 2  # one optimum per curve
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 2 and all(list(c.get_xdata()) == [0.4] for c in crosses)
    stars = [ln for ln in ax.get_lines() if ln.get_marker() == "*"]
    assert all(list(s.get_xdata()) == [0.1] for s in stars)  # the lowest final loss
    plt.close(fig)


@pytest.mark.parametrize("gamma0, slope", [(1.0, -2 / 3), (0.0, -0.5)])
def test_guides_follow_the_regime_of_each_run(gamma0, slope):
    """The guide's slope comes from conventions.regime: lazy at gamma = 0, rich otherwise."""
    s = Setting(nu=float("inf"), alpha_B=float("inf"), data="powerlaw", source=0.5,
                gamma0=gamma0, T=100)
    run = pipeline.Run(fig="f", panel="a", curve="c", kind="dynamics", setting=s, vary={},
                       D=16, seeds=1, eta0_grid=None, simulated=False)
    design = pipeline.design_table([run], seed=0, dtype="float32")
    th = pd.DataFrame({"panel": "a", "curve": "c", "eta0": 0.1, "step": np.arange(100),
                       "test_loss": 1 / (1 + np.arange(100.0)), "train_loss": 0.0,
                       "diverged": False})
    fig, ax = plt.subplots()
    plotting.plot_dynamics(ax, {"guides": True}, design, th.iloc[:0].assign(seed=0), th, "a")
    guide = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    assert len(guide) == 1
    x, y = guide[0].get_data()
    assert np.isclose(np.log(y[1] / y[0]) / np.log(x[1] / x[0]), slope)
    plt.close(fig)


def test_a_layout_smaller_than_the_panels_is_refused(tmp_path):
    design, sim, th = design_and_tables("dynamics")
    fcfg = {"layout": [1, 1], "panels": {"a": {}, "b": {}}}
    with pytest.raises(ValueError, match="layout"):
        plotting.plot_figure(fcfg, design, sim, th, [tmp_path / "f.png"])
    assert not (tmp_path / "f.png").exists()
