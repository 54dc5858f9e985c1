"""Lazy package exports: a package's names resolve on first use, so importing it loads nothing
heavy (no JAX) until a name that needs it is touched."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict):
    """(``__getattr__``, ``__dir__``) for a package whose ``exports`` map name -> submodule
    (relative to ``package``)."""

    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted([*importlib.import_module(package).__dict__, *exports])

    return __getattr__, __dir__
