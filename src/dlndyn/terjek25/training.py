"""Training with per-step instrumentation, in JAX (docs/terjek25.md, sections 2.3
"Parameterizations and updates" and 2.5 "Instrumentation").

:func:`train` runs full-batch GD or minibatch SGD as one jitted ``lax.scan`` and returns two tidy
tables: one row per step (step, loss, eta, sharpness, diverged) and one row per step and layer
(step, layer, update_cosine, preact_var, feature_change). :func:`final_losses` runs a learning-rate
sweep in one compiled call (vmap over eta) and returns the loss after ``steps`` updates.

Row ``t`` describes the parameters theta_t before update t and the update theta_{t+1} - theta_t;
a last row ``t = steps`` gives the final parameters (its eta and cosine are NaN). A run diverges at
the first step whose loss is not finite or exceeds divergence_factor * max(1, loss_0); from then on
its parameters stay frozen and its loss reads inf.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax.flatten_util import ravel_pytree

from . import data as datasets
from .model import dims, forward, init, lr_multipliers
from .recon import Setup, update_scale

STEP_COLUMNS = ("step", "loss", "eta", "sharpness", "diverged")
LAYER_COLUMNS = ("step", "layer", "update_cosine", "preact_var", "feature_change")


def as_setup(setup=None, **overrides) -> Setup:
    setup = setup if setup is not None else Setup()
    return setup.replace(**overrides) if overrides else setup


def load_data(setup: Setup):
    x, y = datasets.load(setup.data, setup.n_train, setup.seed, setup.teacher_dim)
    dtype = jnp.result_type(float)
    return jnp.asarray(x, dtype), jnp.asarray(y, dtype)


# ----------------------------------------------------------------------------------------
# Sharpness
# ----------------------------------------------------------------------------------------
def hvp(loss_flat, theta, v):
    """Hessian-vector product H(theta) v of a scalar function of a flat vector (forward over
    reverse)."""
    return jax.jvp(jax.grad(loss_flat), (theta,), (v,))[1]


def power_iteration(loss_flat, theta, v0, iters: int):
    """Top Hessian eigenvalue (largest in magnitude) by ``iters`` HVP power iterations from v0.

    Returns (Rayleigh quotient v^T H v, unit v). Warm-started from the previous vector during
    training, a few iterations follow the top eigenvector as it moves.
    """
    v = v0 / jnp.linalg.norm(v0)

    def body(_, carry):
        v, _ = carry
        hv = hvp(loss_flat, theta, v)
        lam = jnp.vdot(v, hv)
        return hv / jnp.maximum(jnp.linalg.norm(hv), jnp.finfo(hv.dtype).tiny), lam

    v, lam = jax.lax.fori_loop(0, iters, body, (v, jnp.zeros((), v.dtype)))
    return jnp.vdot(v, hvp(loss_flat, theta, v)), v


def sharpness(params, x, y, activation: str = "tanh", iters: int = 100, seed: int = 0):
    """Top Hessian eigenvalue of the full-batch loss at ``params`` (HVP power iteration)."""
    theta, _ = ravel_pytree(params)
    v0 = jax.random.normal(jax.random.key(seed), theta.shape, theta.dtype)
    return _sharpness(params, x, y, v0, jnp.asarray(iters), activation)


@partial(jax.jit, static_argnums=(5,))
def _sharpness(params, x, y, v0, iters, activation):
    # iters is traced (a while loop): one compile serves every iteration count
    theta, unravel = ravel_pytree(params)
    loss_flat = lambda t: _loss(unravel(t), x, y, activation)  # noqa: E731
    return power_iteration(loss_flat, theta, v0, iters)[0]


def _loss(params, x, y, activation):
    out, _ = forward(params, x, activation)
    return 0.5 * jnp.mean(jnp.sum((out - y) ** 2, axis=-1))


# ----------------------------------------------------------------------------------------
# Updates
# ----------------------------------------------------------------------------------------
def make_update(setup: Setup, d_in: int, d_out: int):
    """update(grads, eta) -> the parameter change of one step (a pytree like params)."""
    if setup.parameterization == "nup":
        ds = dims(setup, d_in, d_out)
        scales = [update_scale(ds[l], ds[l + 1], setup.update_target) for l in range(setup.depth)]

        def update(grads, eta):
            out = []
            for (gw, gb), s in zip(grads, scales):
                norm = jnp.sqrt(jnp.sum(gw**2) + jnp.sum(gb**2))
                k = -eta * s / jnp.maximum(norm, jnp.finfo(gw.dtype).tiny)
                out.append((k * gw, k * gb))
            return out

        return update
    mults = lr_multipliers(setup, d_in, d_out)

    def update(grads, eta):
        return [(-eta * mw * gw, -eta * mb * gb) for (gw, gb), (mw, mb) in zip(grads, mults)]

    return update


def update_cosine(delta_w, cumulative_w):
    """cos(Delta W_t, W_t - W_0) = <a, b> / (|a| |b|); NaN when either is zero (e.g. at t = 0)."""
    a = jnp.sqrt(jnp.sum(delta_w**2))
    b = jnp.sqrt(jnp.sum(cumulative_w**2))
    ok = (a > 0) & (b > 0)
    return jnp.where(ok, jnp.sum(delta_w * cumulative_w) / jnp.where(ok, a * b, 1.0), jnp.nan)


# ----------------------------------------------------------------------------------------
# The scanned loop
# ----------------------------------------------------------------------------------------
def _runner(setup: Setup, x, y, instrument: bool):
    """A function (params0, eta, key) -> (final params, per-step records), to be jitted."""
    act = setup.activation
    n = x.shape[0]
    update = make_update(setup, x.shape[1], y.shape[1])
    probe_x = x[: min(setup.probe, n)]
    k_sharp = int(setup.sharpness_every)  # 0: never
    nan = jnp.array(jnp.nan, x.dtype)

    def full_loss(params):
        return _loss(params, x, y, act)

    def run(params0, eta0, key):
        theta0, unravel = ravel_pytree(params0)
        loss_flat = lambda t: full_loss(unravel(t))  # noqa: E731
        _, h0 = forward(params0, probe_x, act)
        loss0 = full_loss(params0)
        threshold = setup.divergence_factor * jnp.maximum(1.0, loss0)

        def step(carry, t):
            params, v, lam, alive = carry
            if k_sharp:
                def measure(_):
                    lam_new, v_new = power_iteration(loss_flat, ravel_pytree(params)[0], v,
                                                     setup.power_iters)
                    return lam_new, v_new, lam_new

                lam, v, lam_rec = jax.lax.cond(t % k_sharp == 0, measure,
                                               lambda _: (lam, v, nan), None)
            else:
                lam_rec = nan
            if setup.schedule == "geometric":
                eta = jnp.where(lam > 0, jnp.minimum(setup.c / lam, setup.eta_max), setup.eta_max)
            else:
                eta = eta0
            if setup.optimizer == "sgd":
                idx = jax.random.permutation(jax.random.fold_in(key, t), n)[: setup.batch_size]
                bx, by = x[idx], y[idx]
                grads = jax.grad(_loss)(params, bx, by, act)
                loss = full_loss(params)
            else:
                loss, grads = jax.value_and_grad(full_loss)(params)
            delta = update(grads, eta)
            new = jax.tree_util.tree_map(lambda p, d: p + d, params, delta)
            ok = alive & jnp.isfinite(loss) & (loss < threshold)
            new_ok = jnp.all(jnp.isfinite(ravel_pytree(new)[0]))
            params_next = jax.tree_util.tree_map(lambda a, b: jnp.where(ok & new_ok, a, b),
                                                 new, params)
            rec = {"loss": jnp.where(ok, loss, jnp.inf), "eta": jnp.where(ok, eta, nan),
                   "sharpness": jnp.where(ok, lam_rec, nan), "diverged": ~ok}
            if instrument:
                rec.update(_layer_stats(params, params0, delta, probe_x, h0, act, ok))
            return (params_next, v, lam, ok & new_ok), rec

        v0 = jax.random.normal(jax.random.fold_in(key, 10**6), theta0.shape, theta0.dtype)
        carry = (params0, v0, jnp.array(jnp.inf, x.dtype), jnp.array(True))
        (params, v, lam, alive), recs = jax.lax.scan(step, carry, jnp.arange(setup.steps))
        final = {"loss": jnp.where(alive, full_loss(params), jnp.inf), "eta": nan,
                 "sharpness": nan, "diverged": ~alive}
        if k_sharp:
            lam_T, _ = power_iteration(loss_flat, ravel_pytree(params)[0], v, setup.power_iters)
            final["sharpness"] = jnp.where(alive, lam_T, nan)
        if instrument:
            zero = jax.tree_util.tree_map(jnp.zeros_like, params)
            final.update(_layer_stats(params, params0, zero, probe_x, h0, act, alive))
        recs = jax.tree_util.tree_map(lambda r, f: jnp.concatenate([r, f[None]]), recs, final)
        return params, recs

    return run


def _layer_stats(params, params0, delta, probe_x, h0, act, ok):
    _, hs = forward(params, probe_x, act)
    cos, q, fc = [], [], []
    for (w, _), (w0, _), (dw, _), h, hh0 in zip(params, params0, delta, hs, h0):
        cos.append(update_cosine(dw, w - w0))
        q.append(jnp.mean(h**2))
        fc.append(jnp.sqrt(jnp.sum((h - hh0) ** 2) / jnp.sum(hh0**2)))
    nan = jnp.nan
    return {"update_cosine": jnp.where(ok, jnp.stack(cos), nan),
            "preact_var": jnp.where(ok, jnp.stack(q), nan),
            "feature_change": jnp.where(ok, jnp.stack(fc), nan)}


def train(setup: Setup | None = None, /, **overrides):
    """Train one network; returns (steps, layers): two tidy DataFrames.

    ``steps``: step, loss, eta, sharpness (NaN where not measured), diverged.
    ``layers``: step, layer (1..L), update_cosine, preact_var, feature_change.
    Runs in the current JAX precision (wrap in dlndyn.core.train.precision for float64).
    """
    setup = as_setup(setup, **overrides)
    x, y = load_data(setup)
    key = jax.random.key(setup.seed)
    params0 = init(jax.random.fold_in(key, 1), setup, x.shape[1], y.shape[1])
    run = jax.jit(_runner(setup, x, y, instrument=setup.layer_stats))
    _, recs = run(params0, jnp.asarray(setup.eta, x.dtype), jax.random.fold_in(key, 2))
    recs = jax.device_get(recs)
    steps = np.arange(setup.steps + 1)
    table = pd.DataFrame({"step": steps, "loss": recs["loss"], "eta": recs["eta"],
                          "sharpness": recs["sharpness"], "diverged": recs["diverged"]})
    layers = pd.DataFrame(columns=list(LAYER_COLUMNS))
    if setup.layer_stats:
        L = setup.depth
        layers = pd.DataFrame({
            "step": np.repeat(steps, L),
            "layer": np.tile(np.arange(1, L + 1), len(steps)),
            "update_cosine": np.asarray(recs["update_cosine"]).ravel(),
            "preact_var": np.asarray(recs["preact_var"]).ravel(),
            "feature_change": np.asarray(recs["feature_change"]).ravel(),
        })
    return table, layers


def final_losses(setup: Setup, etas) -> pd.DataFrame:
    """Loss after ``setup.steps`` updates for every learning rate in ``etas`` (one compiled call,
    vmapped over eta; no instrumentation). Columns: eta, loss, diverged."""
    setup = setup.replace(layer_stats=False, sharpness_every=0, schedule="constant")
    x, y = load_data(setup)
    key = jax.random.key(setup.seed)
    params0 = init(jax.random.fold_in(key, 1), setup, x.shape[1], y.shape[1])
    run = _runner(setup, x, y, instrument=False)
    etas_arr = jnp.asarray(np.asarray(etas, dtype=float), x.dtype)
    recs = jax.jit(jax.vmap(lambda e: run(params0, e, jax.random.fold_in(key, 2))[1]))(etas_arr)
    recs = jax.device_get(recs)
    return pd.DataFrame({"eta": np.asarray(etas, float), "loss": recs["loss"][:, -1],
                         "diverged": recs["diverged"][:, -1]})
