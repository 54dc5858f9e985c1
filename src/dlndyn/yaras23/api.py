"""The experiments of Yaras et al. (2023) as functions returning tidy tables (JAX, float64).

* :func:`invariance` / :func:`svd_dynamics`: the invariant passive subspaces (F1-F4, C1-C3);
* :func:`separation`: the within/between ratio D_l per layer and its geometric ratio (F5-F8,
  C10-C11);
* :func:`compression` / :func:`compare`: the wide network beside its compressed network
  (F9-F10, C4-C6); :func:`depth_width` (F11, C7-C8); :func:`compressed_vs_narrow` (F12, C9).

Every function runs in float64 (``core.train.precision``) whatever the caller's JAX mode.
Conventions and equations: docs/yaras23.md.
"""

from __future__ import annotations

import functools
import math

import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..core.train import precision
from . import checks, data, measure, train


# ------------------------------------------------------------------------------------------
# Invariant subspaces (docs/yaras23.md, "Invariant subspaces")
# ------------------------------------------------------------------------------------------
def _problem(task, d, r, L, seed, samples):
    """Loss, data, layer widths and number of output entries of one setting."""
    gen = data.rng(seed, 0)
    if task == "factorization":
        phi = data.low_rank_gaussian(gen, d, r)
        return (train.factorization_loss, {"phi": phi, "mask": np.ones_like(phi)},
                [d] * (L + 1), d * d)
    if task == "whitened":
        n = samples // r
        y, _ = data.one_hot(r, n)
        x = data.whitened_inputs(gen, d, r * n)
    else:
        x = gen.standard_normal((d, samples)) / 15.0
        y = gen.standard_normal((r, samples))
    return train.regression_loss, {"x": x, "y": y}, [d] * L + [r], y.size


def svd_dynamics(d=30, r=3, L=3, eps=1.0, eta=1.0, steps=50, seed=0, *, task="factorization",
                 init="orthogonal", momentum=0.0, samples=300):
    """Singular values and singular-vector angles of every layer at every step.

    Returns a dict of three tables:

    * ``singular_values``: layer, step, index (0 = largest), sigma;
    * ``angles``: layer, step, side ("right" | "left"), group, label, angle. Groups 0..r-1 are
      the top-r vectors one by one, group r the passive block as one subspace (the d - 2r
      middle vectors), groups r+1..2r the bottom-r vectors; the reference is step 1;
    * ``summary``: one row per layer, as :func:`invariance`.

    ``task``: "factorization" (deep matrix factorisation of a rank-r d x d target),
    "whitened" (r one-hot classes, X X^T = I, ``samples`` samples) or "nonwhitened"
    (Gaussian X / 15 and Gaussian Y with r rows). ``init``: orthogonal, gaussian, uniform.
    """
    d = checks.count("d", d, 3)
    r = checks.rank("r", r, d, "d")
    L = checks.count("L", L, 2)
    eps, eta = checks.positive("eps", eps), checks.positive("eta", eta)
    steps = checks.count("steps", steps, 2)
    checks.choice("task", task, checks.TASKS)
    checks.choice("init", init, data.INITS)
    momentum = checks.fraction("momentum", momentum)
    with precision("float64"):
        loss_fn, dat, widths, n_out = _problem(task, d, r, L, seed, samples)
        params = data.init_weights(data.rng(seed, 1), widths, eps, init)
        hist = train.trajectory(loss_fn, params, dat, eta=eta, steps=steps, momentum=momentum)
    if task == "factorization":
        rho_rec = measure.rho_recursion(eps, L, eta, n_out, steps, momentum)
    else:  # the output is narrower than the width: the passive block never moves
        rho_rec = np.full(steps + 1, eps)
    return _svd_tables(hist, r, rho_rec)


def _svd_tables(hist, r, rho_rec):
    sv_rows, angle_rows, summary = [], [], []
    passive = {}
    n_steps = hist[0].shape[0]
    for layer, w in enumerate(hist, start=1):
        u, s, vt = np.linalg.svd(w)
        steps, k = s.shape
        sv_rows.append(pd.DataFrame({
            "layer": layer, "step": np.repeat(np.arange(steps), k),
            "index": np.tile(np.arange(k), steps), "sigma": s.ravel()}))
        square = w.shape[1] == w.shape[2]
        if not square:  # a narrow output factor has no passive block
            continue
        d = k
        mid = slice(r, d - r)
        groups = [[i] for i in range(r)] + [list(range(r, d - r))] + \
                 [[i] for i in range(d - r, d)]
        labels = [f"top {i + 1}" for i in range(r)] + ["passive"] + \
                 [f"bottom {r - i}" for i in range(r)]
        for side, vecs in (("right", np.swapaxes(vt, 1, 2)), ("left", u)):
            ref = vecs[1]
            for g, (idx, label) in enumerate(zip(groups, labels)):
                ang = measure.principal_angles_series(ref[:, idx], vecs[:, :, idx])
                ang[0] = np.nan  # the SVD at an epsilon-orthogonal init is degenerate
                angle_rows.append(pd.DataFrame({
                    "layer": layer, "step": np.arange(steps), "side": side, "group": g,
                    "label": label, "angle": ang}))
        mid_s = s[-1, mid]
        passive[layer] = (vt[-1, mid].T, u[-1][:, mid])
        summary.append({
            "layer": layer, "spread": float(mid_s.max() - mid_s.min()), "rho": float(mid_s.mean()),
            "rho_recursion": float(rho_rec[-1]),
            "angle_right": float(angle_rows[-2 * (2 * r + 1) + r]["angle"].iloc[-1]),
            "angle_left": float(angle_rows[-(2 * r + 1) + r]["angle"].iloc[-1]),
        })
    for row in summary:  # passive right subspace of W_{l+1} against passive left of W_l
        nxt = passive.get(row["layer"] + 1)
        row["angle_chain"] = (measure.principal_angle(passive[row["layer"]][1], nxt[0])
                              if nxt is not None else np.nan)
    out = {"singular_values": pd.concat(sv_rows, ignore_index=True),
           "angles": pd.concat(angle_rows, ignore_index=True),
           "summary": pd.DataFrame(summary)}
    out["rho"] = pd.DataFrame({"step": np.arange(n_steps), "rho_recursion": rho_rec})
    return out


def invariance(d=30, r=3, L=3, eps=1.0, eta=1.0, steps=50, seed=0, **options):
    """One row per layer after ``steps`` GD steps: layer, spread (max - min of the d - 2r
    middle singular values), rho (their mean), rho_recursion (the scalar recursion of
    docs/yaras23.md), angle_right, angle_left (largest principal angle of the passive right /
    left singular subspace between step 1 and the last step) and angle_chain (passive right
    subspace of W_{l+1} against passive left subspace of W_l at the last step).

    ``options`` go to :func:`svd_dynamics` (task, init, momentum, samples).
    """
    return svd_dynamics(d, r, L, eps, eta, steps, seed, **options)["summary"]


# ------------------------------------------------------------------------------------------
# Progressive separation (docs/yaras23.md, "Progressive separation")
# ------------------------------------------------------------------------------------------
def _record_loss(loss_fn):
    def record(params, dat):
        return {"train_loss": loss_fn(params, dat)}

    return record


def separation(K=5, n=10, L=8, eps=0.5, eta=1.0, activation="linear", tol=1e-6, seed=0, *,
               init="orthogonal", width=None, max_steps=500_000, block=100, fit_layers=None):
    """D_l = tr Sigma_W / tr Sigma_B of the features h_0 = X, ..., h_{L-1} after training a
    depth-L network on K one-hot classes of n whitened samples each (input dimension and
    default width K n) until the train loss is below ``tol``.

    One row per layer l = 0..L-1: layer, D, ratio (exp of the least-squares slope of log D
    on l over ``fit_layers``, default all layers), prefactor, r2 (of that fit), steps (GD
    steps taken), train_loss, converged.
    """
    K = checks.count("K", K, 2)
    n = checks.count("n", n, 2)
    L = checks.count("L", L, 2)
    eps, eta = checks.positive("eps", eps), checks.positive("eta", eta)
    checks.choice("activation", activation, checks.ACTIVATIONS)
    tol = checks.positive("tol", tol)
    checks.choice("init", init, data.INITS)
    N = K * n
    width = N if width is None else checks.count("width", width)
    y, labels = data.one_hot(K, n)
    with precision("float64"):
        x = data.whitened_inputs(data.rng(seed, 0), N, N)
        params = data.init_weights(data.rng(seed, 1), [N] + [width] * (L - 1) + [K], eps, init)
        loss_fn = functools.partial(train.regression_loss, relu=activation == "relu")
        runner = train.Runner(loss_fn, _record_loss(loss_fn), eta=eta, block=block, tol=tol,
                              n_factors=L)
        state, dat = runner.start(params, {"x": x, "y": y})
        while not bool(state[3]) and int(state[2]) < max_steps:
            state, _ = runner.advance(state, dat)
        final = [np.asarray(p) for p in state[0]]
        loss = float(runner.record(state, dat)["train_loss"])
        hs, _ = train.features(final, x, activation == "relu")
        D = np.array([measure.within_between(np.asarray(h), labels) for h in hs])
    layers = np.arange(L)
    fit = layers if fit_layers is None else np.asarray(fit_layers)
    ratio, pref, r2 = measure.geometric_fit(fit, D[fit])
    return pd.DataFrame({"layer": layers, "D": D, "ratio": ratio, "prefactor": pref, "r2": r2,
                         "steps": int(state[2]), "train_loss": loss,
                         "converged": bool(state[3])})


# ------------------------------------------------------------------------------------------
# Compressed network (docs/yaras23.md, "Compressed network")
# ------------------------------------------------------------------------------------------
def compress(factors, phi, mask, rank, eps, recipe="union"):
    """The compressed network (V, eps I, ..., eps I, U) of a wide epsilon-orthogonal init.

    G is the gradient of the loss in W_1 at the init, G = U_G S V_G^T. V (d x 2 rank) is an
    orthonormal basis of

    * recipe "union" (default): span(V_G[:, :rank]) + span(W_1(0)^T U_G[:, :rank]), the row
      space of G's top part plus the pull-back of its column space;
    * recipe "stacked": the top 2 rank right singular vectors of [G; G^T W_1(0)].

    Both give the exact invariant subspace in full-observation DMF (when sigma_r(Phi) >
    eps^(L-1) (1 + eps^2)); under a mask G is full rank and the stacked recipe, whose halves
    differ by a factor eps, returns the row space twice over (docs/yaras23.md, "Compressed
    network"). U = W_{L:1}(0) V / eps^L has orthonormal columns; inner factors are
    2 rank x 2 rank and start at eps I.
    """
    factors = [np.asarray(f) for f in factors]
    L = len(factors)
    e = mask * (train.product(factors) - phi) / phi.size
    g = train.product(factors[1:]).T @ e
    if recipe == "union":
        ug, _, vgt = np.linalg.svd(g)
        basis = np.hstack([vgt[:rank].T, factors[0].T @ ug[:, :rank] / eps])
        v, _, _ = np.linalg.svd(basis, full_matrices=False)
    elif recipe == "stacked":
        _, _, vt = np.linalg.svd(np.vstack([g, g.T @ factors[0]]), full_matrices=False)
        v = vt[: 2 * rank].T
    else:
        raise ValueError(f"recipe={recipe!r}: must be 'union' or 'stacked'")
    u = train.product(factors) @ v / eps**L
    return (v, *[eps * np.eye(2 * rank)] * L, u)


def _check_condition(phi, r, L, eps):
    """The compression recipe is exact only when sigma_r(Phi) > eps^(L-1) (1 + eps^2)."""
    s_r = np.linalg.svd(phi, compute_uv=False)[r - 1]
    bound = eps ** (L - 1) * (1 + eps**2)
    if not s_r > bound:
        raise ValueError(f"eps={eps!r}: the compressed network needs sigma_r(Phi) = {s_r:.3g} "
                         f"> eps^(L-1) (1 + eps^2) = {bound:.3g}; use a smaller eps")


def _record_e2e(prod_fn):
    def record(params, dat):
        e2e = prod_fn(params)
        return {"train_loss": train.half_mean_sq(dat["mask"] * (e2e - dat["phi"])),
                "recovery_error": train.recovery_error(e2e, dat), "e2e": e2e}

    return record


def _matrix_problem(d, r, observed, seed):
    phi = data.low_rank_gaussian(data.rng(seed, 0), d, r)
    mask = np.ones_like(phi) if observed >= 1 else data.exact_mask(data.rng(seed, 2), d, observed)
    return phi, mask


def compare(d=60, r=2, L=3, eps=1e-2, eta=20.0, steps=4000, rank=2, gammas=(0.0,),
            observed=None, seed=0, *, tol=0.0, block=100, pca=None):
    """Train the wide network and one compressed network per gamma side by side.

    Returns a dict with ``curve`` (rows: step, method, gamma, train_loss, recovery_error,
    seconds, gap, phi_norm) and, if ``pca`` = (checkpoints, components) is given,
    ``trajectory``: each run's end-to-end matrix at ``checkpoints`` checkpoints from its escape
    (the checkpoint before its train loss first falls below 95% of the initial one), projected
    on the principal directions ``components`` of the original run's checkpoints (rows:
    method, gamma, step, pc1, pc2, ...).

    ``seconds`` is the cumulative wall time of the training blocks alone: compilation and the
    per-block measurements are excluded. ``gap`` is ||W_{L:1} - W_{L:1}^orig||_F / ||Phi||_F.
    """
    d = checks.count("d", d, 3)
    r = checks.rank("r", r, d, "d")
    rank = checks.rank("rank", rank, d, "d")
    L = checks.count("L", L, 2)
    eps, eta = checks.positive("eps", eps), checks.positive("eta", eta)
    steps = checks.count("steps", steps)
    p = checks.observed(observed)
    gammas = [checks.nonnegative("gamma", g) for g in gammas]
    with precision("float64"):
        phi, mask = _matrix_problem(d, r, p, seed)
        _check_condition(phi, min(r, rank), L, eps)
        wide = data.init_weights(data.rng(seed, 1), [d] * (L + 1), eps)
        dat = {"phi": phi, "mask": mask}
        runs = [("original", np.nan, train.Runner(
            train.factorization_loss, _record_e2e(train.product), eta=eta, block=block,
            tol=tol, n_factors=L), wide)]
        comp = compress(wide, phi, mask, rank, eps)
        for g in gammas:
            runs.append(("compressed", g, train.Runner(
                train.compressed_loss, _record_e2e(train.compressed_product), eta=eta,
                block=block, tol=tol, scales=(g,) + (1.0,) * L + (g,), n_factors=L + 2), comp))
        states = []
        for _, _, runner, params in runs:
            states.append(runner.start(params, dat))
        norm = float(np.linalg.norm(phi))
        rows, products = [], {i: [] for i in range(len(runs))}
        seconds = [0.0] * len(runs)
        finished = [False] * len(runs)
        for b in range(math.ceil(steps / block) + 1):
            recs = []
            for i, (_, _, runner, _) in enumerate(runs):
                state, dj = states[i]
                if b > 0 and not finished[i]:
                    state, dt = runner.advance(state, dj)
                    seconds[i] += dt
                    states[i] = (state, dj)
                recs.append(runner.record(state, dj))
            for i, (method, g, _, _) in enumerate(runs):
                if finished[i]:
                    continue
                e2e = recs[i]["e2e"]
                if pca is not None:
                    _keep(products[i], int(states[i][0][2]), float(recs[i]["train_loss"]),
                          e2e, pca[0])
                rows.append({
                    "step": int(states[i][0][2]), "method": method, "gamma": g,
                    "train_loss": float(recs[i]["train_loss"]),
                    "recovery_error": float(recs[i]["recovery_error"]),
                    "seconds": seconds[i],
                    "gap": (np.nan if i == 0 else
                            float(np.linalg.norm(e2e - recs[0]["e2e"]) / norm))})
                finished[i] = bool(states[i][0][3])
            if all(finished):
                break
    out = {"curve": pd.DataFrame(rows).assign(phi_norm=norm)}
    if pca is not None:
        out["trajectory"] = _pca(runs, products, *pca)
    return out


def _keep(store, step, loss, e2e, checkpoints):
    """Keep ``checkpoints`` checkpoints from the escape on (the one before it included)."""
    if not store:
        store.append({"initial": loss, "points": []})
    head, pts = store[0], store[0]["points"]
    if len(pts) >= checkpoints and head.get("started"):
        return
    pts.append((step, e2e))
    if not head.get("started"):
        if loss < 0.95 * head["initial"]:
            head["started"] = True
            del pts[:-2]
        else:
            del pts[:-1]


def _pca(runs, products, checkpoints, components):
    """Project every run's kept checkpoints on principal directions of the original's."""
    base = np.stack([p.ravel() for _, p in products[0][0]["points"]])
    centre = base.mean(axis=0)
    _, _, vt = np.linalg.svd(base - centre, full_matrices=False)
    dirs = vt[list(components)]
    rows = []
    for i, (method, g, _, _) in enumerate(runs):
        for step, p in products[i][0]["points"]:
            c = dirs @ (p.ravel() - centre)
            rows.append({"method": method, "gamma": g, "step": step,
                         **{f"pc{j + 1}": float(c[j]) for j in range(len(c))}})
    return pd.DataFrame(rows)


def compression(d=60, r=2, L=3, eps=1e-2, eta=20.0, steps=4000, rank=2, gamma=0.0,
                observed=None, seed=0, **options):
    """The wide network beside its compressed network (one discrepant step ``gamma``).

    Rows every ``block`` (default 100) steps: step, method ("original" | "compressed"),
    train_loss, recovery_error, seconds (training blocks only, compilation excluded), gap
    (||W_{L:1}^comp - W_{L:1}^orig||_F / ||Phi||_F on the compressed rows), gamma.
    ``options``: tol, block (see :func:`compare`).
    """
    return compare(d, r, L, eps, eta, steps, rank, (gamma,), observed, seed, **options)["curve"]


# ------------------------------------------------------------------------------------------
# Sweeps: benefit of depth and width (F11), compressed vs narrow (F12)
# ------------------------------------------------------------------------------------------
def _until_done(runner, state, dat, max_steps):
    seconds = 0.0
    while not bool(np.all(np.asarray(state[3]))) and int(np.max(np.asarray(state[2]))) < max_steps:
        state, dt = runner.advance(state, dat)
        seconds += dt
    return state, seconds


def depth_width(d=100, r=10, observed=0.3, eps=1e-3, depths=(2, 3), etas=(100.0, 300.0),
                widths=(10, 50, 100), trials=5, tol=1e-10, max_steps=60_000, block=100, seed=0):
    """Deep matrix completion with a width-w network of depth L, ``trials`` inits per (L, w)
    on one target and mask (trials vmapped). Rows: depth, width, trial, steps,
    train_loss, recovery_error, converged."""
    d = checks.count("d", d, 3)
    r = checks.rank("r", r, d, "d")
    p = checks.observed(observed)
    eps = checks.positive("eps", eps)
    trials = checks.count("trials", trials)
    if len(etas) != len(depths):
        raise ValueError(f"etas={etas!r}: one step per depth in {depths!r}")
    rows = []
    with precision("float64"):
        phi, mask = _matrix_problem(d, r, p, seed)
        dat = {"phi": phi, "mask": mask}
        for L, eta in zip(depths, etas):
            L = checks.count("depths", L, 1)
            for w in widths:
                w = checks.count("widths", w)
                inits = [data.init_weights(data.rng(seed, 1, t, w, L), [d] + [w] * (L - 1) + [d],
                                           eps) for t in range(trials)]
                params = [np.stack(f) for f in zip(*inits)]
                runner = train.Runner(train.factorization_loss, _record_e2e(train.product),
                                      eta=checks.positive("etas", eta), block=block, tol=tol,
                                      n_factors=L, batched=True,
                                      data_axes={"phi": None, "mask": None})
                state, dj = runner.start(params, dat, batched=True)
                state, _ = _until_done(runner, state, dj, max_steps)
                rec = runner.record(state, dj)
                for t in range(trials):
                    rows.append({"depth": L, "width": w, "trial": t,
                                 "steps": int(state[2][t]),
                                 "train_loss": float(rec["train_loss"][t]),
                                 "recovery_error": float(rec["recovery_error"][t]),
                                 "converged": bool(state[3][t])})
    return pd.DataFrame(rows)


def compressed_vs_narrow(d=200, r=5, observed=0.2, L=3, eps=1e-3, eta=None, ranks=(5, 10),
                         trials=3, tol=1e-10, max_steps=200_000, gamma=0.01, block=100, seed=0):
    """Deep matrix completion: a narrow width-2 rank network (epsilon-orthogonal init) against
    the compressed network of a width-d init with the same rank, for every rank and trial.
    ``eta`` None: the step rule of docs/yaras23.md. Rows: rank, method, trial, steps,
    seconds (training blocks only), train_loss, recovery_error, converged, eta."""
    d = checks.count("d", d, 3)
    r = checks.rank("r", r, d, "d")
    p = checks.observed(observed)
    eps = checks.positive("eps", eps)
    trials = checks.count("trials", trials)
    rows = []
    with precision("float64"):
        phi, mask = _matrix_problem(d, r, p, seed)
        _check_condition(phi, r, L, eps)
        eta = data.step_rule(phi, L, p) if eta is None else checks.positive("eta", eta)
        dat = {"phi": phi, "mask": mask}
        for k in ranks:
            k = checks.rank("rank", k, d, "d")
            narrow = train.Runner(train.factorization_loss, _record_e2e(train.product), eta=eta,
                                  block=block, tol=tol, n_factors=L)
            comp = train.Runner(train.compressed_loss, _record_e2e(train.compressed_product),
                                eta=eta, block=block, tol=tol,
                                scales=(gamma,) + (1.0,) * L + (gamma,), n_factors=L + 2)
            for t in range(trials):
                gen = data.rng(seed, 1, t)
                wide = data.init_weights(gen, [d] * (L + 1), eps)
                small = data.init_weights(data.rng(seed, 3, t, k), [d] + [2 * k] * (L - 1) + [d],
                                          eps)
                for method, runner, params in (("narrow", narrow, small),
                                               ("compressed", comp,
                                                compress(wide, phi, mask, k, eps))):
                    state, dj = runner.start(params, dat)
                    state, sec = _until_done(runner, state, dj, max_steps)
                    rec = runner.record(state, dj)
                    rows.append({"rank": k, "method": method, "trial": t,
                                 "steps": int(state[2]), "seconds": sec,
                                 "train_loss": float(rec["train_loss"]),
                                 "recovery_error": float(rec["recovery_error"]),
                                 "converged": bool(state[3]), "eta": eta})
    return pd.DataFrame(rows)
