"""The one decode step: table-driven unscale / clip / horizon / quantile pick."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.data.datasets import TargetScales
from forecaster.models.decode import QuantilePick, decode

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
