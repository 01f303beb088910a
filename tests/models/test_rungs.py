"""The ladder's rungs: each naive rung's definition against a hand computation, ridge
recovers a known linear relation, plain-value state round trips, adapters agree with the
models they wrap."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.data import targets
from forecaster.data.errors import MissingColumnError, ShortBatchError
from forecaster.data.targets import daily_assay
from forecaster.models.ladder import (
    CHEAP_RUNGS,
    HarvestRung,
    NaiveMean,
    NaiveRatio,
    NaiveSlope,
    RidgeHistory,
    rung_from_state_dict,
)
from tests.synthetic import synthetic_table

# three training batches, assays every 24 h, harvest at 72 h
TRAIN_TITERS = {"A": [0, 10, 40, 100], "B": [0, 20, 60, 150], "C": [0, 5, 30, 80]}


def batch(bid: str, assays: dict[float, float], end_h: float = 72.0) -> pd.DataFrame:
    """Hourly rows 0..end_h; titer only at the given hours; VCD = 1 + t/24 every 24 h."""
    t = np.arange(end_h + 1.0)
    titer = np.full(t.size, np.nan)
    for h, v in assays.items():
        titer[int(h)] = v
    vcd = np.where(t % 24 == 0, 1 + t / 24, np.nan)
    return pd.DataFrame(
        {schema.BATCH_ID: bid, schema.TIME: t, schema.TITER: titer, "vcd_1e6_cells_mL": vcd}
    )


@pytest.fixture
def train() -> list[pd.DataFrame]:
    return [batch(b, dict(zip((0, 24, 48, 72), v))) for b, v in TRAIN_TITERS.items()]


def prefix(assays: dict[float, float], origin_h: float) -> pd.DataFrame:
    return batch("P", assays, end_h=origin_h)


def test_naive_mean_is_the_mean_training_final(train):
    pred = NaiveMean().fit(train).predict([prefix({0: 0, 24: 12}, 30.0)])
    assert pred[0, 1] == pytest.approx((100 + 150 + 80) / 3)


@pytest.mark.parametrize(
    ("assays", "origin_h", "expected"),
    [
        # median of 100/10, 150/20, 80/5 = median(10, 7.5, 16) = 10
        ({0: 0, 24: 12}, 30.0, 12 * 10.0),
        # day 2: median(100/40, 150/60, 80/30) = median(2.5, 2.5, 2.667) = 2.5
        ({0: 0, 24: 12, 48: 36}, 50.0, 36 * 2.5),
        # 36 h lies between 24 h (10) and 48 h (2.5): geometric interpolation -> 5
        ({0: 0, 36: 20}, 40.0, 20 * 5.0),
        # titer 0 only: the mean final titer
        ({0: 0}, 10.0, 110.0),
    ],
)
def test_naive_ratio_is_last_titer_times_median_training_ratio(train, assays, origin_h, expected):
    pred = NaiveRatio().fit(train).predict([prefix(assays, origin_h)])
    assert pred[0, 1] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("assays", "origin_h", "harvest_h", "expected"),
    [
        # line through (24, 12) and (48, 36): 1 mg/L/h, at 72 h -> 60, at 96 h -> 84
        ({0: 0, 24: 12, 48: 36}, 48.0, 72.0, 60.0),
        ({0: 0, 24: 12, 48: 36}, 48.0, 96.0, 84.0),
        # least squares through (40, 30), (50, 40), (60, 44) (window 36..60 h)
        ({0: 0, 24: 12, 40: 30, 50: 40, 60: 44}, 60.0, 72.0, None),
        # one assay in the last 24 h (0 h is outside 6..30 h): the ratio rung
        ({0: 0, 24: 12}, 30.0, 72.0, 120.0),
    ],
)
def test_naive_slope_extends_the_last_24h_line_to_the_harvest(
    train, assays, origin_h, harvest_h, expected
):
    if expected is None:
        slope, icpt = np.polyfit([40, 50, 60], [30, 40, 44], 1)
        expected = slope * harvest_h + icpt
    pred = NaiveSlope().fit(train).predict([prefix(assays, origin_h)], harvest_h=harvest_h)
    assert pred[0, 1] == pytest.approx(expected)


def test_harvest_defaults_to_the_median_training_end(train):
    rung = NaiveSlope().fit(train)
    assert rung.planned_end_h == 72.0
    assert rung.predict([prefix({24: 12, 48: 36}, 48.0)])[0, 1] == pytest.approx(60.0)


def test_ridge_recovers_a_linear_log_relation():
    rng = np.random.default_rng(0)
    day1, day2 = rng.uniform(5, 20, 12), rng.uniform(30, 90, 12)
    batches = [
        batch(f"R{i}", {24: a, 48: b, 72: 3.0 * b}) for i, (a, b) in enumerate(zip(day1, day2))
    ]
    rung = RidgeHistory().fit(batches)
    pred = rung.predict([prefix({24: 10.0, 48: 50.0}, 48.0)])
    assert pred[0, 1] == pytest.approx(150.0, rel=0.03)
    assert set(rung.models) == {1, 2}


def test_ridge_daily_assay_matches_the_shared_target_rule():
    tab = synthetic_table(n_batches=2, n_hours=120)
    for _, g in tab.groupby(schema.BATCH_ID):
        t, y = g[schema.TIME].to_numpy(float), g[schema.TITER].to_numpy(float)
        np.testing.assert_array_equal(daily_assay(t, y, 6), targets.titer_by_day(g, 6))


@pytest.mark.parametrize("name", sorted(CHEAP_RUNGS))
def test_state_dict_is_plain_json_and_predicts_the_same(name):
    tab = synthetic_table(n_batches=6, n_hours=120, seed=1)
    batches = [g for _, g in tab.groupby(schema.BATCH_ID)]
    rung = CHEAP_RUNGS[name]().fit(batches[:5])
    assert isinstance(rung, HarvestRung)
    pre = [batches[5][batches[5][schema.TIME] <= h] for h in (20.0, 50.0, 80.0)]
    state = json.loads(json.dumps(rung.state_dict()))
    again = rung_from_state_dict(state)
    np.testing.assert_allclose(again.predict(pre), rung.predict(pre))
    p = rung.predict(pre)
    assert p.shape == (3, 3)
    assert (p[:, 0] <= p[:, 1]).all() and (p[:, 1] <= p[:, 2]).all()


def test_fit_refuses_batches_without_titer_or_column(train):
    with pytest.raises(ShortBatchError, match="harvest titer"):
        NaiveMean().fit([batch("X", {})])
    with pytest.raises(MissingColumnError):
        NaiveMean().fit([train[0].drop(columns=[schema.TITER])])


def test_rf_adapter_forecast_is_the_forest_forecast():
    from forecaster.models.baseline import RFBaseline, RFConfig, default_variables
    from forecaster.models.ladder.adapters import RFRung

    tab = synthetic_table(n_batches=6, n_hours=96)
    ids = sorted(tab[schema.BATCH_ID].unique())
    cfg = RFConfig(n_estimators=[10], min_samples_leaf=[2], n_jobs=1, stride_h=12.0)
    train, val = tab[tab[schema.BATCH_ID].isin(ids[:4])], tab[tab[schema.BATCH_ID].isin(ids[4:])]
    rf = RFBaseline(cfg, default_variables(tab), seed=0).fit(train, val)
    groups = [g for _, g in val.groupby(schema.BATCH_ID)]
    pre = [g[g[schema.TIME] <= 48.0] for g in groups]
    rung = RFRung(rf).fit([])
    p = rung.predict(pre)
    np.testing.assert_allclose(p[:, 1], rf.predict(pre)["harvest_titer_mg_L"], rtol=1e-6)
    idx, q = rung.predict_origins(groups, [48.0])[48.0]
    np.testing.assert_allclose(q, p)
    assert list(idx) == [0, 1]


def test_sequence_adapter_one_pass_equals_prefix_forecasts():
    from forecaster.models.forecast import ForecastConfig
    from forecaster.models.ladder.adapters import SequenceRung
    from forecaster.models.sequence import SequenceForecaster

    tab = synthetic_table(n_batches=3, n_hours=96)
    model = SequenceForecaster.build(ForecastConfig(hidden_size=8, num_layers=1), tab)
    groups = [g for _, g in tab.groupby(schema.BATCH_ID)]
    rung = SequenceRung(model).fit(groups)
    idx, one_pass = rung.predict_origins(groups, [48.0, 72.0])[72.0]
    by_prefix = rung.predict([g[g[schema.TIME] <= 72.0] for g in groups])
    assert list(idx) == [0, 1, 2]
    np.testing.assert_allclose(one_pass, by_prefix, rtol=1e-5)
