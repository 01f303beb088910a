"""read_table / load_table on CSV and Parquet; atomic writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import (
    DuplicateColumnError,
    EmptyTableError,
    MissingColumnError,
    NonNumericError,
    NotATableError,
    UnknownUnitError,
)
from forecaster.data.io import (
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    load_table,
    read_table,
    write_table,
)

SITE_CSV = """Run,Time,Glucose (mmol/L),VCD,Operator
R2,0,30,500000,ann
R2,24,25,1000000,bob
R1,0,20,400000,ann
R1,12,,450000,ann
R1,24,10,800000,ann
"""

SITE_MAP = ColumnMap(
    columns={"Glucose (mmol/L)": "glucose_g_L", "VCD": "vcd_1e6_cells_mL"},
    units={"glucose_g_L": "mmol/L", "vcd_1e6_cells_mL": "cells/mL"},
    batch_id="Run",
    time="Time",
)


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_column_map_and_units(tmp_path):
    path = _write(tmp_path, "site.csv", SITE_CSV)
    table = read_table(path, SITE_MAP)
    assert list(table.columns) == [
        "batch_id",
        "time_h",
        "glucose_g_L",
        "vcd_1e6_cells_mL",
        "Operator",
    ]
    # sorted by batch (stable), index = 0-based data row of the file
    assert table["batch_id"].tolist() == ["R1", "R1", "R1", "R2", "R2"]
    assert table.index.tolist() == [2, 3, 4, 0, 1]
    np.testing.assert_allclose(table["glucose_g_L"], [3.6032, np.nan, 1.8016, 5.4048, 4.504])
    np.testing.assert_allclose(table["vcd_1e6_cells_mL"], [0.4, 0.45, 0.8, 0.5, 1.0])
    assert table["Operator"].tolist() == ["ann", "ann", "ann", "ann", "bob"]


def test_column_map_as_plain_dict(tmp_path):
    path = _write(tmp_path, "site.csv", SITE_CSV)
    table = read_table(path, SITE_MAP.to_dict())
    pd.testing.assert_frame_equal(table, read_table(path, SITE_MAP))


def test_parquet_equals_csv(tmp_path):
    csv = read_table(_write(tmp_path, "site.csv", SITE_CSV), SITE_MAP)
    raw = pd.read_csv(tmp_path / "site.csv")
    raw.to_parquet(tmp_path / "site.parquet")
    pq = read_table(tmp_path / "site.parquet", SITE_MAP)
    pd.testing.assert_frame_equal(csv, pq, check_dtype=False)


def test_numeric_batch_ids_read_as_text(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id,time_h\n007,0\n007,1\n12,0\n")
    assert read_table(path)["batch_id"].tolist() == ["007", "007", "12"]
    pd.DataFrame({"batch_id": [1.0, 2.0], "time_h": [0.0, 0.0]}).to_parquet(tmp_path / "f.pq")
    assert read_table(tmp_path / "f.pq")["batch_id"].tolist() == ["1", "2"]


def test_timestamps_become_hours_since_batch_start(tmp_path):
    text = (
        "batch_id,stamp\n"
        "A,2024-03-01 08:00\nA,2024-03-01 20:00\nA,2024-03-02 08:30\n"
        "B,2024-05-10 00:00\nB,2024-05-10 06:00\n"
    )
    cmap = ColumnMap(time="stamp", time_unit="timestamp")
    table = read_table(_write(tmp_path, "t.csv", text), cmap)
    assert table["time_h"].tolist() == [0.0, 12.0, 24.5, 0.0, 6.0]


def test_time_in_minutes(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id,minutes\nA,0\nA,90\n")
    table = read_table(path, ColumnMap(time="minutes", time_unit="min"))
    assert table["time_h"].tolist() == [0.0, 1.5]


def test_semicolon_and_decimal_comma(tmp_path):
    path = _write(tmp_path, "eu.csv", "batch_id;time_h;glucose_g_L\nA;0;4,5\nA;1,5;3.25\n")
    table = read_table(path)
    assert table["time_h"].tolist() == [0.0, 1.5]
    assert table["glucose_g_L"].tolist() == [4.5, 3.25]


def test_header_spaces_stripped_and_blank_lines_skipped(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id , time_h\nA,0\n\n,\nA,1\n")
    table = read_table(path)
    assert table["time_h"].tolist() == [0.0, 1.0]
    assert table.index.tolist() == [0, 3]  # line numbers stay right: 2 and 5


@pytest.mark.parametrize("encoding", ["latin-1", "utf-16", "utf-8-sig"])
def test_windows_encodings(tmp_path, encoding):
    path = tmp_path / "t.csv"
    path.write_bytes("batch_id,time_h,T (°C)\nA,0,36.5\n".encode(encoding))
    table = read_table(path, ColumnMap(columns={"T (°C)": "temperature_C"}))
    assert table["temperature_C"].tolist() == [36.5]


def test_rows_wider_than_header(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id,time_h\nA,0,5\nA,1,6\n")
    with pytest.raises(NotATableError, match="more fields than the header"):
        read_table(path)
    path = _write(tmp_path, "t.csv", "batch_id,time_h\nA,0\nA,1,7.0,2\n")
    with pytest.raises(NotATableError, match="line 3, saw 4"):
        read_table(path)
    path = _write(tmp_path, "t.csv", "batch_id,time_h\nA,0,\nA,1,\n")  # trailing commas: fine
    assert read_table(path)["time_h"].tolist() == [0.0, 1.0]


def test_unknown_extension_read_by_content(tmp_path):
    path = _write(tmp_path, "export.dat", "batch_id,time_h\nA,0\n")
    assert len(read_table(path)) == 1
    pd.DataFrame({"batch_id": ["A"], "time_h": [0.0]}).to_parquet(tmp_path / "x.bin")
    assert len(read_table(tmp_path / "x.bin")) == 1


def test_non_numeric_cells_kept_for_validation(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id,time_h,glucose_g_L\nA,0,4\nA,1,n.d.x\nB,0,3\n")
    table = read_table(path)
    assert table["glucose_g_L"].tolist()[1] == "n.d.x"
    with pytest.raises(NonNumericError) as info:
        load_table(path)
    assert str(info.value) == (
        f"{path}: batch A, column glucose_g_L, line 3: value 'n.d.x' is not a number"
    )
    report = load_table(path, strict=False)
    assert report.table["batch_id"].tolist() == ["B"]
    assert report.skipped == ["A"]


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        (b"", EmptyTableError, "empty"),
        (b"batch_id,time_h\n", EmptyTableError, "no data rows"),
        (b"batch_id,time_h\n,\n\n", EmptyTableError, "no data rows"),
        (b"\x00\x01\x02\xff\xfe garbage \x00", NotATableError, "binary"),
        (b"PK\x03\x04 zipped workbook", NotATableError, "save the sheet as CSV"),
        (b"PAR1 not really parquet", NotATableError, "Parquet"),
        (b'a,b\n1,2\n"unclosed,3\n', NotATableError, "CSV"),
        (b"a,a\n1,2\n", DuplicateColumnError, "'a'"),
    ],
)
def test_bad_files(tmp_path, content, error, words):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    with pytest.raises(error) as info:
        read_table(path)
    assert str(info.value).startswith(str(path)) and words in str(info.value)


def test_parquet_extension_with_text_content(tmp_path):
    path = _write(tmp_path, "t.parquet", "batch_id,time_h\nA,0\n")
    with pytest.raises(NotATableError, match="not a Parquet file"):
        read_table(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "nope.csv")


def test_misspelt_mapped_column_suggests_file_name(tmp_path):
    path = _write(tmp_path, "site.csv", SITE_CSV)
    cmap = ColumnMap(columns={"Glucose (mmol/l) ": "glucose_g_L"}, batch_id="Run", time="Time")
    cmap.columns = {"Glucose mmol": "glucose_g_L"}
    with pytest.raises(MissingColumnError) as info:
        read_table(path, cmap, required=["glucose_g_L"])
    msg = str(info.value)
    assert "'Glucose mmol'" in msg and "did you mean 'Glucose (mmol/L)'?" in msg


def test_missing_key_without_map_suggests(tmp_path):
    path = _write(tmp_path, "t.csv", "Batch ID,time_h\nA,0\n")
    with pytest.raises(MissingColumnError, match="did you mean 'Batch ID'"):
        read_table(path)


def test_mapped_and_canonical_column_both_present(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id,time_h,Glc,glucose_g_L\nA,0,1,2\n")
    with pytest.raises(DuplicateColumnError, match="'Glc'"):
        read_table(path, ColumnMap(columns={"Glc": "glucose_g_L"}))


def test_unknown_unit_names_file(tmp_path):
    path = _write(tmp_path, "t.csv", "batch_id,time_h,ph\nA,0,7\n")
    cmap = ColumnMap(units={"glucose_g_L": "g/L"})
    cmap.units["glucose_g_L"] = "grams"
    with pytest.raises(UnknownUnitError, match="grams"):
        read_table(path, cmap)


def test_resample_on_read(tmp_path):
    rows = "\n".join(f"A,{m / 60:.6f},{36 + m / 100:.2f}" for m in range(0, 180, 10))
    path = _write(tmp_path, "t.csv", "batch_id,time_h,temperature_C\n" + rows + "\n")
    table = read_table(path, resample_h=1.0)
    assert table["time_h"].tolist() == [0.0, 1.0, 2.0, 3.0]
    report = load_table(path, resample_h=1.0, min_rows=5, strict=False)
    assert report.table.empty and report.skipped == ["A"]


def test_write_table_round_trip(tmp_path):
    table = pd.DataFrame({"batch_id": ["A", "A"], "time_h": [0.0, 1.0], "ph": [7.0, 7.1]})
    for name in ("out.csv", "out.parquet"):
        write_table(table, tmp_path / name)
        back = read_table(tmp_path / name)
        pd.testing.assert_frame_equal(back.reset_index(drop=True), table, check_dtype=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.parquet"]


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_atomic_write_replaces(tmp_path):
    target = tmp_path / "x.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]
