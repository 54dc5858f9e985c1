"""Training utilities shared by the papers' simulations (JAX): precision, the compile
cache and a scanned training loop that freezes a diverging run.

Nothing here changes JAX's global state at import; :func:`precision` is a context manager and
:func:`use_compile_cache` is called by job adapters, not by the library.
"""

from __future__ import annotations

import contextlib
import os

import jax
import jax.numpy as jnp

DTYPES = ("float32", "float64")


def check_dtype(dtype) -> str:
    """The dtype's name if it is one the simulations support, else a ValueError naming it."""
    name = str(getattr(dtype, "name", dtype))
    if name not in DTYPES:
        raise ValueError(f"dtype={dtype!r}: must be one of {DTYPES}")
    return name


@contextlib.contextmanager
def precision(dtype):
    """Run the block in ``dtype``: float64 switches JAX's x64 mode on for the block only.

    Arrays made and functions traced inside take the precision asked for; the previous mode is
    restored on exit (JAX's x64 flag is otherwise process-global).
    """
    with jax.enable_x64(check_dtype(dtype) == "float64"):
        yield jnp.dtype(dtype)


def use_compile_cache(path) -> None:
    """Share compiled XLA programs between jobs through a persistent cache at ``path``."""
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def scan_frozen(step, state, steps: int, *, factor: float = 1e3, freeze=None, runs=()):
    """Scan ``step(state, t) -> (new_state, metrics)`` over ``steps``, freezing on divergence.

    ``metrics`` is a tuple of scalars whose first entry is the monitored loss. A run diverges
    at the first step where any metric is non-finite or the monitored loss exceeds
    ``factor * max(1, its value at t = 0)``; from then on the state stays frozen and every
    metric reads inf. Returns (final state, stacked metrics, diverged flags per step).

    ``freeze(ok, new, old, t)``, if given, returns the state to carry on from: ``new`` where
    ``ok``, else ``old``. The default selects every leaf; a state that changes in one place
    per step (a row of a buffer) can select only that place instead of whole buffers.

    ``runs``: the shape of a batch of runs stepped together (each metric then has this shape,
    and every run is monitored and frozen on its own; ``freeze`` must broadcast ``ok``).
    """
    if freeze is None:
        def freeze(ok, new, old, t):
            return jax.tree_util.tree_map(lambda n, o: jnp.where(ok, n, o), new, old)

    def body(carry, t):
        state, alive, threshold = carry
        new, metrics = step(state, t)
        loss = metrics[0]
        threshold = jnp.where(t == 0, factor * jnp.maximum(1.0, loss), threshold)
        ok = alive & (loss < threshold)
        for m in metrics:
            ok = ok & jnp.isfinite(m)
        state = freeze(ok, new, state, t)
        metrics = tuple(jnp.where(ok, m, jnp.inf) for m in metrics)
        return (state, ok, threshold), (metrics, ~ok)

    dtype = jnp.result_type(float)
    carry = (state, jnp.ones(runs, bool), jnp.full(runs, jnp.inf, dtype))
    (state, _, _), (metrics, diverged) = jax.lax.scan(body, carry, jnp.arange(steps))
    return state, metrics, diverged
