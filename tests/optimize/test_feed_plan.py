"""Feed plans: the planner keeps its constraints, the model tracks the simulator, the oracle
beats the default recipe on a batch whose parameters it knows."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.data.errors import DataError
from forecaster.optimize.closed_loop import recipes_from_batches, run_arms, summary, true_params
from forecaster.optimize.feed_plan import MechanisticPlanner, plan_feeds
from forecaster.optimize.feed_plan_data import FeedConstraints, history_from_rows
from forecaster.optimize.mechanistic_fit import replay
from forecaster.sim import FaultsConfig, SimConfig, simulate


@pytest.fixture(scope="module")
def sim():
    cfg = SimConfig(run_length_days=10.0, faults=FaultsConfig(rate=0.0))
    return cfg, simulate(cfg, n_batches=2, seed=8)


def _rows(res, bid: str, until_h: float) -> pd.DataFrame:
    t = res.table
    return t[(t[schema.BATCH_ID] == bid) & (t[schema.TIME] <= until_h)]


def test_model_with_true_parameters_tracks_the_simulated_harvest_titer(sim):
    cfg, res = sim
    known = true_params(res.batches)
    recipes = recipes_from_batches(res.batches)
    for bid in recipes:
        hist = history_from_rows(_rows(res, bid, 1e9))
        p = {k: np.array([v]) for k, v in known[bid].items()} | {"xv0_scale": np.array([1.0])}
        model = replay(p, hist, recipes[bid], cfg.kinetics)["titer"][-1, 0]
        true = res.batches.set_index(schema.BATCH_ID).loc[bid, "harvest_titer_true_mg_L"]
        assert abs(model / true - 1.0) < 0.1


def test_plan_keeps_the_pump_range_and_the_volume_limit(sim):
    cfg, res = sim
    bid = "B0000"
    recipe = recipes_from_batches(res.batches)[bid]
    rows = _rows(res, bid, 96.0)
    vol_now = float(rows["volume_L"].iloc[-1])
    loose = FeedConstraints(working_volume_L=vol_now + 1.0, feed_max_mL_h=5.0)
    tight = dataclasses.replace(loose, working_volume_L=vol_now + 0.4)
    free = MechanisticPlanner(loose, cfg).plan(rows, recipe, None)
    plan = MechanisticPlanner(tight, cfg).plan(rows, recipe, None)
    assert plan.now_h == 96.0 and plan.time_h[0] == 96.0
    for p in (free, plan):
        assert p.feasible and np.all((p.feed_mL_h >= 0) & (p.feed_mL_h <= 5.0))
    fed_L = plan.feed_mL_h.sum() * tight.decision_interval_h / 1000.0
    assert fed_L <= 0.4 < free.feed_mL_h.sum() * tight.decision_interval_h / 1000.0 + 0.2
    assert fed_L < free.feed_mL_h.sum() * tight.decision_interval_h / 1000.0
    assert 96.0 < free.shift_h <= recipe.run_length_h  # shift not done yet at 96 h: planned
    assert free.predicted_titer_mg_L >= free.predicted_titer_default_mg_L


def test_plan_feeds_table_and_clear_error_for_a_missing_column(sim):
    _, res = sim
    table = res.table[res.table[schema.TIME] <= 72.0]
    recipes = recipes_from_batches(res.batches)
    out = plan_feeds(table, recipes=recipes)
    assert list(out.columns) == [schema.BATCH_ID, schema.TIME, schema.FEED,
                                 "temperature_setpoint_C", "glucose_target_g_L",
                                 "predicted_titer", "predicted_titer_default"]  # fmt: skip
    assert set(out[schema.BATCH_ID]) == set(recipes) and (out[schema.TIME] >= 72.0).all()
    with pytest.raises(DataError, match="glucose_g_L missing"):
        plan_feeds(table.drop(columns=["glucose_g_L"]), recipes=recipes)


def test_oracle_beats_the_default_recipe_without_violations():
    # a short, coarse-step run keeps the closed loop (one re-simulation per day) fast
    cfg = SimConfig(run_length_days=7.0, dt_h=0.5, faults=FaultsConfig(rate=0.0))
    res, timings = run_arms(cfg, 1, 8, arms=("default", "oracle"))
    s = summary(res, FeedConstraints())
    assert s["oracle_mean_gain_pct"] > 0.0
    assert s["oracle_violation_hours"] == 0 and s["default_violation_hours"] == 0
    assert max(timings["oracle"]) < 10.0


def test_history_needs_the_day_zero_row(sim):
    _, res = sim
    rows = _rows(res, "B0001", 72.0)
    with pytest.raises(DataError, match="batch 'B0001': the first row is at 1.0 h; expected 0 h"):
        history_from_rows(rows[rows[schema.TIME] > 0], "B0001")
    hist = history_from_rows(rows, "B0001")
    assert hist.now_h == 72 and hist.feed_mL_h.shape == (72,) and len(hist.assays) == 4
