"""Snakemake adapter: measure Table 1 (wall time of theory vs simulation) on this machine."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

from dlndyn.bordelon25 import timing  # noqa: E402
from dlndyn.core.plot import use_file_backend  # noqa: E402

sm = snakemake  # noqa: F821
sys.stderr = open(sm.log[0], "w")
use_file_backend()
timing.table1_files(sm.params.table1, sm.output.csv, [sm.output.pdf, sm.output.png],
                    log=lambda m: print(m, file=sys.stderr, flush=True))
