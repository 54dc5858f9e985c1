"""Yaras, Wang, Hu, Zhu, Balzano & Qu 2023 (arXiv 2306.01154), "The Law of Parsimony in
Gradient Descent for Learning Deep Linear Networks" (docs/yaras23.md).

>>> from dlndyn import yaras23 as lop
>>> lop.invariance(d=30, r=3, L=3, eps=1.0, eta=1.0, steps=50, seed=0)      # F1-F4, C1-C3
>>> lop.separation(K=5, n=10, L=8, eps=0.5, eta=1.0, activation="linear")  # F5-F8, C10-C11
>>> lop.compression(d=60, r=2, L=3, eps=1e-2, eta=20.0, steps=4000, rank=2) # F9-F10, C4-C6

* :mod:`.data`, :mod:`.measure`, :mod:`.checks`: numpy only;
* :mod:`.train`, :mod:`.api`: JAX (float64), imported on first use of a name below;
* :mod:`.figures`: one computation per figure (config block -> tables), :mod:`.plotting`.

Importing this package loads no JAX and changes no global state.
"""

from __future__ import annotations

from ..core.lazy import lazy_exports

_EXPORTS = {
    "invariance": "api",
    "svd_dynamics": "api",
    "separation": "api",
    "compression": "api",
    "compare": "api",
    "compress": "api",
    "depth_width": "api",
    "compressed_vs_narrow": "api",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
