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

from ..core.lazy import lazy_exports

_EXPORTS = {
    "critical_point": "eoc",
    "Setup": "recon",
    "train": "training",
    "final_losses": "training",
    "sharpness": "training",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
