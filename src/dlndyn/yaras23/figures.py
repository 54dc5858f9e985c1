"""One computation per figure: a figure's config block -> named tidy tables.

The rules ``yaras23_compute_<kind>`` call :func:`compute` and write each table to
``{results}/yaras23/<fig>/<name>.parquet``; the plot job reads them back (restyling a figure
reruns nothing). Which tables a figure writes is :data:`TABLES`. Imports JAX lazily (through
:mod:`.api`), so listing the tables costs nothing.
"""

from __future__ import annotations

import itertools

import pandas as pd

KINDS = {
    **{f: "svd" for f in ("f1", "f2", "f3", "f4")},
    **{f: "separation" for f in ("f5", "f6", "f7", "f8")},
    "f9": "compression", "f10": "compression",
    "f11": "depth_width", "f12": "compressed_vs_narrow",
}

TABLES = {
    "svd": ("singular_values", "angles", "summary", "rho"),
    "separation": ("layers",),
    "compression": ("curve", "trajectory"),
    "depth_width": ("runs",),
    "compressed_vs_narrow": ("runs",),
}


def kind(fig: str) -> str:
    if fig not in KINDS:
        raise ValueError(f"fig={fig!r}: must be one of {sorted(KINDS)}")
    return KINDS[fig]


def tables(fig: str):
    """Names of the tables figure ``fig`` writes."""
    return TABLES[kind(fig)]


def compute(fig: str, cfg: dict, seed: int = 0) -> dict:
    """The tables of figure ``fig`` from its config block ``cfg`` (docs/yaras23.md, "Figures")."""
    from . import api

    k = kind(fig)
    if k == "svd":
        out = api.svd_dynamics(cfg["d"], cfg["r"], cfg["L"], cfg["eps"], cfg["eta"],
                               cfg["steps"], seed, task=cfg["task"], init=cfg["init"],
                               momentum=cfg["momentum"], samples=cfg["samples"])
        return {name: out[name] for name in TABLES[k]}
    if k == "separation":
        frames = []
        for L, act, init, eps in itertools.product(cfg["depths"], cfg["activations"],
                                                   cfg["inits"], cfg["epsilons"]):
            tol = cfg["tol"][act] if isinstance(cfg["tol"], dict) else cfg["tol"]
            df = api.separation(cfg["K"], cfg["n"], L, eps, cfg["eta"], act, tol, seed,
                                init=init, max_steps=cfg["max_steps"],
                                fit_layers=_fit_layers(L, cfg["fit"]))
            frames.append(df.assign(depth=L, activation=act, init=init, eps=eps, tol=tol,
                                    fit=cfg["fit"]))
        return {"layers": pd.concat(frames, ignore_index=True)}
    if k == "compression":
        eta = cfg["eta"]
        if eta is None:
            eta = _step_rule(cfg, seed)
        out = api.compare(cfg["d"], cfg["r"], cfg["L"], cfg["eps"], eta, cfg["steps"],
                          cfg["rank"], cfg["gammas"], cfg["observed"], seed, tol=cfg["tol"],
                          block=cfg["block"],
                          pca=(cfg["pca_checkpoints"], cfg["pca_components"]))
        return {"curve": out["curve"].assign(eta=eta, eps=cfg["eps"], d=cfg["d"]),
                "trajectory": out["trajectory"]}
    if k == "depth_width":
        runs = api.depth_width(cfg["d"], cfg["r"], cfg["observed"], cfg["eps"], cfg["depths"],
                               cfg["etas"], cfg["widths"], cfg["trials"], cfg["tol"],
                               cfg["max_steps"], cfg["block"], seed)
        return {"runs": runs.assign(d=cfg["d"], block=cfg["block"])}
    runs = api.compressed_vs_narrow(cfg["d"], cfg["r"], cfg["observed"], cfg["L"], cfg["eps"],
                                    cfg["eta"], cfg["ranks"], cfg["trials"], cfg["tol"],
                                    cfg["max_steps"], cfg["gamma"], cfg["block"], seed)
    return {"runs": runs.assign(d=cfg["d"], block=cfg["block"])}


def _fit_layers(L: int, fit: str):
    """Layers of the geometric fit: "all" (0..L-1) or "head" (0..L-3, at least two)."""
    if fit == "all":
        return None
    if fit == "head":
        return list(range(max(2, L - 2)))
    raise ValueError(f"fit={fit!r}: must be 'all' or 'head'")


def _step_rule(cfg, seed):
    from . import api, data
    from ..core.train import precision

    p = 1.0 if cfg["observed"] is None else cfg["observed"]
    with precision("float64"):
        phi, _ = api._matrix_problem(cfg["d"], cfg["r"], p, seed)
    return data.step_rule(phi, cfg["L"], p)


def write_tables(fig: str, cfg: dict, seed: int, paths) -> None:
    """Compute figure ``fig`` (float64) and write its tables to ``paths`` (order of
    :func:`tables`)."""
    from ..core.tables import write_table
    from ..core.train import precision

    with precision("float64"):
        out = compute(fig, cfg, seed)
    for name, path in zip(tables(fig), paths, strict=True):
        write_table(out[name], path)
