"""Snakemake adapter: write a figure's experimental design (one row per run, with its job keys)."""
import sys

from dlndyn.bordelon25 import pipeline
from dlndyn.core.tables import write_table

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
runs = [pipeline.Run.from_params(p) for p in sm.params.runs]
write_table(pipeline.design_table(runs, seed=sm.params.seed, dtype=sm.params.dtype), sm.output[0])
