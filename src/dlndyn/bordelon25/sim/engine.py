"""Finite-network simulation: exact gradient descent with rank-one updates (JAX).

A deep linear network's gradient on the whole data set is rank one per weight matrix (docs/bordelon25.md,
section 1). With residuals Delta = y - X beta / sqrt(D) and the "gradient pseudo-input"
a = sqrt(D) X^T Delta / P, one GD step on half the loss is

    W^0 += eta0 gamma g^1 a^T / sqrt(D)
    W^l += eta0 gamma g^{l+1} (h^l_a)^T / sqrt(N)          l = 1..L-1
    w   += eta0 gamma h^L_a

where g^L = w, g^l = W^l^T g^{l+1} / sqrt(N) are the (input-independent) backward vectors and
h^l_a the forward pass of a. With unequal widths (``Setting.nu`` a tuple) every sqrt(N) is the
fan-in sqrt(N_l) of its matrix and the hidden matrices are a tuple instead of a stacked array
(docs/bordelon25.md, section 10); with C outputs (``Setting.kappa``, section 11) w, g^l, h^l_a, a,
Delta and beta carry a trailing channel axis and every update is rank C, g a^T summed over
channels. A step costs O(P D + N D + L N^2) instead of autodiff's
O(P (N D + L N^2)). Runs are jit-compiled, scanned over steps and vmapped over a
learning-rate grid and seeds, so a whole sweep is one compiled call.

Two paths give the same numbers (up to rounding): the dense path updates every matrix in
place (:func:`rank_one_step`, :func:`.residual.residual_step`: each step reads a matrix three
times and writes it once, per seed and learning rate); the low-rank path (:mod:`.lowrank`)
keeps W_l(0) read-only, shared by the learning-rate grid, and carries the updates as factors
(each step reads W_l(0) twice and writes one row per factor). :func:`choose_path` picks per
run; ``simulate(..., method=...)`` forces one.

A step reads its batch only through the pseudo-input a and the train loss
(:func:`.batches.pseudo_input`): from the fixed training set (full batch), or under one-pass
SGD from the batch's sufficient statistics (the default, ``batches="stats"``: 2 P C + D C
normals per step, no P x D matrix, docs/bordelon25.md, section 1.6) or from an explicitly drawn
batch (``batches="explicit"``, the same law; tests compare it with jax.grad step by step).

Randomness: replicate r of base seed s draws its weights, teacher and training set on the host
from numpy streams of ``SeedSequence([s, r])`` (one per array, :func:`streams`). One-pass
batches are drawn inside the compiled loop from ``fold_in(fold_in(key(s), r), t)`` at step t:
by default not as matrices but as their sufficient statistics (:func:`.batches.draw_onepass`),
so the two ``batches`` options give different (statistically equivalent) numbers. The same
seed gives the same teacher and data to every width and the same weights to every data size
(common random numbers), and identical numbers on a rerun.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ...core.data import streams
from ...core.train import check_dtype, precision, scan_frozen
from ..conventions import DIVERGENCE_FACTOR, channel_mean_square, readout, update_scale
from ..setting import Setting, spectrum
from .batches import BATCHES, draw_onepass, pseudo_input
from .lowrank import freeze, lowrank_start, lowrank_update, outer, write_pending
from .residual import residual_step


# ----------------------------------------------------------------------------------------
# Initial state and data (shared with the autodiff reference implementation)
# ----------------------------------------------------------------------------------------
def init_state(seed: int, replicate: int = 0, *, D: int, N: int, P: int, n_mid: int, sigma,
               online: bool, dtype, spectrum=None, Ns=None, C: int = 1):
    """Initial weights, teacher and (for full batch) the training set of one replicate.

    ``n_mid`` is the number of N x N matrices: L - 1 hidden-to-hidden layers, or L residual
    branches. ``Ns``: the hidden widths N_1..N_L of a plain network; if they differ, W^0 is
    N_1 x D, ``Ws`` is the tuple of the N_{l+1} x N_l matrices (drawn one after the other
    from the "Ws" stream) and w has N_L entries; equal (or None): as before. ``spectrum``: None (isotropic data) or arrays (lambda, b) of length D for
    power-law data (:func:`dlndyn.bordelon25.setting.spectrum`): x ~ N(0, diag(lambda)), beta*_k ~ N(0, b_k).
    ``C`` outputs: the readout w is (N, C) and the teacher (D, C), independent columns; C = 1
    keeps vectors (N,) and (D,), the single-output shapes.

    Drawn on the host (numpy, in ``dtype``): random-number code compiled by XLA cost several
    CPU-seconds per distinct shape, most of a job's compile time. Each array has its own stream
    (:func:`dlndyn.core.data.streams`), so the teacher and data of a replicate do not depend on
    the width and the weights do not depend on the data size. The one-pass batches are drawn
    inside the compiled loop from ``data["key"]`` (:func:`batch_at`).
    """
    dtype = np.dtype(dtype)
    rng = streams(seed, replicate, STREAMS)
    out = () if C == 1 else (C,)

    def normal(name, *shape):
        return rng[name].standard_normal(shape, dtype=dtype)

    if Ns is not None and len(set(Ns)) > 1:
        params = {"W0": normal("W0", Ns[0], D),
                  "Ws": tuple(normal("Ws", Ns[l + 1], Ns[l]) for l in range(len(Ns) - 1)),
                  "w": normal("w", Ns[-1], *out)}
    else:
        params = {"W0": normal("W0", N, D), "Ws": normal("Ws", n_mid, N, N),
                  "w": normal("w", N, *out)}
    beta_star = normal("teacher", D, *out)
    data = {"beta_star": beta_star,
            "key": jax.random.fold_in(jax.random.key(int(seed)), int(replicate))}
    if spectrum is not None:
        lam, b = (np.asarray(a, dtype) for a in spectrum)
        beta_star = beta_star * (np.sqrt(b) if C == 1 else np.sqrt(b)[:, None])
        data.update(beta_star=beta_star, lam=lam, sqrt_lam=np.sqrt(lam))
    if not online:
        X = normal("X", P, D)
        if spectrum is not None:
            X = X * data["sqrt_lam"]
        data["X"] = X
        data["y"] = teacher_labels(X, beta_star, dtype.type(sigma) * normal("eps", P, *out))
    return params, data


STREAMS = ("W0", "Ws", "w", "teacher", "X", "eps")  # one numpy stream per array


def init_replicates(seed: int, seeds: int, **sizes):
    """:func:`init_state` of replicates 0..seeds-1, stacked along a leading seed axis."""
    states = [init_state(seed, r, **sizes) for r in range(seeds)]
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs) if isinstance(xs[0], np.ndarray)
                                  else jnp.stack(xs), *states)


def draw_batch(key, beta_star, P: int, sigma, dtype, sqrt_lam=None):
    """P Gaussian inputs (covariance diag(sqrt_lam^2), or I) and noisy teacher labels
    y = beta*.x/sqrt(D) + sigma eps (labels (P, C) for a (D, C) teacher)."""
    D = beta_star.shape[0]
    k_x, k_eps = jax.random.split(key)
    X = jax.random.normal(k_x, (P, D), dtype)
    if sqrt_lam is not None:
        X = X * sqrt_lam
    noise = sigma * jax.random.normal(k_eps, (P,) + beta_star.shape[1:], dtype)
    return X, teacher_labels(X, beta_star, noise)


def teacher_labels(X, beta_star, noise):
    """y = X beta* / sqrt(D) + noise (numpy or JAX arrays; keeps their dtype)."""
    return X @ beta_star / math.sqrt(beta_star.shape[0]) + noise


def batch_at(data, t, P: int, sigma, dtype, batches: str = "explicit"):
    """The batch (X, y) of step t: the fixed training set, or a fresh batch (one-pass SGD),
    drawn as a matrix (``batches="explicit"``) or as its sufficient statistics
    (``"stats"``: X a :class:`.batches.OnePass`, y None). Steps read it with
    :func:`.batches.pseudo_input`."""
    if "X" in data:
        return data["X"], data["y"]
    key = jax.random.fold_in(data["key"], t)
    if batches == "stats":
        return draw_onepass(key, data["beta_star"], P, sigma, dtype, data.get("sqrt_lam")), None
    return draw_batch(key, data["beta_star"], P, sigma, dtype, data.get("sqrt_lam"))


def scan_layers(f, init, Ws, reverse: bool = False):
    """``jax.lax.scan(f, init, Ws)`` over the hidden matrices: a scan over a stacked array
    (equal widths), a Python loop over a tuple (unequal widths; the outputs are a tuple)."""
    if not isinstance(Ws, tuple):
        return jax.lax.scan(f, init, Ws, reverse=reverse)
    carry, ys = init, [None] * len(Ws)
    for i in (reversed(range(len(Ws))) if reverse else range(len(Ws))):
        carry, ys[i] = f(carry, Ws[i])
    return carry, tuple(ys)


def end_to_end(params, gamma):
    """beta = sqrt(D)/(gamma N_L) W0^T g^1 and the backward vectors g^1 .. g^L."""
    D = params["W0"].shape[1]

    def back(g, W):  # g = g^{l+1}  ->  g^l (W^l scaled by its fan-in)
        return W.T @ g / np.sqrt(W.shape[-1]), g

    g1, g_upper = scan_layers(back, params["w"], params["Ws"], reverse=True)
    beta = readout(D, params["w"].shape[0], gamma) * (params["W0"].T @ g1)
    return beta, g1, g_upper  # g_upper[i] = g^{i+2}


def test_loss(beta, beta_star, sigma, lam=None):
    """|v|^2/D + sigma^2 with v = beta* - beta, or sum_k lam_k v_k^2/D + sigma^2; with C
    outputs averaged over them (:func:`..conventions.channel_mean_square`)."""
    v = beta_star - beta
    if lam is not None:
        if v.ndim == 1:
            return (lam * v) @ v / v.shape[0] + sigma**2
        return channel_mean_square(jnp.sqrt(lam)[:, None] * v) / v.shape[0] + sigma**2
    return channel_mean_square(v) / v.shape[0] + sigma**2



# ----------------------------------------------------------------------------------------
# The rank-one GD step
# ----------------------------------------------------------------------------------------
def rank_one_step(params, X, y, eta0, gamma, branch=None):
    """One exact GD step. Returns (new params, train loss, beta before the step).

    Every step function shares this signature; ``branch`` (the residual branch multiplier)
    is unused by the plain network. ``X, y``: a batch of :func:`batch_at`.
    """
    beta, g1, g_upper = end_to_end(params, gamma)
    a, train_l = pseudo_input(X, y, beta)
    return rank_one_update(params, a, g1, g_upper, eta0, gamma), train_l, beta


def rank_one_update(params, a, g1, g_upper, eta0, gamma):
    """The weights after one step along the gradient pseudo-input ``a`` (module docstring).

    ``g1``, ``g_upper``: the backward vectors of :func:`end_to_end`. ``a`` is
    sqrt(D) X^T Delta / P for a batch, or Lambda (beta* - beta) for the population gradient.
    """
    D = params["W0"].shape[1]

    def fwd(h, W):  # h = h^l_a  ->  h^{l+1}_a
        return W @ h / np.sqrt(W.shape[-1]), h

    h_first = params["W0"] @ a / np.sqrt(D)
    h_last, h_lower = scan_layers(fwd, h_first, params["Ws"])  # h_lower[i] = h^{i+1}_a
    c = update_scale(eta0, gamma)
    Ws = params["Ws"]
    if isinstance(Ws, tuple):
        Ws = tuple(W + c * outer(g, h) / np.sqrt(W.shape[-1])
                   for W, g, h in zip(Ws, g_upper, h_lower))
    else:
        Ws = Ws + c * jax.vmap(outer)(g_upper, h_lower) / np.sqrt(Ws.shape[-1])
    return {
        "W0": params["W0"] + c * outer(g1, a) / np.sqrt(D),
        "Ws": Ws,
        "w": params["w"] + c * h_last,
    }


def train(step_fn, params, data, eta0, gamma, sigma, branch, *, T: int, P: int, batches: str):
    """The dense path: scan ``step_fn`` over T steps on the full weight matrices, freezing a
    run at the step its loss diverges.

    Returns per-step arrays (test_loss, train_loss, diverged); a diverged step reads inf.
    ``batches``: how one-pass batches are drawn (:func:`batch_at`).
    """
    dtype = params["W0"].dtype

    def step(params, t):
        X, y = batch_at(data, t, P, sigma, dtype, batches)
        new, train_l, beta = step_fn(params, X, y, eta0, gamma, branch)
        return new, (test_loss(beta, data["beta_star"], sigma, data.get("lam")), train_l)

    _, (test_l, train_l), diverged = scan_frozen(step, params, T, factor=DIVERGENCE_FACTOR)
    return test_l, train_l, diverged


def train_lowrank(mats, state, data, eta0s, gamma, sigma, branch, *, T: int, P: int,
                  residual: bool, batches: str):
    """The low-rank path for all seeds x learning rates: arrays (S, E, T) as :func:`train`.

    ``mats`` and ``data`` have a leading seed axis, ``state`` (of :func:`.lowrank.lowrank_start`)
    leading (seed, learning rate) axes. The scan over steps is outside the vmaps: each step
    first writes the pending rows into the whole batched buffers (:func:`.lowrank.write_pending`,
    one in-place update), then runs :func:`.lowrank.lowrank_update` vmapped over seeds and
    the grid, ``mats`` and ``data`` unbatched over the grid, so the grid shares them: its
    products with W_l(0) and the data are matrix-matrix products. A run is frozen at the step
    its loss diverges (``scan_frozen``, elementwise over the runs).
    """
    dtype = mats[0].dtype

    def one_run(mats, data, state, eta0, t):
        X, y = batch_at(data, t, P, sigma, dtype, batches)
        new, train_l, beta = lowrank_update(mats, state, X, y, eta0, gamma, branch,
                                            residual=residual)
        return new, (test_loss(beta, data["beta_star"], sigma, data.get("lam")), train_l)

    over_eta = jax.vmap(one_run, in_axes=(None, None, 0, 0, None))
    over_seeds = jax.vmap(over_eta, in_axes=(0, 0, 0, None, None))

    def step(state, t):
        return over_seeds(mats, data, write_pending(state, t), eta0s, t)

    runs = (mats[0].shape[0], eta0s.shape[0])
    _, (test_l, train_l), diverged = scan_frozen(step, state, T, factor=DIVERGENCE_FACTOR,
                                                 freeze=freeze, runs=runs)
    # scan stacks steps first: (T, S, E) -> (S, E, T)
    return tuple(jnp.moveaxis(x, 0, -1) for x in (test_l, train_l, diverged))


@partial(jax.jit, static_argnames=("path", "step_fn", "residual", "P", "T", "seed_loop",
                                   "batches"))
def run_grid(params, data, eta0s, gamma, sigma, branch, *, path="dense", step_fn=None,
             residual=False, P, T, seed_loop="vmap", batches="stats"):
    """All replicates x learning rates (eta0s) in one compiled call: arrays (S, E, T).

    ``params`` and ``data`` are :func:`init_replicates`' (a leading seed axis).
    ``path="dense"`` trains the full matrices with ``step_fn`` (one copy per seed and learning
    rate); ``path="lowrank"`` carries factors, the initial matrices shared by the grid
    (``residual`` picks the residual network), with the step loop outside the vmaps over
    seeds and grid (:func:`train_lowrank`). ``seed_loop`` (dense path only): "vmap" (seeds
    batched, the default) or "map" (seeds one after another, ``lax.map``), for measurements.
    ``batches``: how one-pass batches are drawn,
    "stats" (sufficient statistics) or "explicit" (matrices), see :func:`batch_at`.
    """
    if path == "lowrank":
        mats, state = jax.vmap(partial(lowrank_start, T=T))(params)
        E = eta0s.shape[0]
        state = jax.tree_util.tree_map(
            lambda x: jnp.broadcast_to(x[:, None], (x.shape[0], E) + x.shape[1:]), state)
        return train_lowrank(mats, state, data, eta0s, gamma, sigma, branch, T=T, P=P,
                             residual=residual, batches=batches)

    def one_seed(seed_params_data):
        params, data = seed_params_data

        def one_eta(eta0):
            return train(step_fn, params, data, eta0, gamma, sigma, branch, T=T, P=P,
                         batches=batches)

        return jax.vmap(one_eta)(eta0s)

    if seed_loop == "map":
        return jax.lax.map(one_seed, (params, data))
    return jax.vmap(one_seed)((params, data))


# ----------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------
METHODS = ("auto", "lowrank", "dense")

# The crossover between the two paths (measured with benchmarks/bench_crossover.py, numbers below). Per
# step and run, the dense path reads and writes every matrix, O(sum_l rows_l cols_l); the
# low-rank path reads every W_l(0) (shared by a learning-rate grid) plus its factor buffers of
# T rows, O(T sum_l (rows_l + cols_l)). Low rank is picked while
#     T * sum_l (rows_l + cols_l) <= CROSSOVER * sum_l rows_l cols_l,
# i.e. T <= N / 2 for N x N matrices. With C outputs every step adds C rows to each factor, so
# the factor side is T C sum_l (rows_l + cols_l) (not measured separately). Measured crossovers kappa* (L=3, nu=2, 8 seeds, CPU, a
# shared 2-core machine under load 8-14, with low-rank code that still copied its buffers every
# step, so lower bounds for today's): 1.0 (N=128) and 1.7 / 4.7 (N=256, two runs) for a
# 12-point grid, 2.5 (N=128) and 26 / 1.5 (N=256) for one learning rate. 1.0 keeps the
# low-rank path where it was faster in every measurement.
CROSSOVER = 1.0


def step_for(s: Setting):
    """The dense exact GD step function for the architecture of ``s``."""
    return residual_step if s.residual else rank_one_step


def matrix_shapes(sizes: dict, n_mid: int):
    """(rows, cols) of every weight matrix: W^0 (N x D) and n_mid N x N matrices (plain
    networks with unequal widths ``sizes["Ns"]``: N_1 x D and the N_{l+1} x N_l)."""
    N, D = sizes["N"], sizes["D"]
    Ns = sizes.get("Ns")
    if Ns is not None and len(set(Ns)) > 1:
        return [(Ns[0], D)] + [(Ns[l + 1], Ns[l]) for l in range(len(Ns) - 1)]
    return [(N, D)] + [(N, N)] * n_mid


def choose_path(sizes: dict, n_mid: int, T: int) -> str:
    """"lowrank" or "dense" for a run of T steps: the rule at :data:`CROSSOVER` (rank
    ``sizes["C"]`` updates: T C factor rows per matrix)."""
    shapes = matrix_shapes(sizes, n_mid)
    factor_cost = T * sizes.get("C", 1) * sum(r + c for r, c in shapes)
    dense_cost = sum(r * c for r, c in shapes)
    return "lowrank" if factor_cost <= CROSSOVER * dense_cost else "dense"


def _check_seeds(seeds) -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 1:
        raise ValueError(f"seeds={seeds!r}: must be a positive integer")
    return int(seeds)


def _check_grid(eta0_grid) -> np.ndarray:
    try:
        grid = np.asarray(eta0_grid, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"eta0_grid={eta0_grid!r}: must be a list of numbers") from None
    if grid.ndim > 1:
        raise ValueError(f"eta0_grid={eta0_grid!r}: must be one-dimensional")
    grid = np.atleast_1d(grid)
    if grid.size == 0:
        raise ValueError("eta0_grid is empty: give at least one learning rate (or None)")
    if not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError(f"eta0_grid={eta0_grid!r}: every value must be finite and >= 0")
    return grid


def resolve_batches(batches, step_fn) -> str:
    """``batches`` checked, None resolved: "explicit" when a ``step_fn`` is given (e.g. the
    jax.grad reference, which needs the batch matrix), else "stats"."""
    if batches is None:
        return "stats" if step_fn is None else "explicit"
    if batches not in BATCHES:
        raise ValueError(f"batches={batches!r}: must be one of {BATCHES} (or None)")
    return batches


def grid_arguments(s: Setting, D: int, seeds: int, *, seed: int = 0, eta0_grid=None,
                   dtype: str = "float32", step_fn=None, method: str = "auto", batches=None):
    """The validated (args, kwargs) of :func:`run_grid` for :func:`simulate`'s arguments.

    Call inside ``core.train.precision(dtype)``. Benchmarks use it to compile ahead of time
    (``run_grid.lower(*args, **kwargs).compile()``) and time the run alone.
    """
    if method not in METHODS:
        raise ValueError(f"method={method!r}: must be one of {METHODS}")
    batches = resolve_batches(batches, step_fn)
    if step_fn is not None and method == "lowrank":
        raise ValueError("step_fn is a dense step: it cannot run with method='lowrank'")
    seeds = _check_seeds(seeds)
    jdtype = jnp.dtype(check_dtype(dtype))
    grid = _check_grid(s.eta0 if eta0_grid is None else eta0_grid)
    sizes = s.sizes(D)  # raises ValueError for infinite nu / alpha / alpha_B (gamma0=0 needs nu=inf)
    n_mid = s.L if s.residual else s.L - 1
    if step_fn is not None:
        path = "dense"
    elif method == "auto":
        path = choose_path(sizes, n_mid, s.T)
    else:
        path = method
    spec = spectrum(s.capacity, s.source, sizes["D"]) if s.data == "powerlaw" else None
    params, data = init_replicates(seed, seeds, **sizes, n_mid=n_mid, sigma=s.sigma,
                                   online=s.online, dtype=jdtype, spectrum=spec)
    args = (params, data, jnp.asarray(grid, jdtype), s.gamma, s.sigma, s.branch)
    kwargs = dict(
        path=path,
        step_fn=(step_for(s) if step_fn is None else step_fn) if path == "dense" else None,
        residual=s.residual, P=sizes["P"], T=s.T,
        batches=batches if s.online else "explicit",  # (full batch: unused, one compilation)
    )
    return args, kwargs


def simulate(
    s: Setting,
    D: int = 256,
    seeds: int = 8,
    *,
    seed: int = 0,
    eta0_grid=None,
    dtype: str = "float32",
    step_fn=None,
    method: str = "auto",
    batches=None,
) -> pd.DataFrame:
    """Train finite networks of input dimension D and return a tidy table.

    Columns: seed, step, train_loss, test_loss, diverged (and eta0 when ``eta0_grid`` is
    given: then the whole grid runs in one compiled call and ``s.eta0`` is ignored).
    ``train_loss`` is the full training-set loss, or the batch loss under one-pass SGD.
    Power-law data (``s.data == "powerlaw"``) uses D eigen-directions
    (:func:`dlndyn.bordelon25.setting.spectrum`). Limits (infinite nu, alpha or alpha_B;
    gamma0 = 0) are rejected with a ValueError: they exist only in the theory.

    ``method``: "lowrank" (initial weights shared, training carried as factors:
    :mod:`.lowrank`), "dense" (full matrices updated in place: :func:`rank_one_step`,
    :func:`.residual.residual_step`) or "auto" (:func:`choose_path`). Both give the same
    numbers up to rounding. ``step_fn`` overrides the dense step (e.g. the autodiff
    reference) and implies the dense path. ``dtype`` "float64" runs in float64 (JAX's x64
    mode is switched on for this call only).

    ``batches`` (one-pass SGD only): "stats" draws each batch as its sufficient statistics
    (:mod:`.batches`, no P x D matrix), "explicit" as a matrix: the same law, different
    numbers. None: "stats", or "explicit" when ``step_fn`` is given.
    """
    grid = _check_grid(s.eta0 if eta0_grid is None else eta0_grid)
    with precision(check_dtype(dtype)):
        args, kwargs = grid_arguments(s, D, seeds, seed=seed, eta0_grid=grid, dtype=dtype,
                                      step_fn=step_fn, method=method, batches=batches)
        test_l, train_l, diverged = run_grid(*args, **kwargs)
        test_l, train_l, diverged = (np.asarray(x) for x in (test_l, train_l, diverged))
    S, E, T = test_l.shape
    table = pd.DataFrame(
        {
            "seed": np.repeat(np.arange(S), E * T),
            "eta0": np.tile(np.repeat(grid, T), S),
            "step": np.tile(np.arange(T), S * E),
            "train_loss": train_l.astype(float).ravel(),
            "test_loss": test_l.astype(float).ravel(),
            "diverged": diverged.ravel(),
        }
    )
    if eta0_grid is None:
        table = table.drop(columns="eta0")
    return table
