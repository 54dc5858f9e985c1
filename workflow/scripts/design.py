"""Snakemake adapter: write a figure's experimental design table."""
import sys

from dlndyn import pipeline


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    runs = [pipeline.Run.from_params(p) for p in sm.params.runs]
    pipeline.write_table(pipeline.design_table(runs), sm.output[0])


main(snakemake)  # noqa: F821
