"""Faults: fault table, per-row labels, sensor faults only on readings, visible signatures."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecaster import schema
from forecaster.sim import SimConfig, simulate

from .helpers import batch, clean_config, col, only_fault


def test_fault_table_has_the_contract_columns(faulty):
    f = faulty.faults
    assert tuple(f.columns) == schema.FAULT_TABLE_COLUMNS
    assert len(f) == 16 and f["batch_id"].is_unique
    assert set(f["type"]) <= set(schema.FAULT_TYPES) and f["type"].nunique() >= 5
    names = set(schema.VARIABLE_NAMES)
    assert all(set(a.split(";")) <= names for a in f["affected"])
    assert (f["start_h"] < f["end_h"]).all() and (f["end_h"] <= 240.0).all()


def test_labels_cover_the_injected_windows_exactly(faulty):
    t = faulty.table
    for f in faulty.faults.itertuples():
        rows = batch(faulty, f.batch_id)
        inside = (rows["time_h"] >= f.start_h) & (rows["time_h"] <= f.end_h)
        assert inside.sum() >= 2
        np.testing.assert_array_equal(rows[schema.FAULT_LABEL], inside.astype(int))
        expected = np.where(inside, f.type, "none")
        np.testing.assert_array_equal(rows[schema.FAULT_TYPE].astype(str), expected)
    assert t[schema.FAULT_LABEL].dtype.kind == "i"


def test_fault_free_batches_carry_no_labels():
    res = simulate(clean_config(days=3.0), n_batches=3, seed=0)
    assert len(res.faults) == 0 and tuple(res.faults.columns) == schema.FAULT_TABLE_COLUMNS
    assert (res.table[schema.FAULT_LABEL] == 0).all()
    assert (res.table[schema.FAULT_TYPE] == "none").all()


@pytest.mark.parametrize("kind", ["sensor_drift", "sensor_stuck", "sensor_spikes"])
def test_sensor_faults_change_only_the_reading_in_the_window(kind):
    cfg = SimConfig(run_length_days=5.0)
    cfg.faults.rate = 0.0
    spec = {"start_h": (50.0, 60.0), "duration_h": (12.0, 12.0)}
    ok, bad = simulate(cfg, n_batches=4, seed=3), simulate(only_fault(cfg, kind, **spec), 4, 3)
    keep = [c for c in ok.table.columns if c not in (schema.FAULT_LABEL, schema.FAULT_TYPE)]
    for f in bad.faults.itertuples():
        a, b = batch(ok, f.batch_id)[keep], batch(bad, f.batch_id)[keep]
        changed = ~np.isclose(a[f.affected], b[f.affected], rtol=0, atol=1e-12)
        inside = (a["time_h"] >= f.start_h) & (a["time_h"] <= f.end_h)
        assert changed.any() and not (changed & ~inside).any()
        rest = [c for c in keep if c != f.affected]
        pd.testing.assert_frame_equal(a[rest], b[rest])  # the process did not notice
        if kind == "sensor_stuck":
            assert b.loc[inside, f.affected].nunique() == 1


def _forced(kind: str, start: float, **spec) -> tuple:
    cfg = SimConfig(run_length_days=8.0)
    cfg.faults.rate = 0.0
    bad_cfg = only_fault(cfg, kind, start_h=(start, start), **spec)
    return simulate(cfg, n_batches=4, seed=8), simulate(bad_cfg, n_batches=4, seed=8)


def test_ph_control_failure_leaves_the_dead_band():
    ok, bad = _forced("ph_control_failure", 80.0, duration_h=(24.0, 24.0))
    ph, sp = col(bad, "ph"), col(bad, "ph_setpoint")
    band = SimConfig().control.ph_deadband
    assert (np.abs(ph - sp)[:, 81:105].max(axis=1) > band + 0.05).all()
    assert (np.abs(col(ok, "ph") - sp)[:, 81:105].max(axis=1) < band + 0.05).all()


def test_temperature_control_failure_moves_temperature_off_setpoint():
    ok, bad = _forced("temperature_control_failure", 60.0, duration_h=(12.0, 12.0))
    off = np.abs(col(bad, "temperature_C") - col(bad, "temperature_setpoint_C"))
    assert (off[:, 64:73].min(axis=1) > 1.0).all()  # > 1 C off within 4 h, for the window
    back = np.abs(col(bad, "temperature_C") - col(ok, "temperature_C"))[:, 84:]
    assert (back < 0.5).all()  # back under control after it (sensor noise differs: 2 x 0.05)


def test_contamination_drops_do_and_ph_and_eats_glucose():
    ok, bad = _forced("contamination", 72.0, severity=(1.0, 1.0))
    day = slice(72, 72 + 36)  # within hours to a day and a half
    assert (
        col(bad, "do_pct")[:, day].min(axis=1) < 0.5 * col(ok, "do_pct")[:, day].min(axis=1)
    ).all()
    assert (col(bad, "ph")[:, day].min(axis=1) < col(ok, "ph")[:, day].min(axis=1) - 0.1).all()
    k = 72 + 48  # next daily assay after the crash
    glc_ok, glc_bad = col(ok, "glucose_g_L")[:, k], col(bad, "glucose_g_L")[:, k]
    assert np.isfinite(glc_bad).all() and (glc_bad < 0.5 * glc_ok).all()
    assert (col(bad, "viability_pct")[:, -1] < col(ok, "viability_pct")[:, -1] - 20).all()


def test_feed_pump_failure_keeps_the_command_but_stops_the_volume():
    ok, bad = _forced("feed_pump_failure", 96.0, duration_h=(48.0, 48.0))
    np.testing.assert_array_equal(
        col(ok, "feed_rate_mL_h")[:, :97], col(bad, "feed_rate_mL_h")[:, :97]
    )
    assert (col(bad, "feed_rate_mL_h")[:, 96:144] > 0).all()
    grow_ok = np.diff(col(ok, "volume_L")[:, [96, 144]], axis=1)
    grow_bad = np.diff(col(bad, "volume_L")[:, [96, 144]], axis=1)
    assert (grow_bad < 0.2 * grow_ok).all()


def test_fault_draws_do_not_move_other_batches():
    cfg = SimConfig(run_length_days=3.0)
    with_faults = simulate(cfg, n_batches=6, seed=9)
    cfg0 = dataclasses.replace(cfg, faults=dataclasses.replace(cfg.faults, rate=0.0))
    without = simulate(cfg0, n_batches=6, seed=9)
    drawn = [f.name for f in dataclasses.fields(cfg.variability)] + ["run_length_h"]
    pd.testing.assert_frame_equal(with_faults.batches[drawn], without.batches[drawn])
    ok = with_faults.batches["fault_type"] == "none"
    assert 0 < ok.sum() < 6
    clean = with_faults.table[with_faults.table["batch_id"].isin(with_faults.batches.batch_id[ok])]
    pd.testing.assert_frame_equal(clean, without.table.loc[clean.index])
