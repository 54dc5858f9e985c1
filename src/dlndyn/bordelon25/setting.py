"""The physical setting of one training run, in the proportional limit's ratios.

The model (docs/bordelon25.md, sections 1-2); the formulas of the conventions live in
:mod:`.conventions` only:

* ``L`` hidden layers of width ``N = nu * D``; ``L + 1`` weight matrices (W^0, W^1..W^{L-1}, w).
  ``nu`` may be a tuple (nu_1..nu_L), one width ratio per hidden layer (plain networks; the
  paper's App. F, reconstructed): each W^l is scaled by 1/sqrt(its fan-in) and ``N`` below is
  the LAST hidden width N_L (:func:`.conventions.readout_width`).
* readout multiplier ``sqrt(D) / (gamma N)``, learning rate ``eta = eta0 * gamma**2 * N``,
  loss ``(1/P) sum_mu (y_mu - f(x_mu))**2`` and gradient descent on half of it.
* ``gamma`` is the effective richness: ``gamma0`` under muP, ``gamma0 / sqrt(nu)`` under NTK.
* test loss ``|beta* - beta|^2 / D + sigma^2`` (the label noise counts); on power-law data
  ``sum_k lambda_k (beta*_k - beta_k)^2 / D + sigma^2`` (see :func:`spectrum`).
* limits are values: ``nu``, ``alpha``, ``alpha_B`` may be ``float("inf")`` (infinite width, full
  batch on infinite data, infinite batch) and ``gamma0=0`` is the lazy limit gamma0 -> 0 taken
  after nu -> inf (at finite width its initial output variance 1/(gamma^2 nu) is infinite).
  Only the theory accepts them; the simulation rejects them.
* ``kappa = C/D`` outputs (the paper's App. G, reconstructed; docs/bordelon25.md, section 11):
  C = max(1, round(kappa D)) channels with independent teachers, loss summed over outputs,
  test and train losses averaged over them, readout an N x C matrix
  (:func:`.conventions.output_channels`). kappa = 0 (default) is the single output.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

from ..core.data import power_law_spectrum
from .conventions import gamma_eff, output_channels, readout_width

PARAMS = ("mup", "ntk")
BRANCH_SCALES = ("inv_sqrt_L", "fixed")
DATA = ("isotropic", "powerlaw")

def spectrum(capacity: float, source: float, modes: int):
    """Power-law data on ``modes`` eigen-directions: (lambda_k, b_k) for k = 1..modes.

    x ~ N(0, diag(lambda)) with lambda_k ~ k^-capacity and mean 1; teacher beta*_k ~ N(0, b_k)
    with target power lambda_k b_k ~ k^-(capacity source + 1) and mean 1, so the signal part of
    the initial test loss is 1 as for isotropic data (docs/bordelon25.md, "Power-law data").
    With capacity = 0 every lambda_k = 1. The simulation uses modes = D, and so does the
    theory by default (``theory(s, modes=D)``).
    """
    return power_law_spectrum(capacity, source, modes)


@dataclass(frozen=True)
class Setting:
    """One training setting in the proportional limit's ratios.

    Args:
      L: number of hidden layers.
      nu: width ratio N/D, or a tuple (nu_1, ..., nu_L) of one ratio per hidden layer
        (plain networks only; finite; a tuple of equal entries is the scalar).
      alpha: data ratio P/D of the training set reused every step (full-batch GD).
      gamma0: richness (feature-learning strength).
      eta0: learning-rate prefactor; the raw learning rate is eta0 * gamma**2 * N.
      T: number of recorded steps (t = 0..T-1, t = 0 is the initial network).
      sigma: label-noise standard deviation.
      alpha_B: if set, one-pass SGD with a fresh batch of B = alpha_B*D points each step
        (``alpha`` is then unused).
      param: "mup" (gamma = gamma0) or "ntk" (gamma = gamma0/sqrt(nu)).
      residual: residual network (docs/bordelon25.md, section 5).
      beta0: residual branch multiplier (used only when ``residual``).
      branch_scale: "inv_sqrt_L" (branches scaled beta0/sqrt(L)) or "fixed" (beta0).
      data: "isotropic" (x ~ N(0, I), beta* ~ N(0, I)) or "powerlaw" (see :func:`spectrum`).
      capacity: capacity exponent a of power-law data, lambda_k ~ k^(-a) (used only then).
      source: source exponent b of power-law data, lambda_k beta*_k^2 ~ k^(-a b - 1).
      kappa: output ratio C/D; C = max(1, round(kappa D)) outputs (0: one output).

    ``nu``, ``alpha`` and ``alpha_B`` may be ``float("inf")`` and ``gamma0`` may be 0 (the lazy
    limit; needs ``nu=inf``): limits the theory solves exactly and the simulation rejects.
    """

    L: int = 1
    nu: float = 1.0
    alpha: float = 2.0
    gamma0: float = 1.0
    eta0: float = 0.1
    T: int = 50
    sigma: float = 0.0
    alpha_B: float | None = None
    param: str = "mup"
    residual: bool = False
    beta0: float = 1.0
    branch_scale: str = "inv_sqrt_L"
    data: str = "isotropic"
    capacity: float = 1.5
    source: float = 0.5
    kappa: float = 0.0

    def __post_init__(self) -> None:
        def bad(field: str, why: str) -> ValueError:
            return ValueError(f"Setting.{field}={getattr(self, field)!r}: {why}")

        for name in ("L", "T"):
            v = getattr(self, name)
            if not _is_number(v) or math.isinf(v) or not float(v).is_integer():
                raise bad(name, "must be an integer")
            object.__setattr__(self, name, int(v))
            if getattr(self, name) < 1:
                raise bad(name, "must be >= 1")
        if isinstance(self.nu, (tuple, list)):
            object.__setattr__(self, "nu", self._layer_ratios(bad))
        for name in ("nu", "alpha"):
            v = getattr(self, name)
            if name == "nu" and isinstance(v, tuple):
                continue
            if not _is_number(v) or not v > 0:
                raise bad(name, "must be a number > 0 (inf for the limit)")
        if not _is_number(self.gamma0) or not self.gamma0 >= 0 or math.isinf(self.gamma0):
            raise bad("gamma0", "must be a finite number >= 0")
        if self.gamma0 == 0 and not math.isinf(self.nu_L):
            raise bad("gamma0", "the lazy limit gamma0=0 needs nu=inf (at finite width the "
                      "initial output variance 1/(gamma^2 nu) is infinite)")
        if self.gamma0 == 0 and self.param == "ntk":
            raise bad("gamma0", "must be > 0 under NTK (its lazy limit is nu=inf at fixed gamma0; "
                      "gamma0=0 makes the initial output variance 1/gamma0^2 infinite)")
        for name in ("eta0", "sigma", "beta0", "capacity", "kappa"):
            v = getattr(self, name)
            if not _is_number(v) or not v >= 0 or math.isinf(v):
                raise bad(name, "must be a finite number >= 0")
        if not _is_number(self.source) or not self.source > 0 or math.isinf(self.source):
            raise bad("source", "must be a finite number > 0")
        if self.alpha_B is not None and (not _is_number(self.alpha_B) or not self.alpha_B > 0):
            raise bad("alpha_B", "must be None (full batch) or a number > 0 (inf for the limit)")
        if self.param not in PARAMS:
            raise bad("param", f"must be one of {PARAMS}")
        if self.branch_scale not in BRANCH_SCALES:
            raise bad("branch_scale", f"must be one of {BRANCH_SCALES}")
        if not isinstance(self.residual, bool):
            raise bad("residual", "must be True or False")
        if self.data not in DATA:
            raise bad("data", f"must be one of {DATA}")
        for name in ("nu", "alpha", "gamma0", "eta0", "sigma", "beta0", "capacity", "source",
                     "kappa"):
            if not isinstance(getattr(self, name), tuple):
                object.__setattr__(self, name, float(getattr(self, name)))  # numpy scalars too
        if self.alpha_B is not None:
            object.__setattr__(self, "alpha_B", float(self.alpha_B))

    def _layer_ratios(self, bad):
        """``nu`` given per hidden layer: a tuple of L finite floats, or one float if all equal."""
        ratios = self.nu
        if len(ratios) != self.L:
            raise bad("nu", f"a list needs one width ratio per hidden layer: {len(ratios)} "
                      f"given for L={self.L}")
        if not all(_is_number(v) and 0 < v < math.inf for v in ratios):
            raise bad("nu", "every per-layer width ratio must be a finite number > 0")
        ratios = tuple(float(v) for v in ratios)
        if len(set(ratios)) == 1:
            return ratios[0]
        if self.residual:
            raise bad("nu", "unequal widths are built for plain networks only (residual=True)")
        return ratios

    # --- derived quantities (the conventions above) ---
    @property
    def nus(self) -> tuple[float, ...]:
        """Width ratio of every hidden layer, nu_1..nu_L (all equal to ``nu`` when it is a number)."""
        return self.nu if isinstance(self.nu, tuple) else (self.nu,) * self.L

    @property
    def nu_L(self) -> float:
        """Width ratio of the last hidden layer: the one of the readout, learning rate and gamma."""
        return readout_width(self.nus)

    @property
    def gamma(self) -> float:
        """Effective richness used in the readout and learning rate."""
        return gamma_eff(self.gamma0, self.nu_L, self.param)

    @property
    def init_variance(self) -> float:
        """1/(gamma^2 nu): the initial output variance factor (0 at nu=inf under muP).

        Under NTK gamma^2 nu = gamma0^2 at every width, so it stays 1/gamma0^2 at nu=inf.
        """
        if self.param == "ntk":
            return 1.0 / self.gamma0**2
        return 0.0 if math.isinf(self.nu_L) else 1.0 / (self.gamma0**2 * self.nu_L)

    @property
    def branch(self) -> float:
        """Residual branch multiplier: beta0/sqrt(L) or beta0 (docs/bordelon25.md, section 5)."""
        return self.beta0 / math.sqrt(self.L) if self.branch_scale == "inv_sqrt_L" else self.beta0

    @property
    def online(self) -> bool:
        """One-pass SGD (fresh batch each step) instead of full-batch GD on reused data."""
        return self.alpha_B is not None

    def sizes(self, D: int) -> dict[str, int]:
        """Finite sizes at input dimension D: width N (the last hidden layer's), the widths Ns of
        the hidden layers 1..L, training set P (or batch B), outputs C."""
        if int(D) != D or D < 1:
            raise ValueError(f"D={D!r}: must be an integer >= 1")
        ratio = self.alpha_B if self.online else self.alpha
        for name, v in (("nu", self.nu_L), ("alpha_B" if self.online else "alpha", ratio)):
            if math.isinf(v):
                raise ValueError(f"Setting.{name}={v!r}: a finite network needs a finite "
                                 "value (inf is a limit only the theory takes)")
        Ns = tuple(max(1, round(nu * D)) for nu in self.nus)
        return {
            "D": int(D),
            "N": readout_width(Ns),
            "Ns": Ns,
            "P": max(1, round(ratio * D)),
            "C": output_channels(self.kappa, D),
        }

    def replace(self, **changes) -> Setting:
        return dataclasses.replace(self, **changes)

    def asdict(self) -> dict:
        return dataclasses.asdict(self)

    def table_fields(self) -> dict:
        """The fields as columns of a table: :meth:`asdict`, except that per-layer widths are
        ``nu`` = nu_L (a number, as in every other table) and ``nus`` = "nu_1,...,nu_L" (text;
        :meth:`from_table` reads it back)."""
        row = self.asdict()
        if isinstance(self.nu, tuple):
            row.update(nu=self.nu_L, nus=",".join(repr(v) for v in self.nu))
        return row

    @classmethod
    def from_table(cls, row) -> Setting:
        """The Setting of a table row (a dict) written with :meth:`table_fields`."""
        kw = {k: row[k] for k in cls.__dataclass_fields__}
        nus = row.get("nus")
        if isinstance(nus, str):
            kw["nu"] = tuple(float(v) for v in nus.split(","))
        return cls(**kw)


def _is_number(v) -> bool:
    """A real number, numpy scalars included; not a bool, a string or NaN."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)
