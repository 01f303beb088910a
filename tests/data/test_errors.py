"""DataError messages: one line naming file, batch, column and rows; pickling; suggestions."""

from __future__ import annotations

import pickle

import pytest

from forecaster.data import errors
from forecaster.data.errors import (
    ChecksumError,
    ConfigError,
    DataError,
    MissingColumnError,
    RangeError,
    RunFolderError,
    UnknownUnitError,
    suggest,
)


def test_message_is_one_line_with_location_and_expectation():
    err = RangeError(
        "value -3.2 is outside the physical range",
        file="new_batches.csv",
        column="glucose_g_L",
        batch="B12",
        rows=[15, 16, 39],
        row_kind="line",
        expected="0 to 100 g/L",
    )
    assert str(err) == (
        "new_batches.csv: batch B12, column glucose_g_L, lines 15, 16, 39: "
        "value -3.2 is outside the physical range; expected 0 to 100 g/L"
    )


def test_rows_are_capped_and_counted():
    err = DataError("bad", rows=range(1, 10), n_rows=40)
    assert "rows 1, 2, 3, 4, 5 and 35 more: bad" in str(err)
    assert str(DataError("bad", rows=[7])) == "row 7: bad"


def test_newlines_in_values_never_break_the_line():
    err = DataError("value 'a\nb' is not a number", file="x.csv", column="c\nd")
    assert "\n" not in str(err)


def test_missing_column_suggests_closest_name():
    err = MissingColumnError(
        "glucose_g_L", available=["Run", "Glucose (g/L)", "Lactate (g/L)"], file="f.csv"
    )
    assert err.suggestions == ["Glucose (g/L)"]
    assert "did you mean 'Glucose (g/L)'?" in str(err)
    assert str(err).startswith("f.csv: column glucose_g_L:")


def test_missing_column_without_match_lists_columns():
    err = MissingColumnError("titer_mg_L", available=["a", "b"])
    assert "'a', 'b'" in str(err)


def test_unknown_unit_lists_known_units():
    err = UnknownUnitError("furlong", variable="volume_L", known=["L", "mL"])
    assert "unknown unit 'furlong'" in str(err)
    assert "expected one of L, mL" in str(err)


def test_hierarchy():
    assert issubclass(ChecksumError, RunFolderError)
    assert issubclass(RunFolderError, DataError)
    assert issubclass(ConfigError, DataError)
    names = [
        "EmptyTableError",
        "NotATableError",
        "MissingColumnError",
        "UnknownUnitError",
        "NonNumericError",
        "TimeOrderError",
        "RangeError",
        "EmptyColumnError",
        "ShortBatchError",
    ]
    for name in names:
        assert issubclass(getattr(errors, name), DataError)


@pytest.mark.parametrize(
    "err",
    [
        RangeError("x", file="f", column="c", batch="b", rows=[3], expected="0 to 1"),
        MissingColumnError("glucose_g_L", available=["Glucose"], file="f"),
        UnknownUnitError("u", variable="ph", known=["pH"]),
    ],
)
def test_pickle_keeps_attributes(err):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.file == err.file and back.rows == err.rows


def test_suggest_ignores_case_and_punctuation():
    assert suggest("Batch ID", ["batch_id", "time_h"]) == ["batch_id"]
    assert suggest("glucos_g_L", ["glucose_g_L", "lactate_g_L"]) == ["glucose_g_L"]
    assert suggest("zzz", ["glucose_g_L"]) == []
