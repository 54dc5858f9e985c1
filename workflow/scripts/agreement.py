"""Snakemake adapter: theory vs simulation agreement table of one figure."""
import sys

import pandas as pd

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    sim, th = pipeline.read_tables(sm.input.sim), pipeline.read_tables(sm.input.theory)
    parts = []
    for panel, kind in sm.params.kinds.items():
        part = pipeline.agreement(sim[sim.panel == panel], th[th.panel == panel], kind)
        if not part.empty:
            parts.append(part.assign(kind=kind))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["panel", "curve", "quantity", "n_points", "rel_err_mean", "kind"]
    )  # a theory-only figure
    print(table.to_string(index=False), file=sys.stderr)
    pipeline.write_table(table, sm.output[0])


main(snakemake)  # noqa: F821
