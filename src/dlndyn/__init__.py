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

import importlib

# name -> module of the main paper that defines it (loaded on first access)
_EXPORTS = {
    "Setting": "setting",
    "spectrum": "setting",
    "simulate": "sim.engine",
    "theory": "theory.solve",
    "solve": "theory.solve",
    "DMFTConvergenceError": "theory.dmft",
    "exponent": "theory.powerlaw",
    "fit_exponent": "theory.powerlaw",
    "predicted_exponent": "theory.powerlaw",
    "physical_setting": "theory.powerlaw",
}

__all__ = list(_EXPORTS)
__version__ = "0.2.0"


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".bordelon25.{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'dlndyn' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_EXPORTS])
