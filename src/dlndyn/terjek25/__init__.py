"""Terjek 2025, *MLPs at the EOC: Dynamics of Feature Learning* (arXiv 2502.13110), as a
LABELLED RECONSTRUCTION (docs/terjek25.md): only the paper's abstract was available, so the nuP
width rule, the update normalisation, the learning-rate schedule and the constants are documented
choices (:mod:`.recon`), not the paper's.

* :mod:`.eoc`: the edge of chaos, :func:`critical_point` (numpy/scipy);
* :mod:`.recon`: every reconstructed choice and the run :class:`Setup` (no JAX);
* :mod:`.data`: sklearn's bundled digits and a synthetic teacher (numpy);
* :mod:`.model`, :mod:`.training`: EOC MLPs and instrumented GD/SGD in JAX, :func:`train`;
* :mod:`.pipeline`, :mod:`.plotting`: config to tables and figures.

Importing this package loads no JAX; names resolve on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "critical_point": "eoc",
    "Setup": "recon",
    "train": "training",
    "final_losses": "training",
    "sharpness": "training",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
