"""Physics sanity: ranges, exact balances, monotone titer, starvation, aeration, temperature shift."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forecaster import schema
from forecaster.sim import SimConfig, simulate
from forecaster.sim.kinetics import rates
from forecaster.sim.params import Streams, draw_batch_params

from .helpers import clean_config, col, only_fault


def test_every_value_is_physical_even_with_faults(faulty):
    t = faulty.table
    for v in schema.VARIABLES:
        x = t[v.name].to_numpy(float)
        seen = x[np.isfinite(x)]
        assert seen.size, v.name
        assert seen.min() >= max(v.lo, 0.0) - 1e-12 and seen.max() <= v.hi, v.name
    for name in schema.DENSE:
        assert t[name].notna().all(), name


def test_volume_grows_by_exactly_feed_plus_base(clean):
    b = clean.batches
    grown = b["harvest_volume_true_L"] - b["initial_volume_L"]
    np.testing.assert_allclose(grown, b["feed_L"] + b["base_L"], rtol=0, atol=1e-12)
    # The logged feed command holds for the hour after its row, so it integrates to the feed.
    feed = col(clean, "feed_rate_mL_h")[:, :-1].sum(axis=1) / 1000.0
    np.testing.assert_allclose(feed, b["feed_L"], rtol=1e-9)
    assert (b["base_L"] > 0).all() and (b["feed_L"] > 0.05 * b["initial_volume_L"]).all()


def test_glucose_balance_closes(clean):
    b = clean.batches
    g = col(clean, "glucose_g_L")
    v = col(clean, "volume_L")
    start = b["initial_glucose_g_L"] * b["initial_volume_L"]
    end = g[:, -1] * v[:, -1]
    np.testing.assert_allclose(end - start, b["glucose_fed_g"] - b["glucose_used_g"], atol=1e-9)
    assert (b["glucose_used_g"] > b["glucose_fed_g"] * 0.5).all()


@pytest.mark.parametrize("policy", ["glucose_setpoint", "continuous", "daily_bolus"])
def test_titer_never_decreases_in_normal_batches(policy):
    res = simulate(clean_config(days=6.0, feed_policy=policy), n_batches=3, seed=4)
    titer, vol = col(res, "titer_mg_L"), col(res, "volume_L")
    assert (np.diff(titer * vol, axis=1) >= -1e-9).all()  # product mass
    if policy != "daily_bolus":  # a bolus dilutes for an hour; daily samples see no drop
        assert (np.diff(titer, axis=1) >= -1e-9).all()
    assert (titer[:, -1] > 100).all()


def test_starvation_stops_growth_and_lactate_is_consumed():
    cfg = clean_config(days=10.0)
    starve = only_fault(cfg, "feed_pump_failure", start_h=(96.0, 96.0), duration_h=(144.0, 144.0))
    fed, cut = simulate(cfg, n_batches=4, seed=5), simulate(starve, n_batches=4, seed=5)
    glc, vcd, lac = col(cut, "glucose_g_L"), col(cut, "vcd_1e6_cells_mL"), col(cut, "lactate_g_L")
    empty = np.argmax(glc < 0.05, axis=1)
    assert (empty > 96).all()  # it runs out after the pump stops...
    for i, k in enumerate(empty):
        assert vcd[i, k:].max() <= vcd[i, k] * 1.03  # ...and then cells stop growing
        assert lac[i, -1] < lac[i, k]  # lactate is eaten once glucose is gone
    assert (vcd[:, -1] < col(fed, "vcd_1e6_cells_mL")[:, -1]).all()
    assert (col(cut, "viability_pct")[:, -1] < col(fed, "viability_pct")[:, -1]).all()


def test_aeration_failure_lowers_do_then_growth():
    cfg = clean_config(days=7.0)
    spec = {"start_h": (100.0, 100.0), "duration_h": (10.0, 10.0), "severity": (1.0, 1.0)}
    ok = simulate(cfg, n_batches=4, seed=6)
    bad = simulate(only_fault(cfg, "aeration_failure", **spec), n_batches=4, seed=6)
    do_ok, do_bad = col(ok, "do_pct"), col(bad, "do_pct")
    np.testing.assert_array_equal(do_ok[:, :101], do_bad[:, :101])  # identical before
    sp = col(bad, "do_setpoint_pct")[:, 0]
    assert (do_bad[:, 102] < sp - 15).all()  # well below setpoint within 2 h
    c = cfg.control
    assert (col(bad, "agitation_rpm")[:, 103:110] == c.agitation_max_rpm).all()
    assert (col(bad, "airflow_L_min")[:, 103:110] == c.airflow_max_L_min).all()
    assert (col(bad, "vcd_1e6_cells_mL")[:, 110] < 0.97 * col(ok, "vcd_1e6_cells_mL")[:, 110]).all()


def test_temperature_shift_raises_specific_productivity_as_configured():
    cfg = SimConfig()
    p = draw_batch_params(cfg, 5, Streams.from_seed(0).params)
    kin = dataclasses.replace(cfg.kinetics, qp_stationary_boost=0.0)
    one = np.ones(5)
    args = (5 * one, 4 * one, 2 * one, 1 * one, 3 * one, 40 * one, 7.0 * one)
    pre = rates(*args, p["temperature_pre_shift_C"], 100.0, p, kin).qp
    post = rates(*args, p["temperature_post_shift_C"], 100.0, p, kin).qp
    np.testing.assert_allclose(post / pre, p["qp_shift_gain"], rtol=1e-12)


def test_shift_gain_shows_in_simulated_titer():
    cfg = clean_config(days=8.0)
    cfg.kinetics.qp_stationary_boost = 0.0
    res = simulate(cfg, n_batches=4, seed=7)
    mass = col(res, "titer_mg_L") * col(res, "volume_L")
    cells = col(res, "vcd_1e6_cells_mL") * col(res, "volume_L")
    shift = res.batches["temperature_shift_h"].to_numpy(int)
    # qP over the hour after row k: product made / mean cells (mg per 1e6 cells/mL x L x h)
    qp = (mass[:, 1:] - mass[:, :-1]) / (0.5 * (cells[:, 1:] + cells[:, :-1]))
    rows = np.arange(len(shift))
    gain = qp[rows, shift + 8] / qp[rows, shift - 8]
    np.testing.assert_allclose(gain, res.batches["qp_shift_gain"], rtol=0.05)
