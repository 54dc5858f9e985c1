"""Snakemake adapter: measured late-time exponents of a figure's exponent runs."""
import sys

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    runs = [pipeline.Run.from_params(p) for p in sm.params.runs]
    curves = [(r.panel, r.curve, r.setting) for r in runs if r.kind == "exponent"]
    table = pipeline.exponent_table(pipeline.read_tables(sm.input.theory), curves)
    print(table.to_string(index=False), file=sys.stderr)
    pipeline.write_table(table, sm.output[0])


main(snakemake)  # noqa: F821
