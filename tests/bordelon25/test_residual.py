"""Residual deep linear networks (docs/bordelon25.md, section 5): engine, theory, and theory against simulation.

Simulations run in float64 on small sizes with fixed seeds, so they are deterministic on a
given platform; the tolerances are stated next to the numbers measured when they were set.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlndyn import DMFTConvergenceError, Setting, simulate, solve, theory
from dlndyn.bordelon25.sim import residual as res_sim
from dlndyn.bordelon25.theory import residual as res
from dlndyn.bordelon25.sim.engine import init_state, rank_one_step, step_for
from dlndyn.bordelon25.sim.reference import residual_autodiff_step


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def sim_mean(s: Setting, D: int, seeds: int, seed: int = 0):
    """Seed mean and standard error of the test loss per step, and the mean train loss."""
    df = simulate(s, D=D, seeds=seeds, seed=seed, dtype="float64")
    g = df.groupby("step")
    return (g.test_loss.mean().to_numpy(), (g.test_loss.std() / np.sqrt(seeds)).to_numpy(),
            g.train_loss.mean().to_numpy())


# ----------------------------------------------------------------------------------------
# Engine
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("branch", [0.6, 1.3])
def test_rank_one_step_equals_autodiff(x64, branch):
    D, N, P, L = 7, 5, 9, 3
    params, data = init_state(3, D=D, N=N, P=P, n_mid=L, sigma=0.3,
                              online=False, dtype=jnp.float64)
    fast, ref = jax.jit(res_sim.residual_step), jax.jit(residual_autodiff_step)
    p1 = p2 = params
    losses = []
    for _ in range(4):
        p1, l1, b1 = fast(p1, data["X"], data["y"], 0.02, 0.7, branch)
        p2, l2, b2 = ref(p2, data["X"], data["y"], 0.02, 0.7, branch)
        assert float(l1) == pytest.approx(float(l2), rel=1e-12)
        np.testing.assert_allclose(b1, b2, rtol=1e-12, atol=1e-12)
        for k in params:
            np.testing.assert_allclose(p1[k], p2[k], rtol=1e-12, atol=1e-12)
        losses.append(float(l1))
    assert losses[-1] < 0.5 * losses[0]  # it does train


def test_engine_dispatches_to_the_residual_step():
    assert step_for(Setting(residual=True)) is res_sim.residual_step
    assert step_for(Setting(residual=False)) is rank_one_step


# ----------------------------------------------------------------------------------------
# Theory: solver internals
# ----------------------------------------------------------------------------------------
def _random_order(T: int, L: int, rng) -> res.ResidualOrder:
    def cov():
        M = rng.normal(size=(T, T))
        return M @ M.T / T

    def resp(k=0):
        return 0.3 * np.tril(rng.normal(size=(T, T)), k)

    return res.ResidualOrder(
        cov(), cov(), resp(), resp(), np.eye(T) + resp(-1), cov(),
        [cov() for _ in range(L)], [cov() for _ in range(L + 1)],
        [resp() for _ in range(L)], [resp(-1) for _ in range(L)], resp(-1))


@pytest.mark.parametrize("scale", ["inv_sqrt_L", "fixed"])
def test_shooting_hidden_block_equals_dense_solve(scale):
    s = Setting(L=4, nu=0.7, gamma0=1.3, eta0=0.08, residual=True, beta0=0.9,
                branch_scale=scale)
    o = _random_order(6, s.L, np.random.default_rng(1))
    fast, dense = res.hidden_block(o, s), res.dense_hidden_block(o, s)
    for key in fast:
        a, b = np.asarray(fast[key]), np.asarray(dense[key])
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-12, err_msg=key)


def test_dense_and_shooting_solves_agree():
    s = Setting(L=3, nu=1.0, alpha=1.5, eta0=0.05, sigma=0.2, T=12, residual=True)
    o, test, train, _ = solve(s)
    # the converged order parameters are a fixed point of the dense sweep too
    o2 = res.dense_sweep(o, s)
    for a, b in zip(o.correlations(), o2.correlations()):
        np.testing.assert_allclose(a, b, atol=1e-9)
    np.testing.assert_allclose(o.R_g1, o2.R_g1, atol=1e-9)


def test_equal_time_responses_are_exact():
    # the kernels pin R_h^l(t,t) to -(b/(gamma nu))(1+b^2)^(l-1); the block's own output
    # (computed from the full solve, not pinned) must reproduce it at the fixed point
    s = Setting(L=4, nu=0.7, alpha=1.5, gamma0=1.3, eta0=0.05, sigma=0.2, T=12,
                residual=True, beta0=1.2)
    o, _, _, _ = solve(s)
    out = res.hidden_block(o, s)
    for l in range(1, s.L + 1):
        expected = -(s.branch / (s.gamma * s.nu)) * (1 + s.branch**2) ** (l - 1)
        np.testing.assert_allclose(np.diag(out["R_h"][l - 1]), expected, rtol=1e-12)
        np.testing.assert_allclose(np.diag(out["R_g"][l - 1]), 0.0, atol=1e-14)
    np.testing.assert_allclose(np.diag(o.R_a), -1 / (s.gamma * np.sqrt(s.nu)), rtol=1e-12)


def test_zero_branch_is_the_plain_one_layer_network():
    # b = 0: every block is the identity, so the residual net is the plain L=1 net
    base = dict(nu=1.5, alpha=2.0, gamma0=0.8, eta0=0.12, sigma=0.1, T=25)
    plain = theory(Setting(L=1, **base))
    for L in (1, 3):
        resid = theory(Setting(L=L, residual=True, beta0=0.0, **base))
        np.testing.assert_allclose(resid.test_loss, plain.test_loss, rtol=1e-9)
        np.testing.assert_allclose(resid.train_loss, plain.train_loss, rtol=1e-9)


def test_online_sgd_residual_solves():
    s = Setting(L=3, nu=1.0, alpha_B=2.0, eta0=0.05, T=15, residual=True)
    d = theory(s)
    assert np.all(np.isfinite(d.test_loss)) and d.test_loss.iloc[-1] < 0.5 * d.test_loss[0]
    np.testing.assert_allclose(d.train_loss, d.test_loss)


# ----------------------------------------------------------------------------------------
# Theory: the exact forward stepper against the windowed fixed point (Picard)
# ----------------------------------------------------------------------------------------
STEPPER_CASES = [
    Setting(L=1, nu=1.0, alpha=2.0, eta0=0.1, T=25, residual=True),
    Setting(L=3, nu=1.0, alpha=1.5, eta0=0.05, sigma=0.2, T=25, residual=True),
    Setting(L=8, nu=1.0, alpha=4.0, eta0=0.05, T=25, residual=True),
    Setting(L=4, nu=0.7, alpha=1.5, gamma0=1.3, eta0=0.003, sigma=0.2, T=20, residual=True,
            beta0=1.2, branch_scale="fixed"),
    Setting(L=2, nu=2.0, alpha=0.7, gamma0=0.6, eta0=0.01, T=20, residual=True, beta0=2.0,
            param="ntk", sigma=0.1),
    Setting(L=3, nu=1.0, alpha_B=2.0, eta0=0.05, T=20, residual=True),  # online SGD
    Setting(L=2, nu=float("inf"), alpha=float("inf"), gamma0=2.0, eta0=0.2, T=20,
            residual=True),  # population limit (no finite-width or data noise)
    Setting(L=3, nu=2.0, alpha=3.0, gamma0=0.8, eta0=0.03, T=15, residual=True, param="ntk",
            data="powerlaw", capacity=1.2, source=0.7),
    Setting(L=2, nu=1.5, alpha_B=1.0, eta0=0.05, T=15, residual=True, data="powerlaw",
            branch_scale="fixed", beta0=0.7),
]


@pytest.mark.parametrize("s", STEPPER_CASES)
def test_stepper_equals_picard(s):
    from dlndyn.bordelon25.theory.powerlaw import mode_set
    from dlndyn.bordelon25.theory.residual_stepper import step_residual

    kw = {"modes": 8} if s.data == "powerlaw" else {}
    o, test, train, t_div = solve(s, **kw)
    r = step_residual(s, mode_set(s, kw.get("modes")))
    assert t_div is None and r.t_div is None
    np.testing.assert_allclose(r.test_loss, test, rtol=1e-9)  # measured <= 1.3e-11
    np.testing.assert_allclose(r.train_loss, train, rtol=1e-9)
    for key in ("C_g", "C_h", "R_h", "R_g"):
        for a, b in zip(r.order[key], getattr(o, key)):
            scale = max(1.0, np.max(np.abs(b)))
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * scale, err_msg=key)
    np.testing.assert_allclose(r.order["R_g1"], o.R_g1, rtol=0, atol=1e-9)
    # the equal-time responses the fixed point pins come out of the stepping exactly
    for l in range(1, s.L + 1):
        np.testing.assert_allclose(np.diag(r.order["R_h"][l - 1]), res.equal_time_response(s, l),
                                   rtol=1e-12)
    # theory() steps by default; method="picard" is the fixed point
    auto = theory(s, **kw)
    np.testing.assert_array_equal(auto.test_loss, r.test_loss)
    np.testing.assert_allclose(theory(s, method="picard", **kw).test_loss, test, rtol=0, atol=0)


@pytest.mark.parametrize("eta0, t_div", [(0.05, 2), (0.01, 4)])
def test_stepper_divergence_step_matches_picard_one_step_windows(eta0, t_div):
    # Picard with window=1 settles one step at a time and flags the same step; with its
    # default window it may flag the start of the window whose iteration overflowed (1 here).
    s = Setting(L=4, nu=0.7, alpha=1.5, gamma0=1.3, eta0=eta0, sigma=0.2, T=20, residual=True,
                beta0=1.2, branch_scale="fixed")
    table = theory(s)
    _, test, _, picard_div = solve(s, window=1)
    assert picard_div == t_div
    div = table.diverged.to_numpy()
    assert not div[:t_div].any() and div[t_div:].all()
    assert np.all(np.isinf(table.test_loss[t_div:]))
    np.testing.assert_allclose(table.test_loss[:t_div], test[:t_div], rtol=1e-9)


@pytest.mark.parametrize("L", [8, 48, 64, 96])
def test_fixed_branch_blow_up_is_flagged_at_every_depth(L):
    # fixed branches b = 1: initial loss 1 + 2^L, and eta0 = 0.1 blows up at the first update.
    # Once: L = 64 raised DMFTConvergenceError (the windowed fixed point cannot settle step 0
    # at that scale; at L = 96 it settled on a wrong initial loss) while L <= 48 was flagged.
    s = Setting(L=L, residual=True, branch_scale="fixed", T=10)
    table = theory(s)  # no exception
    assert table.test_loss[0] == pytest.approx(1.0 + 2.0**L, rel=1e-12)
    assert not table.diverged[0] and table.diverged[1:].all()
    assert np.all(np.isinf(table.test_loss[1:])) and np.all(np.isinf(table.train_loss[1:]))


# ----------------------------------------------------------------------------------------
# Closed-form initial loss
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [dict(L=1, beta0=1.0), dict(L=4, beta0=1.0, sigma=0.2), dict(L=8, beta0=1.5, nu=2.0),
     dict(L=3, beta0=0.7, gamma0=0.5, branch_scale="fixed"),
     dict(L=5, beta0=1.0, gamma0=2.0, nu=0.5, param="ntk")],
)
def test_initial_loss_closed_form_theory(kw):
    s = Setting(residual=True, T=2, eta0=0.05, **kw)
    expected = 1 + (1 + s.branch**2) ** s.L / (s.gamma**2 * s.nu) + s.sigma**2
    assert res.initial_loss(s) == pytest.approx(expected, rel=1e-14)
    assert theory(s).test_loss[0] == pytest.approx(expected, rel=1e-12)


def test_initial_loss_infinite_depth_limit():
    for beta0 in (0.5, 1.0):
        limit = res.initial_loss_infinite_depth(Setting(residual=True, beta0=beta0))
        assert limit == pytest.approx(1 + math.exp(beta0**2))
        losses = [theory(Setting(L=L, T=1, residual=True, beta0=beta0)).test_loss[0]
                  for L in (4, 16, 64)]
        gaps = limit - np.array(losses)
        assert np.all(gaps > 0) and np.all(np.diff(gaps) < 0)
        # (1 + b0^2/L)^L = e^{b0^2} (1 - b0^4/(2L) + O(1/L^2))
        assert gaps[-1] == pytest.approx(math.exp(beta0**2) * beta0**4 / 128, rel=0.05)
    # docs/bordelon25.md, section 4.7: 1 + e^{beta0^2} = 3.72 at beta0 = gamma0 = nu = 1
    assert res.initial_loss_infinite_depth(Setting(residual=True)) == pytest.approx(3.71828,
                                                                                     abs=1e-5)


# ----------------------------------------------------------------------------------------
# Reproduction of the reference numbers (docs/bordelon25.md, sections 4.6-4.7)
# ----------------------------------------------------------------------------------------
def test_spec_4_6_residual_theory():
    # docs/bordelon25.md, section 4.6: residual L=4, beta0=1, alpha=1.5, sigma=0.2, eta0=0.05 (gamma0=1, nu=1):
    # DMFT 0.554 (t=10), 0.279 (t=29). Measured: 0.55386, 0.27942.
    s = Setting(L=4, nu=1.0, alpha=1.5, gamma0=1.0, eta0=0.05, sigma=0.2, T=30,
                residual=True, beta0=1.0)
    d = theory(s)
    assert d.test_loss[10] == pytest.approx(0.554, abs=1e-3)
    assert d.test_loss[29] == pytest.approx(0.279, abs=1e-3)
    assert not d.diverged.any()


def test_spec_4_7_depth_convergence():
    # docs/bordelon25.md, section 4.7: beta0/sqrt(L), muP, alpha=4 (nu=1, gamma0=1, beta0=1, sigma=0, eta0=0.05):
    # test loss at t=10 is 0.282, 0.274, 0.274, 0.277, 0.280 for L = 1, 2, 4, 8, 16.
    # Measured: 0.28203, 0.27368, 0.27390, 0.27672, 0.28019.
    spec = {1: 0.282, 2: 0.274, 4: 0.274, 8: 0.277, 16: 0.280}
    for L, value in spec.items():
        s = Setting(L=L, nu=1.0, alpha=4.0, gamma0=1.0, eta0=0.05, T=11, residual=True)
        assert theory(s).test_loss[10] == pytest.approx(value, abs=6e-4), L


# ----------------------------------------------------------------------------------------
# Theory against simulation
# ----------------------------------------------------------------------------------------
def test_spec_4_6_residual_simulation(x64):
    # docs/bordelon25.md, section 4.6 simulation: 0.550 +- 0.020 (t=10), 0.275 +- 0.011 (t=29).
    # Measured (D=384, 16 seeds, seed 0): 0.5542 +- 0.0163, 0.2809 +- 0.0091 (theory 0.5539,
    # 0.2794); train loss at t=10: 0.1588 (theory 0.1613).
    s = Setting(L=4, nu=1.0, alpha=1.5, gamma0=1.0, eta0=0.05, sigma=0.2, T=30,
                residual=True, beta0=1.0)
    mean, se, train = sim_mean(s, D=384, seeds=16)
    th = theory(s)
    # t=0: E|g^l|^2 = (1 + b^2) E|g^{l+1}|^2 exactly at any width, so the seed mean of the
    # initial loss is unbiased for 1 + (1 + 1/4)^4 + 0.04 = 3.4814. Measured 3.561 +- 0.082.
    assert abs(mean[0] - res.initial_loss(s)) < 3 * se[0]
    for t in (10, 29):
        assert abs(mean[t] - th.test_loss[t]) < 2 * se[t], t
    assert mean[10] == pytest.approx(0.550, abs=0.02)
    assert mean[29] == pytest.approx(0.275, abs=0.011)
    assert train[10] == pytest.approx(th.train_loss[10], rel=0.05)


def test_one_block_theory_against_large_simulation(x64):
    # L=1 residual block, nu=1, alpha=2, beta0=1, eta0=0.1. Measured (D=512, 8 seeds):
    #   t=1: 1.148 +- 0.044 (theory 1.205), t=5: 0.430 +- 0.020 (0.424),
    #   t=19: 0.115 +- 0.014 (0.099): z = -1.3, 0.3, 1.2.
    s = Setting(L=1, nu=1.0, alpha=2.0, gamma0=1.0, eta0=0.1, T=20, residual=True)
    mean, se, _ = sim_mean(s, D=512, seeds=8)
    th = theory(s).test_loss.to_numpy()
    for t in (1, 5, 19):
        assert abs(mean[t] - th[t]) < 3 * se[t], t
        assert se[t] < 0.15 * th[t], t  # precise enough for the check above to have power


def test_fixed_branch_theory_against_simulation(x64):
    # fixed branch scale b = beta0 = 1, L=3 (initial loss 9), eta0=0.02. Early steps agree at
    # D=256; late, the finite-size gap is large and closes slowly with D. Measured (8 seeds,
    # seeds 0 / 1): t=19, theory 0.840: D=256 0.455 / 0.399, D=512 0.520 / 0.500,
    # D=1024 0.720 / 0.687 (+- 0.03-0.06).
    s = Setting(L=3, nu=1.0, alpha=2.0, gamma0=1.0, eta0=0.02, T=20, residual=True,
                branch_scale="fixed")
    th = theory(s).test_loss.to_numpy()
    mean, se, _ = sim_mean(s, D=256, seeds=8)
    for t in (1, 5):
        assert abs(mean[t] - th[t]) < 2.5 * se[t], t
    gap_small = th[19] - mean[19]
    mean, se, _ = sim_mean(s, D=1024, seeds=8)
    gap_large = th[19] - mean[19]
    assert 0 < gap_large < 0.5 * gap_small, (gap_small, gap_large)
    assert gap_small - gap_large > 3 * se[19]


# ----------------------------------------------------------------------------------------
# Learning-rate transfer across depth (docs/bordelon25.md, section 5, Fig. 5)
# ----------------------------------------------------------------------------------------
def _optimal_eta0(L: int, scale: str, grid, t: int = 10) -> float:
    """argmin over grid of the theory test loss at step t (scans up until divergence)."""
    best, best_eta = np.inf, np.nan
    for eta0 in grid:
        s = Setting(L=L, nu=1.0, alpha=4.0, gamma0=1.0, eta0=float(eta0), T=t + 1,
                    residual=True, beta0=1.0, branch_scale=scale)
        try:
            loss = theory(s).test_loss[t]
        except DMFTConvergenceError:  # at the edge of stability
            loss = np.inf
        if not np.isfinite(loss):
            break
        if loss < best:
            best, best_eta = loss, eta0
    return best_eta


def test_optimal_learning_rate_transfers_only_under_inv_sqrt_L():
    # Measured argmin on geomspace(1e-5, 0.5, 32) at t=10 (nu=1, alpha=4, beta0=1):
    #   beta0/sqrt(L): 0.087, 0.062, 0.062 for L = 2, 4, 8   (spread 1.4x, one grid step)
    #   fixed beta0  : 0.043, 0.0054, 1.6e-4                 (spread 266x)
    # (at t=20: 0.062, 0.062, 0.043 against 0.031, 0.0054, 1.6e-4)
    grid = np.geomspace(1e-5, 0.5, 32)
    Ls = (2, 4, 8)
    transfer = [_optimal_eta0(L, "inv_sqrt_L", grid[16:]) for L in Ls]
    fixed = [_optimal_eta0(L, "fixed", grid) for L in Ls]
    assert max(transfer) / min(transfer) < 2.0
    assert fixed[0] / fixed[-1] > 30.0 and fixed[0] > fixed[1] > fixed[2]


# ----------------------------------------------------------------------------------------
# The stepper's phases on their own
# ----------------------------------------------------------------------------------------
def _causal_inputs(T, rng):
    X = rng.normal(size=(T, T))
    C = X @ X.T / T + np.ones((T, T))  # a correlation (positive definite)
    R = 0.2 * np.tril(rng.normal(size=(T, T)), -1)  # a strictly causal response
    return C, R


def test_residual_hidden_phases_equal_the_shooting_fixed_point():
    """Phases 1 and 3 alone, with the weight/data block frozen (C_a, R_a given), against the
    fixed point of the shooting hidden block over the same frozen inputs."""
    import dataclasses

    from dlndyn.bordelon25.theory.residual_stepper import ResidualHidden

    s = Setting(L=3, nu=0.8, gamma0=1.3, eta0=0.07, T=9, residual=True, beta0=1.1)
    T, rng = s.T, np.random.default_rng(5)
    C_a, R = _causal_inputs(T, rng)
    R_a = R - np.eye(T) / (s.gamma * np.sqrt(s.nu))  # exact equal-time part
    o = res.ResidualOrder.initial(T, s.L)
    o = dataclasses.replace(o, C_a=C_a, R_a=R_a)
    for _ in range(4 * (s.L + 1) * T):
        o = dataclasses.replace(o, **res.hidden_block(o, s))
    B0 = R_a / np.sqrt(s.nu) + s.eta0 * s.gamma * np.tril(C_a, -1)
    hid = ResidualHidden(s)
    for t in range(T):
        hid.backward_row(t)
        hid.forward_row(t, B0[t, : t + 1], C_a)
    for key in ("C_g", "C_h", "R_h", "R_g"):
        for a, b in zip(getattr(hid, key), getattr(o, key)):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * max(1, np.abs(b).max()),
                                       err_msg=key)
    np.testing.assert_allclose(hid.R_g1, o.R_g1, rtol=0, atol=1e-10)


@pytest.mark.parametrize("online", [False, True])
@pytest.mark.parametrize("powerlaw", [False, True])
def test_weight_data_phase_equals_the_fixed_point_block(online, powerlaw):
    """The weight/data phase alone, fed a given kernel M and C_g1, against the per-mode
    fixed-point block iterated to convergence on the same inputs."""
    import dataclasses

    from dlndyn.bordelon25.theory.dmft import Order
    from dlndyn.bordelon25.theory.powerlaw import mode_set, weight_data_block
    from dlndyn.bordelon25.theory.stepper import WeightData

    s = Setting(L=1, nu=1.5, alpha=1.5, gamma0=1.2, eta0=0.1, sigma=0.2, T=10,
                alpha_B=0.9 if online else None, data="powerlaw" if powerlaw else "isotropic",
                capacity=1.3, source=0.6)
    modes = mode_set(s, 5 if powerlaw else None)
    T, rng = s.T, np.random.default_rng(2)
    C_g1, M = _causal_inputs(T, rng)
    Theta = np.tril(np.ones((T, T)), -1)
    R_g1 = s.gamma * (M - s.eta0 * Theta * C_g1)  # so that the block's M is this M
    o = Order.initial(T, 1)
    for _ in range(T + 2):
        o = dataclasses.replace(o, **weight_data_block(o, s, C_g1, R_g1, modes))
    wd = WeightData(s, modes)
    for t in range(T):
        wd.row(t, M[t, :t], C_g1)
    np.testing.assert_allclose(wd.test, np.diag(o.C_v) + s.sigma**2, rtol=1e-12)
    np.testing.assert_allclose(wd.train, (np.diag(o.C_v) + s.sigma**2) if online
                               else np.diag(o.C_D), rtol=1e-12)
    np.testing.assert_allclose(wd.Ca, o.C_a, rtol=0, atol=1e-12 * np.abs(o.C_a).max())
    # the reduced layer-1 kernel B^_1 = gamma^-1 (R_a / sqrt(nu) + eta0 gamma Theta*C_a)
    B = np.array([np.append(wd.B_row(t), np.zeros(T - t - 1)) for t in range(T)])
    expected = (o.R_a / np.sqrt(s.nu)) / s.gamma + s.eta0 * Theta * o.C_a
    np.testing.assert_allclose(B, expected, rtol=0, atol=1e-12)
