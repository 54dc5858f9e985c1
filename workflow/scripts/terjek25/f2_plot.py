"""Snakemake adapter: F2 of Terjek 2025 (reconstruction): catapult numbers and figure."""
import sys

from dlndyn.core.plot import use_file_backend
from dlndyn.terjek25 import pipeline

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_file_backend()
pipeline.f2_outputs(sm.input.steps, sm.input.layers, [sm.output.pdf, sm.output.png],
                    sm.output.numbers)
