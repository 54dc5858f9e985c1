"""dlndyn: training dynamics of deep linear networks, finite-width simulation beside DMFT theory.

>>> from dlndyn import Setting, simulate, theory
>>> s = Setting(L=2, nu=2.0, alpha=1.5, gamma0=1.0, eta0=0.15, T=50)
>>> theory(s)                    # infinite width: step, train_loss, test_loss, diverged
>>> simulate(s, D=256, seeds=8)  # finite width: seed, step, train_loss, test_loss, diverged
"""

from .dmft import DMFTConvergenceError, solve, theory
from .engine import simulate
from .setting import Setting

__all__ = ["Setting", "simulate", "theory", "solve", "DMFTConvergenceError"]
__version__ = "0.1.0"
