"""dlndyn: the training dynamics of deep networks, paper by paper, simulation beside theory.

One package per paper (by citekey), on shared infrastructure in :mod:`dlndyn.core`:

* :mod:`dlndyn.bordelon25`: Bordelon & Pehlevan 2025, finite deep linear networks beside the
  infinite-width DMFT. Its main names are re-exported here:

  >>> from dlndyn import Setting, simulate, theory
  >>> s = Setting(L=2, nu=2.0, alpha=1.5, gamma0=1.0, eta0=0.15, T=50)
  >>> theory(s)                    # infinite width: step, train_loss, test_loss, diverged
  >>> simulate(s, D=256, seeds=8)  # finite width: seed, step, train_loss, test_loss, diverged

* :mod:`dlndyn.yaras23`: Yaras et al. 2023, the law of parsimony.
* :mod:`dlndyn.terjek25`: Terjek 2025, MLPs at the edge of chaos (a labelled reconstruction).

Importing ``dlndyn`` loads no JAX and changes no global state; names are resolved on first use.
"""

from __future__ import annotations

from .core.lazy import lazy_exports

# name -> module of the main paper that defines it (loaded on first access)
_EXPORTS = {
    "Setting": "bordelon25.setting",
    "spectrum": "bordelon25.setting",
    "simulate": "bordelon25.sim.engine",
    "theory": "bordelon25.theory.solve",
    "solve": "bordelon25.theory.solve",
    "DMFTConvergenceError": "bordelon25.theory.dmft",
    "exponent": "bordelon25.theory.powerlaw",
    "fit_exponent": "bordelon25.theory.powerlaw",
    "predicted_exponent": "bordelon25.theory.powerlaw",
    "physical_setting": "bordelon25.theory.powerlaw",
}

__all__ = list(_EXPORTS)
__version__ = "0.2.0"

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
