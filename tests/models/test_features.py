import numpy as np
import pytest
import torch

from forecaster import schema
from forecaster.data.features import Preprocessor
from tests.synthetic import synthetic_table


def test_offline_features_use_last_measurement_mask_and_age():
    table = synthetic_table(2, 60)
    prep = Preprocessor.fit(table, ["do_pct", "glucose_g_L"])
    g = table[table.batch_id == "S000"]
    x = prep.transform_batch(g)
    names = prep.feature_names
    assert names == ["do_pct", "glucose_g_L", "glucose_g_L:measured", "glucose_g_L:age_d", "time_h"]
    assert x.shape == (61, 5)
    gi, mi, ai = 1, 2, 3
    # measured on rows 0, 24, 48 only
    assert np.flatnonzero(x[:, mi]).tolist() == [0, 24, 48]
    # between assays the value is the last measurement, scaled
    expected = prep.scale("glucose_g_L", [g.glucose_g_L.iloc[24]])[0]
    assert np.allclose(x[25:48, gi], expected)
    assert np.isclose(x[30, ai], 6 / 24)
    assert prep.feature_variables == [
        "do_pct",
        "glucose_g_L",
        "glucose_g_L",
        "glucose_g_L",
        "time_h",
    ]


def test_missing_assays_before_first_measurement_are_masked():
    table = synthetic_table(1, 30)
    table.loc[table.time_h == 0, "vcd_1e6_cells_mL"] = np.nan
    prep = Preprocessor.fit(table, ["vcd_1e6_cells_mL"])
    x = prep.transform_batch(table)
    assert (x[:24, 0] == 0).all() and (x[:24, 1] == 0).all()
    assert x[24, 1] == 1


def test_features_are_causal():
    table = synthetic_table(1, 72)
    prep = Preprocessor.fit(table, list(schema.VARIABLE_NAMES))
    a = prep.transform_batch(table)
    changed = table.copy()
    changed.loc[changed.time_h > 40, ["do_pct", "glucose_g_L", "titer_mg_L"]] *= 3
    b = prep.transform_batch(changed)
    assert np.array_equal(a[:41], b[:41])
    assert not np.array_equal(a[41:], b[41:])


def test_state_dict_round_trip_is_weights_only_safe(tmp_path):
    table = synthetic_table(3, 48)
    prep = Preprocessor.fit(table, ["do_pct", "titer_mg_L", "ph"])
    torch.save({"prep": prep.state_dict()}, tmp_path / "p.pt")
    back = Preprocessor.from_state_dict(torch.load(tmp_path / "p.pt", weights_only=True)["prep"])
    assert np.array_equal(back.transform_batch(table), prep.transform_batch(table))


def test_unknown_variable_suggests_name():
    with pytest.raises(KeyError, match="glucose_g_L"):
        Preprocessor.fit(synthetic_table(1, 24), ["glucose_g_l"])


def test_log_variables_round_trip_and_spread_small_values():
    table = synthetic_table(3, 72)
    lin = Preprocessor.fit(table, ["titer_mg_L"])
    log = Preprocessor.fit(table, ["titer_mg_L"], log_variables=["titer_mg_L"])
    vals = np.array([49.0, 99.0, 2499.0, 4999.0])
    assert np.allclose(log.unscale("titer_mg_L", log.scale("titer_mg_L", vals)), vals)
    # equal ratios are equal steps on the log scale (log(x + 1)), not on the linear one
    a, b, c, d = log.scale("titer_mg_L", vals)
    assert np.isclose(b - a, d - c)
    a, b, c, d = lin.scale("titer_mg_L", vals)
    assert (d - c) > 40 * (b - a)
    back = Preprocessor.from_state_dict(log.state_dict())
    assert np.array_equal(back.transform_batch(table), log.transform_batch(table))


def test_assay_history_lags_hold_the_earlier_assays():
    table = synthetic_table(1, 80)  # glucose assays on rows 0, 24, 48, 72
    prep = Preprocessor.fit(
        table, ["do_pct", "glucose_g_L"], history_variables=["glucose_g_L"], history_lags=2
    )
    names = prep.feature_names
    assert names[-3:] == ["time_h", "glucose_g_L:lag1", "glucose_g_L:lag2"]
    assert prep.feature_variables[-2:] == ["glucose_g_L", "glucose_g_L"]
    x = prep.transform_batch(table)
    a = prep.scale("glucose_g_L", table.glucose_g_L.iloc[[0, 24, 48, 72]].to_numpy())
    lag1, lag2 = x[:, -2], x[:, -1]
    assert (lag1[:24] == 0).all() and (lag2[:48] == 0).all()  # no earlier assay yet
    assert np.allclose(lag1[24:48], a[0]) and np.allclose(lag1[48:72], a[1])
    assert np.allclose(lag2[48:72], a[0]) and np.allclose(lag2[72:], a[1])
    # plain values survive the state round trip; a dense variable has no history
    again = Preprocessor.from_state_dict(prep.state_dict())
    np.testing.assert_array_equal(again.transform_batch(table), x)
    assert (
        Preprocessor.fit(table, ["do_pct"], history_variables=["do_pct"], history_lags=3).n_features
        == 2
    )
