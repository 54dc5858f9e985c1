"""Snakemake adapter: simulate one run (all seeds and its eta0 grid) into a tidy table."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline  # noqa: E402


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    run = pipeline.Run.from_params(sm.params.run)
    table = pipeline.simulate_run(
        run, seed=sm.params.seed, dtype=sm.params.dtype, log=lambda m: print(m, file=sys.stderr)
    )
    pipeline.write_table(table, sm.output[0])


main(snakemake)  # noqa: F821
