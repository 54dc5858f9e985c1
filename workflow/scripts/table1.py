"""Snakemake adapter: measure Table 1 (wall time of theory vs simulation) on this machine."""
import os
import sys

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # jobs may share one GPU

import _src  # noqa: F401, E402  (puts this checkout's src/ first on sys.path)
from dlndyn import Setting, pipeline, plotting, timing  # noqa: E402


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    cfg = sm.params.table1
    table = timing.table1(Setting(**cfg["base"]), cfg["D"], cfg["sweeps"], cfg.get("seeds", 1),
                          log=lambda m: print(m, file=sys.stderr, flush=True))
    pipeline.write_table(table, sm.output.csv)
    plotting.plot_table1(table, [sm.output.pdf, sm.output.png])


main(snakemake)  # noqa: F821
