"""Snakemake adapter: solve one theory job (the DMFT at each eta0 of its grid) into a tidy table."""
import os
import sys

# T x T matrices are small: one BLAS thread per job beats threads fighting over the cores.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from dlndyn.bordelon25 import jobs  # noqa: E402
from dlndyn.core.tables import write_table  # noqa: E402

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
write_table(jobs.theory(sm.params.job, log=lambda m: print(m, file=sys.stderr)), sm.output[0])
