"""Batch-level factors read from the batch table match what the simulator drew."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.data.errors import DataError
from forecaster.optimize import extract_factors


def test_recipe_factors_equal_the_simulators_draws(tiny_sim):
    bf = extract_factors(tiny_sim.table)
    b = tiny_sim.batches.set_index("batch_id").loc[bf.X.index]
    X = bf.X
    np.testing.assert_allclose(X["temperature_setpoint_C_end"], b["temperature_post_shift_C"])
    shifted = b["temperature_shift_h"] < 6 * 24  # a shift after the run's end is not seen
    np.testing.assert_allclose(X.loc[shifted, "temperature_setpoint_C_change_day"],
                               b.loc[shifted, "temperature_shift_h"] / 24.0)  # fmt: skip
    np.testing.assert_allclose(X["do_setpoint_pct"], b["do_setpoint_pct"])
    np.testing.assert_allclose(X["feed_glucose_g_L"], b["feed_glucose_g_L"])
    # the seeding density is the first VCD assay: the draw within the assay noise (CV 6 %)
    ratio = X["vcd_1e6_cells_mL_initial"] / b["inoculum_vcd_1e6_cells_mL"]
    assert ratio.between(0.8, 1.2).all()


def test_factor_kinds_and_labels(tiny_sim):
    bf = extract_factors(tiny_sim.table)
    kinds = {f.name: f.kind for f in bf.factors}
    assert kinds["temperature_setpoint_C_end"] == "recipe"
    assert kinds["vcd_1e6_cells_mL_initial"] == "recipe"  # seeding density
    assert kinds["glutamine_mM_initial"] == "start"
    assert kinds["vcd_1e6_cells_mL_day2"] == "early"
    assert bf.factor("temperature_setpoint_C_end").label == "T setpoint after change"
    assert bf.factor("feed_rate_mL_h_start_day").unit == "day"


def test_running_batch_has_no_harvest_and_constant_factor_is_dropped(tiny_sim):
    t = tiny_sim.table.copy()
    t["ph_setpoint"] = 7.0
    cut = t[(t["batch_id"] == t["batch_id"].iloc[0]) & (t["time_h"] > 72)].index
    bf = extract_factors(t.drop(index=cut))
    assert np.isnan(bf.y.iloc[0]) and bf.y.iloc[1:].notna().all()
    assert "ph_setpoint" not in bf.X.columns and "ph_setpoint" in bf.dropped
    # the harvest titer is the last titer assay of each finished batch
    last = tiny_sim.table.dropna(subset=["titer_mg_L"]).groupby("batch_id")["titer_mg_L"].last()
    np.testing.assert_allclose(bf.y.iloc[1:], last.loc[bf.y.index[1:]])


def test_missing_product_column_is_a_data_error(tiny_sim):
    with pytest.raises(DataError, match="titer_mg_L"):
        extract_factors(tiny_sim.table.drop(columns=["titer_mg_L"]))


def test_another_process_gets_its_own_factors():
    import pandas as pd

    from forecaster.data.process import preset

    rows = []
    for b in range(4):
        for t in range(0, 97, 12):
            assay = t % 24 == 0
            rows.append({
                "batch_id": f"F{b}", "time_h": float(t), "temperature_setpoint_C": 30.0 + b,
                "ph_setpoint": 6.8, "feed_substrate_g_L": 400.0 + 10 * b,
                "feed_flow_L_h": 0.5 if t >= 24 * (1 + b % 2) else 0.0,
                "biomass_g_L": 1.0 + b + t / 10 if assay else np.nan,
                "product_g_L": t / 10 + b if assay else np.nan,
            })  # fmt: skip
    bf = extract_factors(pd.DataFrame(rows), preset("microbial_fedbatch"))
    assert bf.product == "product_g_L" and bf.product_unit == "g/L"
    np.testing.assert_allclose(bf.X["temperature_setpoint_C"], [30, 31, 32, 33])
    np.testing.assert_allclose(bf.X["feed_flow_L_h_start_day"], [1, 2, 1, 2])
    assert bf.factor("biomass_g_L_initial").kind == "recipe"  # the inoculum
    np.testing.assert_allclose(bf.y, [9.6, 10.6, 11.6, 12.6])
    assert "ph_setpoint" in bf.dropped  # one value in every batch
