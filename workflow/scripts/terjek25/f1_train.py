"""Snakemake adapter: F1 of Terjek 2025 (reconstruction) for one parameterization."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

from dlndyn.core.train import use_compile_cache  # noqa: E402
from dlndyn.terjek25 import pipeline  # noqa: E402

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_compile_cache(sm.params.cache)
pipeline.f1_job(sm.params.block, sm.wildcards.t25par, sm.params.seed, sm.params.dtype,
                sm.output.sweep, sm.output.profile)
