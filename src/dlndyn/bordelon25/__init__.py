"""Bordelon & Pehlevan 2025 (arXiv 2502.02531): deep linear network training dynamics from
random initialisation, finite networks beside the infinite-width DMFT (docs/bordelon25.md).

* :mod:`.setting`, :mod:`.conventions`: the model's ratios and conventions (no JAX);
* :mod:`.sim`: finite networks in JAX (rank-one engine, residual step, autodiff reference);
* :mod:`.theory`: the DMFT in numpy; :func:`.theory.solve.theory` dispatches between solvers;
* :mod:`.pipeline`, :mod:`.plotting`, :mod:`.timing`: config to tables, figures, Table 1.

The simulation never imports the theory and the theory never imports JAX.
"""

from __future__ import annotations

from ..core.lazy import lazy_exports

_EXPORTS = {
    "Setting": "setting",
    "spectrum": "setting",
    "simulate": "sim.engine",
    "theory": "theory.solve",
    "solve": "theory.solve",
    "DMFTConvergenceError": "theory.dmft",
}

__all__ = list(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
