"""Design expansion shared by the papers: sweeps over config values, canonical names, grids."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np


def format_value(v) -> str:
    """Canonical text of a swept value, used in file names (0.5 -> '0.5', 2.0 -> '2',
    [0.5, 2.0] -> '(0.5,2)')."""
    if isinstance(v, (list, tuple)):
        return "(" + ",".join(format_value(x) for x in v) + ")"
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def grid(spec) -> tuple | None:
    """A list of numbers, or ``{min, max, num}`` for a geometric grid (6 significant digits)."""
    if spec is None:
        return None
    if isinstance(spec, dict):
        points = np.geomspace(spec["min"], spec["max"], int(spec["num"]))
        return tuple(float(f"{x:.6g}") for x in points)
    return tuple(float(x) for x in spec)


def product(vary: dict) -> list[dict]:
    """Every point of the product of the swept values, as dicts in the order of ``vary``."""
    return [dict(zip(vary, values)) for values in itertools.product(*vary.values())]


def digest(obj, length: int = 12) -> str:
    """Short stable hash of a JSON-able object: the identity of a computation in file names."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
