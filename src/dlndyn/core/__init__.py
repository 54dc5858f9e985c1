"""Infrastructure shared by every paper: config validation, design expansion, tables and atomic
writes, plotting, data and (JAX) training utilities.

Only :mod:`dlndyn.core.train` imports JAX; the other modules load numpy, pandas, matplotlib or
jsonschema only, so theory, design, summary and plot jobs start fast.
"""
