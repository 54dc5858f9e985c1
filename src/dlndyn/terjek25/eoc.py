"""The edge of chaos (EOC) from mean-field signal propagation (numpy/scipy only; no JAX).

A random MLP with weights of variance sigma_w2 / fan_in and biases of variance sigma_b2 maps the
second moment q of a preactivation to (docs/terjek25.md, section "Equations")

    q_{l+1} = V(q_l) = sigma_w2 * E_z[phi(sqrt(q_l) z)^2] + sigma_b2,         z ~ N(0, 1),

and multiplies small perturbations of a preactivation by chi_1 = sigma_w2 * E_z[phi'(sqrt(q*) z)^2]
at the fixed point q* = V(q*). The EOC is chi_1 = 1. :func:`critical_point` finds it by
Gauss-Hermite quadrature and root finding (no table). The expectations use an even number of
nodes, symmetric about 0 and none at 0: for the piecewise-linear activations (ReLU, linear) the
symmetrised integrand is then a polynomial of degree 2 and the quadrature is exact, so ReLU's
critical point comes out as 2 and linear's as 1 to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

QUADRATURE_NODES = 200  # even: no node at the kink z = 0 (see the module docstring)


@dataclass(frozen=True)
class Activation:
    name: str
    phi: callable
    dphi: callable
    homogeneous: bool  # phi(a z) = a phi(z) for a > 0: V is linear in q and chi_1 free of q


ACTIVATIONS = {
    "tanh": Activation("tanh", np.tanh, lambda z: 1.0 / np.cosh(z) ** 2, False),
    "relu": Activation("relu", lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float),
                       True),
    "linear": Activation("linear", lambda z: z, lambda z: np.ones_like(z), True),
}


def activation(name) -> Activation:
    """The activation called ``name``, else a ValueError naming it and the choices."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r}: must be one of {tuple(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _check_nonnegative(name, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: must be a finite number >= 0") from None
    if isinstance(value, bool) or not math.isfinite(x) or x < 0:
        raise ValueError(f"{name}={value!r}: must be a finite number >= 0")
    return x


@lru_cache(maxsize=None)
def _nodes(n: int = QUADRATURE_NODES):
    z, w = np.polynomial.hermite_e.hermegauss(n)  # weight exp(-z^2 / 2)
    return z, w / np.sqrt(2.0 * np.pi)


def gaussian_expectation(f, q: float) -> float:
    """E_z[f(sqrt(q) z)] for z ~ N(0, 1), by Gauss-Hermite quadrature."""
    z, w = _nodes()
    return float(np.dot(w, f(np.sqrt(q) * z)))


def variance_map(name, sigma_w2: float, sigma_b2: float, q: float) -> float:
    """V(q) = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2."""
    act = activation(name)
    return sigma_w2 * gaussian_expectation(lambda x: act.phi(x) ** 2, q) + sigma_b2


def chi1(name, sigma_w2: float, q: float) -> float:
    """chi_1 = sigma_w2 E[phi'(sqrt(q) z)^2], the gain of a small perturbation at second moment q."""
    act = activation(name)
    return sigma_w2 * gaussian_expectation(lambda x: act.dphi(x) ** 2, q)


def fixed_point(name, sigma_w2: float, sigma_b2: float) -> float:
    """q* = V(q*) for a bounded activation (tanh), by Brent's method on V(q) - q.

    For sigma_b2 = 0 the fixed point is 0 in the ordered phase; the nonzero one is returned in
    the chaotic phase when it exists.
    """
    act = activation(name)
    if act.homogeneous:
        raise ValueError(f"activation={name!r}: V is linear in q; use critical_point")
    upper = sigma_w2 + sigma_b2 + 1.0  # V(q) <= sigma_w2 + sigma_b2 for |phi| <= 1
    lower = sigma_b2 if sigma_b2 > 0 else 1e-12
    g = lambda q: variance_map(name, sigma_w2, sigma_b2, q) - q  # noqa: E731
    if g(lower) <= 0:
        return 0.0
    return brentq(g, lower, upper, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)


def critical_point(activation_name, sigma_b2) -> tuple[float, float]:
    """(sigma_w2, q_star) on the edge of chaos: q* = V(q*) and chi_1(q*) = 1.

    * tanh: for sigma_b2 > 0 the root in sigma_w2 of chi_1(q*(sigma_w2)) = 1 (Brent's method, the
      fixed point by Brent's method inside); for sigma_b2 = 0 the EOC is sigma_w2 = 1/phi'(0)^2 = 1
      with q* = 0.
    * ReLU and linear (positively homogeneous): chi_1 = sigma_w2 E[phi'(z)^2] is free of q, so
      sigma_w2 = 1 / E[phi'(z)^2] (2 and 1); at that point V(q) = q + sigma_b2, so a fixed point
      exists only for sigma_b2 = 0, where every q is one and q* = 0 is reported.

    Raises ValueError naming a bad activation or sigma_b2, or a sigma_b2 with no EOC fixed point.
    """
    act = activation(activation_name)
    sigma_b2 = _check_nonnegative("sigma_b2", sigma_b2)
    if act.homogeneous:
        sigma_w2 = 1.0 / gaussian_expectation(lambda x: act.dphi(x) ** 2, 1.0)
        if sigma_b2 > 0:
            raise ValueError(
                f"sigma_b2={sigma_b2!r}: activation {act.name!r} has no finite fixed point on "
                f"the edge of chaos unless sigma_b2 = 0 (V(q) = q + sigma_b2 there)")
        return sigma_w2, 0.0
    if sigma_b2 == 0.0:
        return 1.0 / float(act.dphi(np.zeros(1))[0]) ** 2, 0.0

    def excess(sigma_w2):
        return chi1(act.name, sigma_w2, fixed_point(act.name, sigma_w2, sigma_b2)) - 1.0

    lo, hi = 1.0, 2.0
    if excess(lo) >= 0:
        raise ValueError(f"sigma_b2={sigma_b2!r}: chi_1 >= 1 already at sigma_w2 = 1")
    while excess(hi) < 0:
        lo, hi = hi, 2 * hi
        if hi > 1e6:
            raise ValueError(f"sigma_b2={sigma_b2!r}: no edge of chaos below sigma_w2 = 1e6")
    sigma_w2 = brentq(excess, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    return float(sigma_w2), float(fixed_point(act.name, sigma_w2, sigma_b2))


def variance_profile(name, sigma_w2: float, sigma_b2: float, q1: float, depth: int) -> np.ndarray:
    """Mean-field second moments q_1 ... q_depth of the hidden preactivations from q_1."""
    q = [float(q1)]
    for _ in range(depth - 1):
        q.append(variance_map(name, sigma_w2, sigma_b2, q[-1]))
    return np.array(q)
