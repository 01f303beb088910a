"""Split-conformal intervals: the finite-sample rank, unmet levels said out loud, coverage
on exchangeable residuals close to nominal, plain-value state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from forecaster.models.conformal import (
    ConformalCalibration,
    conformal_quantile,
    level_key,
    min_residuals,
)


@pytest.mark.parametrize(("level", "need"), [(0.8, 4), (0.9, 9), (0.95, 19)])
def test_min_residuals_is_where_the_rank_first_exists(level, need):
    assert min_residuals(level) == need
    scores = np.arange(1.0, need + 1)
    assert conformal_quantile(scores, level) == need  # rank ceil((n+1) level) = n
    assert math.isinf(conformal_quantile(scores[:-1], level))


@pytest.mark.parametrize(
    ("n", "level", "rank"),
    [(10, 0.8, 9), (20, 0.9, 19), (99, 0.9, 90), (100, 0.95, 96)],
)
def test_quantile_is_the_corrected_order_statistic(n, level, rank):
    scores = np.random.default_rng(0).permutation(np.arange(1.0, n + 1))
    assert conformal_quantile(scores, level) == rank


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95])
def test_coverage_on_exchangeable_residuals_is_close_to_nominal(level):
    rng = np.random.default_rng(1)
    covered = []
    for _ in range(2000):  # 2,000 draws, each against its own calibration of 40 residuals
        cal = ConformalCalibration.fit({"7": rng.standard_t(4, size=40) * 0.1}, levels=(level,))
        p50 = rng.uniform(500, 1500, 1)
        y = p50 * np.exp(rng.standard_t(4, size=1) * 0.1)
        lo, hi = cal.interval(p50, "7", level)
        covered.append(bool(lo[0] <= y[0] <= hi[0]))
    assert abs(np.mean(covered) - level) < 0.03


def test_intervals_are_multiplicative_around_p50():
    cal = ConformalCalibration.fit({"3": np.log([1.1, 0.8, 1.2, 0.95, 1.05])}, levels=(0.8,))
    q = cal.q["3"][0.8]  # rank ceil(6 * 0.8) = 5 of |log r|: log(1/0.8)
    assert q == pytest.approx(np.log(1 / 0.8))
    lo, hi = cal.interval(np.array([100.0, 200.0]), "3", 0.8)
    np.testing.assert_allclose(hi / lo, np.exp(2 * q))


def test_unmet_level_is_unbounded_noted_and_nan_in_scores():
    cal = ConformalCalibration.fit({"10": np.zeros(8)})
    assert cal.met("10", 0.8) and not cal.met("10", 0.9) and not cal.met("10", 0.95)
    assert cal.notes == [
        "day 10: 8 out-of-sample residuals cannot support a 90% interval (needs at least 9)",
        "day 10: 8 out-of-sample residuals cannot support a 95% interval (needs at least 19)",
    ]
    lo, hi = cal.interval(np.array([100.0]), "10", 0.95)
    assert lo[0] == 0 and math.isinf(hi[0])
    s = cal.score(np.array([100.0]), np.array([100.0]), "10")
    assert s["coverage"]["80"] == 1.0 and math.isnan(s["coverage"]["95"])


def test_state_dict_round_trips_through_json():
    cal = ConformalCalibration.fit({"3": np.linspace(-0.2, 0.2, 12), "7": np.zeros(3)})
    state = json.loads(json.dumps(cal.state_dict()))
    assert state["q"]["7"]["95"] is None
    again = ConformalCalibration.from_state_dict(state)
    assert again.q == cal.q and again.n == cal.n and again.notes == cal.notes
    assert [level_key(x) for x in again.levels] == ["80", "90", "95"]


@pytest.mark.parametrize(("n", "level"), [(19, 0.95), (40, 0.8), (40, 0.9), (200, 0.95)])
def test_quantile_covers_at_least_nominal_and_is_not_absurdly_wide(n, level):
    """Exchangeable normal log residuals (sd 0.1): the coverage of a new residual, averaged
    over calibrations, is >= nominal (exactly ceil((n+1) level) / (n+1) in expectation), and
    the half-width is on average within 25 % of the true |residual| quantile at that level."""
    rng = np.random.default_rng(3)
    true_q = 0.1 * stats.norm.ppf(0.5 + level / 2)
    qs = np.asarray([conformal_quantile(np.abs(rng.normal(0, 0.1, n)), level) for _ in range(3000)])
    coverage = 2 * stats.norm.cdf(qs / 0.1) - 1  # exact, given the calibration
    exact = math.ceil((n + 1) * level - 1e-9) / (n + 1)
    assert coverage.mean() >= level - 0.005
    assert coverage.mean() == pytest.approx(exact, abs=0.01)
    assert 1.0 <= qs.mean() / true_q <= 1.25
