"""Shared test setup.

* Single-threaded BLAS: the DMFT solver does many small (T x T) dense products and solves.
  On a small shared machine a multi-threaded OpenBLAS spin-waits and one T=100 solve went from
  0.3 s to over 10 s; one thread is never slower at these sizes. Must be set before numpy is
  imported, hence at the top of conftest (only if the caller has not chosen otherwise).
* ``src`` on the path, so ``pytest`` works from a plain checkout without installing.
* ``x64``: turn on JAX float64 for one test and restore the previous value afterwards (the flag
  is process-global).
"""

import os
import sys
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

_SRC = Path(__file__).resolve().parents[1] / "src"
if str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def x64():
    previous = bool(jax.config.jax_enable_x64)
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)
