"""Snakemake adapter: one summary table of a figure (agreement, optimal_lr or exponents)."""
import sys

from dlndyn.bordelon25 import summaries
from dlndyn.core.tables import write_table

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
table = summaries.figure_summary(sm.wildcards.summary, sm.params.figure, sm.input.design,
                                 sm.input.sim, sm.input.theory)
print(table.to_string(index=False), file=sys.stderr)
write_table(table, sm.output[0])
