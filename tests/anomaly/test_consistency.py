"""Controller-consistency checks on hand-made pH / DO loops (no simulator needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel, fit_consistency, windowed_cusum
from forecaster.anomaly.consistency_alarms import consistency_rules

CFG = RulesConfig()
LO, HI = 6.95, 7.05  # dead band of a 7.00 set point


def loop_batch(seed: int, n: int = 200, ph_drift_from: float | None = None) -> pd.DataFrame:
    """A dead-band pH loop (base 120 mL/h per pH unit below the band, CO2 1200 mL/min per pH
    unit above it) and a DO cascade; the reading is the true pH + 0.01 noise (+ drift)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    true = np.where(t < n / 2, 6.945, 7.055) + 0.02 * np.sin(t / 7.0 + seed)
    base = np.clip(120.0 * (LO - true), 0.0, 6.0)
    co2 = np.clip(1200.0 * (true - HI), 0.0, 60.0)
    ph = true + rng.normal(0, 0.01, n)
    if ph_drift_from is not None:
        ph += np.where(t >= ph_drift_from, -0.01 * (t - ph_drift_from), 0.0)
    return pd.DataFrame({
        "time_h": t, "ph": ph, "ph_setpoint": 7.0, "base_rate_mL_h": base,
        "co2_flow_mL_min": co2, "do_pct": 40 + rng.normal(0, 1, n), "do_setpoint_pct": 40.0,
        "agitation_rpm": np.minimum(80 + 2.0 * t, 250.0),
        "airflow_L_min": np.clip(0.03 + 0.0005 * (t - 85), 0.03, 0.3) + rng.normal(0, 1e-3, n),
    })  # fmt: skip


@pytest.fixture(scope="module")
def model() -> ConsistencyModel:
    return fit_consistency([loop_batch(s) for s in range(30)], CFG)


def _rules(rows: pd.DataFrame, m: ConsistencyModel) -> dict:
    return {r.name: r for r in consistency_rules(rows, CFG, m)}


@pytest.mark.parametrize(
    ("z", "k", "w", "expected"),
    [
        ([2.0, 2.0, 2.0, 2.0, 2.0], 0.5, 3, [1.5, 3.0, 4.5, 4.5, 4.5]),  # capped at w rows
        ([-2.0, -2.0, 0.0, 0.0], 0.5, 10, [1.5, 3.0, 2.5, 2.0]),  # a fall counts too
        ([0.4, 0.4, 0.4], 0.5, 3, [0.0, 0.0, 0.0]),  # below the allowance
    ],
)
def test_windowed_cusum_table(z, k, w, expected):
    np.testing.assert_allclose(windowed_cusum(np.array(z), k, w), expected)


def test_windowed_cusum_depends_on_last_w_rows_only():
    z = np.random.default_rng(0).normal(0, 2, 60)
    changed = z.copy()
    changed[:10] += 50.0
    a, b = windowed_cusum(z, 0.5, 8), windowed_cusum(changed, 0.5, 8)
    np.testing.assert_allclose(a[17:], b[17:])
    assert not np.allclose(a[:10], b[:10])


def test_fit_recovers_the_controller_gains(model):
    a_b, b_b, a_c, b_c = model.ph_fit
    assert a_b == pytest.approx(LO - 7.0, abs=0.005) and b_b == pytest.approx(-1 / 120, rel=0.15)
    assert a_c == pytest.approx(HI - 7.0, abs=0.005) and b_c == pytest.approx(1 / 1200, rel=0.15)
    assert model.ph_sigma == pytest.approx(0.01, rel=0.3)


def test_normal_batches_stay_quiet(model):
    for seed in range(30, 36):
        fired = [n for n, r in _rules(loop_batch(seed), model).items() if r.flag.any()]
        assert fired == []


def test_ph_probe_drift_fires_soon_after_it_starts(model):
    r = _rules(loop_batch(20, ph_drift_from=60.0), model)["ph_controller_mismatch"]
    first = np.flatnonzero(r.flag)[0]
    assert 60 <= first <= 68  # 0.01 pH/h: one noise sd per hour
    assert "controller" in r.describe(first, 60.0)


def test_stuck_co2_valve_with_base_on_fires_at_once(model):
    rows = loop_batch(21)
    on = rows["time_h"] >= 50
    rows.loc[on, "co2_flow_mL_min"] = 55.0  # valve stuck open; pH falls, base doses
    rows.loc[on, "ph"] = 6.80
    rows.loc[on, "base_rate_mL_h"] = 6.0
    res = _rules(rows, model)
    assert np.flatnonzero(res["ph_controller_mismatch"].flag)[0] == 50
    assert np.flatnonzero(res["base_demand_high"].flag)[0] == 50


def test_fast_oxygen_demand_rise_fires(model):
    rows = loop_batch(22)
    on = rows["time_h"] >= 150
    rows.loc[on, "airflow_L_min"] += 0.03 * (rows.loc[on, "time_h"] - 150)  # bacteria-fast
    r = _rules(rows, model)["oxygen_demand_rise"]
    assert 150 <= np.flatnonzero(r.flag)[0] <= 153
    assert not r.flag[:150].any()


def test_model_round_trips_as_plain_values(model):
    again = ConsistencyModel(**model.to_dict())
    rows = loop_batch(23, ph_drift_from=80.0)
    for name, r in _rules(rows, model).items():
        np.testing.assert_array_equal(r.flag, _rules(rows, again)[name].flag)


def test_ph_mismatch_reason_says_the_implied_ph_in_ph_units(model):
    rows = loop_batch(24, ph_drift_from=60.0)
    r = _rules(rows, model)["ph_controller_mismatch"]
    i = int(np.flatnonzero(r.flag)[5])
    text = r.describe(i, 60.0)
    implied = float(text.split("imply about ")[1].split(";")[0])
    assert 6.9 <= implied <= 7.1  # a pH, not reading + setpoint (~14)
    assert implied == pytest.approx(r.ref[i], abs=0.005)
    assert f"pH reading {rows['ph'][i]:.2f} at {i} h against a 7.00 setpoint" in text
    ran = float(text.split("reading ran ")[1].split(" pH")[0])
    assert ran < -0.02  # the probe drifts down by 0.01 pH/h
    assert "sd-hours" in r.threshold_unit and f"against {r.threshold:.0f}" in text


def test_do_shift_reason_gives_the_cusum_with_its_limit(model):
    rows = loop_batch(25)
    rows.loc[rows["time_h"] >= 120, "do_pct"] -= 8.0  # a probe offset
    r = _rules(rows, model)["do_shift"]
    i = int(np.flatnonzero(r.flag)[0])
    text = r.describe(i, float(i))
    assert f"CUSUM {r.severity[i] * r.threshold:.0f} against {r.threshold:.0f}" in text
    assert "sd-hours" in r.threshold_unit and "less 0.5 per hourly row" in r.threshold_unit


def do_loop_batch(seed: int, drift_from: float | None = None) -> pd.DataFrame:
    """A DO cascade: agitation at its floor (DO above set point) until 30 h, then ramping at
    6 rpm/h to 45 h and 1 rpm/h after, then sparge; a PI loop lags a ramp, DO = set point - 150 x the
    cascade's rate (range/h) + 1 % noise (+ a probe drift of -1 %/h from ``drift_from``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(200, dtype=float)
    rate = np.where(t < 30, 0.0, np.where(t < 45, 6.0, 1.0))  # rpm/h
    agit = np.minimum(80.0 + np.concatenate([[0.0], np.cumsum(rate[1:])]), 250.0)
    air = 0.03 + 0.001 * np.clip(t - 125.0, 0.0, None)  # sparge once agitation is at 250
    rate_u = np.gradient((agit - 80.0) / 170.0 + (air - 0.03) / 0.074)  # range per hour
    do = 40.0 - 150.0 * rate_u + rng.normal(0, 1, t.size)
    do = np.where(t < 30, 40.0 + 25.0 * np.exp(-t / 15.0), do)
    if drift_from is not None:
        do += np.where(t >= drift_from, -1.0 * (t - drift_from), 0.0)
    return pd.DataFrame({
        "time_h": t, "do_pct": do, "do_setpoint_pct": 40.0, "agitation_rpm": agit,
        "airflow_L_min": air,
    })  # fmt: skip


@pytest.fixture(scope="module")
def do_model() -> ConsistencyModel:
    return fit_consistency([do_loop_batch(s) for s in range(20)], CFG)


def test_do_fit_learns_the_loop_lag_and_its_noise(do_model):
    assert do_model.do_fit is not None
    assert do_model.do_fit[1] == pytest.approx(-150.0, rel=0.2)
    assert do_model.do_sigma == pytest.approx(1.0, rel=0.3)


def test_do_lag_and_startup_floor_are_explained(do_model):
    from forecaster.anomaly.consistency import statistics

    rows = do_loop_batch(30)
    stat = statistics(rows, CFG, do_model)["do_shift"][0]
    assert stat[12:30].max() == 0.0  # at the floor, DO above set point is expected
    # without the lag term the 30-45 h ramp (DO ~5 % low) would look like a shift
    blind = ConsistencyModel(**{**do_model.to_dict(), "do_fit": None})
    assert statistics(rows, CFG, blind)["do_shift"][0][30:50].max() > 3 * stat[30:50].max()
    assert not _rules(rows, do_model)["do_shift"].flag.any()


def test_do_probe_drift_fires_within_hours(do_model):
    r = _rules(do_loop_batch(31, drift_from=120.0), do_model)["do_shift"]
    first = np.flatnonzero(r.flag)[0]
    assert 120 <= first <= 127  # -1 %/h against a 1 % noise sd
