"""Argument checks shared by the public functions (no JAX)."""

from __future__ import annotations

ACTIVATIONS = ("linear", "relu")
TASKS = ("factorization", "whitened", "nonwhitened")


def positive(name: str, value) -> float:
    if not value > 0:
        raise ValueError(f"{name}={value!r}: must be > 0")
    return float(value)


def count(name: str, value, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name}={value!r}: must be an integer >= {minimum}")
    return int(value)


def rank(name: str, value, width: int, width_name: str) -> int:
    """A rank r with 1 <= r and 2 r < width (the passive block d - 2r must be non-empty)."""
    value = count(name, value)
    if not 2 * value < width:
        raise ValueError(f"{name}={value!r}: must be < {width_name}/2 = {width / 2:g}")
    return value


def observed(value) -> float:
    if value is None:
        return 1.0
    if not 0 < value <= 1:
        raise ValueError(f"observed={value!r}: must be in (0, 1] (or None for all entries)")
    return float(value)


def choice(name: str, value, options):
    if value not in options:
        raise ValueError(f"{name}={value!r}: must be one of {options}")
    return value


def fraction(name: str, value) -> float:
    if not 0 <= value < 1:
        raise ValueError(f"{name}={value!r}: must be in [0, 1)")
    return float(value)


def nonnegative(name: str, value) -> float:
    if not value >= 0:
        raise ValueError(f"{name}={value!r}: must be >= 0")
    return float(value)
