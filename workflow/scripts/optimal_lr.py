"""Snakemake adapter: the optimal learning rate of every eta0-sweep curve of one figure."""
import sys

import _src  # noqa: F401  (puts this checkout's src/ first on sys.path)
from dlndyn import pipeline


def main(sm):
    sys.stderr = open(sm.log[0], "w")
    runs = [pipeline.Run.from_params(p) for p in sm.params.runs]
    table = pipeline.optimal_lr(pipeline.read_tables(sm.input.sim), runs)
    print(table.to_string(index=False), file=sys.stderr)
    pipeline.write_table(table, sm.output[0])


main(snakemake)  # noqa: F821
