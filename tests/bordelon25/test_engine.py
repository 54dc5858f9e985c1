"""Finite-network engine: rank-one GD against plain autodiff, closed forms, divergence, seeds.

The independent checks are
* ``dlndyn.bordelon25.sim.reference.autodiff_step`` (jax.grad of the network evaluated layer by layer on the
  data matrix), both through ``simulate`` and step by step on the weights in float64;
* numpy loops over the initial weights for beta, the test and the train loss;
* expectations: E[step-0 loss] = 1 + D/(gamma^2 N) + sigma^2 exactly (the backward vectors keep
  their norm in expectation, E|g^l|^2 = N), and under one-pass SGD E[batch loss | weights] =
  test loss, because the batch is drawn independently of the current weights.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from dlndyn import Setting, simulate
from dlndyn.bordelon25.sim import engine
from dlndyn.bordelon25.sim.engine import batch_at, init_state, rank_one_step
from dlndyn.bordelon25.sim.lowrank import lowrank_start, lowrank_step, materialize
from dlndyn.bordelon25.sim.reference import autodiff_step, residual_autodiff_step
from .updates import assert_update_matches


def numpy_beta(params, gamma):
    """beta = sqrt(D)/(gamma N) W0^T g^1 with g^L = w, g^l = W^l^T g^{l+1}/sqrt(N) (docs/bordelon25.md, section 1)."""
    W0 = np.asarray(params["W0"], dtype=np.float64)
    N, D = W0.shape
    g = np.asarray(params["w"], dtype=np.float64)
    for W in np.asarray(params["Ws"], dtype=np.float64)[::-1]:
        g = W.T @ g / np.sqrt(N)
    return np.sqrt(D) / (gamma * N) * (W0.T @ g)


def numpy_network(params, X, gamma):
    """f(X) by a forward pass of the layers (no use of beta)."""
    W0 = np.asarray(params["W0"], dtype=np.float64)
    N, D = W0.shape
    H = np.asarray(X, dtype=np.float64) @ W0.T / np.sqrt(D)
    for W in np.asarray(params["Ws"], dtype=np.float64):
        H = H @ W.T / np.sqrt(N)
    return np.sqrt(D) / (gamma * N) * (H @ np.asarray(params["w"], dtype=np.float64))


# ----------------------------------------------------------------------------------------
# Rank-one engine == jax.grad training
# ----------------------------------------------------------------------------------------
AUTODIFF_CASES = {
    "L1-fullbatch-mup-noise": Setting(L=1, nu=1.5, alpha=1.5, gamma0=1.0, eta0=0.2, T=8,
                                      sigma=0.3),
    "L2-onepass-ntk-noise": Setting(L=2, nu=0.75, alpha_B=0.5, gamma0=1.2, eta0=0.15, T=8,
                                    sigma=0.2, param="ntk"),
}
# (L = 1, 2, 3 x full batch / one-pass x muP / NTK are all covered step by step in float64 by
# test_single_steps_match_autodiff_float64; whole runs are compiled, so only two here)


@pytest.mark.parametrize("name", list(AUTODIFF_CASES))
def test_simulate_matches_autodiff_training(name):
    """Whole runs (scan over steps, vmap over seeds, fresh batches) in float32."""
    s = AUTODIFF_CASES[name]
    fast = simulate(s, D=16, seeds=2, seed=3, batches="explicit")  # the reference's batches
    slow = simulate(s, D=16, seeds=2, seed=3, step_fn=autodiff_step)
    assert not fast.diverged.any() and not slow.diverged.any()
    pd.testing.assert_frame_equal(fast[["seed", "step"]], slow[["seed", "step"]])
    np.testing.assert_allclose(fast.test_loss, slow.test_loss, rtol=1e-4)
    np.testing.assert_allclose(fast.train_loss, slow.train_loss, rtol=1e-4)
    # training did something (otherwise the comparison above would be empty)
    per_step = fast.groupby("step").test_loss.mean()
    assert per_step.iloc[-1] < 0.9 * per_step.iloc[0]


@jax.jit
def _both_steps(params, X, y, eta0, gamma):
    return rank_one_step(params, X, y, eta0, gamma), autodiff_step(params, X, y, eta0, gamma)


@pytest.mark.parametrize("L", [1, 2, 3])
@pytest.mark.parametrize("online", [False, True], ids=["fullbatch", "onepass"])
def test_single_steps_match_autodiff_float64(x64, L, online):
    """Step by step on the weights, float64: the new parameters, beta and the train loss."""
    D = 12
    for param in ("mup", "ntk"):
        s = Setting(L=L, nu=1.5, alpha=1.25, gamma0=1.3, eta0=0.2, sigma=0.3, param=param,
                    alpha_B=0.5 if online else None)
        sz = s.sizes(D)
        params, data = init_state(7, D=D, N=sz["N"], P=sz["P"], n_mid=L - 1,
                                  sigma=s.sigma, online=online, dtype=jnp.float64)
        assert params["W0"].dtype == jnp.float64
        for t in range(3):
            X, y = batch_at(data, t, sz["P"], s.sigma, jnp.float64)
            (new_r, train_r, beta_r), (new_a, train_a, _) = _both_steps(
                params, X, y, s.eta0, s.gamma
            )
            for leaf in ("W0", "Ws", "w"):
                old = np.asarray(params[leaf])
                d_r = np.asarray(new_r[leaf]) - old
                d_a = np.asarray(new_a[leaf]) - old
                if leaf == "Ws" and L == 1:
                    assert d_r.size == 0 and d_a.size == 0
                    continue
                scale = np.max(np.abs(d_a))
                assert scale > 1e-3, f"{leaf} did not move"
                np.testing.assert_allclose(d_r, d_a, rtol=0, atol=1e-11 * scale, err_msg=leaf)
            # each matrix update is rank one (docs/bordelon25.md, section 1)
            dW0 = np.asarray(new_r["W0"]) - np.asarray(params["W0"])
            assert np.linalg.matrix_rank(dW0, tol=1e-9 * np.abs(dW0).max()) == 1
            # beta and the train loss against a plain numpy forward pass
            beta = numpy_beta(params, s.gamma)
            np.testing.assert_allclose(np.asarray(beta_r), beta, rtol=1e-11, atol=1e-12)
            f = numpy_network(params, X, s.gamma)
            np.testing.assert_allclose(f, np.asarray(X) @ beta / np.sqrt(D), rtol=1e-10,
                                       atol=1e-12)
            train = np.mean((np.asarray(y) - f) ** 2)
            np.testing.assert_allclose([float(train_r), float(train_a)], [train, train],
                                       rtol=1e-11)
            params = new_r
        # online: every step saw a different batch; full batch: always the same one
        X0, _ = batch_at(data, 0, sz["P"], s.sigma, jnp.float64)
        X1, _ = batch_at(data, 1, sz["P"], s.sigma, jnp.float64)
        assert np.array_equal(np.asarray(X0), np.asarray(X1)) != online


def test_population_gradient_update_matches_autodiff_float64(x64):
    """rank_one_update along a = Lambda (beta* - beta) (the population gradient, used by
    benchmarks/bench_bump.py) is jax.grad GD on a data set whose second moment is exactly
    Lambda: X = diag(sqrt(D lambda)), P = D."""
    D, L = 10, 2
    lam = jnp.asarray(np.linspace(2.0, 0.2, D))
    params, data = init_state(3, D=D, N=14, P=D, n_mid=L - 1, sigma=0.0,
                              online=True, dtype=jnp.float64)
    X = jnp.diag(jnp.sqrt(D * lam))
    y = X @ data["beta_star"] / np.sqrt(D)
    beta, g1, g_upper = engine.end_to_end(params, 1.3)
    new = engine.rank_one_update(params, lam * (data["beta_star"] - beta), g1, g_upper, 0.2, 1.3)
    ref, _, _ = autodiff_step(params, X, y, 0.2, 1.3)
    for leaf in ("W0", "Ws", "w"):
        d_ref = np.asarray(ref[leaf]) - np.asarray(params[leaf])
        np.testing.assert_allclose(np.asarray(new[leaf]) - np.asarray(params[leaf]), d_ref,
                                   rtol=0, atol=1e-11 * np.abs(d_ref).max(), err_msg=leaf)


# ----------------------------------------------------------------------------------------
# One shape shared by the step-0 and one-pass SGD checks (compiled once)
# ----------------------------------------------------------------------------------------
ONEPASS = Setting(L=2, nu=1.0, alpha_B=0.5, gamma0=0.8, eta0=0.1, sigma=0.3, T=20)
ONEPASS_D, ONEPASS_SEEDS, ONEPASS_SEED = 64, 128, 11


@pytest.fixture(scope="module")
def onepass_table():
    return simulate(ONEPASS, D=ONEPASS_D, seeds=ONEPASS_SEEDS, seed=ONEPASS_SEED)


def test_step0_losses_closed_form_and_mean(onepass_table):
    s, D, seed = ONEPASS, ONEPASS_D, ONEPASS_SEED
    sz = s.sizes(D)
    table = onepass_table[onepass_table.step == 0]
    assert len(table) == ONEPASS_SEEDS

    # the first few replicates rebuilt from their documented streams, losses by numpy
    for r in range(3):
        params, data = init_state(seed, r, D=D, N=sz["N"], P=sz["P"], n_mid=s.L - 1,
                                  sigma=s.sigma, online=True, dtype=np.float32)
        documented = jax.random.key_data(jax.random.fold_in(jax.random.key(seed), r))
        assert np.array_equal(jax.random.key_data(data["key"]), documented)
        W0 = np.random.default_rng(np.random.SeedSequence([seed, r]).spawn(6)[0])
        assert np.array_equal(params["W0"], W0.standard_normal((sz["N"], D), dtype=np.float32))
        beta_star = data["beta_star"]
        # the default one-pass batch: its sufficient statistics (sim/batches.py), whose
        # residuals are Delta = |v| z / sqrt(D) + sigma eps
        stats, _ = jax.jit(batch_at, static_argnums=(2, 4, 5))(data, 0, sz["P"], s.sigma,
                                                               jnp.float32, "stats")
        beta = numpy_beta(params, s.gamma)
        v = np.asarray(beta_star, dtype=np.float64) - beta
        test = v @ v / D + s.sigma**2
        delta = (np.sqrt(v @ v / D) * np.asarray(stats.z, np.float64)
                 + np.asarray(stats.noise, np.float64))
        train = np.mean(delta**2)
        row = table[table.seed == r].iloc[0]
        assert row.test_loss == pytest.approx(test, rel=1e-5)
        assert row.train_loss == pytest.approx(train, rel=1e-5)

    # E[loss at step 0] = 1 + D/(gamma^2 N) + sigma^2 (= 1 + 1/(gamma^2 nu) + sigma^2 here)
    expected = 1 + D / (s.gamma**2 * sz["N"]) + s.sigma**2
    assert expected == pytest.approx(1 + 1 / (s.gamma**2 * s.nu) + s.sigma**2)
    for col in ("test_loss", "train_loss"):
        x = table[col].to_numpy()
        se = x.std(ddof=1) / np.sqrt(len(x))
        assert se < 0.04 * expected  # the check below has power
        assert abs(x.mean() - expected) < 4.5 * se, (col, x.mean(), expected, se)


# ----------------------------------------------------------------------------------------
# Divergence, the learning-rate grid, determinism (one shape: compiled once or twice)
# ----------------------------------------------------------------------------------------
BASE = Setting(L=2, nu=1.0, alpha=1.5, gamma0=1.0, eta0=0.1, T=12, sigma=0.2)
GRID = [0.05, 0.2, 200.0, 1e6]


@pytest.fixture(scope="module", params=["lowrank", "dense"])
def grid_table(request):
    return simulate(BASE, D=24, seeds=3, seed=2, eta0_grid=GRID, method=request.param)


def test_divergence_flags_and_inf(grid_table):
    table = grid_table
    assert not table[["train_loss", "test_loss"]].isna().any().any()
    assert set(table.columns) >= {"seed", "eta0", "step", "train_loss", "test_loss", "diverged"}
    for (seed, eta0), run in table.groupby(["seed", "eta0"]):
        run = run.sort_values("step")
        div = run.diverged.to_numpy()
        # once diverged, always diverged; losses are inf exactly on the diverged steps
        assert np.all(np.diff(div.astype(int)) >= 0)
        for col in ("train_loss", "test_loss"):
            x = run[col].to_numpy()
            assert np.all(np.isinf(x) == div), (seed, eta0, col)
            assert np.all(x[~div] > 0)
        assert not div[0]  # the initial network is never diverged
        if eta0 >= 200:
            assert div[-1], f"eta0={eta0} did not diverge"
        else:
            assert not div.any(), f"eta0={eta0} diverged"
    # the step-0 losses do not depend on the learning rate (same weights, same data)
    step0 = table[table.step == 0].pivot(index="seed", columns="eta0", values="test_loss")
    assert np.allclose(step0.to_numpy(), step0.to_numpy()[:, :1])


def test_eta0_grid_equals_separate_runs(grid_table):
    assert sorted(grid_table.eta0.unique()) == sorted(GRID)
    for eta0 in GRID:
        alone = simulate(BASE.replace(eta0=eta0), D=24, seeds=3, seed=2, method="lowrank")
        assert "eta0" not in alone.columns
        part = grid_table[grid_table.eta0 == eta0].drop(columns="eta0").reset_index(drop=True)
        pd.testing.assert_frame_equal(part[["seed", "step", "diverged"]],
                                      alone[["seed", "step", "diverged"]])
        for col in ("train_loss", "test_loss"):
            np.testing.assert_allclose(part[col], alone[col], rtol=1e-5)


def test_same_seed_same_table_other_seed_other_table():
    a = simulate(BASE, D=24, seeds=3, seed=5)
    b = simulate(BASE, D=24, seeds=3, seed=5)
    c = simulate(BASE, D=24, seeds=3, seed=6)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not np.allclose(a.test_loss, c.test_loss)
    assert not np.allclose(a.train_loss, c.train_loss)
    # replicates within a run differ too
    per_seed = a[a.step == 0].test_loss.to_numpy()
    assert len(np.unique(per_seed)) == len(per_seed)


@pytest.mark.parametrize("seeds", [0, -2, 2.5, "3", True, None])
def test_bad_seeds_argument(seeds):
    with pytest.raises(ValueError, match="seeds"):
        simulate(BASE, D=24, seeds=seeds)


@pytest.mark.parametrize("grid", [[], np.array([]), [0.1, float("nan")], [0.1, float("inf")],
                                  [-0.1, 0.2], [[0.1, 0.2]], ["fast"]])
def test_bad_eta0_grid_argument(grid):
    with pytest.raises(ValueError, match="eta0_grid"):
        simulate(BASE, D=24, seeds=2, eta0_grid=grid)


@pytest.mark.parametrize("kwargs, name", [({"dtype": "float16"}, "dtype"),
                                          ({"dtype": "bfloat16"}, "dtype"),
                                          ({"method": "sparse"}, "method"),
                                          ({"method": "lowrank", "step_fn": autodiff_step},
                                           "step_fn")])
def test_bad_dtype_and_method_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        simulate(BASE, D=24, seeds=2, **kwargs)


# ----------------------------------------------------------------------------------------
# One-pass SGD: the batch loss is an unbiased estimate of the test loss
# ----------------------------------------------------------------------------------------
def test_onepass_batch_loss_unbiased_for_test_loss(onepass_table):
    table = onepass_table
    assert not table.diverged.any()
    # batch loss minus test loss at the same weights: a martingale difference over steps
    # (the batch at step t is fresh), so the pairs are uncorrelated and the plain standard
    # error applies
    d = (table.train_loss - table.test_loss).to_numpy()
    se = d.std(ddof=1) / np.sqrt(len(d))
    scale = table.test_loss.mean()
    assert se < 0.02 * scale  # enough samples to see a bias of a few percent
    assert abs(d.mean()) < 4.5 * se, (d.mean(), se)
    # and it is not trivially equal (a fresh batch is noisy)
    assert np.mean(np.abs(d)) > 0.05 * scale
    # training works under SGD
    per_step = table.groupby("step").test_loss.mean()
    assert per_step.iloc[-1] < 0.8 * per_step.iloc[0]


# ----------------------------------------------------------------------------------------
# The low-rank path: exact against jax.grad for every architecture, equal to the dense path
# ----------------------------------------------------------------------------------------
LOWRANK_CASES = {
    "plain-L1-fullbatch": Setting(L=1, nu=1.5, alpha=1.25, gamma0=1.3, eta0=0.2, sigma=0.3),
    "plain-L3-fullbatch-ntk": Setting(L=3, nu=1.5, alpha=1.25, gamma0=1.3, eta0=0.05,
                                      sigma=0.3, param="ntk"),
    "plain-L2-online": Setting(L=2, nu=1.5, alpha_B=0.5, gamma0=1.3, eta0=0.2, sigma=0.3),
    "residual-L3-fullbatch": Setting(L=3, nu=1.0, alpha=1.5, gamma0=0.9, eta0=0.05,
                                     residual=True, beta0=1.3, sigma=0.2),
    "residual-L2-online-fixed": Setting(L=2, nu=1.0, alpha_B=0.75, gamma0=0.9, eta0=0.05,
                                        residual=True, beta0=0.6, branch_scale="fixed"),
    "powerlaw-L2-fullbatch": Setting(L=2, nu=1.0, alpha=2.0, gamma0=1.0, eta0=0.1,
                                     data="powerlaw", capacity=1.2, source=0.8),
    "powerlaw-L1-online": Setting(L=1, nu=2.0, alpha_B=1.0, gamma0=1.0, eta0=0.1,
                                  data="powerlaw", capacity=0.6, source=1.0),
}


def _reference_step(s):
    return residual_autodiff_step if s.residual else autodiff_step


@pytest.mark.parametrize("name", list(LOWRANK_CASES))
def test_lowrank_steps_match_autodiff_float64(x64, name):
    """Step by step in float64: the materialized W(0) + U^T V against jax.grad's iterates."""
    s = LOWRANK_CASES[name]
    D, T = 10, 4
    sz = s.sizes(D)
    n_mid = s.L if s.residual else s.L - 1
    spec = None
    if s.data == "powerlaw":
        from dlndyn import spectrum
        spec = tuple(jnp.asarray(a, jnp.float64) for a in spectrum(s.capacity, s.source, D))
    params, data = init_state(5, D=D, N=sz["N"], P=sz["P"], n_mid=n_mid,
                              sigma=s.sigma, online=s.online, dtype=jnp.float64,
                              spectrum=spec)
    mats, state = lowrank_start(params, T)
    ref = jax.jit(_reference_step(s))
    fast = jax.jit(lowrank_step, static_argnames="residual")
    dense = params
    for t in range(T):
        X, y = batch_at(data, t, sz["P"], s.sigma, jnp.float64)
        state, train_l, beta_l = fast(mats, state, t, X, y, s.eta0, s.gamma, s.branch,
                                      residual=s.residual)
        new_dense, train_a, beta_a = ref(dense, X, y, s.eta0, s.gamma, s.branch)
        assert float(train_l) == pytest.approx(float(train_a), rel=1e-11)
        np.testing.assert_allclose(beta_l, beta_a, rtol=1e-10, atol=1e-12)
        assert_update_matches(dense, new_dense, [materialize(mats, state)], n_mid=n_mid)
        dense = new_dense
        # the initial matrices are never written; rows >= t + 1 of every factor are still 0
        for U, V in zip(state["U"], state["V"]):
            assert not np.any(np.asarray(U)[t + 1:]) and not np.any(np.asarray(V)[t + 1:])
    assert np.array_equal(np.asarray(mats[0]), np.asarray(params["W0"]))


# whole runs: one case per architecture (each compiles twice; the steps of every case are
# checked above, and the dense path against the low-rank one in the tests below)
@pytest.mark.parametrize("name", ["plain-L3-fullbatch-ntk", "plain-L2-online",
                                  "residual-L3-fullbatch", "powerlaw-L1-online"])
def test_simulate_lowrank_matches_autodiff(name):
    """Whole runs in float64 through ``simulate`` (scan, grid vmap, seed loop): low rank ==
    jax.grad."""
    s = LOWRANK_CASES[name].replace(T=6)
    kw = dict(D=10, seeds=2, seed=4, dtype="float64")
    low = simulate(s, method="lowrank", batches="explicit", **kw)  # the reference's batches
    slow = simulate(s, step_fn=_reference_step(s), **kw)
    assert not low.diverged.any()
    for other in (slow,):
        pd.testing.assert_frame_equal(low[["seed", "step", "diverged"]],
                                      other[["seed", "step", "diverged"]])
        for col in ("train_loss", "test_loss"):
            np.testing.assert_allclose(low[col], other[col], rtol=1e-10)
    per_step = low.groupby("step").test_loss.mean()
    if not s.online:  # (one-pass SGD at D=10 is too noisy to go down in 6 steps)
        assert per_step.iloc[-1] < per_step.iloc[0]  # it trains


def test_lowrank_and_dense_agree_on_a_grid_with_divergence():
    """float32, the grid of the divergence tests: same flags, losses to float32 rounding."""
    kw = dict(D=24, seeds=3, seed=2, eta0_grid=GRID)
    low = simulate(BASE, method="lowrank", **kw)
    dense = simulate(BASE, method="dense", **kw)
    pd.testing.assert_frame_equal(low[["seed", "eta0", "step", "diverged"]],
                                  dense[["seed", "eta0", "step", "diverged"]])
    assert low.diverged.any() and not low.diverged.all()
    ok = ~low.diverged
    for col in ("train_loss", "test_loss"):
        assert np.all(np.isinf(low[col][~ok]))
        np.testing.assert_allclose(low[col][ok], dense[col][ok], rtol=2e-5)


def test_float64_runs_in_float64_and_leaves_the_flag_alone():
    """dtype="float64" without switching JAX's x64 mode on first: the numbers are float64
    (low rank and dense agree to 1e-12, which float32 cannot), and the flag is restored."""
    before = bool(jax.config.jax_enable_x64)
    kw = dict(D=12, seeds=2, seed=1)
    s = BASE.replace(T=8)
    low64 = simulate(s, method="lowrank", dtype="float64", **kw)
    dense64 = simulate(s, method="dense", dtype="float64", **kw)
    low32 = simulate(s, method="lowrank", dtype="float32", **kw)
    assert bool(jax.config.jax_enable_x64) == before
    np.testing.assert_allclose(low64.test_loss, dense64.test_loss, rtol=1e-12)
    # (float32 and float64 draw different initial weights, so their numbers are not compared;)
    # a float32 run's losses are float32 numbers, a float64 run's are not
    x32, x64 = low32.test_loss.to_numpy(), low64.test_loss.to_numpy()
    assert np.array_equal(x32, x32.astype(np.float32).astype(np.float64))
    assert np.mean(x64 != x64.astype(np.float32).astype(np.float64)) > 0.9


def test_choose_path_rule():
    sz = Setting(L=3, nu=2.0, alpha=2.0).sizes(512)  # N = 1024, D = 512
    shapes = engine.matrix_shapes(sz, 2)
    assert shapes == [(1024, 512), (1024, 1024), (1024, 1024)]
    t_star = engine.CROSSOVER * sum(r * c for r, c in shapes) / sum(r + c for r, c in shapes)
    assert engine.choose_path(sz, 2, int(t_star)) == "lowrank"
    assert engine.choose_path(sz, 2, int(t_star) + 1) == "dense"
    assert engine.choose_path(sz, 2, 100) == "lowrank"  # the benchmark's setting
    assert engine.choose_path(Setting(nu=1.0).sizes(16), 0, 5000) == "dense"


def test_auto_picks_dense_past_the_crossover():
    """A long run on a narrow network goes dense and gives the low-rank numbers."""
    s = Setting(L=2, nu=1.0, alpha=2.0, eta0=0.1, T=40)
    kw = dict(D=4, seeds=2, seed=0, dtype="float64")
    assert engine.choose_path(s.sizes(4), 1, s.T) == "dense"
    auto = simulate(s, **kw)
    low = simulate(s, method="lowrank", **kw)
    np.testing.assert_allclose(auto.test_loss, low.test_loss, rtol=1e-10)
