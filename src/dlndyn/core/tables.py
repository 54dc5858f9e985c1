"""Tidy tables and atomic writes: a killed job never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd

FILE_MODE = 0o644  # outputs readable by the group, as any other file a job writes


@contextlib.contextmanager
def atomic_path(path):
    """Yield a unique temporary path beside ``path``; rename it into place on success.

    The temporary name is unique per call, so two jobs writing the same output never race on
    it; on an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_table(df: pd.DataFrame, path) -> None:
    """Write a table atomically, parquet or csv by the suffix of ``path``."""
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".csv":
            df.to_csv(tmp, index=False, float_format="%.6g")
        else:
            df.to_parquet(tmp, index=False)


class UnreadableTableError(RuntimeError):
    """An input table exists but cannot be read (truncated or corrupt)."""


def read_table(path) -> pd.DataFrame:
    """Read one parquet or csv table.

    A table that exists but cannot be read (truncated or corrupt: the pipeline's own writes are
    atomic, so damage comes from outside) is moved aside to ``<name>.corrupt`` and an error
    naming both is raised. The table is then missing; the job that failed keeps its previous
    outputs, so Snakemake sees them up to date until that job is forced (``--forcerun RULE``),
    which rebuilds the table first.
    """
    path = Path(path)
    try:
        return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as err:  # pyarrow and pandas raise many types for a damaged file
        if not path.is_file():
            raise
        aside = path.with_name(path.name + ".corrupt")
        os.replace(path, aside)
        raise UnreadableTableError(
            f"cannot read {path} ({type(err).__name__}: {err}); moved it to {aside}: rerun the "
            f"same snakemake command adding --forcerun with the name of the rule that failed, "
            f"which rebuilds the table"
        ) from err


def read_tables(paths, columns=()) -> pd.DataFrame:
    """Concatenate tables (an empty table with ``columns`` when there are none)."""
    tables = [read_table(p) for p in paths]
    if not tables:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(tables, ignore_index=True)
