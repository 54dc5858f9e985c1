"""One-pass SGD batches drawn as sufficient statistics (sim/batches.py, docs/bordelon25.md, 1.6).

The independent checks are
* an exact identity: an explicit batch X built from given (z, noise, g) has, by a numpy
  computation, the pseudo-input sqrt(D) X^T Delta / P and train loss |Delta|^2 / P that the
  sampler's formula returns from (z, noise, g) alone (float64, 1e-12), also at v = 0;
* the law: at fixed weights, moments of (a, train loss) under the sampler against explicitly
  drawn batches; over whole runs, seed-mean loss curves against the explicit-batch engine and
  the one-pass DMFT;
* determinism and dtypes.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from dlndyn import Setting, simulate, theory
from dlndyn.bordelon25.sim import batches
from dlndyn.bordelon25.sim.batches import OnePass, onepass_pseudo_input, pseudo_input
from dlndyn.bordelon25.sim.engine import batch_at, draw_batch, init_state


# ----------------------------------------------------------------------------------------
# (1) The formula is an exact identity of an explicit batch
# ----------------------------------------------------------------------------------------
def _explicit_batch(z, noise, g, beta_star, beta, sqrt_lam):
    """The P x D batch whose standard inputs xi satisfy xi Q = z and whose part orthogonal
    to Q gives (I - Q Q^T) xi^T Delta = (I - Q Q^T) g S: xi = z Q^T + Delta (Delta^T
    Delta)^{-1} S g_perp^T (numpy, (D, C) shapes). Returns X, y, Delta."""
    D = beta.shape[0]
    lam_half = np.ones(D) if sqrt_lam is None else sqrt_lam
    W = lam_half[:, None] * (beta_star - beta)
    if W.shape[1] == 1:
        norm = np.linalg.norm(W)
        Q = W / norm if norm > 0 else np.zeros_like(W)
    else:  # any orthonormal basis containing the columns of W: the sampler's own
        Q = np.asarray(batches._basis(jnp.asarray(W)))
        np.testing.assert_allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-13)
    np.testing.assert_allclose(Q @ (Q.T @ W), W, atol=1e-13)
    delta = z @ (Q.T @ W) / np.sqrt(D) + noise
    ev, V = np.linalg.eigh(delta.T @ delta)
    S = (V * np.sqrt(ev)) @ V.T
    g_perp = g - Q @ (Q.T @ g)
    xi = z @ Q.T + delta @ np.linalg.solve(delta.T @ delta, S) @ g_perp.T
    X = xi * lam_half
    y = X @ beta_star / np.sqrt(D) + noise
    return X, y, delta


@pytest.mark.parametrize("C, at_teacher", [(1, "no"), (1, "all"), (3, "no"), (3, "all"),
                                           (3, "one")])
@pytest.mark.parametrize("powerlaw", [False, True], ids=["isotropic", "powerlaw"])
def test_sampler_formula_is_exact_for_its_explicit_batch(x64, C, powerlaw, at_teacher):
    """sqrt(D) X^T Delta / P and |Delta|^2 / P of the explicit batch (numpy) equal the
    sampler's from (z, noise, g); ``at_teacher``: v = beta* - beta nonzero, zero (the
    degenerate direction), or zero in one of C columns (W rank deficient)."""
    rng = np.random.default_rng([C, int(powerlaw), len(at_teacher)])
    D, P = 9, 5
    beta_star = rng.standard_normal((D, C))
    beta = beta_star + rng.standard_normal((D, C))
    if at_teacher == "all":
        beta = beta_star.copy()
    elif at_teacher == "one":
        beta[:, 1] = beta_star[:, 1]
    sqrt_lam = np.sqrt(np.linspace(2.0, 0.1, D)) if powerlaw else None
    z, noise, g = rng.standard_normal((P, C)), 0.3 * rng.standard_normal((P, C)), \
        rng.standard_normal((D, C))
    X, y, delta = _explicit_batch(z, noise, g, beta_star, beta, sqrt_lam)
    # the batch is consistent: its residuals are Delta
    np.testing.assert_allclose(y - X @ beta / np.sqrt(D), delta, rtol=0, atol=1e-12)
    a_ref = np.sqrt(D) * X.T @ delta / P
    train_ref = np.sum(delta**2) / P / C

    def one(x):  # single output: vectors
        return jnp.asarray(x[..., 0] if C == 1 else x)

    stats = OnePass(z=one(z), noise=one(noise), g=one(g), beta_star=one(beta_star),
                    sqrt_lam=None if sqrt_lam is None else jnp.asarray(sqrt_lam))
    a, train = jax.jit(onepass_pseudo_input)(stats, one(beta))
    assert a.shape == one(a_ref).shape and a.dtype == jnp.float64
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(np.asarray(a), np.asarray(one(a_ref)), rtol=0,
                               atol=1e-12 * np.abs(a_ref).max())
    assert float(train) == pytest.approx(train_ref, rel=1e-12)
    # and the explicit-batch branch of pseudo_input gives the same numbers on X, y
    a_x, train_x = pseudo_input(jnp.asarray(X), one(y), one(beta))
    np.testing.assert_allclose(np.asarray(a_x), np.asarray(a), rtol=0,
                               atol=1e-12 * np.abs(a_ref).max())


# ----------------------------------------------------------------------------------------
# (2) The same law as explicit batches
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("C", [1, 2, 7])  # 7 > D: more outputs than inputs
@pytest.mark.parametrize("powerlaw", [False, True], ids=["isotropic", "powerlaw"])
def test_moments_at_fixed_weights_match_explicit_batches(x64, C, powerlaw):
    """E[a], E[a a^T] (all entries, with C outputs over channels too) and E[train],
    E[train^2] over 6000 batches at fixed weights: the sampler against explicitly drawn
    batches, within 5 standard errors of the difference. (Dropping the projection of g
    moves E[a a^T] along v by E|Delta|^2 (D/P^2), about 10 standard errors here.)"""
    D, P, draws, sigma = 5, 3, 6000, 0.4
    rng = np.random.default_rng(C + 2 * powerlaw)
    shape = (D,) if C == 1 else (D, C)
    beta_star = jnp.asarray(rng.standard_normal(shape))
    beta = jnp.asarray(rng.standard_normal(shape))
    sqrt_lam = jnp.asarray(np.sqrt(np.linspace(1.5, 0.2, D))) if powerlaw else None

    def explicit(key):
        X, y = draw_batch(key, beta_star, P, sigma, jnp.float64, sqrt_lam)
        return pseudo_input(X, y, beta)

    def sampled(key):
        stats = batches.draw_onepass(key, beta_star, P, sigma, jnp.float64, sqrt_lam)
        return pseudo_input(stats, None, beta)

    def features(fn, seed):
        keys = jax.random.split(jax.random.key(seed), draws)
        a, train = jax.jit(jax.vmap(fn))(keys)
        a = np.asarray(a).reshape(draws, -1)
        second = (a[:, :, None] * a[:, None, :]).reshape(draws, -1)
        train = np.asarray(train)[:, None]
        return np.concatenate([a, second, train, train**2], axis=1)

    f_s, f_x = features(sampled, 1), features(explicit, 2)
    diff = f_s.mean(0) - f_x.mean(0)
    se = np.sqrt(f_s.var(0, ddof=1) / draws + f_x.var(0, ddof=1) / draws)
    assert np.all(np.abs(diff) < 5 * se), np.max(np.abs(diff) / se)
    # the mean pseudo-input is the population gradient Lambda v (a check with power)
    lam = np.ones(D) if sqrt_lam is None else np.asarray(sqrt_lam) ** 2
    v = np.asarray(beta_star - beta).reshape(D, -1)
    mean_a = f_s[:, : D * C].mean(0)
    se_a = f_s[:, : D * C].std(0, ddof=1) / np.sqrt(draws)
    assert np.all(np.abs(mean_a - (lam[:, None] * v).ravel()) < 5 * se_a)


ONEPASS_CASES = {  # whole runs; small D, many seeds
    "plain-L2-isotropic": Setting(L=2, nu=1.0, alpha_B=0.5, gamma0=1.0, eta0=0.1, sigma=0.3,
                                  T=16),
    "plain-L1-powerlaw": Setting(L=1, nu=2.0, alpha_B=1.0, gamma0=1.0, eta0=0.1, T=16,
                                 data="powerlaw", capacity=0.6, source=1.0),
    "residual-L2-outputs": Setting(L=2, nu=1.0, alpha_B=0.75, gamma0=0.9, eta0=0.05,
                                          T=16, residual=True, kappa=0.1),
    "plain-L2-unequal-widths-dense": Setting(L=2, nu=(1.5, 0.5), alpha_B=2.0, gamma0=1.0,
                                             eta0=0.1, sigma=0.2, T=40),
}
ONEPASS_D, ONEPASS_SEEDS = 20, 96


@pytest.mark.parametrize("name", list(ONEPASS_CASES))
def test_seed_mean_curves_match_the_explicit_engine(name):
    """Seed means of the test and batch loss at several steps: sampler vs explicit batches,
    within 4.5 standard errors of the difference (the seeds share initial weights and
    teacher, which only makes the difference less noisy)."""
    s = ONEPASS_CASES[name]
    kw = dict(D=ONEPASS_D, seeds=ONEPASS_SEEDS, seed=8)
    stats = simulate(s, **kw)  # the default
    expl = simulate(s, batches="explicit", **kw)
    assert not stats.diverged.any() and not expl.diverged.any()
    for col in ("test_loss", "train_loss"):
        a, b = (t.groupby("step")[col] for t in (stats, expl))
        diff = (a.mean() - b.mean()).to_numpy()
        se = np.sqrt(a.var() / ONEPASS_SEEDS + b.var() / ONEPASS_SEEDS).to_numpy()
        steps = [1, s.T // 4, s.T // 2, s.T - 1]
        assert np.all(np.abs(diff[steps]) < 4.5 * se[steps]), (col, diff[steps] / se[steps])
    # it trains, and the sampler's batches are fresh (batch loss != test loss)
    curve = stats.groupby("step").test_loss.mean()
    assert curve.iloc[-1] < 0.7 * curve.iloc[0]
    assert np.mean(np.abs(stats.train_loss - stats.test_loss)) > 0.05 * stats.test_loss.mean()


def test_sampler_runs_match_the_onepass_dmft():
    """Plain L = 2 one-pass SGD at D = 96, 32 seeds: seed-mean test loss within 4 standard
    errors plus 5% (finite-size bias, section 4.6) of the DMFT at every step."""
    s = Setting(L=2, nu=1.0, alpha_B=0.5, gamma0=1.0, eta0=0.1, sigma=0.3, T=30)
    seeds = 32
    g = simulate(s, D=96, seeds=seeds, seed=2).groupby("step").test_loss
    mean, se = g.mean().to_numpy(), (g.std() / np.sqrt(seeds)).to_numpy()
    th = theory(s).test_loss.to_numpy()
    assert np.all(np.abs(mean - th) < 4 * se + 0.05 * th)
    assert th[-1] < 0.5 * th[0]


# ----------------------------------------------------------------------------------------
# (3) Determinism and dtypes
# ----------------------------------------------------------------------------------------
DET = Setting(L=2, nu=1.0, alpha_B=0.5, gamma0=1.0, eta0=0.1, sigma=0.3, T=6)


@pytest.mark.parametrize("method", ["lowrank", "dense"])
def test_same_seed_same_numbers(method):
    kw = dict(D=12, seeds=3, method=method)
    a = simulate(DET, seed=4, **kw)
    b = simulate(DET, seed=4, **kw)
    c = simulate(DET, seed=5, **kw)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert not np.allclose(a.train_loss, c.train_loss)
    # the two paths draw the same statistics: equal up to float32 rounding
    other = simulate(DET, seed=4, method="dense" if method == "lowrank" else "lowrank",
                     D=12, seeds=3)
    np.testing.assert_allclose(a.train_loss, other.train_loss, rtol=2e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_statistics_and_losses_keep_the_dtype(dtype):
    sz = DET.sizes(12)
    with jax.enable_x64(dtype == "float64"):
        params, data = init_state(0, D=12, N=sz["N"], P=sz["P"], n_mid=1, sigma=DET.sigma,
                                  online=True, dtype=np.dtype(dtype))
        stats, y = batch_at(data, 3, sz["P"], DET.sigma, jnp.dtype(dtype), "stats")
        assert y is None
        for leaf in (stats.z, stats.noise, stats.g):
            assert leaf.dtype == jnp.dtype(dtype)
        a, train = pseudo_input(stats, None, jnp.zeros(12, dtype))
        assert a.dtype == jnp.dtype(dtype) and train.dtype == jnp.dtype(dtype)
    x = simulate(DET, D=12, seeds=2, dtype=dtype).train_loss.to_numpy()
    is32 = np.array_equal(x, x.astype(np.float32).astype(np.float64))
    assert is32 == (dtype == "float32")


def test_bad_batches_argument():
    with pytest.raises(ValueError, match="batches"):
        simulate(DET, D=12, seeds=1, batches="matrix")
