"""The finite-size study at the edge of stability (Figure 2 (c), docs/bordelon25.md, section 4.6):
panel expansion over D, and the gap between simulation and DMFT shrinking as D grows."""

import copy

import numpy as np
import pytest

from dlndyn.bordelon25 import jobs, pipeline, summaries
from dlndyn.core.config import ConfigError

# Figure 2's NTK point near the edge, at a shorter horizon: the DMFT is in its slow,
# oscillating phase at t = 19 (loss 0.64) that small networks leave early.
EDGE = {"L": 2, "nu": 0.5, "alpha": 4.0, "gamma0": 1.0, "eta0": 0.24, "T": 20, "sigma": 0.0,
        "param": "ntk"}


def config(Ds, seeds=8):
    return {"figures": {"fig2": {"D": 16, "seeds": seeds, "base": EDGE, "panels": {
        "c": {"kind": "finite_size", "Ds": list(Ds)}}}}}


def test_a_finite_size_panel_runs_once_per_D_and_shares_its_theory():
    runs = pipeline.panel_runs(config([32, 64]), "fig2", "c")
    assert [(r.curve, r.D) for r in runs] == [("D~32", 32), ("D~64", 64)]
    assert runs[0].theory_key() == runs[1].theory_key()
    assert runs[0].sim_key(seed=0, dtype="float32") != runs[1].sim_key(seed=0, dtype="float32")
    assert pipeline.figure_summaries(config([32, 64]), "fig2") == ["finite_size"]


def test_Ds_belongs_to_finite_size_panels_only():
    bad = copy.deepcopy(config([32, 64]))
    del bad["figures"]["fig2"]["panels"]["c"]["Ds"]
    with pytest.raises(ConfigError, match="fig2.panels.c"):
        pipeline.check_config(bad)
    bad = config([32, 64])
    bad["figures"]["fig2"]["panels"]["c"]["kind"] = "dynamics"
    with pytest.raises(ConfigError, match="Ds"):
        pipeline.check_config(bad)


def test_gap_to_the_dmft_shrinks_with_D():
    """Measured (8 seeds): relative gap 0.961 +- 0.012 at D = 32, 0.39 +- 0.12 at D = 256."""
    cfg = config([32, 256])
    runs = pipeline.panel_runs(cfg, "fig2", "c")
    design = pipeline.design_table(runs, seed=0, dtype="float32")
    sim = [jobs.simulate(r.sim_job(seed=0, dtype="float32"), log=lambda m: None)
           .assign(panel="c", curve=r.curve) for r in runs]
    th = jobs.theory(runs[0].theory_job(), log=lambda m: None)
    th = [th.assign(panel="c", curve=r.curve) for r in runs]
    import pandas as pd

    table = summaries.finite_size_table(pd.concat(sim), pd.concat(th), design).set_index("D")
    assert np.allclose(table.theory, table.theory.iloc[0])  # one DMFT for every D
    small, large = table.loc[32], table.loc[256]
    margin = 3 * np.hypot(small.rel_gap_sem, large.rel_gap_sem)
    assert small.rel_gap - large.rel_gap > margin, table
    assert table.gap_slope.iloc[0] < 0
