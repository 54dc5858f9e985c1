"""Snakemake adapter: F1 of Terjek 2025 (reconstruction): optimal-eta table and figure."""
import sys

from dlndyn.core.plot import use_file_backend
from dlndyn.terjek25 import pipeline

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_file_backend()
pipeline.f1_outputs(sm.params.block, sm.input.sweep, sm.input.profile,
                    [sm.output.pdf, sm.output.png], sm.output.numbers)
