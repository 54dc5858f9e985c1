"""Snakemake adapter: run one simulation job (all seeds and its eta0 grid) into a tidy table."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

from dlndyn.bordelon25 import jobs  # noqa: E402
from dlndyn.core.tables import write_table  # noqa: E402
from dlndyn.core.train import use_compile_cache  # noqa: E402

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_compile_cache(sm.params.cache)  # equal shapes compile once across jobs
write_table(jobs.simulate(sm.params.job, log=lambda m: print(m, file=sys.stderr)), sm.output[0])
