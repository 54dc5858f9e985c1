"""C10-C11: progressive separation of the features (float64)."""

import subprocess
import sys

import numpy as np
import pytest

from dlndyn import yaras23 as lop
from dlndyn.yaras23 import measure

C10 = [11.3, 2.08, 0.39, 0.071, 0.013, 0.0025, 4.7e-4, 9.6e-5]


def test_c10_values_and_geometric_decay():
    s = lop.separation(K=5, n=10, L=8, eps=0.5, eta=1.0, activation="linear", tol=1e-6, seed=0)
    assert list(s.layer) == list(range(8))
    assert s.converged.all() and s.train_loss.iloc[0] < 1e-6
    np.testing.assert_allclose(s.D, C10, rtol=0.03)
    assert s.r2.iloc[0] > 0.99
    assert s.ratio.iloc[0] == pytest.approx(np.exp(np.polyfit(s.layer, np.log(s.D), 1)[0]))


@pytest.mark.parametrize("eps, ratio", [(0.5, 0.136), (0.125, 0.0087)])
def test_c11_rate_set_by_eps(eps, ratio):
    s = lop.separation(K=5, n=10, L=4, eps=eps, eta=10.0, tol=1e-12, seed=0)
    assert s.converged.all()
    assert s.ratio.iloc[0] == pytest.approx(ratio, rel=0.03)
    assert s.r2.iloc[0] > 0.99


def test_within_between_closed_form():
    # orthonormal inputs, K classes of n: D_0 = (1 - 1/n) / (1/n - 1/N) exactly
    K, n = 4, 6
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((K * n, K * n)))
    labels = np.repeat(np.arange(K), n)
    expected = (1 - 1 / n) / (1 / n - 1 / (K * n))
    assert measure.within_between(q, labels) == pytest.approx(expected, rel=1e-12)
    ratio, pref, r2 = measure.geometric_fit([0, 1, 2, 3], 5.0 * 0.3 ** np.arange(4))
    assert (ratio, pref, r2) == pytest.approx((0.3, 5.0, 1.0))


@pytest.mark.parametrize("kwargs, name", [
    ({"activation": "tanh"}, "activation"), ({"eps": 0.0}, "eps"), ({"tol": -1}, "tol"),
])
def test_separation_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        lop.separation(**kwargs)


@pytest.mark.parametrize("kwargs, name", [({"r": 15}, "r"), ({"eps": 0}, "eps"),
                                          ({"init": "zeros"}, "init")])
def test_invariance_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        lop.invariance(**kwargs)


def test_import_loads_no_jax():
    code = "import sys, dlndyn.yaras23; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(__import__("pathlib").Path(
                             __file__).resolve().parents[2] / "src")})
    assert out.stdout.strip() == "False"
