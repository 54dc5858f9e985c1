"""The low-rank form of exact GD: initial weights read-only, training carried as factors (JAX).

Every GD step adds one rank-one term to each weight matrix (:mod:`.engine`), so after t steps

    W_l(t) = W_l(0) + U_l(t)^T V_l(t),     U_l: (T, rows), V_l: (T, cols),

where row s of U_l and V_l is the term added at step s (rows s >= t are still zero). A step
multiplies by W_l(t) and W_l(t)^T as

    W_l(t) x = W_l(0) x + U_l^T (V_l x),    W_l(t)^T g = W_l(0)^T g + V_l^T (U_l g),

so it reads each W_l(0) twice (the backward and the forward pass), writes one row of each factor
and nothing of size N^2. All points of a learning-rate grid start from the same W_l(0): vmapped
over the grid with W_l(0) unbatched, their matrix-vector products with W_l(0) become one
matrix-matrix product, and the data products X beta, X^T delta one product each too.

The factor products cost O(T (rows + cols)) per matrix and run (the buffers hold all T rows
from the start), against O(rows cols) for a dense step: past T ~ N/2 (``engine.CROSSOVER``) the
dense form is cheaper again, and :func:`dlndyn.bordelon25.sim.engine.choose_path` picks per run.

With C outputs (docs/bordelon25.md, section 11) a step adds a rank-C term: C rows per factor and
step (buffers of T C rows), the pending rows (C, rows) and (C, cols); vectors of the step carry a
trailing channel axis. One output keeps the vector shapes.

Plain and residual networks share this step (``residual``), with the same update equations as
:func:`.engine.rank_one_step` and :func:`.residual.residual_step`; conventions come from
:mod:`dlndyn.bordelon25.conventions`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ..conventions import readout, update_scale
from .batches import pseudo_input


def outer(u, v):
    """The update term u v^T of one output, or sum_c u_c v_c^T (rank C) of (n, C) matrices."""
    return jnp.outer(u, v) if u.ndim == 1 else u @ v.T


def _rows(x):
    """The factor rows of a step's term: a vector as is, an (n, C) matrix as its C rows."""
    return x if x.ndim == 1 else x.T


def _tmul(M, x):
    """M^T x, written x^T M (stored layout, see _mv; for an (n, C) matrix the small result
    is transposed, not M)."""
    return x @ M if x.ndim == 1 else (x.T @ M).T


def lowrank_start(params, T: int):
    """Split dense initial params into read-only matrices and a zero low-rank state.

    Returns (mats, state): ``mats = (W^0, W^1, ..., W^{n_mid})`` (hidden or branch matrices
    split out once, outside any step loop) and ``state = {"w", "U", "V", "u", "v"}`` with one
    (T, rows) and one (T, cols) zero buffer per matrix and the pending rows u, v: the term of
    the last step, written into the buffers at the start of the next step (see
    :func:`lowrank_step`).
    """
    n_mid = len(params["Ws"])  # a stacked array or, for unequal widths, a tuple
    mats = (params["W0"],) + tuple(params["Ws"][i] for i in range(n_mid))
    dtype = params["W0"].dtype
    C = 1 if params["w"].ndim == 1 else params["w"].shape[1]
    pend = () if C == 1 else (C,)
    state = {
        "w": params["w"],
        "U": tuple(jnp.zeros((T * C, m.shape[0]), dtype) for m in mats),
        "V": tuple(jnp.zeros((T * C, m.shape[1]), dtype) for m in mats),
        "u": tuple(jnp.zeros(pend + (m.shape[0],), dtype) for m in mats),
        "v": tuple(jnp.zeros(pend + (m.shape[1],), dtype) for m in mats),
    }
    return mats, state


def materialize(mats, state):
    """The dense params {W0, Ws, w} of a low-rank state: W_l(0) + U_l^T V_l + u_l v_l^T
    (``Ws`` a tuple when the hidden matrices differ in shape, as :func:`.engine.init_state`)."""
    dense = [m + U.T @ V + outer(_rows(u), _rows(v))
             for m, U, V, u, v in zip(mats, state["U"], state["V"], state["u"], state["v"])]
    N = mats[0].shape[0]
    if len({m.shape for m in mats[1:]} | {(N, N)}) > 1:
        return {"W0": dense[0], "Ws": tuple(dense[1:]), "w": state["w"]}
    Ws = jnp.stack(dense[1:]) if len(dense) > 1 else jnp.zeros((0, N, N), mats[0].dtype)
    return {"W0": dense[0], "Ws": Ws, "w": state["w"]}


# Products are written so that every operand is used in its stored layout (x^T M rather than
# M^T x): XLA on CPU otherwise copies a transposed buffer inside the step loop.
def _mv(W, U, V, x):
    """W(t) x with W(t) = W + U^T V."""
    return W @ x + _tmul(U, V @ x)


def _mtv(W, U, V, g):
    """W(t)^T g with W(t) = W + U^T V."""
    return _tmul(W, g) + _tmul(V, U @ g)


def write_pending(state, t):
    """Write the pending rows (the term of step t - 1) into row t - 1 of the buffers.

    Works on a single run's state and on states with leading batch axes (seeds, learning
    rates) alike: one plain dynamic-update-slice per buffer. The engine calls it on the whole
    batched state, outside any vmap: vmapped, JAX turns it into a scatter, whose bounds check
    reads the buffer it writes, and XLA then copies every buffer on every step.
    """
    step = jnp.maximum(t - 1, 0)  # at t = 0 the pending rows are zero, as is row 0

    def put(buf, r):
        if r.ndim < buf.ndim:  # one output: a single row
            r = r[..., None, :]
        start = (0,) * (buf.ndim - 2) + (step * r.shape[-2], 0)
        return jax.lax.dynamic_update_slice(buf, r.astype(buf.dtype), start)

    return {**state,
            "U": tuple(put(b, r) for b, r in zip(state["U"], state["u"])),
            "V": tuple(put(b, r) for b, r in zip(state["V"], state["v"]))}


def lowrank_step(mats, state, t, X, y, eta0, gamma, branch=None, *, residual: bool = False):
    """One exact GD step in low-rank form at step ``t``: :func:`write_pending`, then
    :func:`lowrank_update`. Returns (new state, train loss, beta before the step), as the
    dense steps do.
    """
    return lowrank_update(mats, write_pending(state, t), X, y, eta0, gamma, branch,
                          residual=residual)


def lowrank_update(mats, state, X, y, eta0, gamma, branch=None, *, residual: bool = False):
    """The step on a state whose buffers hold every term up to the last step: they are only
    read; the term of this step becomes the new pending row (written at the next step, so
    that the buffers are never read after a write in the same step).

    Returns (new state, train loss, beta before the step). ``branch`` is the residual branch
    multiplier (unused by the plain network); ``X, y`` a batch (:func:`.batches.pseudo_input`).
    """
    D = mats[0].shape[1]
    n_mid = len(mats) - 1
    U, V = state["U"], state["V"]
    sD = np.sqrt(D)
    sN = [None] + [np.sqrt(m.shape[1]) for m in mats[1:]]  # fan-in of each hidden matrix

    # backward vectors g^L = w, g^l from g^{l+1} through matrix l (l = n_mid .. 1)
    g = state["w"]
    gs = [g]
    for l in range(n_mid, 0, -1):
        back = _mtv(mats[l], U[l], V[l], g) / sN[l]
        g = g + branch * back if residual else back
        gs.append(g)
    gs = gs[::-1]  # gs[0] = g^1, gs[l] = backward input of matrix l, gs[n_mid] = w
    beta = readout(D, state["w"].shape[0], gamma) * _mtv(mats[0], U[0], V[0], gs[0])
    a, train_l = pseudo_input(X, y, beta)

    # forward pass of the pseudo-input a: hs[l] = input of matrix l + 1
    h = _mv(mats[0], U[0], V[0], a) / sD
    hs = [h]
    for l in range(1, n_mid + 1):
        fwd = _mv(mats[l], U[l], V[l], h) / sN[l]
        h = h + branch * fwd if residual else fwd
        hs.append(h)

    c = update_scale(eta0, gamma)
    c_mid = [None] + [c * branch / sN[l] if residual else c / sN[l] for l in range(1, n_mid + 1)]
    new = {
        "w": state["w"] + c * hs[-1],
        "U": U,
        "V": V,
        "u": (_rows(c * gs[0] / sD),)
        + tuple(_rows(c_mid[l] * gs[l]) for l in range(1, n_mid + 1)),
        "v": (_rows(a),) + tuple(_rows(hs[l - 1]) for l in range(1, n_mid + 1)),
    }
    return new, train_l, beta


def freeze(ok, new, old, t):
    """The state a run carries on from after step ``t``: ``new`` if ``ok``, else ``old``.

    The buffers of ``new`` differ from ``old`` only by the pending rows of step t - 1, which
    were zeroed when that step was not ok; so the buffers pass through and only ``w`` and the
    pending rows are selected (zeros when not ok): a frozen run never selects whole buffers.
    """
    ok = jnp.asarray(ok)  # batched runs: ok has the leading axes of the state

    def over(x):  # ok broadcast over the trailing axes of x
        return ok.reshape(ok.shape + (1,) * (x.ndim - ok.ndim))

    def gate(r):
        return jnp.where(over(r), r, jnp.zeros_like(r))

    return {
        "w": jnp.where(over(new["w"]), new["w"], old["w"]),
        "U": new["U"],
        "V": new["V"],
        "u": tuple(gate(r) for r in new["u"]),
        "v": tuple(gate(r) for r in new["v"]),
    }
