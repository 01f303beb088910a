"""Feed that follows a recipe vs feed that follows the culture (cross-validated by batch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.models.feed_recipe import feed_follows_recipe
from forecaster.sim import SimConfig, simulate

STATE = ["glucose_g_L", "vcd_1e6_cells_mL", "volume_L", "do_pct"]


def _recipe_table(n_batches: int = 12, seed: int = 0) -> pd.DataFrame:
    """A fixed daily schedule (same for every batch, small operator noise) and a culture
    whose state varies a lot from batch to batch."""
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, 240.0, 2.0)
    schedule = np.where(t < 48, 0.0, 20.0 + 2.0 * (t // 24))
    frames = []
    for b in range(n_batches):
        growth = rng.uniform(0.02, 0.05)
        glucose = np.full(len(t), np.nan)
        glucose[::12] = 6 - growth * 60 * (t[::12] / 240) + rng.normal(0, 0.3, len(t[::12]))
        frames.append(pd.DataFrame({
            "batch_id": f"R{b:02d}", "time_h": t,
            "feed_rate_mL_h": schedule * (1 + rng.normal(0, 0.02, len(t))),
            "glucose_g_L": glucose,
            "vcd_1e6_cells_mL": np.exp(growth * t / 10),
            "volume_L": 1.5 + rng.uniform(-0.05, 0.05) + np.cumsum(schedule) * 2e-3,
            "do_pct": 40 + rng.normal(0, 3, len(t)),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def test_a_fixed_schedule_is_a_recipe():
    verdict = feed_follows_recipe(_recipe_table(), "feed_rate_mL_h", STATE)
    assert verdict.is_recipe
    assert verdict.r2_recipe > 0.9
    assert verdict.n_batches == 12
    # the recommendation is the schedule's next value
    assert verdict.next_value(100.0) == pytest.approx(20.0 + 2.0 * 4, rel=0.05)
    assert "follows a recipe" in verdict.sentence("Feed (mL/h)")
    assert set(verdict.summary()) == {"is_recipe", "r2_recipe", "r2_state", "margin", "n_batches"}


def test_the_simulators_glucose_setpoint_feed_follows_the_culture():
    cfg = SimConfig(run_length_days=10.0)
    cfg.faults.rate = 0.0
    table = simulate(cfg, n_batches=12, seed=5).table
    verdict = feed_follows_recipe(table, "feed_rate_mL_h", STATE)
    assert not verdict.is_recipe, verdict
    assert verdict.r2_state > verdict.r2_recipe + verdict.margin
    assert "responds to the culture" in verdict.sentence()


def test_constant_feed_and_tiny_data():
    table = _recipe_table(n_batches=3)
    few = feed_follows_recipe(table, "feed_rate_mL_h", STATE)
    assert np.isnan(few.r2_state) and few.n_batches == 3
    table["feed_rate_mL_h"] = 5.0
    flat = feed_follows_recipe(table, "feed_rate_mL_h", STATE)
    assert flat.is_recipe and flat.next_value(10.0) == 5.0
