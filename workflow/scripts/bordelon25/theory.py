"""Snakemake adapter: solve one long theory job (the DMFT at each eta0 of its grid)."""
import os

# T x T matrices: one BLAS thread per job beats threads fighting over the cores.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from dlndyn.bordelon25 import jobs  # noqa: E402

sm = snakemake  # noqa: F821
jobs.write_theory(sm.params.job, sm.output[0], sm.log[0])
