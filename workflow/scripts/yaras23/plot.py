"""Snakemake adapter: draw one yaras23 figure and write its checks table (reads tables only)."""
import sys

from dlndyn.core.plot import use_file_backend
from dlndyn.yaras23 import plotting

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_file_backend()
plotting.plot_files(sm.wildcards.y23fig, sm.params.cfg, list(sm.input.tables),
                    [sm.output.pdf, sm.output.png], sm.output.checks)
