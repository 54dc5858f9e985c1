"""Snakemake adapter: solve the DMFT of one run into a tidy table."""
import os
import sys

# T x T matrices are small: one BLAS thread per job beats threads fighting over the cores.
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline  # noqa: E402


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    run = pipeline.Run.from_params(sm.params.run)
    table = pipeline.theory_run(run, log=lambda m: print(m, file=sys.stderr))
    pipeline.write_table(table, sm.output[0])


main(snakemake)  # noqa: F821
