"""``data.column_map.time_zone``: local wall-clock timestamps read through the public reader.

Europe/Berlin 2026: clocks go forward on 29 March (02:00 -> 03:00) and back on 25 October
(03:00 -> 02:00). A historian writing local times without an offset repeats 02:xx in autumn
and skips it in spring.
"""

import pandas as pd
import pytest
import yaml

from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import ConfigError, DataError
from forecaster.data.io import TIME_ORIGIN, load_table, read_table

AUTUMN = ["00:30", "01:30", "02:30", "02:30", "03:30", "04:30"]  # 02:30 twice: DST ends
SPRING = ["00:30", "01:30", "03:30", "04:30"]  # 02:30 does not exist: DST starts

MAP_YAML = """
column_map:
  batch_id: Run
  time: Timestamp
  time_unit: timestamp
  time_zone: {zone}
  columns: {{"Titer": titer_mg_L}}
"""


def _csv(tmp_path, rows: list[tuple[str, str, str]], name: str = "plant.csv"):
    lines = ["Run,Timestamp,Titer"] + [f"{r},{day} {t},{i * 10}" for i, (r, day, t) in
                                         enumerate(rows)]  # fmt: skip
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _cmap(zone: str) -> dict:
    return yaml.safe_load(MAP_YAML.format(zone=zone))["column_map"]


def _hours(table: pd.DataFrame, batch: str) -> list[float]:
    return table.loc[table["batch_id"] == batch, "time_h"].tolist()


def test_autumn_repeat_loads_with_one_hour_spacing(tmp_path):
    rows = [("A", "2026-10-25", t) for t in AUTUMN] + [("B", "2026-07-01", "08:00")] * 1
    report = load_table(_csv(tmp_path, rows), _cmap("Europe/Berlin"), strict=False)
    assert report.problems == []
    assert _hours(report.table, "A") == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_without_a_zone_the_repeat_drops_the_batch_and_names_the_setting(tmp_path):
    rows = [("A", "2026-10-25", t) for t in AUTUMN] + [("B", "2026-07-01", "08:00")]
    cmap = {k: v for k, v in _cmap("Europe/Berlin").items() if k != "time_zone"}
    report = load_table(_csv(tmp_path, rows), cmap, strict=False)
    assert report.skipped == ["A"]
    assert "appears twice" in str(report.problems[0])
    assert "data.column_map.time_zone" in str(report.problems[0])
    with pytest.raises(DataError, match="set data.column_map.time_zone"):
        load_table(_csv(tmp_path, rows), cmap, strict=True)


def test_spring_batch_does_not_gain_an_hour(tmp_path):
    rows = [("S", "2026-03-29", t) for t in SPRING]
    table = read_table(_csv(tmp_path, rows), _cmap("Europe/Berlin"))
    assert _hours(table, "S") == [0.0, 1.0, 2.0, 3.0]
    naive = {k: v for k, v in _cmap("x").items() if k != "time_zone"}
    assert _hours(read_table(_csv(tmp_path, rows), naive), "S") == [0.0, 1.0, 3.0, 4.0]


def test_a_time_in_the_spring_gap_names_file_line_and_batch(tmp_path):
    rows = [("S", "2026-03-29", t) for t in ("01:30", "02:30", "03:30")]
    path = _csv(tmp_path, rows)
    with pytest.raises(DataError) as info:
        read_table(path, _cmap("Europe/Berlin"))
    text = str(info.value)
    assert text.startswith(f"{path}: batch S, column Timestamp, line 3: local time")
    assert "does not exist in Europe/Berlin" in text and "\n" not in text


def test_unknown_zone_is_one_line_naming_key_and_value(tmp_path):
    path = _csv(tmp_path, [("A", "2026-10-25", "00:30")])
    with pytest.raises(ConfigError) as info:
        read_table(path, _cmap("Europe/Berln"))
    text = str(info.value)
    assert "time_zone 'Europe/Berln' is not a known time zone" in text
    assert "did you mean 'Europe/Berlin'" in text and "\n" not in text


def test_zone_with_elapsed_time_unit_is_refused():
    with pytest.raises(ConfigError, match="time_unit: timestamp"):
        ColumnMap.from_dict({"time_zone": "Europe/Berlin", "time_unit": "h"})


def test_timestamps_with_an_offset_ignore_the_zone(tmp_path):
    path = tmp_path / "utc.csv"
    path.write_text(
        "Run,Timestamp,Titer\n"
        "A,2026-10-25T00:30+02:00,0\nA,2026-10-25T02:30+02:00,1\nA,2026-10-25T02:30+01:00,2\n"
    )
    table = read_table(path, _cmap("America/New_York"))
    assert _hours(table, "A") == [0.0, 2.0, 3.0]


def test_batch_start_is_kept_in_the_zone_for_outputs(tmp_path):
    rows = [("A", "2026-10-25", t) for t in AUTUMN]
    table = read_table(_csv(tmp_path, rows), _cmap("Europe/Berlin"))
    start = table.attrs[TIME_ORIGIN]["starts"]["A"]
    assert str(start.tz) == "Europe/Berlin"
    # 5 h after 00:30 summer time is 04:30 wall time (the clock went back once)
    assert (start + pd.Timedelta(hours=5)).strftime("%H:%M") == "04:30"


def test_column_map_round_trips_the_zone():
    cmap = ColumnMap.from_dict(_cmap("Europe/Berlin"))
    assert ColumnMap.from_dict(cmap.to_dict()).time_zone == "Europe/Berlin"
    assert "time_zone" not in ColumnMap().to_dict()  # older run folders stay identical
