"""The edge of chaos: critical points by quadrature, and signal propagation in a deep random MLP."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dlndyn.terjek25.eoc import chi1, critical_point, variance_map, variance_profile
from dlndyn.terjek25.model import dims, forward, init, weight_variances
from dlndyn.terjek25.recon import Setup


@pytest.mark.parametrize("sigma_b2, sigma_w2, q_star", [
    (1e-4, 1.086, 0.046), (0.01, 1.424, 0.273), (0.05, 1.761, 0.570), (0.10, 1.986, 0.806),
    (0.30, 2.505, 1.461),
])
def test_tanh_critical_line_matches_the_table(sigma_b2, sigma_w2, q_star):
    w, q = critical_point("tanh", sigma_b2)
    assert w == pytest.approx(sigma_w2, abs=5e-4)
    assert q == pytest.approx(q_star, abs=5e-4)


def test_critical_point_is_a_fixed_point_with_unit_chi1_by_independent_quadrature():
    # scipy.integrate.quad against the Gauss-Hermite rule used by the library
    from scipy.integrate import quad

    w, q = critical_point("tanh", 0.05)
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    v = w * quad(lambda z: math.tanh(math.sqrt(q) * z) ** 2 * pdf(z), -12, 12)[0] + 0.05
    c = w * quad(lambda z: math.cosh(math.sqrt(q) * z) ** -4 * pdf(z), -12, 12)[0]
    assert v == pytest.approx(q, rel=1e-9)
    assert c == pytest.approx(1.0, rel=1e-9)
    assert chi1("tanh", w * 1.1, q) > 1 > chi1("tanh", w * 0.9, q)


def test_relu_and_linear_are_exact():
    assert critical_point("relu", 0.0) == (pytest.approx(2.0, abs=1e-12), 0.0)
    assert critical_point("linear", 0.0) == (pytest.approx(1.0, abs=1e-12), 0.0)
    assert critical_point("tanh", 0.0) == (1.0, 0.0)
    assert variance_map("relu", 2.0, 0.0, 0.7) == pytest.approx(0.7, rel=1e-12)


@pytest.mark.parametrize("args, name", [
    (("sigmoid", 0.05), "activation"), ((None, 0.05), "activation"),
    (("tanh", -0.1), "sigma_b2"), (("tanh", float("nan")), "sigma_b2"),
    (("tanh", "a"), "sigma_b2"), (("relu", 0.1), "sigma_b2"), (("linear", 0.1), "sigma_b2"),
])
def test_bad_input_raises_naming_it(args, name):
    with pytest.raises(ValueError, match=name):
        critical_point(*args)


def _layer_variances(sigma_w2=None, depth=64, width=1024, n=16, nets=8, seed=0):
    """Per-layer E[h^2] of the hidden layers, averaged over inputs, units and ``nets`` random
    nets (the mean-field q_l is an average over the weight ensemble; a single width-1024 net
    fluctuates by about 10% per layer, docs/terjek25.md, "What was checked"). Weights are drawn
    with numpy (much faster than JAX's threefry on a CPU) from the library's variance rule."""
    setup = Setup(depth=depth, width=width, activation="tanh", sigma_b2=0.05)
    variances = weight_variances(setup, 64, 1)
    if sigma_w2 is not None:
        variances = [variances[0]] + [sigma_w2 / width] * (depth - 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 64), dtype=np.float32)
    x /= np.sqrt(np.mean(x**2))  # E[x^2] = 1, as for the library's data
    dims = (64,) + (width,) * (depth - 1)
    out = []
    for _ in range(nets):
        params = [(rng.standard_normal((dims[l], width), dtype=np.float32)
                   * np.float32(np.sqrt(variances[l])),
                   rng.standard_normal(width, dtype=np.float32) * np.float32(np.sqrt(0.05)))
                  for l in range(depth - 1)]
        _, hs = jax.jit(forward)(params, jnp.asarray(x))
        out.append([float(jnp.mean(h**2)) for h in hs])
    return np.mean(out, axis=0)


def test_deep_wide_tanh_mlp_keeps_q_star_at_the_eoc_and_drifts_off_it():
    w, q_star = critical_point("tanh", 0.05)
    at = _layer_variances()
    assert len(at) == 63
    assert np.max(np.abs(at / q_star - 1)) < 0.05
    for factor in (0.6, 1.5):  # ordered and chaotic phases: the same first layer, then drift
        off = _layer_variances(sigma_w2=factor * w, width=256, nets=2)
        assert np.max(np.abs(off / q_star - 1)) > 0.2
        # ... to the fixed point of the off-EOC variance map (mean over the deeper half)
        theory = variance_profile("tanh", factor * w, 0.05, q_star, len(off))
        assert np.mean(off[32:]) == pytest.approx(np.mean(theory[32:]), rel=0.05)


def test_init_draws_the_variances_of_the_rule():
    setup = Setup(depth=4, width=128, parameterization="mup", width_rule="grow", base_depth=2)
    params = init(jax.random.key(0), setup, 64, 10)
    for (w, b), v in zip(params, weight_variances(setup, 64, 10)):
        assert float(jnp.var(w)) == pytest.approx(v, rel=0.05)
    biases = jnp.concatenate([b for _, b in params[:-1]])
    assert float(jnp.var(biases)) == pytest.approx(0.05, rel=0.1)
    assert [w.shape for w, _ in params] == [(64, 256), (256, 256), (256, 256), (256, 10)]
    w, q = critical_point("tanh", 0.05)
    assert weight_variances(setup, 64, 10)[0] == pytest.approx((q - 0.05) / 64)
    assert weight_variances(setup, 64, 10)[-1] == pytest.approx(w / 256 / 2)  # muP: m = 2


def test_per_layer_widths():
    setup = Setup(depth=4, width=8, layer_widths=[8, 32, 16])
    assert dims(setup, 64, 10) == (64, 8, 32, 16, 10)  # the shapes init draws
    w, _ = critical_point("tanh", 0.05)
    assert weight_variances(setup, 64, 10)[2] == pytest.approx(w / 32)
    with pytest.raises(ValueError, match="layer_widths"):
        Setup(depth=4, layer_widths=(8, 8))


@pytest.mark.parametrize("act, sigma_w2", [("relu", 2.0), ("linear", 1.0)])
def test_homogeneous_activations_use_their_eoc_gain_in_every_layer(act, sigma_w2):
    # q* = 0 is degenerate: the first layer takes sigma_w2 too (deep linear: identity in mean)
    setup = Setup(depth=3, width=8, activation=act, sigma_b2=0.0)
    ds = dims(setup, 64, 10)
    assert weight_variances(setup, 64, 10) == pytest.approx(
        [sigma_w2 / ds[0], sigma_w2 / ds[1], sigma_w2 / ds[2]])
