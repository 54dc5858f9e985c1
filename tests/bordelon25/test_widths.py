"""Unequal hidden widths (the paper's App. F, reconstructed; docs/bordelon25.md, section 10).

Independent checks: ``jax.grad`` of the network evaluated layer by layer (sim/reference.py) and
a numpy forward pass for the simulation; the fixed-point (Picard) solver for the forward stepper;
nearly equal widths for the reduction to the scalar theory; and finite-D simulation for the
theory, with a tolerance set by the seeds' standard error.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlndyn import Setting, simulate
from dlndyn.bordelon25.sim.engine import batch_at, init_state, rank_one_step
from dlndyn.bordelon25.sim.lowrank import lowrank_start, lowrank_step, materialize
from dlndyn.bordelon25.sim.reference import autodiff_step
from dlndyn.bordelon25.theory.solve import theory


# ----------------------------------------------------------------------------------------
# Setting
# ----------------------------------------------------------------------------------------
def test_per_layer_nu_is_validated():
    with pytest.raises(ValueError, match=r"Setting\.nu=.*2 given for L=3"):
        Setting(L=3, nu=(1.0, 2.0))
    with pytest.raises(ValueError, match=r"Setting\.nu=.*finite number > 0"):
        Setting(L=2, nu=(1.0, math.inf))
    with pytest.raises(ValueError, match=r"Setting\.nu=.*finite number > 0"):
        Setting(L=2, nu=(1.0, -1.0))
    with pytest.raises(ValueError, match=r"Setting\.nu=.*plain networks"):
        Setting(L=2, nu=(1.0, 2.0), residual=True)


def test_per_layer_nu_conventions():
    s = Setting(L=3, nu=[0.5, 2.0, 1.5], gamma0=2.0, param="ntk")  # a YAML list
    assert s.nu == (0.5, 2.0, 1.5) and s.nus == s.nu and s.nu_L == 1.5
    # NTK's gamma and the initial output variance use the last width only
    assert s.gamma == pytest.approx(2.0 / math.sqrt(1.5))
    assert s.init_variance == pytest.approx(1 / 4)
    assert Setting(L=3, nu=(0.5, 2.0, 1.5)).init_variance == pytest.approx(1 / 1.5)
    sz = s.sizes(64)
    assert sz["Ns"] == (32, 128, 96) and sz["N"] == 96
    # equal entries are the scalar: same Setting, same sizes, same everything downstream
    assert Setting(L=3, nu=(1.5, 1.5, 1.5)) == Setting(L=3, nu=1.5)
    assert Setting(L=1, nu=[2.0]).nu == 2.0


# ----------------------------------------------------------------------------------------
# Simulation: rank-one (dense and low-rank) == jax.grad, step by step, float64
# ----------------------------------------------------------------------------------------
def numpy_beta(params, gamma):
    """beta = sqrt(D)/(gamma N_L) W0^T g^1, g^l = W^l^T g^{l+1}/sqrt(fan-in of W^l), in numpy."""
    W0 = np.asarray(params["W0"], dtype=np.float64)
    g = np.asarray(params["w"], dtype=np.float64)
    N_L, D = len(g), W0.shape[1]
    for W in reversed(params["Ws"]):
        W = np.asarray(W, dtype=np.float64)
        g = W.T @ g / np.sqrt(W.shape[1])
    return np.sqrt(D) / (gamma * N_L) * (W0.T @ g)


WIDTH_CASES = {
    "L3-narrow-first-mup": Setting(L=3, nu=(0.5, 1.5, 1.0), alpha=1.25, gamma0=1.3,
                                   eta0=0.1, sigma=0.3),
    "L3-narrow-last-ntk-online": Setting(L=3, nu=(1.5, 1.0, 0.5), alpha_B=0.75, gamma0=1.3,
                                         eta0=0.1, sigma=0.3, param="ntk"),
    "L2-powerlaw": Setting(L=2, nu=(2.0, 0.75), alpha=2.0, gamma0=1.0, eta0=0.1,
                           data="powerlaw", capacity=1.2, source=0.8),
}


@pytest.mark.parametrize("name", list(WIDTH_CASES))
def test_unequal_steps_match_autodiff_float64(x64, name):
    s = WIDTH_CASES[name]
    D, T = 12, 4
    sz = s.sizes(D)
    spec = None
    if s.data == "powerlaw":
        from dlndyn import spectrum
        spec = tuple(jnp.asarray(a, jnp.float64) for a in spectrum(s.capacity, s.source, D))
    params, data = init_state(3, 0, D=D, N=sz["N"], P=sz["P"], n_mid=s.L - 1,
                              sigma=s.sigma, online=s.online, dtype=jnp.float64, spectrum=spec,
                              Ns=sz["Ns"])
    assert params["W0"].shape == (sz["Ns"][0], D) and params["w"].shape == (sz["N"],)
    assert [W.shape for W in params["Ws"]] == [(sz["Ns"][l + 1], sz["Ns"][l])
                                               for l in range(s.L - 1)]
    mats, state = lowrank_start(params, T)
    dense_step, ref_step = jax.jit(rank_one_step), jax.jit(autodiff_step)
    low_step = jax.jit(lowrank_step, static_argnames="residual")
    dense = params
    worst = 0.0
    for t in range(T):
        X, y = batch_at(data, t, sz["P"], s.sigma, jnp.float64)
        new_d, train_d, beta_d = dense_step(dense, X, y, s.eta0, s.gamma)
        new_a, train_a, _ = ref_step(dense, X, y, s.eta0, s.gamma)
        state, train_l, beta_l = low_step(mats, state, t, X, y, s.eta0, s.gamma)
        np.testing.assert_allclose(beta_d, numpy_beta(dense, s.gamma), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(beta_l, beta_d, rtol=1e-11, atol=1e-12)
        assert float(train_d) == pytest.approx(float(train_a), rel=1e-11)
        assert float(train_l) == pytest.approx(float(train_a), rel=1e-11)
        low = materialize(mats, state)
        for got in (new_d, low):
            for a, b, old in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(new_a),
                                 jax.tree_util.tree_leaves(dense)):
                moved = np.max(np.abs(np.asarray(b) - np.asarray(old)))
                assert moved > 1e-4  # every matrix learns
                diff = np.max(np.abs(np.asarray(a) - np.asarray(b)))
                worst = max(worst, diff)
                assert diff <= 1e-11 * moved
        dense = new_a
    print(f"{name}: max |rank-one - jax.grad| = {worst:.2e}")


def test_unequal_simulate_paths_match_autodiff():
    """Whole runs through ``simulate`` in float64: low rank == dense == jax.grad."""
    s = WIDTH_CASES["L3-narrow-first-mup"].replace(T=6)
    kw = dict(D=10, seeds=2, seed=4, dtype="float64")
    low = simulate(s, method="lowrank", **kw)
    dense = simulate(s, method="dense", **kw)
    ref = simulate(s, step_fn=autodiff_step, **kw)
    for other in (dense, ref):
        for col in ("train_loss", "test_loss"):
            np.testing.assert_allclose(low[col], other[col], rtol=1e-10)
    per_step = low.groupby("step").test_loss.mean()
    assert per_step.iloc[-1] < per_step.iloc[0]  # it trains


# ----------------------------------------------------------------------------------------
# Theory
# ----------------------------------------------------------------------------------------
THEORY_CASES = {
    "L3-fullbatch-noise": Setting(L=3, nu=(0.5, 2.0, 1.0), alpha=1.5, gamma0=1.0, eta0=0.1,
                                  sigma=0.2, T=25),
    "L3-ntk-online": Setting(L=3, nu=(2.0, 1.0, 0.5), alpha_B=0.5, gamma0=1.0, eta0=0.1,
                             param="ntk", T=25),
    "L2-powerlaw": Setting(L=2, nu=(2.0, 0.75), alpha=2.0, gamma0=1.0, eta0=0.02, T=15,
                           data="powerlaw", capacity=1.2, source=0.8),
}


@pytest.mark.parametrize("name", list(THEORY_CASES))
def test_unequal_stepper_equals_picard(name):
    s = THEORY_CASES[name]
    kw = {"modes": 16} if s.data == "powerlaw" else {}
    a, b = theory(s, method="stepper", **kw), theory(s, method="picard", **kw)
    assert not a.diverged.any()
    for col in ("test_loss", "train_loss"):
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("L, nu", [(2, 2.0), (3, 0.7)])
def test_equal_widths_reduce_to_scalar_theory(L, nu):
    """All nu_l equal is the scalar theory exactly; nearly equal widths (which run the per-layer
    factors) approach it linearly, and clearly unequal ones do not."""
    base = dict(L=L, alpha=1.5, gamma0=1.2, eta0=0.1, sigma=0.1, T=20)
    scalar = theory(Setting(nu=nu, **base))
    tupled = theory(Setting(nu=(nu,) * L, **base))
    assert np.max(np.abs(scalar.test_loss - tupled.test_loss)) <= 1e-12

    def gap(eps):
        nus = (nu,) * (L - 1) + (nu * (1 + eps),)
        nus = (nus[0] * (1 - eps),) + nus[1:]
        return np.max(np.abs(theory(Setting(nu=nus, **base)).test_loss - scalar.test_loss))

    small, smaller, big = gap(1e-6), gap(1e-7), gap(0.3)
    assert small < 1e-5 and smaller < 1e-6 and big > 1e-2
    assert smaller == pytest.approx(small / 10, rel=0.05)  # linear in the perturbation


def test_unequal_theory_matches_simulation():
    """A narrow first layer (N_1 = D/2) under a wide last one (N_2 = 2D), D = 128, 32 seeds.

    Tolerance from the seeds: every step within 4 standard errors of the seed mean (measured
    |z| <= 0.9; at D = 512, 16 seeds, |z| <= 1.7: docs/bordelon25.md, section 10.4)."""
    s = Setting(L=2, nu=(0.5, 2.0), alpha=2.0, gamma0=1.5, eta0=0.05, T=16)
    th = theory(s)
    sim = simulate(s, D=128, seeds=32, seed=1)
    # the widths matter: the uniform network with the same last width is far off
    uniform = theory(s.replace(nu=2.0))
    for q in ("test_loss", "train_loss"):
        m = sim[sim.step >= 1].groupby("step")[q].agg(["mean", "sem"])
        t = th[q].values[1:]
        z = np.abs(m["mean"].values - t) / m["sem"].values
        assert z.max() < 4, q
        assert np.mean(np.abs(m["mean"].values / t - 1)) < 0.06, q
        assert np.max(np.abs(uniform[q].values[1:] - t) / m["sem"].values) > 5, q


# ----------------------------------------------------------------------------------------
# Figure 8 in the pipeline
# ----------------------------------------------------------------------------------------
def test_fig8_runs_have_equal_parameter_counts_and_round_trip_through_tables():
    from .test_pipeline import check, load

    from dlndyn.bordelon25 import jobs, pipeline, summaries

    config = check(load())
    runs = pipeline.figure_runs(config, "fig8")
    assert {r.setting.param for r in runs} == {"mup", "ntk"}
    # every profile has the parameter count of the uniform network (units of D^2, no readout)
    counts = [nu[0] + sum(a * b for a, b in zip(nu, nu[1:])) for nu in
              (r.setting.nus for r in runs)]
    assert np.allclose(counts, counts[0], rtol=1e-4)
    assert len({r.setting.nus for r in runs}) == 4
    # the design table gives every Setting back (per-layer widths as text, nu = nu_L)
    design = pipeline.design_table(runs, seed=0, dtype="float32")
    back = {(p, c): s for panel in ("a", "b") for p, c, s in summaries.design_curves(design, panel)}
    for r in runs:
        assert back[(r.panel, r.curve)] == r.setting
    # a job's table carries the widths as columns too
    r = next(r for r in runs if isinstance(r.setting.nu, tuple))
    small = pipeline.Run(**{**r.__dict__, "setting": r.setting.replace(T=3), "D": 8, "seeds": 1})
    sim = jobs.simulate(small.sim_job(seed=0, dtype="float32"), log=lambda m: None)
    th = jobs.theory(small.theory_job(), log=lambda m: None)
    for table in (sim, th):
        assert (table.nu == r.setting.nu_L).all()
        assert (table.nus == ",".join(repr(v) for v in r.setting.nu)).all()
    assert (sim.N == small.setting.sizes(8)["N"]).all()
