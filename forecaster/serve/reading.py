"""Reading and checking a user's file for a run: its column map, process and models.

The file is read with the run's column map and process definition
(:func:`forecaster.data.io.read_table`), so ranges and units are the run's and every
message names the user's columns. The table's ``attrs`` (each batch's first timestamp when
the time column held dates) are kept on the validated table, so outputs can give dates back.
"""

from __future__ import annotations

import os

import pandas as pd

from forecaster import schema
from forecaster.data import local_time
from forecaster.data.errors import EmptyColumnError, MissingColumnError, combine
from forecaster.data.process import known_variable
from forecaster.data.validate import is_blank, validate_table

#: Fewest rows (hours of hourly data) a batch needs before it is predicted. Below six
#: hourly rows the recurrent state has seen too little to say anything, and no assay after
#: inoculation exists yet.
MIN_ROWS = 6


def check_columns(run, table: pd.DataFrame, source: str) -> None:
    """Table-level checks: every variable the models use is present and not entirely empty.

    The process's product may be empty: a product measured only at harvest has no value
    in a running batch.

    Raises:
        MissingColumnError: with the closest column name and how to train without it.
        EmptyColumnError: a used column holds no value at all.
    """
    cmap = run.column_map
    for v in run.required:
        theirs = cmap.source_name(v)
        if v not in table.columns:
            raise MissingColumnError(
                v,
                available=[c for c in table.columns if c not in schema.VARIABLE_NAMES],
                file=source,
                looked_for=theirs if theirs != v else None,
                hint=f"the run's models use {v}; add the column, map one to it in data.column_map, "
                f"or retrain without it (model.exclude_inputs: [{v}] and anomaly.autoencoder.exclude: [{v}])",
            )
        product = getattr(getattr(run, "process", None), "product", None)
        if v != product and is_blank(table[v]).all():
            raise EmptyColumnError("the column has no values", file=source, column=theirs)


def _role(run, var: str) -> str:
    try:
        return known_variable(var, run.process).role
    except Exception:  # a model variable outside the process (older runs): assume dense
        return schema.variable(var).role if var in schema.VARIABLE_NAMES else "online"


def validate_for_run(run, table: pd.DataFrame, source: str, strict: bool = False):
    """Check a canonical table against what the run's models need; returns a ValidationReport."""
    check_columns(run, table, source)
    dense = [v for v in run.required if _role(run, v) != "offline"]
    report = validate_table(table, source=source, required=dense, min_rows=MIN_ROWS,
                            strict=strict, process=run.process, column_map=run.column_map)  # fmt: skip
    report.table.attrs.update(table.attrs)
    gaps = table.attrs.get(local_time.GAP_BATCHES, [])  # batches left out by the reader
    if gaps and strict:
        raise combine(gaps, what="problems in the file", file=source)
    report.problems[:0] = gaps
    return report


def read_for_run(run, path: str | os.PathLike, strict: bool = False):
    """Read a user's file through the run's column map and validate it (ValidationReport)."""
    return validate_for_run(run, read_run_table(run, path, strict), str(path), strict=strict)


def read_run_table(run, path: str | os.PathLike, strict: bool = True) -> pd.DataFrame:
    """The user's file as a canonical table, read with the run's column map and process.

    Not ``strict``: a batch with local times in a spring-forward gap is left out and its
    problem kept in ``attrs`` (reported by :func:`validate_for_run`).
    """
    from forecaster.data.io import read_table

    return read_table(path, run.column_map, process=run.process, strict=strict)
