"""Monitor: row-by-row updates equal a one-shot prediction; bad rows change nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.data.errors import MissingColumnError, NonNumericError, RangeError, TimeOrderError
from forecaster.serve.monitor import Monitor
from forecaster.serve.predict import predict_table


def _batch(new_table: pd.DataFrame, k: int = 0) -> pd.DataFrame:
    bid = sorted(new_table[schema.BATCH_ID].unique())[k]
    return new_table[new_table[schema.BATCH_ID] == bid].reset_index(drop=True)


def _assert_same(up, ref_row, traj):
    assert up.time_h == ref_row["last_time_h"]
    for key in (
        "feed_next_mL_h",
        "harvest_titer_mg_L",
        "harvest_titer_p10_mg_L",
        "harvest_titer_p90_mg_L",
    ):
        assert getattr(up, key) == pytest.approx(ref_row[key], rel=1e-4, abs=1e-3), key
    ahead = traj[~traj["fitted"].astype(bool)]  # the Monitor reports the days still ahead
    np.testing.assert_array_equal(up.trajectory_days, ahead["day"].to_numpy())
    want = ahead[["titer_p10_mg_L", "titer_mg_L", "titer_p90_mg_L"]].to_numpy()
    np.testing.assert_allclose(up.trajectory, want, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("prefix", [6, 40, None])
def test_row_by_row_equals_one_shot(loaded_run, new_table, prefix):
    rows = _batch(new_table).iloc[:prefix]
    bid = str(rows[schema.BATCH_ID].iloc[0])
    mon = Monitor(loaded_run)
    raised = []
    for i in range(len(rows)):
        up = mon.update(bid, rows.iloc[i : i + 1])
        raised += up.new_alarms
    ref = predict_table(loaded_run, rows.copy(), attributions=False)
    _assert_same(up, ref.predictions.iloc[0], ref.trajectories)
    assert up.n_rows == len(rows)
    if prefix is None:
        # this batch ends in a DO excursion (191-192 h) that never comes back, so it is no
        # spike (yet); the DO CUSUM raises a rule alarm on its first row, and the stream
        # must raise it too
        assert not any(e.rule == "spike_do_pct" for e in raised)
        assert any(e.rule == "do_shift" and e.raised_h == 191.0 for e in raised)
    # alarms: the same events as one-shot detection, each raised exactly once
    assert [e.key for e in raised] == [e.key for e in ref.events[bid]]
    assert [e.key for e in mon.alarms(bid)] == [e.key for e in ref.events[bid]]


def test_uneven_chunks_and_two_batches_interleaved(loaded_run, new_table):
    a, b = _batch(new_table, 0).iloc[:50], _batch(new_table, 1).iloc[:30]
    mon = Monitor(loaded_run)
    for lo, hi in [(0, 7), (7, 8), (8, 31), (31, 50)]:
        up_a = mon.update("A", a.iloc[lo:hi])
        if lo < 30:
            mon.update("B", b.iloc[lo : min(hi, 30)])
    ref = predict_table(loaded_run, a.assign(batch_id="A"), attributions=False)
    _assert_same(up_a, ref.predictions.iloc[0], ref.trajectories)
    assert mon.latest("B").n_rows == 30
    assert sorted(mon.batches) == ["A", "B"]


def test_bad_rows_raise_and_leave_state_unchanged(loaded_run, new_table):
    rows = _batch(new_table).iloc[:20].reset_index(drop=True)
    mon = Monitor(loaded_run)
    for i in range(10):
        mon.update("X", rows.iloc[i : i + 1])
    before = mon.latest("X")
    repeated = rows.iloc[9:10]
    with pytest.raises(TimeOrderError, match="not after the previous row"):
        mon.update("X", repeated)
    text = rows.iloc[10:11].astype({"do_pct": object})
    text.loc[text.index[0], "do_pct"] = "n.d."
    with pytest.raises(NonNumericError, match="'n.d.'") as err:
        mon.update("X", text)
    assert err.value.column == "do_pct" and err.value.rows == (11,)
    hot = rows.iloc[10:11].assign(temperature_C=80.0)
    with pytest.raises(RangeError, match="physical range"):
        mon.update("X", hot)
    with pytest.raises(MissingColumnError, match="ph"):
        mon.update("X", rows.iloc[10:11].drop(columns=["ph"]))
    assert mon.latest("X") == before and mon.latest("X").n_rows == 10
    # the good rows still give the one-shot answer
    for i in range(10, 20):
        up = mon.update("X", rows.iloc[i : i + 1])
    ref = predict_table(loaded_run, rows.assign(batch_id="X"), attributions=False)
    _assert_same(up, ref.predictions.iloc[0], ref.trajectories)


def test_user_column_names_and_units(loaded_run, new_table):
    """Rows in the user's names and units (column map) give the canonical answer."""
    from dataclasses import replace

    from forecaster.data.column_map import ColumnMap
    from forecaster.data.units import to_unit

    rows = _batch(new_table).iloc[:12].reset_index(drop=True)
    cmap = ColumnMap(columns={"Temp (degF)": "temperature_C", "Glc": "glucose_g_L"},
                     units={"temperature_C": "degF", "glucose_g_L": "mmol/L"}, time="t_min", time_unit="min")  # fmt: skip
    theirs = rows.rename(
        columns={"temperature_C": "Temp (degF)", "glucose_g_L": "Glc", "time_h": "t_min"}
    )
    theirs["Temp (degF)"] = to_unit(rows["temperature_C"], "temperature_C", "degF")
    theirs["Glc"] = to_unit(rows["glucose_g_L"], "glucose_g_L", "mmol/L")
    theirs["t_min"] = rows[schema.TIME] * 60
    mine, canon = Monitor(replace(loaded_run, column_map=cmap)), Monitor(loaded_run)
    for i in range(len(rows)):
        up = mine.update("U", theirs.iloc[i : i + 1])
        ref = canon.update("U", rows.iloc[i : i + 1])
    assert up.time_h == pytest.approx(ref.time_h)
    assert up.harvest_titer_mg_L == pytest.approx(ref.harvest_titer_mg_L, rel=1e-5, abs=1e-4)
    assert up.feed_next_mL_h == pytest.approx(ref.feed_next_mL_h, rel=1e-5, abs=1e-5)


def test_local_times_through_the_autumn_repeat_across_updates(loaded_run, new_table):
    """Wall-clock times with ``time_zone``: the hour repeated when clocks go back (Berlin,
    2026-10-25 02:00-03:00) continues the batch hour by hour, also when the repeat falls
    across two updates; without the zone the repeat is refused as time going back."""
    from dataclasses import replace

    from forecaster.data.column_map import ColumnMap
    from forecaster.data.errors import DataError

    rows = _batch(new_table).iloc[:6].reset_index(drop=True)
    utc = pd.Timestamp("2026-10-24 22:00", tz="UTC") + pd.to_timedelta(rows[schema.TIME], unit="h")
    local = utc.dt.tz_convert("Europe/Berlin").dt.strftime("%Y-%m-%d %H:%M")
    assert local.duplicated().any()  # 02:00 appears twice
    theirs = rows.assign(stamp=local).drop(columns=[schema.TIME])
    cmap = ColumnMap(time="stamp", time_unit="timestamp", time_zone="Europe/Berlin")
    mon = Monitor(replace(loaded_run, column_map=cmap))
    assert local.iloc[2] == local.iloc[3]  # the repeat straddles the two updates below
    ups = [mon.update("Z", theirs.iloc[:3]), mon.update("Z", theirs.iloc[3:])]
    assert [u.time_h for u in ups] == [2.0, 5.0]
    naive = Monitor(replace(loaded_run, column_map=replace(cmap, time_zone=None)))
    with pytest.raises(DataError):
        naive.update("Z", theirs)
