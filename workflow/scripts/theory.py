"""Snakemake adapter: solve the DMFT of one run into a tidy table."""
import sys

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    run = pipeline.Run.from_params(sm.params.run)
    table = pipeline.theory_run(run, log=lambda m: print(m, file=sys.stderr))
    pipeline.write_table(table, sm.output[0])


main(snakemake)  # noqa: F821
