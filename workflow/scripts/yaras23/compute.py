"""Snakemake adapter: compute the tables of one yaras23 figure (JAX, float64)."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

from dlndyn.core.train import use_compile_cache  # noqa: E402
from dlndyn.yaras23 import figures  # noqa: E402

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_compile_cache(sm.params.cache)  # equal shapes compile once across jobs
figures.write_tables(sm.wildcards.y23fig, sm.params.cfg, sm.params.seed, list(sm.output))
