"""Instrumented training: sharpness against the exact Hessian, schedules, the update cosine,
nuP's normalised updates, the tidy tables and divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from jax.flatten_util import ravel_pytree

from dlndyn.terjek25 import data as datasets
from dlndyn.terjek25.model import init, lr_multipliers
from dlndyn.terjek25.recon import Setup, geometric_eta, grown_width, hidden_widths, update_scale
from dlndyn.terjek25.training import (
    _loss, final_losses, load_data, make_update, sharpness, train, update_cosine)

GRAD = jax.jit(jax.grad(_loss), static_argnums=3)
TINY = Setup(data="teacher", n_train=16, teacher_dim=3, depth=3, width=4, steps=20, eta=0.05,
             probe=16, sharpness_every=1, power_iters=30)


def test_sharpness_equals_top_eigenvalue_of_the_exact_hessian(x64):
    x, y = load_data(TINY)
    params = init(jax.random.key(3), TINY, x.shape[1], y.shape[1])
    theta, unravel = ravel_pytree(params)
    hess = jax.jit(jax.hessian(lambda t: _loss(unravel(t), x, y, "tanh")))(theta)
    eig = np.linalg.eigvalsh(np.asarray(hess))
    assert theta.dtype == jnp.float64 and len(theta) == 41
    assert eig[-1] > 1.05 * abs(eig[0])  # power iteration finds the largest in magnitude
    lam = float(sharpness(params, x, y, "tanh", iters=2000))
    assert lam == pytest.approx(eig[-1], abs=1e-6 * max(1.0, eig[-1]))
    assert abs(float(sharpness(params, x, y, "tanh", iters=3)) - eig[-1]) > 1e-6  # can fail


@pytest.fixture(scope="module")
def run():
    """One instrumented run shared by the tests (each distinct run costs a compile)."""
    return train(TINY, sharpness_every=5)


def test_train_returns_tidy_tables_and_records_sharpness_every_k(run):
    steps, layers = run
    assert list(steps.columns) == ["step", "loss", "eta", "sharpness", "diverged"]
    assert list(layers.columns) == ["step", "layer", "update_cosine", "preact_var",
                                    "feature_change"]
    assert steps.step.tolist() == list(range(21))
    assert len(layers) == 21 * 3 and sorted(layers.layer.unique()) == [1, 2, 3]
    measured = steps.sharpness.notna()
    assert steps.step[measured].tolist() == [0, 5, 10, 15, 20]
    assert not steps.diverged.any() and steps.loss.iloc[-1] < steps.loss.iloc[0]
    first = layers[layers.step == 0]
    assert first.update_cosine.isna().all()  # no cumulative update yet
    assert np.allclose(first.feature_change, 0)
    assert layers[layers.step.between(1, 19)].update_cosine.between(-1, 1).all()
    assert layers[layers.step == 20].update_cosine.isna().all()


def test_constant_and_geometric_schedules(run):
    steps, _ = run
    assert np.allclose(steps.eta.iloc[:-1], 0.05)
    c, cap = 2.5, 3.0
    # measured every 4 steps: eta * sharpness = c where measured, the latest estimate between
    geo, _ = train(TINY, schedule="geometric", c=c, eta_max=cap, sharpness_every=4,
                   layer_stats=False)
    rows = geo.iloc[:-1]
    measured = rows.sharpness.notna()
    assert measured.sum() == 5
    assert np.allclose(rows.eta[measured] * rows.sharpness[measured], c, rtol=1e-5)
    lam = rows.sharpness.ffill()
    assert np.allclose(rows.eta, np.minimum(c / lam, cap), rtol=1e-5)
    assert rows.eta.nunique() == 5
    assert geometric_eta(3.0, 2.0, 10.0) == 1.5 and geometric_eta(3.0, 0.1, 10.0) == 10.0
    with pytest.raises(ValueError, match="sharpness_every"):
        Setup(schedule="geometric", sharpness_every=0)


def test_update_cosine_against_numpy_and_in_training(run):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((5, 7))
    expected = np.sum(a * b) / np.linalg.norm(a) / np.linalg.norm(b)
    assert float(update_cosine(jnp.asarray(a), jnp.asarray(b))) == pytest.approx(expected, 1e-5)
    assert float(update_cosine(jnp.asarray(a), jnp.asarray(-2 * a))) == pytest.approx(-1, 1e-5)
    assert np.isnan(float(update_cosine(jnp.asarray(a), jnp.zeros((5, 7)))))
    # at step 1 the cumulative update is the first update: recompute it from two GD steps
    setup = TINY
    _, layers = run
    x, y = load_data(setup)
    key = jax.random.key(setup.seed)
    p0 = init(jax.random.fold_in(key, 1), setup, x.shape[1], y.shape[1])
    upd = jax.jit(make_update(setup, x.shape[1], y.shape[1]))
    d0 = upd(GRAD(p0, x, y, "tanh"), setup.eta)
    p1 = jax.tree_util.tree_map(lambda p, d: p + d, p0, d0)
    d1 = upd(GRAD(p1, x, y, "tanh"), setup.eta)
    for l in range(3):
        ref = np.sum(np.asarray(d1[l][0]) * np.asarray(d0[l][0])) / (
            np.linalg.norm(d1[l][0]) * np.linalg.norm(d0[l][0]))
        got = layers[(layers.step == 1) & (layers.layer == l + 1)].update_cosine.item()
        assert got == pytest.approx(ref, abs=1e-4)


def test_nup_updates_have_the_normalised_size_and_widths_grow():
    setup = Setup(parameterization="nup", depth=4, width=8, width_rule="grow", base_depth=2)
    assert setup.widths() == (16, 16, 16) and grown_width(8, 8, 2, 0.5) == 16
    assert hidden_widths(4, 8, "constant") == (8, 8, 8)
    x, y = datasets.digits(32)
    params = init(jax.random.key(0), setup, 64, 10)
    grads = GRAD(params, jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), "tanh")
    delta = jax.jit(make_update(setup, 64, 10))(grads, 0.3)
    ds = (64, 16, 16, 16, 10)
    for l, (dw, db) in enumerate(delta):
        norm = float(jnp.sqrt(jnp.sum(dw**2) + jnp.sum(db**2)))
        assert norm == pytest.approx(0.3 * np.sqrt(ds[l + 1] / ds[l]), rel=1e-5)
        # the direction is the gradient's
        assert float(update_cosine(dw, -grads[l][0])) == pytest.approx(1, abs=1e-5)
    assert update_scale(64, 16, "one") == 1.0
    mult = lr_multipliers(Setup(parameterization="mup", depth=3, width=8, width_rule="grow",
                                base_depth=1), 64, 10)
    assert mult == [(3.0, 3.0), (1.0, 3.0), (1 / 3, 1.0)]  # m = 24 / 8


def test_sweep_matches_single_runs_and_flags_divergence(run):
    sweep = final_losses(TINY, [0.05, 1e3])
    assert list(sweep.columns) == ["eta", "loss", "diverged"]
    assert sweep.loss[0] == pytest.approx(run[0].loss.iloc[-1], rel=1e-4)
    assert sweep.diverged.tolist() == [False, True] and np.isinf(sweep.loss.iloc[1])


def test_sgd_and_data():
    steps, layers = train(TINY, optimizer="sgd", batch_size=4, steps=10, sharpness_every=0)
    assert len(steps) == 11 and np.isfinite(steps.loss).all()
    x, y = datasets.digits(100, seed=1)
    assert x.shape == (100, 64) and y.shape == (100, 10)
    assert np.mean(x**2) == pytest.approx(1.0) and np.allclose(y.sum(1), 1)
    with pytest.raises(ValueError, match="n_train"):
        datasets.digits(5000)
    xt, yt = datasets.teacher(50, dim=5)
    assert xt.shape == (50, 5) and yt.std() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="parameterization"):
        Setup(parameterization="ntk")
    with pytest.raises(ValueError, match="depth"):
        Setup(depth=1)


def test_numbers_tables_from_hand_made_runs():
    from dlndyn.terjek25.pipeline import best_eta, f1_numbers, f2_numbers

    inf = float("inf")
    sweep = pd.DataFrame({
        "parameterization": ["standard"] * 6, "depth": [4, 4, 4, 8, 8, 8], "width": [16] * 6,
        "eta": [0.1, 0.2, 0.4] * 2, "loss": [0.5, 0.2, inf, 0.3, 0.4, inf],
        "diverged": [False, False, True, False, False, True]})
    out = f1_numbers(sweep)
    assert out.eta_opt.tolist() == [0.2, 0.1] and out.loss_at_opt.tolist() == [0.2, 0.3]
    assert out.eta_opt_over_shallowest.tolist() == [1.0, 0.5]
    assert out.edge_of_grid.tolist() == [False, True]
    assert np.isnan(best_eta(sweep[sweep.loss == inf]))
    steps = pd.DataFrame({"schedule": "geometric", "step": range(5), "loss": [3, 2, 2.5, 1, 1],
                          "eta": [0.1, 0.1, 0.1, 0.1, np.nan],
                          "sharpness": [30, np.nan, 15, np.nan, 10], "diverged": False,
                          "lambda0": 30.0})
    layers = pd.DataFrame({"schedule": "geometric", "step": [0, 1, 2, 3, 4], "layer": 1,
                           "update_cosine": [np.nan, 1.0, 0.0, -1.0, np.nan]})
    row = f2_numbers(steps, layers).iloc[0]
    assert row.catapult_fraction == 0.5 and row.below_2_fraction == 0.5  # 3 and 1.5
    assert row.loss_increases == 1 and row.sharpness_end == 10 and row.eta_0 == 0.1
    assert row.cosine_first_half == 1.0 and row.cosine_second_half == -0.5
