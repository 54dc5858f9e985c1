"""C1-C3: the passive block of every factor stays put (float64, small sizes)."""

import numpy as np
import pytest

from dlndyn import yaras23 as lop
from dlndyn.yaras23 import measure


@pytest.fixture(scope="module")
def dmf():
    return lop.invariance(d=20, r=2, L=3, eps=1.0, eta=1.0, steps=40, seed=1)


def test_c1_middle_singular_values_equal_and_subspaces_fixed(dmf):
    assert len(dmf) == 3
    assert (dmf.spread < 1e-12).all()
    assert (dmf.angle_right < 1e-9).all() and (dmf.angle_left < 1e-9).all()


def test_c2_rho_follows_the_recursion(dmf):
    # the passive value moved away from eps = 1 and the recursion tracks it to 1e-12
    assert (dmf.rho < 0.99).all()
    np.testing.assert_allclose(dmf.rho, dmf.rho_recursion, rtol=0, atol=1e-12)


def test_c3_passive_subspaces_chain_across_layers(dmf):
    chain = dmf.angle_chain.dropna()
    assert len(chain) == 2 and (chain < 1e-9).all()


def test_rho_recursion_closed_form_f1_value():
    # F1 setup: d = 30, L = 3, eps = 1, mean-loss eta = 1 -> rho_50 = 0.950961 (docs/yaras23.md)
    rho = measure.rho_recursion(1.0, 3, 1.0, 30 * 30, 50)
    assert rho[-1] == pytest.approx(0.950961, abs=5e-7)
    # one step by hand: rho_1 = 1 - 1/900
    assert rho[1] == pytest.approx(1 - 1 / 900, abs=1e-15)


def test_c2_rho_constant_when_output_is_narrower():
    s = lop.invariance(d=16, r=2, L=3, eps=0.8, eta=1.0, steps=30, seed=0, task="whitened",
                       samples=40)
    assert len(s) == 2  # the 2 x 16 output factor has no passive block
    np.testing.assert_allclose(s.rho, 0.8, rtol=0, atol=1e-12)
    assert (s.spread < 1e-12).all() and (s.angle_right < 1e-9).all()


def test_momentum_keeps_the_structure_and_its_recursion():
    s = lop.invariance(d=16, r=2, L=3, eps=1.0, eta=1.0, steps=30, seed=2, momentum=0.9)
    assert (s.spread < 1e-12).all()
    np.testing.assert_allclose(s.rho, s.rho_recursion, rtol=0, atol=1e-12)


@pytest.mark.parametrize("options", [{"task": "nonwhitened"}, {"init": "gaussian"}])
def test_negative_controls_break_exact_invariance(options):
    # the measurement detects a violation: without whitening or orthogonal init the middle
    # singular values spread far beyond 1e-12
    s = lop.invariance(d=16, r=2, L=3, eps=1.0, eta=1.0, steps=30, seed=0, samples=40,
                       **options)
    assert s.spread.max() > 1e-8


def test_principal_angle_resolves_small_angles():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((12, 5)))
    a = q[:, :3]
    for theta in (1e-13, 1e-10, 0.3):  # rotate one basis vector towards q[:, 4] by theta
        b = a.copy()
        b[:, 0] = np.cos(theta) * a[:, 0] + np.sin(theta) * q[:, 4]
        assert measure.principal_angle(a, b) == pytest.approx(theta, rel=1e-3)
    # the arccos form cannot see 1e-10
    b[:, 0] = np.cos(1e-10) * a[:, 0] + np.sin(1e-10) * q[:, 4]
    cos = np.clip(np.linalg.svd(a.T @ b, compute_uv=False).min(), 0, 1)
    assert np.arccos(cos) == 0.0 or abs(np.arccos(cos) - 1e-10) > 1e-11


def test_first_step_matches_a_hand_written_gradient():
    from dlndyn.core.train import precision
    from dlndyn.yaras23 import data, train

    d, L, eta = 7, 3, 0.7
    phi = data.low_rank_gaussian(data.rng(0, 0), d, 2)
    mask = data.exact_mask(data.rng(0, 2), d, 0.5)
    w = data.init_weights(data.rng(0, 1), [d] * (L + 1), 0.9)
    with precision("float64"):
        hist = train.trajectory(train.factorization_loss, w, {"phi": phi, "mask": mask},
                                eta=eta, steps=1)
    e = mask * (w[2] @ w[1] @ w[0] - phi) / d**2
    grads = [(w[2] @ w[1]).T @ e, w[2].T @ e @ w[0].T, e @ (w[1] @ w[0]).T]
    for l in range(L):
        np.testing.assert_allclose(hist[l][1], w[l] - eta * grads[l], rtol=0, atol=1e-14)
