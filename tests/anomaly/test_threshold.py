"""Threshold maths, table-driven: known score arrays -> known thresholds and events."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.anomaly.config import ThresholdConfig
from forecaster.anomaly.threshold import calibrate, count_events, persistent_values


def _series(*scores):
    return [(np.arange(len(s), dtype=float), np.asarray(s, dtype=float)) for s in scores]


@pytest.mark.parametrize(
    "scores, k, expected",
    [
        ([1, 5, 2, 2, 9], 1, [1, 5, 2, 2, 9]),
        ([1, 5, 2, 2, 9], 2, [np.nan, 1, 2, 2, 2]),
        ([1, 5, 6, 2, 9], 3, [np.nan, np.nan, 1, 2, 2]),
    ],
)
def test_persistent_values(scores, k, expected):
    np.testing.assert_array_equal(
        persistent_values(np.array(scores, float), k), np.array(expected, float)
    )


@pytest.mark.parametrize(
    "scores, thr, k, clear, n",
    [
        ([[0, 3, 3, 0, 0, 3, 3]], 2.0, 2, 1, 2),  # two runs of two
        ([[0, 3, 3, 0, 0, 3, 3]], 2.0, 2, 3, 1),  # the gap of two does not clear the alarm
        ([[0, 3, 0, 3, 0, 3]], 2.0, 2, 1, 0),  # never two in a row
        ([[0, 3, 0, 3, 0, 3]], 2.0, 1, 1, 3),
        ([[5, 5], [5, 5]], 4.9, 2, 1, 2),  # one per batch
        ([[5, 5], [5, 5]], 5.0, 1, 1, 0),  # strictly above
    ],
)
def test_count_events(scores, thr, k, clear, n):
    assert count_events(_series(*scores), thr, k, clear) == n


def test_event_rate_zero_budget_sits_on_highest_persistent_score():
    # 2 batches x 24 h = 2 batch-days: target 10/100 batch-days allows 0 events.
    a = np.ones(24)
    a[5:7] = 4.0  # persistent (2 steps) value 4
    a[10] = 9.0  # single spike: persistent value only 1
    b = np.ones(24)
    b[3:6] = 3.0
    cal = calibrate(
        _series(a, b),
        ThresholdConfig(target_false_alarms_per_100_batch_days=10, persistence_steps=2, margin=1.0),
    )
    assert cal.allowed_events == 0
    assert cal.threshold == 4.0
    assert cal.calibration_events == 0
    assert cal.n_batches == 2 and cal.n_steps == 48 and cal.batch_days == 2.0


def test_event_rate_budget_of_one_event_lowers_threshold():
    a = np.ones(24)
    a[5:7] = 4.0
    b = np.ones(24)
    b[3:6] = 3.0
    # 50 per 100 batch-days on 2 batch-days -> 1 event allowed: the 4.0 run may alarm.
    cal = calibrate(
        _series(a, b),
        ThresholdConfig(target_false_alarms_per_100_batch_days=50, persistence_steps=2, margin=1.0),
    )
    assert cal.allowed_events == 1
    assert cal.threshold == 3.0
    assert cal.calibration_events == 1
    assert cal.calibration_rate_per_100_batch_days == 50.0


def test_quantile_method_and_margin():
    s = np.arange(101, dtype=float)
    cal = calibrate(_series(s), ThresholdConfig(method="quantile", quantile=0.9, margin=2.0))
    assert cal.threshold == pytest.approx(180.0)
    assert cal.method == "quantile"


def test_excluded_faulty_batches_are_reported():
    with pytest.warns(UserWarning, match="excluded"):
        cal = calibrate(_series(np.ones(24)), ThresholdConfig(), excluded_batches=["B7"])
    assert cal.excluded_batches == ["B7"]
    assert "excluded" in cal.note


def test_empty_calibration_set_is_an_error():
    with pytest.raises(ValueError, match="fault-free"):
        calibrate([], ThresholdConfig())
