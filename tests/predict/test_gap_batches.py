"""A batch the reader left out (local times in the spring-forward gap) reaches predict's
report when reading leniently and refuses the file when strict; the chunked reader reads
leniently so one such batch never costs the whole file."""

import pandas as pd
import pytest

from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import DataError, TimeOrderError
from forecaster.data.local_time import GAP_BATCHES
from forecaster.serve.batch_reader import read_in_chunks
from forecaster.serve.reading import validate_for_run

CMAP = {"batch_id": "Run", "time": "Timestamp", "time_unit": "timestamp",
        "time_zone": "Europe/Berlin", "columns": {"Titer": "titer_mg_L"}}  # fmt: skip


def _gap(source: str) -> TimeOrderError:
    return TimeOrderError("local time 2026-03-29 02:15:00 does not exist in Europe/Berlin",
                          file=source, batch="GAP", column="Timestamp", rows=[3])  # fmt: skip


def test_lenient_validation_reports_the_left_out_batch(loaded_run, new_table):
    table = new_table.copy()
    table.attrs[GAP_BATCHES] = [_gap("new.csv")]
    report = validate_for_run(loaded_run, table, "new.csv", strict=False)
    assert "GAP" in report.skipped
    assert set(report.table["batch_id"]) == set(new_table["batch_id"])
    with pytest.raises(DataError, match="batch GAP, column Timestamp"):
        validate_for_run(loaded_run, table, "new.csv", strict=True)


def test_chunked_reader_drops_only_the_batch_in_the_gap(tmp_path):
    lines = ["Run,Timestamp,Titer"]
    lines += [f"A,2026-03-29 {t},1" for t in ("01:15", "01:45", "02:15", "03:15")]
    lines += [f"B,2026-03-29 {t},2" for t in ("07:00", "08:00", "09:00")]
    path = tmp_path / "plant.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="left out"):
        tables = list(read_in_chunks(path, ColumnMap.from_dict(CMAP), 10))
    table = pd.concat(tables)
    assert set(table["batch_id"]) == {"B"}
    assert [p.batch for p in tables[0].attrs[GAP_BATCHES]] == ["A"]
