"""Many outputs (Setting.kappa; docs/bordelon25.md, section 11).

Independent checks:
* the rank-C engine (dense and low-rank paths) against plain ``jax.grad`` training of the
  network with an N x C readout, step by step in float64 and through ``simulate``;
* numpy: beta, the train loss averaged over outputs, the rank of every update;
* the decoupling of a fixed number of channels: each channel's test loss, simulated, against
  the single-output DMFT (the kappa -> 0 limit); and that kappa > 0 departs from it (so the
  comparison can fail).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from dlndyn import Setting, simulate, theory
from dlndyn.bordelon25 import pipeline
from dlndyn.bordelon25.conventions import channel_mean_square, output_channels
from dlndyn.bordelon25.sim import engine
from dlndyn.bordelon25.sim.engine import batch_at, init_replicates, init_state, rank_one_step
from dlndyn.bordelon25.sim.lowrank import lowrank_start, lowrank_step, materialize
from dlndyn.bordelon25.sim.reference import autodiff_step, residual_autodiff_step
from dlndyn.bordelon25.sim.residual import residual_step
from .updates import assert_update_matches


def test_output_channels_and_sizes():
    assert output_channels(0.0, 100) == 1 and output_channels(0.004, 100) == 1
    assert output_channels(0.5, 100) == 50 and output_channels(0.03, 100) == 3
    assert Setting(kappa=0.25).sizes(64)["C"] == 16
    assert Setting().sizes(64)["C"] == 1
    for bad in (-0.1, float("inf"), float("nan"), "1"):
        with pytest.raises(ValueError, match="Setting.kappa"):
            Setting(kappa=bad)


def test_channel_mean_square():
    x = np.arange(6.0).reshape(3, 2)
    assert channel_mean_square(x) == pytest.approx(np.sum(x**2) / 2)
    assert channel_mean_square(x[:, 0]) == pytest.approx(np.sum(x[:, 0] ** 2))


# ----------------------------------------------------------------------------------------
# Rank-C engine == jax.grad training
# ----------------------------------------------------------------------------------------
CASES = {
    "plain-L1-fullbatch": Setting(L=1, nu=1.5, alpha=1.25, gamma0=1.3, eta0=0.2, sigma=0.3,
                                  kappa=0.3),
    "plain-L3-fullbatch-ntk": Setting(L=3, nu=1.5, alpha=1.25, gamma0=1.3, eta0=0.05,
                                      sigma=0.3, param="ntk", kappa=0.4),
    "plain-L2-online": Setting(L=2, nu=1.5, alpha_B=0.5, gamma0=1.3, eta0=0.2, sigma=0.3,
                               kappa=0.3),
    "residual-L2-fullbatch": Setting(L=2, nu=1.0, alpha=1.5, gamma0=0.9, eta0=0.05,
                                     residual=True, beta0=1.3, sigma=0.2, kappa=0.3),
    "powerlaw-L2-fullbatch": Setting(L=2, nu=1.0, alpha=2.0, gamma0=1.0, eta0=0.1,
                                     data="powerlaw", capacity=1.2, source=0.8, kappa=0.3),
}
D_STEP, T_STEP = 10, 4


def _setup(s, D, dtype=jnp.float64):
    sz = s.sizes(D)
    n_mid = s.L if s.residual else s.L - 1
    spec = None
    if s.data == "powerlaw":
        from dlndyn import spectrum
        spec = tuple(jnp.asarray(a, dtype) for a in spectrum(s.capacity, s.source, D))
    params, data = init_state(5, D=D, N=sz["N"], P=sz["P"], n_mid=n_mid,
                              sigma=s.sigma, online=s.online, dtype=dtype, spectrum=spec,
                              C=sz["C"])
    return sz, n_mid, params, data


def _numpy_beta(params, gamma, residual, branch):
    W0 = np.asarray(params["W0"])
    N, D = W0.shape
    g = np.asarray(params["w"])
    for W in np.asarray(params["Ws"])[::-1]:
        g = g + branch * W.T @ g / np.sqrt(N) if residual else W.T @ g / np.sqrt(N)
    return np.sqrt(D) / (gamma * N) * (W0.T @ g)


@pytest.mark.parametrize("name", list(CASES))
def test_rank_C_steps_match_autodiff_float64(x64, name):
    """Step by step in float64: dense rank-C step, low-rank step (materialized) and jax.grad
    give the same parameters, beta and train loss; every update has rank C."""
    s = CASES[name]
    sz, n_mid, params, data = _setup(s, D_STEP)
    C = sz["C"]
    assert C >= 3 and params["w"].shape == (sz["N"], C)
    ref = jax.jit(residual_autodiff_step if s.residual else autodiff_step)
    dense_step = jax.jit(residual_step if s.residual else rank_one_step)
    fast = jax.jit(lowrank_step, static_argnames="residual")
    mats, state = lowrank_start(params, T_STEP)
    dense = params
    for t in range(T_STEP):
        X, y = batch_at(data, t, sz["P"], s.sigma, jnp.float64)
        assert y.shape == (sz["P"], C)
        new_a, train_a, beta_a = ref(dense, X, y, s.eta0, s.gamma, s.branch)
        new_d, train_d, beta_d = dense_step(dense, X, y, s.eta0, s.gamma, s.branch)
        state, train_l, beta_l = fast(mats, state, t, X, y, s.eta0, s.gamma, s.branch,
                                      residual=s.residual)
        beta = _numpy_beta(dense, s.gamma, s.residual, s.branch)
        r = np.asarray(y) - np.asarray(X) @ beta / np.sqrt(D_STEP)
        train = np.sum(r**2) / (sz["P"] * C)  # averaged over outputs
        for got in (train_a, train_d, train_l):
            assert float(got) == pytest.approx(train, rel=1e-11)
        for got in (beta_a, beta_d, beta_l):
            np.testing.assert_allclose(got, beta, rtol=1e-10, atol=1e-12)
        assert_update_matches(dense, new_a, [new_d, materialize(mats, state)], n_mid=n_mid)
        dW0 = np.asarray(new_d["W0"]) - np.asarray(dense["W0"])
        assert np.linalg.matrix_rank(dW0, tol=1e-9 * np.abs(dW0).max()) == C
        dense = new_d
        # C factor rows per step: rows >= (t + 1) C are still zero
        for U in state["U"]:
            assert not np.any(np.asarray(U)[(t + 1) * C:])


def test_simulate_rank_C_matches_autodiff():
    """Whole runs in float64 (scan, grid, seeds, fresh batches): low rank == dense ==
    jax.grad. (One case: each compiles three times; every case is checked step by step above.)"""
    s = CASES["plain-L2-online"].replace(T=5)
    kw = dict(D=10, seeds=2, seed=4, dtype="float64", batches="explicit")  # as the reference
    low = simulate(s, method="lowrank", **kw)
    dense = simulate(s, method="dense", **kw)
    slow = simulate(s, step_fn=autodiff_step, **kw)
    assert not low.diverged.any()
    for other in (dense, slow):
        pd.testing.assert_frame_equal(low[["seed", "step", "diverged"]],
                                      other[["seed", "step", "diverged"]])
        for col in ("train_loss", "test_loss"):
            np.testing.assert_allclose(low[col], other[col], rtol=1e-10)


def test_choose_path_counts_C_rows_per_step():
    sz1 = Setting(L=3, nu=2.0).sizes(512)
    szC = Setting(L=3, nu=2.0, kappa=8 / 512).sizes(512)
    assert szC["C"] == 8
    shapes = engine.matrix_shapes(sz1, 2)
    t_star = engine.CROSSOVER * sum(r * c for r, c in shapes) / sum(r + c for r, c in shapes)
    assert engine.choose_path(sz1, 2, int(t_star)) == "lowrank"
    assert engine.choose_path(szC, 2, int(t_star / 8)) == "lowrank"
    assert engine.choose_path(szC, 2, int(t_star / 8) + 1) == "dense"


# ----------------------------------------------------------------------------------------
# A fixed number of outputs decouples: each channel follows the single-output DMFT
# ----------------------------------------------------------------------------------------
DECOUPLE = Setting(L=2, nu=1.0, alpha=2.0, eta0=0.15, T=16, sigma=0.2)
DECOUPLE_D, DECOUPLE_SEEDS = 160, 8


def per_channel_test_loss(s, D, seeds, seed=0):
    """Test loss of every channel, (seeds, T, C), by the dense engine step (float32)."""
    sz = s.sizes(D)

    def run(params, data):

        def step(p, t):
            X, y = batch_at(data, t, sz["P"], s.sigma, jnp.float32)
            new, _, beta = rank_one_step(p, X, y, s.eta0, s.gamma)
            v = data["beta_star"] - beta
            return new, (v * v).sum(0) / D + s.sigma**2

        return jax.lax.scan(step, params, jnp.arange(s.T))[1]

    params, data = init_replicates(seed, seeds, D=D, N=sz["N"], P=sz["P"], n_mid=s.L - 1,
                                   sigma=s.sigma, online=s.online, dtype=jnp.float32, C=sz["C"])
    return np.asarray(jax.jit(jax.vmap(run))(params, data))


@pytest.mark.parametrize("C", [2, 4])
def test_fixed_number_of_channels_follow_single_output_theory(C):
    """C channels at kappa = C/D -> 0: every channel's seed mean within 4 standard errors
    (plus 3% for the O(1/sqrt(D)) finite-size bias, section 4.6) of the single-output DMFT."""
    losses = per_channel_test_loss(DECOUPLE.replace(kappa=C / DECOUPLE_D), DECOUPLE_D,
                                   DECOUPLE_SEEDS)
    assert losses.shape == (DECOUPLE_SEEDS, DECOUPLE.T, C)
    th = theory(DECOUPLE).test_loss.to_numpy()
    mean = losses.mean(0)
    sem = losses.std(0, ddof=1) / np.sqrt(DECOUPLE_SEEDS)
    for t in (1, 5, 10, DECOUPLE.T - 1):
        assert np.all(np.abs(mean[t] - th[t]) <= 4 * sem[t] + 0.03 * th[t]), (t, mean[t], th[t])
    assert th[-1] < 0.5 * th[1]  # it trains


def test_proportional_outputs_depart_from_the_decoupled_theory():
    """kappa = 1 (C = D): the channels interact through the rank-C updates; the loss stays
    far above the single-output DMFT (measured +50% at t = 19 for D = 32..256, section 11.4),
    well beyond the simulation's standard error. Guards against a rank-C engine that
    accidentally decouples the channels."""
    s = DECOUPLE.replace(kappa=1.0)
    table = simulate(s, D=64, seeds=4, seed=0)
    g = table[table.step == s.T - 1].test_loss
    th = theory(DECOUPLE).test_loss.iloc[-1]
    assert g.mean() - th > 0.2 * th + 4 * g.sem()


# ----------------------------------------------------------------------------------------
# Theory and pipeline: kappa > 0 at finite width is simulation only (nu = inf: test_kappa_theory.py)
# ----------------------------------------------------------------------------------------
def test_theory_refuses_kappa_and_pipeline_plans_no_theory_job():
    with pytest.raises(ValueError, match="Setting.kappa"):
        theory(Setting(kappa=0.5, T=3))
    config = {"figures": {"fig9": {"D": 8, "seeds": 1, "base": {"T": 3}, "panels": {
        "a": {"vary": {"kappa": [0.0, 0.5]}}}}}}
    p = pipeline.plan(config, seed=0, dtype="float32")
    runs = p.runs["fig9"]
    assert [r.with_theory for r in runs] == [True, False]
    assert len(p.sim_keys["fig9"]) == 2 and len(p.theory_keys["fig9"]) == 1
    design = pipeline.design_table(runs, seed=0, dtype="float32")
    assert list(design.theory_key.astype(bool)) == [True, False]
    # kappa = 0 jobs keep the keys they had before the field existed
    assert "kappa" not in runs[0].sim_job(seed=0, dtype="float32")["setting"]
    assert runs[1].sim_job(seed=0, dtype="float32")["setting"]["kappa"] == 0.5
    config["figures"]["fig9"]["panels"]["a"]["theory_only"] = True
    with pytest.raises(Exception, match="kappa"):
        pipeline.check_config(config)


# ----------------------------------------------------------------------------------------
# Figure 9's tables at small size, through the pipeline's jobs and summaries
# ----------------------------------------------------------------------------------------
FIG9 = {"D": 64, "seeds": 4,
        "base": {"L": 2, "nu": 1.0, "alpha": 2.0, "eta0": 0.15, "T": 12, "sigma": 0.2},
        "panels": {"a": {"vary": {"kappa": [0.0, 1.0]}},
                   "c": {"kind": "lr_sweep", "vary": {"kappa": [0.0, 1.0]},
                         "eta0": [0.05, 0.15, 0.4]},
                   # theory only (no agreement rows): the infinite-width kappa > 0 limit
                   "e": {"theory_only": True, "vary": {"kappa": [0.0, 1.0]},
                         "set": {"nu": math.inf, "alpha": math.inf, "gamma0": 2.0,
                                 "eta0": 0.05}}}}


def test_fig9_agreement_and_optimal_lr_tables(tmp_path):
    """The agreement table has rows for the kappa = 0 curves only (the theory's), within the
    simulation's noise plus the finite-size bias at D = 64; the optimal-lr table has one finite
    optimum per kappa; kappa = 1 ends above kappa = 0 at every stable learning rate."""
    from dlndyn.bordelon25 import jobs, summaries
    from dlndyn.core.tables import write_table

    config = {"figures": {"fig9": FIG9}}
    p = pipeline.plan(config, seed=0, dtype="float32")
    design = tmp_path / "design.csv"
    write_table(pipeline.design_table(p.runs["fig9"], seed=0, dtype="float32"), design)
    paths = {"sim": [], "theory": []}
    for source, run_job in (("sim", jobs.simulate), ("theory", jobs.theory)):
        for key in getattr(p, f"{source}_keys")["fig9"]:
            path = tmp_path / f"{key}.parquet"
            write_table(run_job(getattr(p, source)[key], log=lambda m: None), path)
            paths[source].append(path)
    table = summaries.figure_summary("agreement", FIG9, design, paths["sim"], paths["theory"])
    assert set(table.curve) == {"kappa~0"} and set(table.panel) == {"a", "c"}
    assert table.rel_err_mean.dtype == float  # the empty theory-only panel keeps the dtypes
    test = table[table.quantity == "test_loss"]
    assert np.all(test.rel_err_mean <= 3 * test.rel_sem_mean + 0.1), test
    opt = summaries.figure_summary("optimal_lr", FIG9, design, paths["sim"], paths["theory"])
    assert list(opt.kappa) == [0.0, 1.0] and np.all(np.isfinite(opt.eta0_opt))
    sim = pipeline.figure_tables(pd.read_csv(design), paths["sim"], "sim")
    final = summaries.final_losses(sim[sim.panel == "c"]).pivot(index="eta0", columns="curve",
                                                                 values="mean")
    finite = final[np.isfinite(final).all(axis=1)]
    assert len(finite) >= 2 and np.all(finite["kappa~1"] > finite["kappa~0"])
