"""dlndyn: training dynamics of deep linear networks, finite-width simulation beside DMFT theory.

>>> from dlndyn import Setting, simulate, theory
>>> s = Setting(L=2, nu=2.0, alpha=1.5, gamma0=1.0, eta0=0.15, T=50)
>>> theory(s)                    # infinite width: step, train_loss, test_loss, diverged
>>> simulate(s, D=256, seeds=8)  # finite width: seed, step, train_loss, test_loss, diverged

Power-law data and limits (spec section 7): the theory of ``simulate(p, D=256)`` is
``theory(p, modes=256)``; limits are values (``nu=float("inf")``, ``alpha_B=float("inf")``,
``gamma0=0``), solved by exact forward stepping:

>>> p = Setting(data="powerlaw", capacity=1.5, source=0.5, nu=float("inf"), alpha_B=float("inf"))
>>> exponent(physical_setting(p.replace(T=1001), 10**6, eta=0.05, gamma=3.0),
...          modes=10**6, bins=200)  # {"slope": -0.652, "predicted": -0.667, ...}
"""

from .dmft import DMFTConvergenceError, solve, theory
from .engine import simulate
from .powerlaw import exponent, fit_exponent, physical_setting, predicted_exponent
from .setting import Setting, spectrum

__all__ = ["Setting", "simulate", "theory", "solve", "DMFTConvergenceError", "spectrum",
           "exponent", "fit_exponent", "predicted_exponent", "physical_setting"]
__version__ = "0.1.0"
