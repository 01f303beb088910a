"""Local timestamps without an offset: DST repeat resolved by order, gap refused."""

import pandas as pd
import pytest

from forecaster.data.errors import DataError
from forecaster.data.local_time import localize, localize_rows


def _hours(utc: pd.Series) -> list[float]:
    return ((utc - utc.iloc[0]).dt.total_seconds() / 3600).tolist()


def test_autumn_repeat_is_resolved_by_row_order():
    # Europe/Berlin 2026-10-25: 02:00-03:00 happens twice; hourly rows.
    wall = ["2026-10-25 01:30", "2026-10-25 02:30", "2026-10-25 02:30", "2026-10-25 03:30"]
    utc = localize(pd.Series(wall), pd.Series(["B1"] * 4), "Europe/Berlin")
    assert _hours(utc) == [0.0, 1.0, 2.0, 3.0]


def test_spring_gap_is_refused_with_batch_and_row():
    # 2026-03-29 02:00-03:00 does not exist in Berlin.
    wall = ["2026-03-29 01:30", "2026-03-29 02:30", "2026-03-29 03:30"]
    with pytest.raises(DataError, match=r"batch B2, row 1: .*does not exist in Europe/Berlin"):
        localize(pd.Series(wall), pd.Series(["B2"] * 3), "Europe/Berlin")


def test_spring_rows_across_the_change_gain_no_hour():
    wall = ["2026-03-29 01:00", "2026-03-29 03:00", "2026-03-29 04:00"]
    utc = localize(pd.Series(wall), pd.Series(["B3"] * 3), "Europe/Berlin")
    assert _hours(utc) == [0.0, 1.0, 2.0]


def test_unknown_zone_is_a_data_error():
    with pytest.raises(DataError, match="time_zone"):
        localize(pd.Series(["2026-01-01 00:00"]), pd.Series(["B"]), "Mars/Olympus")


def test_a_duplicate_before_the_repeat_does_not_shift_it():
    wall = ["2026-10-25 00:30", "2026-10-25 00:30", "2026-10-25 02:30", "2026-10-25 02:30"]
    utc = localize(pd.Series(wall), pd.Series(["B4"] * 4), "Europe/Berlin")
    assert _hours(utc) == [0.0, 0.0, 2.0, 3.0]  # 00:30 and 02:30 are both summer time


def test_rows_read_in_updates_continue_through_the_repeated_hour():
    # 30-min rows through the autumn change, delivered in three monitor updates
    wall = ["01:30", "02:00", "02:30", "02:00", "02:30", "03:00"]
    whole = localize(pd.Series([f"2026-10-25 {w}" for w in wall]), pd.Series(["B"] * 6),
                     "Europe/Berlin")  # fmt: skip
    parts, last = [], None
    for chunk in (wall[:3], wall[3:4], wall[4:]):
        utc = localize_rows(pd.Series([f"2026-10-25 {w}" for w in chunk]), "Europe/Berlin", last)
        parts += list(utc)
        last = utc.iloc[-1]
    assert parts == list(whole)
    assert _hours(pd.Series(parts)) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


def test_an_update_after_winter_time_stays_winter_time():
    first = localize_rows(pd.Series(["2026-10-25 02:30", "2026-10-25 02:00"]), "Europe/Berlin")
    nxt = localize_rows(pd.Series(["2026-10-25 02:30"]), "Europe/Berlin", first.iloc[-1])
    assert (nxt.iloc[0] - first.iloc[-1]) == pd.Timedelta(minutes=30)


def test_an_update_with_an_unreadable_cell_gives_nat_there():
    utc = localize_rows(pd.Series(["2026-10-25 01:00", "soon"]), "Europe/Berlin")
    assert utc.iloc[0] == pd.Timestamp("2026-10-24 23:00", tz="UTC") and pd.isna(utc.iloc[1])
