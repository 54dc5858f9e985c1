"""The figure layer: config block -> tables -> figure and checks table (tiny sizes)."""

import matplotlib
import pytest

from dlndyn.core.train import precision
from dlndyn.yaras23 import figures, plotting

SVD = {"d": 10, "r": 2, "L": 3, "eps": 1.0, "eta": 1.0, "steps": 8, "task": "factorization",
       "init": "orthogonal", "momentum": 0.0, "samples": 30, "layers": [1, 2]}
SEP = {"K": 3, "n": 4, "eta": 1.0, "tol": {"linear": 1e-6, "relu": 1e-4}, "max_steps": 3000,
       "fit": "all", "depths": [3], "activations": ["linear", "relu"], "inits": ["orthogonal"],
       "epsilons": [0.5]}


@pytest.mark.parametrize("fig, cfg", [("f2", SVD), ("f5", SEP)])
def test_figure_and_checks(tmp_path, fig, cfg):
    matplotlib.use("Agg")
    with precision("float64"):
        tables = figures.compute(fig, cfg, seed=0)
    assert set(tables) == set(figures.tables(fig))
    plotting.plot_figure(fig, cfg, tables, [tmp_path / f"{fig}.png"])
    assert (tmp_path / f"{fig}.png").stat().st_size > 10_000
    checks = plotting.checks_table(fig, cfg, tables)
    assert list(checks.columns) == ["check", "quantity", "measured", "paper", "criterion"]
    if fig == "f2":
        c1 = checks[checks.check == "C1"]
        assert len(c1) == 2 * 3 and (c1.measured < 1e-9).all()
    else:
        tols = set(tables["layers"].tol)
        assert tols == {1e-6, 1e-4}  # one tol per activation


def test_unknown_figure():
    with pytest.raises(ValueError, match="^fig="):
        figures.tables("f13")
