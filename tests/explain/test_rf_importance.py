"""RF importances map back to the variables the forest actually uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.explain.rf_importance import (
    map_to_variables,
    rf_design,
    rf_impurity_importance,
    rf_permutation_importance,
)
from forecaster.models.baseline import RFBaseline, RFConfig

from .conftest import VARIABLES, batches_of, tiny_table


def glucose_fed_table(n_batches: int, seed: int) -> pd.DataFrame:
    """Feed = 3 * (8 - last glucose assay): the forest can only learn it from glucose."""
    tab = tiny_table(n_batches=n_batches, n_days=4, step_h=6.0, seed=seed)
    g = tab.groupby(schema.BATCH_ID)["glucose_g_L"].ffill()
    tab[schema.FEED] = 3.0 * (8.0 - g)
    return tab


@pytest.fixture(scope="module")
def rf() -> RFBaseline:
    cfg = RFConfig(
        n_estimators=[30], max_depth=[None], min_samples_leaf=[1], max_features=[1.0], n_jobs=1
    )
    return RFBaseline(cfg, VARIABLES, seed=0).fit(glucose_fed_table(24, 1), glucose_fed_table(4, 2))


def test_map_to_variables_sums_features_of_each_variable():
    s = map_to_variables(np.array([1.0, 2.0, 3.0, 4.0]), ["a", "b", "a", "time_h"])
    assert s.to_dict() == {"a": 4.0, "b": 2.0, "time_h": 4.0}
    with pytest.raises(ValueError, match="4 features"):
        map_to_variables(np.ones(3), ["a", "b", "a", "time_h"])


def test_impurity_importance_names_the_driving_variable(rf):
    imp = rf_impurity_importance(rf, "feed")
    assert set(imp.index) == set(rf.feature_variables)
    assert imp.sum() == pytest.approx(1.0)
    assert imp.index[0] == "glucose_g_L" and imp["glucose_g_L"] > 0.8


def test_permutation_importance_on_test_prefixes_names_the_driving_variable(rf):
    test = batches_of(glucose_fed_table(6, 3))
    X, y = rf_design(rf, test, "feed", [30.0, 54.0, 78.0])
    assert X.shape == (18, len(rf.feature_names)) and np.isfinite(y).all()
    imp = rf_permutation_importance(rf, "feed", X, y, n_repeats=3, seed=0)
    assert imp.index[0] == "glucose_g_L" and imp["glucose_g_L"] > 0.8
    assert imp.sum() == pytest.approx(1.0) and (imp >= 0).all()
    # titer: one target per batch (harvest), prefixes past the batch end are dropped
    X, y = rf_design(rf, test, "titer", [30.0, 500.0])
    harvest = [b["titer_mg_L"].dropna().iloc[-1] for b in test]
    assert len(y) == 6 and np.allclose(y, harvest)
