"""C4-C5: the compressed network against the wide one (float64, small sizes)."""

import numpy as np
import pytest

from dlndyn import yaras23 as lop
from dlndyn.yaras23 import api, data, measure


def test_compressed_subspace_is_the_exact_invariant_subspace_in_dmf():
    d, r, L, eps = 24, 2, 3, 1e-2
    phi = data.low_rank_gaussian(data.rng(0, 0), d, r)
    w = data.init_weights(data.rng(0, 1), [d] * (L + 1), eps)
    v, *inner, u = api.compress(w, phi, np.ones_like(phi), r, eps)
    # exact active subspace of W_1: row(Phi) + W_{L:1}(0)^T col(Phi)  (docs, section 4)
    uf, _, vft = np.linalg.svd(phi)
    e2e = w[2] @ w[1] @ w[0]
    exact, _, _ = np.linalg.svd(np.hstack([vft[:r].T, e2e.T @ uf[:, :r]]), full_matrices=False)
    assert measure.principal_angle(v, exact) < 1e-10
    np.testing.assert_allclose(u.T @ u, np.eye(2 * r), atol=1e-10)
    stacked = api.compress(w, phi, np.ones_like(phi), r, eps, recipe="stacked")[0]
    assert measure.principal_angle(v, stacked) < 1e-10
    assert len(inner) == L and np.allclose(inner[0], eps * np.eye(2 * r))


def test_c4_gap_is_the_passive_residual():
    d, r, L, eps = 40, 2, 3, 1e-2
    phi, _ = api._matrix_problem(d, r, 1.0, 0)
    eta = data.step_rule(phi, L)
    c = lop.compression(d=d, r=r, L=L, eps=eps, eta=eta, steps=3000, rank=r, gamma=0.0)
    comp = c[c.method == "compressed"]
    orig = c[c.method == "original"]
    # the run escaped the plateau and converged
    assert orig.train_loss.iloc[-1] < 1e-12 < orig.train_loss.iloc[0]
    pred = eps**L * np.sqrt(d - 2 * r) / np.linalg.norm(phi)
    np.testing.assert_allclose(comp.gap, pred, rtol=0.10)
    assert set(c.columns) >= {"step", "method", "train_loss", "recovery_error", "seconds",
                              "gap"}
    assert (np.diff(comp.seconds.to_numpy()) >= 0).all()


def test_c5_completion_stalls_without_gamma_and_matches_with_it():
    d, r, L, eps, p = 50, 2, 3, 1e-2, 0.3
    phi, _ = api._matrix_problem(d, r, p, 0)
    eta = data.step_rule(phi, L, p)
    out = lop.compare(d=d, r=r, L=L, eps=eps, eta=eta, steps=8000, rank=r,
                      gammas=(0.0, 0.01), observed=p, tol=1e-11)["curve"]
    comp = out[out.method == "compressed"].groupby("gamma").recovery_error.last()
    original = out[out.method == "original"].recovery_error.iloc[-1]
    assert original < 1e-9
    assert comp[0.0] > 1e-4               # stalls on the initial subspace
    assert comp[0.01] < 10 * original     # matches the original


@pytest.mark.parametrize("kwargs, name", [
    ({"rank": 30}, "rank"), ({"r": 30}, "r"), ({"eps": 0.0}, "eps"), ({"eps": -1}, "eps"),
    ({"observed": 0.0}, "observed"), ({"observed": 1.5}, "observed"),
])
def test_compression_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        lop.compression(**{"d": 60, "steps": 10, **kwargs})


def test_compression_condition_on_eps():
    # sigma_r(Phi) must exceed eps^(L-1) (1 + eps^2): a huge eps is refused by name
    with pytest.raises(ValueError, match=r"^eps="):
        lop.compression(d=20, r=2, eps=10.0, eta=1.0, steps=10, rank=2)
