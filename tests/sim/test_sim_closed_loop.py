"""Closed-loop stepping: external schedules, the operator's policy as a controller, truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.sim import SimConfig, simulate
from forecaster.sim.closed_loop import Decision, operator_controller, simulate_closed_loop
from forecaster.sim.schedule import FeedSchedule


@pytest.fixture(scope="module")
def cfg() -> SimConfig:
    c = SimConfig(run_length_days=5.0)
    c.faults.rate = 0.0
    return c


def _decision_rows(res, cfg: SimConfig) -> pd.DataFrame:
    t = res.table
    return t[np.isclose(np.mod(t[schema.TIME], cfg.assay_interval_h), 0.0)]


def test_operator_policy_as_controller_reproduces_the_default_run_exactly(cfg):
    plain = simulate(cfg, n_batches=3, seed=4)
    looped = simulate_closed_loop(cfg, operator_controller(cfg), n_batches=3, seed=4)
    pd.testing.assert_frame_equal(plain.table, looped.table, check_exact=True)
    pd.testing.assert_frame_equal(plain.batches, looped.batches, check_exact=True)


def test_an_all_nan_schedule_changes_nothing(cfg):
    plain = simulate(cfg, n_batches=2, seed=1)
    nan = FeedSchedule(np.full((6, 2), np.nan), np.full(2, np.nan))
    pd.testing.assert_frame_equal(
        plain.table, simulate(cfg, n_batches=2, seed=1, schedule=nan).table, check_exact=True
    )


def test_scheduled_rates_are_executed_with_the_same_operator_noise(cfg):
    one = simulate(cfg, n_batches=2, seed=1, schedule=FeedSchedule(np.full((6, 2), 2.0)))
    two = simulate(cfg, n_batches=2, seed=1, schedule=FeedSchedule(np.full((6, 2), 4.0)))
    r1, r2 = _decision_rows(one, cfg), _decision_rows(two, cfg)
    fed = r1[schema.FEED].to_numpy() > 0
    assert fed.sum() >= 4
    # same noise factor in both runs: exactly twice the rate, and within 3 noise sd of 2 mL/h
    np.testing.assert_allclose(r2[schema.FEED].to_numpy()[fed], 2 * r1[schema.FEED].to_numpy()[fed])
    assert np.all(np.abs(r1[schema.FEED].to_numpy()[fed] / 2.0 - 1.0) < 3 * cfg.feed.noise_cv)


def test_schedule_moves_or_cancels_the_temperature_shift(cfg):
    sched = FeedSchedule(np.full((6, 2), np.nan), np.array([np.inf, 50.0]))
    res = simulate(cfg, n_batches=2, seed=1, schedule=sched)
    sp = res.table.pivot(
        index=schema.TIME, columns=schema.BATCH_ID, values="temperature_setpoint_C"
    )
    assert sp.iloc[:, 0].nunique() == 1  # never shifted
    b1 = sp.iloc[:, 1]
    assert b1.loc[49.0] > b1.loc[50.0]  # shifted at 50 h
    assert res.batches["temperature_shift_h"].tolist() == [np.inf, 50.0]


def test_bad_schedules_are_refused_with_the_expected_shape(cfg):
    with pytest.raises(ValueError, match=r"expected \(n_decisions, 2\)"):
        simulate(cfg, n_batches=2, seed=1, schedule=FeedSchedule(np.zeros((6, 3))))
    with pytest.raises(ValueError, match="negative"):
        simulate(cfg, n_batches=2, seed=1, schedule=FeedSchedule(np.full((6, 2), -1.0)))


def test_controller_sees_no_rows_after_the_decision_and_no_fault_labels(cfg):
    seen = []

    def ctl(t_h: float, visible: pd.DataFrame) -> Decision:
        seen.append((t_h, visible[schema.TIME].max(), schema.FAULT_LABEL in visible.columns))
        return Decision(np.full(2, 1.0), np.full(2, t_h + 30.0))

    res = simulate_closed_loop(cfg, ctl, n_batches=2, seed=1, keep_truth=True)
    assert all(t == last and not label for t, last, label in seen)
    # the shift is pushed on every decision while pending, so it lands after the last one
    assert (res.batches["temperature_shift_h"] > 96.0).all()
    assert len(res.truth) == len(res.table)
    assert {"glucose_g_L", "volume_L", "feed_rate_mL_h"} <= set(res.truth.columns)
