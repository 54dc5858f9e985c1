"""kappa = C/D > 0 outputs at infinite width and infinite data (theory/outputs.py, work in
progress; docs/bordelon25.md, section 11.4).

Independent checks: closed-form Marchenko-Pastur moments for the quadrature; the exact
infinite-width (N = inf) recursion of the L = 1 network's Gram matrices at finite D and C,
derived from the update rule of section 11.2 alone; numpy training of the finite network
(L = 2, population gradient) at large width with the same teacher; kappa -> 0 continuity.
"""

import math

import numpy as np
import pytest

from dlndyn import Setting, theory
from dlndyn.bordelon25.theory.outputs import (infinite_width_theory, mode_losses,
                                             teacher_spectrum_rule)

INF = math.inf


@pytest.mark.parametrize("ratio", [0.3, 1.0, 2.5])
def test_teacher_spectrum_rule_moments(ratio):
    """E[lambda^k] of Marchenko-Pastur (ratio y, mean 1): 1, 1 + y, 1 + 3y + y^2."""
    lam, q = teacher_spectrum_rule(ratio, 12)
    y = ratio
    assert q.sum() == pytest.approx(1.0, abs=1e-13)
    assert q @ lam == pytest.approx(1 + y, rel=1e-12)
    assert q @ lam**2 == pytest.approx(1 + 3 * y + y**2, rel=1e-12)
    for bad in (0.0, -1.0, INF):
        with pytest.raises(ValueError, match="ratio"):
            teacher_spectrum_rule(bad)


def recursion_L1(B_star, eta0, gamma, T):
    """The L = 1 network at N = inf, finite D x C: U^T U/N, w^T w/N and B, from
    U += e w V^T, w += e U V (e = eta0 gamma/sqrt(D), section 11.2 with A = V) and
    B = sqrt(D)/(gamma N) U^T w. Returns the test loss |V|^2/(DC) at t = 0..T-1."""
    D, C = B_star.shape
    KU, KW, B = np.eye(D), np.eye(C), np.zeros((D, C))
    a, b = eta0 * gamma**2 / D, eta0**2 * gamma**2 / D
    out = []
    for _ in range(T):
        V = B_star - B
        out.append((V**2).sum() / (D * C))
        KU, KW, B = (KU + a * (B @ V.T + V @ B.T) + b * V @ KW @ V.T,
                     KW + a * (B.T @ V + V.T @ B) + b * V.T @ KU @ V,
                     B + eta0 * (KU @ V + V @ KW) + b * V @ B.T @ V)
    return np.array(out)


def empirical_mode_average(s, B_star):
    """(1/C) sum over the C eigenvalues lambda of B*^T B*/D of lambda L_0(gamma0 sqrt(lambda))."""
    D = B_star.shape[0]
    lam = np.clip(np.linalg.eigvalsh(B_star.T @ B_star / D), 0, None)
    return (lam[:, None] * mode_losses(s, lam)).mean(0)


@pytest.mark.parametrize("C", [20, 40, 70])
def test_L1_infinite_width_recursion_is_the_mode_average(C):
    """At N = inf the channels decouple along the teacher's singular directions exactly, at any
    finite D and C (also C > D, where some directions have no teacher)."""
    s = Setting(L=1, nu=INF, alpha=INF, eta0=0.15, gamma0=2.0, T=12)
    rng = np.random.default_rng(C)
    B_star = rng.standard_normal((40, C))
    exact = recursion_L1(B_star, s.eta0, s.gamma, s.T)
    np.testing.assert_allclose(empirical_mode_average(s, B_star), exact, rtol=1e-10)


def test_L1_recursion_approaches_the_marchenko_pastur_average():
    """At large D the empirical spectrum is Marchenko-Pastur: the theory's quadrature; and the
    kappa = 1 curve is far from kappa = 0, so the comparison can fail."""
    s = Setting(L=1, nu=INF, alpha=INF, eta0=0.15, gamma0=2.0, T=12, kappa=1.0)
    th = infinite_width_theory(s).test_loss.to_numpy()
    rec = recursion_L1(np.random.default_rng(0).standard_normal((200, 200)), s.eta0, s.gamma,
                       s.T)
    np.testing.assert_allclose(rec, th, rtol=0.03)
    single = theory(s.replace(kappa=0.0)).test_loss.to_numpy()
    assert np.abs(single[4:] / th[4:] - 1).min() > 0.2  # 10x the tolerance above


def train_population_gradient(B_star, N, s, rng):
    """Numpy training of the network of ``s`` (plain, or residual with branch multiplier
    b = s.branch) with a D x C teacher on the population loss (infinite data, A = V): the
    rank-C updates of sections 11.2 and 5. Test loss at t = 0..T-1."""
    D, C = B_star.shape
    n_mid, b = (s.L, s.branch) if s.residual else (s.L - 1, None)
    W0 = rng.standard_normal((N, D))
    Ws = [rng.standard_normal((N, N)) for _ in range(n_mid)]
    w = rng.standard_normal((N, C))
    c, out = s.eta0 * s.gamma, []
    for _ in range(s.T):
        G = [w]  # G[l]: backward input of matrix l (W0 first)
        for W in Ws[::-1]:
            back = W.T @ G[0] / np.sqrt(N)
            G.insert(0, back if b is None else G[0] + b * back)
        V = B_star - np.sqrt(D) / (s.gamma * N) * W0.T @ G[0]
        out.append((V**2).sum() / (D * C))
        H = [W0 @ V / np.sqrt(D)]  # H[l]: forward input of matrix l + 1
        for W in Ws:
            fwd = W @ H[-1] / np.sqrt(N)
            H.append(fwd if b is None else H[-1] + b * fwd)
        scale = 1.0 if b is None else b
        W0 = W0 + c * G[0] @ V.T / np.sqrt(D)
        Ws = [W + c * scale * G[l + 1] @ H[l].T / np.sqrt(N) for l, W in enumerate(Ws)]
        w = w + c * H[-1]
    return np.array(out)


WIDE = {"plain": Setting(L=2, nu=INF, alpha=INF, eta0=0.1, gamma0=2.0, T=8),
        "residual": Setting(L=2, nu=INF, alpha=INF, eta0=0.03, gamma0=2.0, T=8,
                            residual=True, beta0=0.5)}


@pytest.mark.parametrize("C", [16, 32])
@pytest.mark.parametrize("arch", ["plain", "residual"])
def test_wide_L2_network_follows_the_mode_average_of_its_teacher(arch, C):
    """L = 2 at N = 2000 (nu = 125), D = 16: the trained network's loss against the exact
    N = inf value for the same teacher, whose small eigenvalues make it vary several-fold
    between draws; within 15% (finite width), and at t = 7 at least twice as close to it as
    to the single-output theory. (With beta0 = 1 the residual network converges slowly in N:
    measured 0.0092, 0.0080, 0.0076, 0.0071 at N = 1000..8000 against 0.0067.)"""
    s = WIDE[arch]
    rng = np.random.default_rng(C)
    single = theory(s).test_loss.to_numpy()
    for _ in range(2):
        B_star = rng.standard_normal((16, C))
        sim = train_population_gradient(B_star, 2000, s, rng)
        exact = empirical_mode_average(s, B_star)
        np.testing.assert_allclose(sim[[2, 4, 7]], exact[[2, 4, 7]], rtol=0.15)
        assert abs(sim[7] - exact[7]) < 0.5 * abs(sim[7] - single[7])


def test_kappa_to_zero_is_the_single_output_theory():
    s = Setting(L=2, nu=INF, alpha=INF, eta0=0.15, gamma0=1.5, T=10, sigma=0.2)
    single = theory(s).test_loss.to_numpy()
    assert np.array_equal(infinite_width_theory(s).test_loss.to_numpy(), single)
    near = infinite_width_theory(s.replace(kappa=1e-8)).test_loss.to_numpy()
    np.testing.assert_allclose(near, single, rtol=1e-6, atol=1e-12)
    far = infinite_width_theory(s.replace(kappa=0.5)).test_loss.to_numpy()
    assert np.abs(far - single).max() > 1e-3


def test_refuses_finite_width_or_data():
    base = Setting(L=1, nu=INF, alpha=INF, T=3, kappa=0.5)
    for changes, key in (({"nu": 2.0}, "Setting.nu"), ({"alpha": 2.0}, "Setting.alpha"),
                         ({"alpha_B": 4.0}, "Setting.alpha_B"),
                         ({"data": "powerlaw"}, "Setting.data")):
        with pytest.raises(ValueError, match=key):
            infinite_width_theory(base.replace(**changes))


def test_theory_dispatches_the_limit_and_refuses_finite_width():
    from dlndyn.bordelon25.theory.solve import has_theory

    s = Setting(L=2, nu=INF, alpha_B=INF, eta0=0.1, gamma0=1.5, T=6, kappa=0.5)
    assert has_theory(s) and not has_theory(s.replace(nu=2.0))
    assert not has_theory(s.replace(alpha_B=4.0)) and has_theory(s.replace(nu=2.0, kappa=0.0))
    pd_direct = infinite_width_theory(s)
    np.testing.assert_array_equal(theory(s).test_loss, pd_direct.test_loss)
    np.testing.assert_allclose(theory(s, method="picard").test_loss, pd_direct.test_loss,
                               rtol=1e-8)
    with pytest.raises(ValueError, match="Setting.kappa"):
        theory(s.replace(nu=2.0))


def test_readout_norm_scales_the_initial_function():
    """dmft.sweep's w0_norm = |w(0)|^2/N (used by benchmarks/bench_kappa.py's mode averages):
    the initial test loss is 1 + w0_norm/(gamma^2 nu) + sigma^2, and 1 is the default."""
    import dataclasses

    from dlndyn.bordelon25.theory import dmft

    s = Setting(L=2, nu=2.0, alpha=3.0, gamma0=0.8, sigma=0.3, T=1)
    for w0_norm in (0.25, 1.0, 3.0):
        o = dmft.Order.initial(1, s.L)
        for _ in range(50):
            o = dmft.sweep(o, s, w0_norm)
        expected = 1 + w0_norm / (s.gamma**2 * s.nu) + s.sigma**2
        assert o.C_v[0, 0] + s.sigma**2 == pytest.approx(expected, rel=1e-12)
    o1 = dmft.sweep(dmft.Order.initial(1, s.L), s)
    o2 = dmft.sweep(dmft.Order.initial(1, s.L), s, 1.0)
    assert all(np.array_equal(a, b) for a, b in zip(dataclasses.astuple(o1),
                                                     dataclasses.astuple(o2))
               if isinstance(a, np.ndarray))


def test_pipeline_plans_theory_only_curves_in_the_limit():
    """A theory-only kappa > 0 curve at nu = alpha = inf is planned and solved by the theory
    job; at finite width check_config still refuses it."""
    from dlndyn.bordelon25 import jobs, pipeline

    panel = {"vary": {"kappa": [0.0, 0.5]}, "theory_only": True}
    config = {"figures": {"fig9": {"D": 8, "seeds": 1, "panels": {"a": panel}, "base": {
        "T": 4, "nu": INF, "alpha": INF, "gamma0": 1.5}}}}
    pipeline.check_config(config)
    p = pipeline.plan(config, seed=0, dtype="float32")
    assert [r.with_theory for r in p.runs["fig9"]] == [True, True]
    tables = [jobs.theory(p.theory[k], log=lambda m: None) for k in p.theory_keys["fig9"]]
    got = sorted(tuple(t.test_loss) for t in tables)
    s = Setting(T=4, nu=INF, alpha=INF, gamma0=1.5)
    want = sorted(tuple(theory(s.replace(kappa=k)).test_loss) for k in (0.0, 0.5))
    np.testing.assert_allclose(got, want, rtol=1e-12)
    config["figures"]["fig9"]["base"]["nu"] = 2.0
    with pytest.raises(Exception, match="kappa"):
        pipeline.check_config(config)
