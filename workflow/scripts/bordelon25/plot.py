"""Snakemake adapter: draw one figure from its design, simulation and theory tables."""
import sys

from dlndyn.bordelon25 import plotting
from dlndyn.core.plot import use_file_backend

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_file_backend()
plotting.plot_figure_files(sm.params.figure, sm.input.design, sm.input.sim, sm.input.theory,
                           [sm.output.pdf, sm.output.png])
