"""The one decode step: table-driven unscale / clip / horizon / quantile pick."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.data.datasets import TargetScales
from forecaster.models.decode import QuantilePick, daily_trajectory, decode

LOG = TargetScales(feed_mean=10.0, feed_std=2.0, titer_scale=1000.0, titer_log=True)
LIN = TargetScales(feed_mean=10.0, feed_std=2.0, titer_scale=1000.0, titer_log=False)


@pytest.mark.parametrize(
    "scales, feed, titer, want_feed, want_titer",
    [
        (LOG, 1.0, 0.0, 12.0, 1000.0),  # exp(0) * scale
        (LOG, -6.0, np.log(2.0), 0.0, 2000.0),  # a negative feed rate is clipped to 0
        (LIN, 0.0, 0.5, 10.0, 500.0),
        (LIN, 0.0, -0.2, 10.0, 0.0),  # a negative linear titer is clipped to 0
    ],
)
def test_decode_unscales_and_clips(scales, feed, titer, want_feed, want_titer):
    out = decode(
        {
            "feed": np.array([feed], np.float32),
            "harvest": np.full((1, 3), titer),
            "trajectory": np.full((1, 4, 3), titer),
        },
        scales,
        horizon_days=2,
    )
    np.testing.assert_allclose(out["feed"], [want_feed], rtol=1e-6)
    np.testing.assert_allclose(out["harvest"], want_titer, rtol=1e-12)
    assert out["trajectory"].shape == (1, 2, 3)  # days after the horizon are dropped
    np.testing.assert_allclose(out["trajectory"], want_titer, rtol=1e-12)


def test_feed_keeps_the_network_float32_arithmetic():
    """Evaluation, predict and the Monitor must give the same bits: float32 in, float32 out."""
    z = np.array([0.123456789], np.float32)
    out = decode(
        {"feed": z, "harvest": np.zeros((1, 3)), "trajectory": np.zeros((1, 1, 3))}, LOG, 1
    )
    assert out["feed"].dtype == np.float32
    assert out["feed"][0] == np.maximum(z * np.float32(2.0) + np.float32(10.0), 0)[0]


@pytest.mark.parametrize(
    "quantiles, pick",
    [([0.1, 0.5, 0.9], (0, 1, 2)), ([0.5, 0.05, 0.95, 0.25], (1, 0, 2))],
)
def test_quantile_pick(quantiles, pick):
    q = QuantilePick.of(quantiles)
    assert tuple(q) == pick
    values = np.arange(2 * len(quantiles)).reshape(2, -1)
    np.testing.assert_array_equal(q.take(values), values[:, list(pick)])


def test_quantiles_without_a_median_are_refused():
    with pytest.raises(ValueError, match="no median"):
        QuantilePick.of([0.1, 0.9])


@pytest.mark.parametrize("harvest_day, n_out", [(2, 2), (3, 3), (5, 4)])
def test_trajectory_ends_at_the_harvest_forecast(harvest_day, n_out):
    traj = np.log(np.arange(1, 5, dtype=float))[None, :, None].repeat(3, -1)  # 1..4 g/L
    out = decode(
        {"feed": np.zeros(1, np.float32), "harvest": np.full((1, 3), np.log(9.0)),
         "trajectory": traj},
        LOG, horizon_days=4, harvest_day=harvest_day,
    )  # fmt: skip
    assert out["trajectory"].shape == (1, min(n_out, 4), 3)
    if harvest_day <= 4:  # the harvest day's value is the harvest head's number
        np.testing.assert_array_equal(out["trajectory"][0, -1], out["harvest"][0])
    else:  # a harvest day beyond the horizon: nothing to tie
        np.testing.assert_allclose(out["trajectory"][0, -1], 4000.0)


def test_daily_trajectory_fitted_behind_forecast_ahead():
    time_h = np.arange(0.0, 61.0)  # rows 0..60 h; days 1, 2 behind; day 3 ahead
    traj = np.zeros((61, 3, 3))
    traj[:, :, 1] = np.arange(61)[:, None]  # median = the row it was made at
    traj[:, :, 0], traj[:, :, 2] = traj[:, :, 1] - 1, traj[:, :, 1] + 1
    days, values, fitted = daily_trajectory(time_h, traj, QuantilePick.of([0.1, 0.5, 0.9]))
    assert days.tolist() == [1, 2, 3] and fitted.tolist() == [True, True, False]
    # day d behind: made at the last row before 24 d h; the harvest day: at the last row
    assert values[:, 1].tolist() == [23.0, 47.0, 60.0]
    # a finished batch (last row on the harvest day): its harvest day is the last row's
    days, values, fitted = daily_trajectory(
        time_h[:49], traj[:49, :2], QuantilePick.of([0.1, 0.5, 0.9])
    )
    assert fitted.all() and values[:, 1].tolist() == [23.0, 48.0]
