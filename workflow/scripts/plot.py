"""Snakemake adapter: draw one figure from its design, simulation and theory tables."""
import sys

import pandas as pd

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline, plotting


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    plotting.plot_figure(
        sm.params.figure,
        pd.read_csv(sm.input.design),
        pipeline.read_tables(sm.input.sim),
        pipeline.read_tables(sm.input.theory),
        [sm.output.pdf, sm.output.png],
    )


main(snakemake)  # noqa: F821
