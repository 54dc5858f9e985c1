"""Snakemake adapter: write a figure's experimental design table."""
import sys

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    runs = [pipeline.Run.from_params(p) for p in sm.params.runs]
    pipeline.write_table(pipeline.design_table(runs), sm.output[0])


main(snakemake)  # noqa: F821
