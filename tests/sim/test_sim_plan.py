"""The planned recipe columns: the batch's drawn plan on every row, and nothing else changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.data.process import default_process
from forecaster.sim import SimConfig, simulate
from forecaster.sim.schedule import FeedSchedule

#: plan column -> the per-batch parameter it states
DRAWN = {
    "planned_feed_start_h": "feed_start_h",
    "planned_shift_h": "temperature_shift_h",
    "planned_post_shift_temperature_C": "temperature_post_shift_C",
    "planned_harvest_h": "run_length_h",
}


def _cfg(**changes) -> SimConfig:
    cfg = SimConfig(run_length_days=7.0, run_length_spread_days=1, **changes)
    cfg.faults.rate = 0.5
    return cfg


@pytest.fixture(scope="module")
def on():
    return simulate(_cfg(), n_batches=8, seed=3)


def test_every_plan_column_is_constant_per_batch_and_the_drawn_value(on):
    assert set(DRAWN) == set(schema.PLAN)
    per_batch = on.table.groupby(schema.BATCH_ID, sort=True)[list(schema.PLAN)]
    assert (per_batch.nunique() == 1).all().all()
    assert on.table[list(schema.PLAN)].notna().all().all()
    first = per_batch.first()
    drawn = on.batches.set_index(schema.BATCH_ID)
    for col, param in DRAWN.items():
        np.testing.assert_array_equal(first[col].to_numpy(), drawn[param].to_numpy(), col)
    # the draws differ between batches, so the columns carry information
    assert first["planned_shift_h"].nunique() > 1
    assert first["planned_post_shift_temperature_C"].nunique() > 1


def test_the_temperature_set_point_changes_at_the_planned_shift(on):
    for _, rows in on.table.groupby(schema.BATCH_ID):
        t, sp = rows[schema.TIME].to_numpy(), rows["temperature_setpoint_C"].to_numpy()
        shift = rows["planned_shift_h"].iloc[0]
        post = rows["planned_post_shift_temperature_C"].iloc[0]
        assert shift <= t[-1]  # the default recipe shifts on day 3-6 of a 6-8 day run
        np.testing.assert_array_equal(sp[t >= shift], post)
        assert np.all(sp[t < shift] != post) and np.unique(sp[t < shift]).size == 1
        # the plan is on the first row already, before the set point shows the shift
        assert rows["planned_shift_h"].iloc[0] == shift and sp[0] != post


def test_record_plan_off_drops_the_columns_and_changes_nothing_else(on):
    off = simulate(_cfg(record_plan=False), n_batches=8, seed=3)
    assert not set(schema.PLAN) & set(off.table.columns)
    pd.testing.assert_frame_equal(off.table, on.table.drop(columns=list(schema.PLAN)))
    pd.testing.assert_frame_equal(off.faults, on.faults)
    pd.testing.assert_frame_equal(off.batches, on.batches)


def test_a_schedule_moves_the_planned_shift_and_no_shift_keeps_the_temperature():
    cfg = SimConfig(run_length_days=5.0)
    cfg.faults.rate = 0.0
    base = simulate(cfg, n_batches=3, seed=1)
    sched = FeedSchedule(np.full((6, 3), np.nan), shift_h=np.array([np.inf, 50.0, np.nan]))
    res = simulate(cfg, n_batches=3, seed=1, schedule=sched)
    plan = res.table.groupby(schema.BATCH_ID, sort=True)[list(schema.PLAN)].first()
    b = base.batches
    assert plan["planned_shift_h"].tolist() == [120.0, 50.0, b["temperature_shift_h"][2]]
    assert plan["planned_post_shift_temperature_C"].tolist() == [
        b["temperature_pre_shift_C"][0],
        b["temperature_post_shift_C"][1],
        b["temperature_post_shift_C"][2],
    ]
    no_shift = res.table[res.table[schema.BATCH_ID] == "B0000"]["temperature_setpoint_C"]
    assert (no_shift == b["temperature_pre_shift_C"][0]).all()


def test_the_cho_preset_declares_the_plan_static_and_known_in_advance():
    process = default_process()
    for name in schema.PLAN:
        v = process.variable(name)
        assert v.role == "static" and v.known_in_advance, name
        assert schema.variable(name).unit in ("h", "degC")
    assert set(schema.PLAN) <= set(schema.STATIC) <= set(process.with_role("static"))
