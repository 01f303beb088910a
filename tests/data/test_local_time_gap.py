"""Local times in the spring-forward gap cost their batch, not the whole file (unless strict).

Europe/Berlin 2026: clocks go forward on 29 March, 02:00 -> 03:00, so 02:15 and 02:45 do
not exist there. A file whose batch A holds them and whose batch B is clean:
not strict, A is dropped and reported (file, batch, time column, every gap row) and B is
read; strict, the file is refused with every problem at once.
"""

import pandas as pd
import pytest

from forecaster.data.errors import DataError, DataProblems, TimeOrderError
from forecaster.data.io import load_table, read_table
from forecaster.data.local_time import GAP_BATCHES, localize, localize_report

CMAP = {"batch_id": "Run", "time": "Timestamp", "time_unit": "timestamp",
        "time_zone": "Europe/Berlin", "columns": {"Titer": "titer_mg_L"}}  # fmt: skip
A = ["01:15", "01:45", "02:15", "02:45", "03:15"]  # lines 4, 5 of the file: in the gap
B = ["07:00", "08:00", "09:00", "10:00"]


def _csv(tmp_path, batches: dict[str, list[str]], titer: dict[str, float] | None = None):
    lines = ["Run,Timestamp,Titer"]
    for run, times in batches.items():
        value = (titer or {}).get(run, 100.0)
        lines += [f"{run},2026-03-29 {t},{value + i}" for i, t in enumerate(times)]
    path = tmp_path / "plant.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_lenient_read_drops_the_batch_and_names_file_batch_column_and_rows(tmp_path):
    path = _csv(tmp_path, {"A": A, "B": B})
    report = load_table(path, CMAP, strict=False)
    assert report.skipped == ["A"]
    assert sorted(report.table["batch_id"].unique()) == ["B"]
    assert report.table["time_h"].tolist() == [0.0, 1.0, 2.0, 3.0]
    text = str(report.problems[0])
    assert text.startswith(f"{path}: batch A, column Timestamp, lines 4, 5: local time")
    assert "2026-03-29 02:15:00 does not exist in Europe/Berlin" in text
    assert isinstance(report.problems[0], TimeOrderError)


def test_strict_read_refuses_with_every_problem_at_once(tmp_path):
    # two batches in the gap and one titer out of range: all three in one error
    path = _csv(tmp_path, {"A": A, "B": B, "C": ["02:30", "03:30"]}, titer={"B": -5.0})
    with pytest.raises(DataProblems) as info:
        load_table(path, CMAP, strict=True)
    batches = [p.batch for p in info.value.problems]
    assert {"A", "B", "C"} <= set(batches)
    text = str(info.value)
    assert "batch A, column Timestamp, lines 4, 5" in text
    assert "batch C, column Timestamp, line 11:" in text and "does not exist" in text


def test_read_table_refuses_by_default_and_warns_when_not_strict(tmp_path):
    path = _csv(tmp_path, {"A": A, "B": B})
    with pytest.raises(DataError, match="batch A, column Timestamp, lines 4, 5"):
        read_table(path, CMAP)
    with pytest.warns(UserWarning, match=r"1 batch\(es\) left out \(A\)"):
        table = read_table(path, CMAP, strict=False)
    assert sorted(table["batch_id"].unique()) == ["B"]
    assert [p.batch for p in table.attrs[GAP_BATCHES]] == ["A"]


def test_a_clean_file_has_no_gap_record(tmp_path):
    table = read_table(_csv(tmp_path, {"B": B}), CMAP, strict=False)
    assert GAP_BATCHES not in table.attrs


def test_report_lists_every_gap_row_of_each_batch_and_reads_the_rest():
    wall = pd.Series([f"2026-03-29 {t}" for t in [*A, *B]])
    batch = pd.Series(["A"] * len(A) + ["B"] * len(B))
    utc, gaps = localize_report(wall, batch, "Europe/Berlin")
    assert [(g.batch, g.rows) for g in gaps] == [("A", (2, 3))]
    assert utc[batch == "A"].isna().all() and utc[batch == "B"].notna().all()
    assert str(utc.iloc[len(A)]) == "2026-03-29 05:00:00+00:00"  # 07:00 CEST
    with pytest.raises(TimeOrderError, match="batch A, rows 2, 3"):
        localize(wall, batch, "Europe/Berlin")
