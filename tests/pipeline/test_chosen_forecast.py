"""The chosen forecast as served: it reproduces the ladder's own test figures, survives a JSON
round trip, serves the right origin day's choice, and moves a trajectory onto it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from forecaster import schema
from forecaster.data import targets
from forecaster.models.decode import QuantilePick, rescale_to_harvest
from forecaster.models.ladder.chosen import ChosenForecast, geometric_blend
from forecaster.models.ladder.protocol import upto
from forecaster.pipeline.evaluate import mape
from forecaster.pipeline.ladder import chosen_forecast, fit_ladder

DAYS = (2, 3, 5)  # the ``split`` fixture (tests/pipeline/conftest.py): 6-day batches


@pytest.fixture(scope="module")
def fitted(split):
    lad = fit_ladder(*split, origin_days=DAYS, k=4, seed=0)
    return lad, chosen_forecast(lad)


def _test_prefixes(test, day):
    groups = [g.sort_values(schema.TIME) for _, g in test.groupby(schema.BATCH_ID)]
    groups = [g for g in groups if g[schema.TIME].iloc[-1] > 24.0 * day]
    y = np.asarray([targets.harvest_titer(g) for g in groups])
    return [upto(g, 24.0 * day) for g in groups], y


def test_served_forecast_reproduces_the_ladders_test_mape(split, fitted):
    lad, chosen = fitted
    for d in DAYS:
        pre, y = _test_prefixes(split[2], d)
        p = chosen.predict(pre)
        want = lad.metrics["chosen"]["harvest_mape_by_day"][str(d)]
        assert mape(y, p[:, 1]) == pytest.approx(want, rel=1e-9)
        assert np.all(p[:, 0] <= p[:, 1]) and np.all(p[:, 1] <= p[:, 2])


def test_json_round_trip_gives_the_same_forecasts(split, fitted):
    _, chosen = fitted
    back = ChosenForecast.from_state_dict(json.loads(json.dumps(chosen.state_dict())))
    pre, _ = _test_prefixes(split[2], 3)
    np.testing.assert_allclose(back.predict(pre), chosen.predict(pre), rtol=1e-12)
    assert back.weights == chosen.weights and back.needs() == chosen.needs() == set()


def test_a_newer_format_is_refused_in_one_line(fitted):
    state = fitted[1].state_dict() | {"format_version": 99}
    with pytest.raises(ValueError, match="newer than this version reads"):
        ChosenForecast.from_state_dict(state)


def test_each_prefix_gets_the_latest_origin_day_at_or_before_it(fitted):
    chosen = fitted[1]
    got = chosen.day_for(np.array([5.0, 47.9, 48.0, 71.0, 72.0, 500.0]))
    assert list(got) == ["2", "2", "2", "2", "3", "5"]


def test_a_missing_expensive_forecast_is_refused():
    ch = ChosenForecast("titer_mg_L", {"3": {"sequence": 1.0}})
    import pandas as pd

    pre = [pd.DataFrame({schema.TIME: [0.0, 80.0], "titer_mg_L": [np.nan, 100.0]})]
    with pytest.raises(ValueError, match="sequence forecasts"):
        ch.predict(pre)
    p = ch.predict(pre, given={"sequence": np.array([[90.0, 100.0, 110.0]])})
    np.testing.assert_allclose(p, [[90.0, 100.0, 110.0]])  # no calibration: its own band


def test_geometric_blend_is_the_weighted_geometric_mean():
    a = np.array([[1.0, 4.0, 9.0]])
    b = np.array([[4.0, 16.0, 36.0]])
    np.testing.assert_allclose(geometric_blend([a, b], [1.0, 1.0]), [[2.0, 8.0, 18.0]])
    np.testing.assert_allclose(geometric_blend([a, b], [3.0, 0.0]), a)


def test_rescale_moves_the_harvest_and_keeps_the_days_behind():
    pick = QuantilePick(0, 1, 2)
    traj = np.array([[10.0, 11.0, 12.0], [20.0, 22.0, 24.0], [40.0, 44.0, 48.0]])
    h, tr = rescale_to_harvest(traj[-1], traj, 30.0, np.array([70.0, 88.0, 100.0]), pick)
    np.testing.assert_allclose(h, [70.0, 88.0, 100.0])
    np.testing.assert_allclose(tr[-1], h)  # the trajectory ends at the harvest forecast
    np.testing.assert_allclose(tr[0], traj[0])  # day 1 (24 h) is behind the row at 30 h
    assert 22.0 < tr[1, 1] < 44.0  # day 2 is ahead: part of the way to the new harvest


def test_a_choice_made_on_few_validation_batches_is_calibrated_on_more():
    """Six easy validation batches alone would give intervals far narrower than the
    cross-validated errors: they are pooled with the stage-1 choice's out-of-fold ones."""
    from forecaster.pipeline.ladder import _calibration_set
    from forecaster.pipeline.ladder_select import Choice, Forecasts

    rng = np.random.default_rng(0)
    ids = np.asarray([f"b{i:02d}" for i in range(30)], dtype=object)
    y = rng.uniform(900, 1100, 30)
    wide = y * np.exp(rng.normal(0, 0.2, 30))
    cheap = {"naive_mean": Forecasts(ids, y, np.stack([wide * 0.8, wide, wide * 1.2], 1),
                                     np.arange(30) % 5)}  # fmt: skip
    val = list(ids[:6])
    tight = Forecasts(ids[:6], y[:6], np.stack([y[:6] * 0.99, y[:6] * 1.01, y[:6] * 1.02], 1),
                      np.full(6, -1))  # fmt: skip
    c = Choice("sequence", {"sequence": 1.0}, "val", tight, {})
    pooled, note = _calibration_set(c, cheap, ("naive_mean",), val, (0.8, 0.9, 0.95))
    assert pooled.n == 30 and "pooled with 24" in note
    assert np.quantile(np.abs(pooled.log_residuals()), 0.8) > 0.1  # the CV errors count
    big = Choice("sequence", {"sequence": 1.0}, "val", cheap["naive_mean"], {})
    same, note = _calibration_set(big, cheap, ("naive_mean",), val, (0.8, 0.9, 0.95))
    assert same is big.oos and note == ""  # 30 validation batches: calibrated on them
