"""Engineered prefix features: layout, hand-checked values, causality, speed path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.data.errors import MissingColumnError, TimeOrderError
from forecaster.models.tabular_features import (
    CUM_FEED_FEATURE,
    IVCD_FEATURE,
    VOLUME_ADDED_FEATURE,
    TabularFeatures,
)

ALL_INPUTS = [v for v in schema.VARIABLE_NAMES if v != schema.FEED]


def make_batch(bid: str = "B1", n_rows: int = 100, seed: int = 0) -> pd.DataFrame:
    """One synthetic batch: hourly rows, every canonical column, assays every 24 h."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=float)
    df = pd.DataFrame({schema.BATCH_ID: bid, schema.TIME: t})
    for v in schema.VARIABLES:
        mid = 0.5 * (v.lo + min(v.hi, v.lo + 100.0))
        df[v.name] = mid + rng.normal(0.0, 1.0, n_rows)
    df["feed_glucose_g_L"] = 400.0
    df["volume_L"] = 2.0 + 0.01 * t
    df[schema.FEED] = np.where(t >= 48, 10.0, 0.0)
    for v in schema.OFFLINE:
        df[v] = np.where(t % 24 == 0, df[v], np.nan)
    return df


def test_layout_names_map_to_variables():
    tab = TabularFeatures(tuple(ALL_INPUTS))
    names, owners = tab.feature_names, tab.feature_variables
    assert len(names) == len(owners) == tab.n_features == len(set(names))
    assert set(owners) == set(ALL_INPUTS) | {schema.TIME}
    assert names[-1] == owners[-1] == schema.TIME
    assert IVCD_FEATURE in names and VOLUME_ADDED_FEATURE in names
    # feed is not an input by default: no feature may come from it
    assert schema.FEED not in owners and CUM_FEED_FEATURE not in names
    # 11 non-static dense inputs x 2 + the static ones (feed glucose and the planned recipe)
    # + 7 assays x 3 + IVCD + volume + time
    assert tab.n_features == 11 * 2 + (1 + len(schema.PLAN)) + 7 * 3 + 1 + 1 + 1
    X = tab.at_rows(make_batch())
    assert X.shape == (100, tab.n_features)

    with_feed = TabularFeatures((*ALL_INPUTS, schema.FEED))
    assert with_feed.feature_variables[with_feed.feature_names.index(CUM_FEED_FEATURE)] == (
        schema.FEED
    )
    only_ph = TabularFeatures(("ph",))
    assert only_ph.feature_names == ["ph", "ph:slope_6h_per_h", schema.TIME]


def test_values_by_hand():
    t = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
    rows = pd.DataFrame(
        {
            schema.BATCH_ID: "H",
            schema.TIME: t,
            "ph": [7.0, 7.1, np.nan, 7.3, 7.4, 7.6],
            "vcd_1e6_cells_mL": [1.0, np.nan, 3.0, np.nan, np.nan, 5.0],
            schema.FEED: [0.0, 10.0, 10.0, 20.0, 20.0, 20.0],
            "volume_L": [2.0, 2.1, 2.2, 2.3, 2.4, 2.5],
        }
    )
    tab = TabularFeatures(("ph", "vcd_1e6_cells_mL", schema.FEED, "volume_L"))
    X = pd.DataFrame(tab.at_rows(rows), columns=tab.feature_names)
    # dense: missing reading carried forward; slope over the last 6 h
    assert X["ph"].tolist() == pytest.approx([7.0, 7.1, 7.1, 7.3, 7.4, 7.6])
    assert np.isnan(X["ph:slope_6h_per_h"][0])  # no earlier row
    assert X["ph:slope_6h_per_h"][1] == pytest.approx(0.05)  # (7.1 - 7.0) / 2 h
    assert X["ph:slope_6h_per_h"][5] == pytest.approx((7.6 - 7.1) / 6.0)  # rows 10 h vs 4 h
    # assays: last value, age, slope between the last two, IVCD trapezoid
    assert X["vcd_1e6_cells_mL:last"].tolist() == [1.0, 1.0, 3.0, 3.0, 3.0, 5.0]
    assert X["vcd_1e6_cells_mL:age_h"].tolist() == [0.0, 2.0, 0.0, 2.0, 4.0, 0.0]
    assert np.isnan(X["vcd_1e6_cells_mL:slope_per_h"][:2]).all()
    assert X["vcd_1e6_cells_mL:slope_per_h"].tolist()[2:] == pytest.approx([0.5] * 3 + [1 / 3])
    ivcd = [0.0, 0.0, 8.0, 8.0, 8.0, 8.0 + 0.5 * (3 + 5) * 6]
    assert X[IVCD_FEATURE].tolist() == pytest.approx(ivcd)
    # cumulative feed (rate held until the next row) and volume added
    assert X[CUM_FEED_FEATURE].tolist() == pytest.approx([0, 0, 20, 40, 80, 120])
    assert X[VOLUME_ADDED_FEATURE].tolist() == pytest.approx([0, 0.1, 0.2, 0.3, 0.4, 0.5])
    assert X[schema.TIME].tolist() == t.tolist()


def test_unknown_values_are_nan_not_invented():
    rows = make_batch(n_rows=30)
    rows.loc[rows[schema.TIME] < 24, "glucose_g_L"] = np.nan
    tab = TabularFeatures(("glucose_g_L",))
    X = pd.DataFrame(tab.at_rows(rows), columns=tab.feature_names)
    early = X[schema.TIME] < 24
    assert X.loc[early, ["glucose_g_L:last", "glucose_g_L:age_h"]].isna().all().all()
    assert X.loc[~early, "glucose_g_L:last"].notna().all()


def test_prefix_features_are_causal():
    """A prefix's features never change when later rows change or are cut off."""
    tab = TabularFeatures(tuple(ALL_INPUTS))
    full = make_batch(seed=1)
    k = 57
    altered = full.copy()
    later = altered[schema.TIME] > full[schema.TIME][k]
    rng = np.random.default_rng(9)
    for v in ALL_INPUTS:
        altered.loc[later, v] = rng.uniform(0, 50, later.sum())  # assays on every later row
    a, b = tab.at_rows(full), tab.at_rows(altered)
    np.testing.assert_array_equal(a[: k + 1], b[: k + 1])
    assert not np.allclose(a[k + 1 :], b[k + 1 :], equal_nan=True)
    # the per-prefix path (what predict uses) agrees with the one-pass path
    prefixes = [full.iloc[: j + 1] for j in (0, 10, k, 99)]
    np.testing.assert_array_equal(tab.of_prefixes(prefixes), a[[0, 10, k, 99]])


def test_of_prefixes_sorts_and_checks_rows():
    tab = TabularFeatures(("ph", "titer_mg_L"))
    rows = make_batch(n_rows=50)
    shuffled = rows.sample(frac=1.0, random_state=0)
    np.testing.assert_array_equal(tab.of_prefixes([shuffled]), tab.of_prefixes([rows]))
    with pytest.raises(TimeOrderError, match="batch B1"):
        tab.of_prefixes([pd.concat([rows, rows.iloc[[3]]])])
    with pytest.raises(MissingColumnError, match="titer_mg_L"):
        tab.of_prefixes([rows.drop(columns="titer_mg_L")])
