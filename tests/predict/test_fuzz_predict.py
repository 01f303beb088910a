"""Fuzz: no table, however broken, makes predict raise anything but a DataError."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecaster import schema
from forecaster.data.errors import DataError
from forecaster.serve.predict import predict_table

CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.floats(min_value=0, max_value=50, width=32),
    st.sampled_from(["", "NA", "n.d.", "7,1", "1e400", "-", " 3 ", "2024-01-01 08:00", "\n"]),
    st.none(),
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


def _predict(loaded_run, write) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.csv"
        write(path)
        try:
            res = predict_table(loaded_run, path, attributions=False, progress=False)
        except DataError as err:
            assert "\n" not in str(err) and str(err)
            return
    # whatever was predicted is finite, and no batch is both predicted and skipped
    cols = ["last_time_h", "feed_next_mL_h", "harvest_titer_mg_L"]
    assert np.isfinite(res.predictions[cols].to_numpy(dtype=float)).all()
    assert not set(res.predictions[schema.BATCH_ID]) & {p.batch for p in res.problems}


@st.composite
def tables(draw, base: pd.DataFrame) -> pd.DataFrame:
    """A valid table with random damage: cells, dropped/renamed columns, shuffled rows."""
    t = base.copy()
    n_rows = draw(st.integers(0, len(t)))
    t = t.iloc[:n_rows].astype(object)
    for _ in range(draw(st.integers(0, 8))):
        if n_rows == 0:
            break
        col = draw(st.sampled_from(list(t.columns)))
        t.iloc[draw(st.integers(0, n_rows - 1)), t.columns.get_loc(col)] = draw(CELLS)
    if draw(st.booleans()):
        drop = draw(st.lists(st.sampled_from(list(t.columns)), max_size=2))
        t = t.drop(columns=list(set(drop)))
    if draw(st.booleans()) and len(t.columns):
        col = draw(st.sampled_from(list(t.columns)))
        t = t.rename(
            columns={col: draw(st.sampled_from([col.upper(), col + " ", "", "x", col[:-1]]))}
        )
    if draw(st.booleans()):
        t = t.sample(frac=1.0, random_state=draw(st.integers(0, 9)))
    return t


def test_fuzzed_tables_never_traceback(loaded_run, new_table):
    base = new_table[new_table[schema.BATCH_ID].isin(["B0000", "B0001"])]
    base = base[base[schema.TIME] <= 30].reset_index(drop=True)

    @SETTINGS
    @given(tables(base))
    def check(t):
        _predict(loaded_run, lambda p: t.to_csv(p, index=False))

    check()


def test_fuzzed_bytes_never_traceback(loaded_run):
    @SETTINGS
    @given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
    def check(data):
        _predict(loaded_run, lambda p: p.write_bytes(data))

    check()
