"""Snakemake adapter: F2 of Terjek 2025 (reconstruction) for one learning-rate schedule."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

from dlndyn.core.train import use_compile_cache  # noqa: E402
from dlndyn.terjek25 import pipeline  # noqa: E402

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_compile_cache(sm.params.cache)
pipeline.f2_job(sm.params.block, sm.wildcards.t25sched, sm.params.seed, sm.params.dtype,
                sm.output.steps, sm.output.layers)
