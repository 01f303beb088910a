"""Fuzz: no input file makes read_table + validate_table fail with anything but DataError.

Hypothesis writes random tables (random column names, mixed-type cells, NaN, infinities,
duplicated times, empty strings, zero rows or columns) as CSV and Parquet, plus garbage
bytes. Either a valid table comes back, or a DataError subclass is raised; a table that
comes back satisfies the batch-table contract.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecaster import schema
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import DataError
from forecaster.data.io import read_table
from forecaster.data.validate import validate_table

NAMES = st.one_of(
    st.sampled_from(
        [*schema.KEYS, "glucose_g_L", "ph", "titer_mg_L", "fault_label", "Glucose", "Run"]
    ),
    st.text(min_size=0, max_size=8),
)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
CELLS = st.one_of(
    FLOATS,
    st.integers(-(10**6), 10**6),
    st.sampled_from(["", " ", "NA", "-", "nan", "inf", "1e400", "7,5", "2024-01-01"]),
    st.text(max_size=6),
    st.none(),
)
KINDS = st.sampled_from(["float", "int", "str", "bool", "mixed"])


@st.composite
def tables(draw) -> tuple[list[str], list[str], list[list[object]]]:
    """(column names, column kinds, columns of cells)."""
    n_cols = draw(st.integers(0, 5))
    n_rows = draw(st.integers(0, 7))
    names = draw(st.lists(NAMES, min_size=n_cols, max_size=n_cols))
    if draw(st.booleans()) and n_cols >= 2:  # often give the keys, so validation is reached
        names[:2] = list(schema.KEYS)
    kinds, cols = [], []
    for _ in range(n_cols):
        kind = draw(KINDS)
        cell = {
            "float": FLOATS,
            "int": st.integers(-5, 500),
            "str": st.text(max_size=5),
            "bool": st.booleans(),
            "mixed": CELLS,
        }[kind]
        if draw(st.booleans()):  # few distinct values: duplicated times, repeated batch ids
            cell = st.sampled_from(draw(st.lists(cell, min_size=1, max_size=3)))
        kinds.append(kind)
        cols.append(draw(st.lists(cell, min_size=n_rows, max_size=n_rows)))
    return names, kinds, cols


def _write_csv(path: Path, names, kinds, cols) -> None:
    frame = pd.DataFrame({i: c for i, c in enumerate(cols)})
    frame.columns = names if names else frame.columns
    frame.to_csv(path, index=False)


def _write_parquet(path: Path, names, kinds, cols) -> None:
    arrays = []
    for kind, col in zip(kinds, cols):
        if kind == "float":
            arrays.append(pa.array(col, type=pa.float64()))
        elif kind == "int":
            arrays.append(pa.array(col, type=pa.int64()))
        elif kind == "bool":
            arrays.append(pa.array(col, type=pa.bool_()))
        else:
            arrays.append(pa.array([None if c is None else str(c) for c in col], pa.string()))
    fields = [pa.field(n, a.type) for n, a in zip(names, arrays)]
    pq.write_table(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), path)


def _check_contract(table: pd.DataFrame) -> None:
    """A table that passed validation is a proper batch table."""
    assert len(table) > 0
    assert table["batch_id"].map(lambda b: isinstance(b, str) and b.strip() != "").all()
    for _, g in table.groupby("batch_id"):
        t = g["time_h"].to_numpy(dtype=float)
        assert np.isfinite(t).all() and (np.diff(t) > 0).all()
    for col in table.columns:
        if col in schema.BY_NAME:
            v = table[col].to_numpy(dtype=float)
            var = schema.BY_NAME[col]
            ok = np.isnan(v) | ((v >= var.lo) & (v <= var.hi))
            assert ok.all(), col


def _read_and_validate(path: Path, cmap: ColumnMap | None = None) -> None:
    for strict in (True, False):
        try:
            table = read_table(path, cmap)
            report = validate_table(table, source=str(path), strict=strict)
        except DataError as err:
            text = str(err)
            assert "\n" not in text and text  # one line, never empty
            continue
        if len(report.table):
            _check_contract(report.table)
        assert len(report.problems) == len(set(report.skipped))


#: Examples per fuzz test; FUZZ_EXAMPLES=2000 for a deep run.
N_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=N_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(tables(), st.sampled_from(["t.csv", "t.parquet", "t.dat"]))
def test_random_tables(table, name):
    names, kinds, cols = table
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        if name.endswith(".parquet") or (name.endswith(".dat") and kinds and kinds[0] == "int"):
            try:
                _write_parquet(path, names, kinds, cols)
            except (pa.ArrowException, ValueError):
                return  # pyarrow cannot write this table (e.g. duplicate names); not our input
        else:
            _write_csv(path, names, kinds, cols)
        _read_and_validate(path)


@SETTINGS
@given(
    tables(),
    st.sampled_from(["mmol/L", "mg/dL", "g/L"]),
    st.sampled_from(["h", "min", "timestamp"]),
)
def test_random_tables_with_column_map(table, unit, time_unit):
    names, kinds, cols = table
    cmap = ColumnMap(
        columns={"Glucose": "glucose_g_L", "Run": "batch_id"},
        units={"glucose_g_L": unit},
        time_unit=time_unit,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.csv"
        _write_csv(path, names, kinds, cols)
        _read_and_validate(path, cmap)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["g.csv", "g.parquet", "g.pq", "g", "g.xlsx"]))
def test_garbage_bytes(data, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        _read_and_validate(path)
        path.write_bytes(b"PAR1" + data)  # looks like Parquet at first sight
        _read_and_validate(path)


def test_fuzz_reaches_valid_tables():
    """Guard against a fuzz that only ever exercises errors: a clean table passes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ok.csv"
        _write_csv(
            path, ["batch_id", "time_h", "ph"], ["str"] * 3, [["a", "a"], [0, 1], [7.0, math.nan]]
        )
        table = read_table(path)
        assert len(validate_table(table, source=str(path)).table) == 2
