"""The step scale: each variable's error after a set-point step over its error elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.anomaly.config import AutoencoderConfig
from forecaster.anomaly.features import SETTLE_TAU_H, FeatureSpec
from forecaster.anomaly.step_scale import (
    fit_step_scale,
    hours_since_step,
    step_factor,
    step_rows,
)


def _batch(n: int, step_at: int | None, bump: dict[int, float]) -> tuple:
    """(since_h, err): errors 1 everywhere, ``bump[v]`` on variable v for rows 0..3 after
    the step (rows numbered from the step)."""
    t = np.arange(n, dtype=float)
    since = np.full(n, np.inf) if step_at is None else np.where(t >= step_at, t - step_at, np.inf)
    err = np.ones((n, 2))
    for v, x in bump.items():
        err[(since >= 0) & (since < 4), v] = x
    return since, err


@pytest.mark.parametrize(
    ("since", "dt", "n", "expected"),
    [
        ([np.inf, 0.0, 0.4, 1.6, 5.0], 1.0, 5, [-1, 0, 0, 2, -1]),
        ([0.0, 1.0, 2.0], 2.0, 2, [0, 0, 1]),
        ([np.nan, -1.0, 3.0], 1.0, 4, [-1, -1, 3]),
    ],
)
def test_step_rows(since, dt, n, expected):
    assert step_rows(np.array(since), dt, n).tolist() == expected


def test_disturbed_variable_gets_its_ratio_the_other_keeps_one():
    batches = [_batch(60, 20, {0: 5.0}) for _ in range(10)]
    scale = fit_step_scale(batches, 1.0, 8.0)
    assert scale.shape == (8, 2)
    # rows 1-2 pool rows 0-3 (all 5x); row 3 pools 2, 3 and 4 (5, 5, 1); rows 5+ are normal
    np.testing.assert_allclose(scale[1:3, 0], 5.0)
    np.testing.assert_allclose(scale[3, 0], 11 / 3)
    np.testing.assert_allclose(scale[5:, 0], 1.0)
    np.testing.assert_allclose(scale[:, 1], 1.0)  # not disturbed: full sensitivity


def test_never_more_sensitive_and_none_without_steps():
    quiet = [_batch(60, 20, {0: 0.1}) for _ in range(10)]
    np.testing.assert_allclose(fit_step_scale(quiet, 1.0, 8.0), 1.0)  # floor at 1
    assert fit_step_scale([_batch(60, None, {})], 1.0, 8.0) is None
    assert fit_step_scale([_batch(60, 20, {0: 5.0})], 1.0, 0.0) is None


def test_too_few_rows_after_steps_keep_factor_one():
    scale = fit_step_scale([_batch(60, 20, {0: 5.0})], 1.0, 8.0)  # 1 batch: < 20 rows a cell
    np.testing.assert_allclose(scale, 1.0)


def test_factor_applies_inside_the_window_only():
    scale = np.array([[2.0, 1.0], [3.0, 1.5]])
    f = step_factor(scale, 1.0, np.array([np.inf, 0.0, 1.0, 2.0]), 2)
    np.testing.assert_allclose(f, [[1, 1], [2, 1], [3, 1.5], [1, 1]])
    np.testing.assert_allclose(step_factor(None, 1.0, np.zeros(3), 2), 1.0)


def test_hours_since_step_reads_the_newest_settling_clock():
    spec = FeatureSpec([0], [0], [-1], ["do_pct"], ["do_pct", "temperature_C"], [1.0, 1.0], [1.0])
    since = np.array([[np.inf, np.inf], [3.0, np.inf], [4.0, 1.0]])
    clocks = np.exp(-since / SETTLE_TAU_H)
    feats = np.concatenate([np.zeros((3, 3)), clocks], axis=1).astype(np.float32)
    np.testing.assert_allclose(hours_since_step(spec, feats), [np.inf, 3.0, 1.0], rtol=1e-5)


def test_negative_window_is_a_config_error():
    with pytest.raises(ValueError, match="step_window_h"):
        AutoencoderConfig(step_window_h=-1.0)
