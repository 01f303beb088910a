"""pH loop: CO2 above the dead band, base below it, the set point held in normal batches."""

from __future__ import annotations

import numpy as np
import pytest

from forecaster.sim import SimConfig, simulate

from .helpers import clean_config, col, only_fault

START_UP_H = 24  # rows (1 h apart) left out: inoculation, first CO2 build-up
TOLERANCE = 0.01  # pH units beyond the band allowed for transients


@pytest.fixture(scope="module")
def normal():
    """Twenty fault-free, noise-free 14-day batches (the pH column is the true pH)."""
    return simulate(clean_config(days=14.0), n_batches=20, seed=21)


def _band(res):
    sp = col(res, "ph_setpoint")
    db = SimConfig().control.ph_deadband
    return col(res, "ph"), sp - db, sp + db


def test_true_ph_stays_in_the_dead_band_after_start_up(normal):
    ph, lo, hi = (x[:, START_UP_H:] for x in _band(normal))
    inside = (ph >= lo - TOLERANCE) & (ph <= hi + TOLERANCE)
    assert inside.mean() >= 0.95, f"{inside.mean():.1%} of rows in the band"
    assert inside.mean(axis=1).min() >= 0.9  # no batch sits outside it for a day or more
    assert (np.abs(ph - 0.5 * (lo + hi)) < 0.15).all()  # and never far from the set point


def test_co2_above_the_band_and_base_below_it(normal):
    ph, lo, hi = _band(normal)
    co2, base = col(normal, "co2_flow_mL_min"), col(normal, "base_rate_mL_h")
    above, below = ph > hi, ph < lo
    assert above.any() and below.any()  # both actuators have work in a normal batch
    assert (co2[above] > 0).all() and (base[below] > 0).all()
    assert not ((co2 > 0) & (base > 0)).any()  # the two never fight each other
    c = SimConfig().control
    assert co2.max() <= c.co2_max_mL_min and base.max() <= c.base_max_mL_h
    # both are used, neither lives at its limit once the culture runs
    late = slice(START_UP_H, None)
    assert (co2[:, late] > 0).mean() > 0.2 and (base[:, late] > 0).mean() > 0.05
    assert (co2[:, late] >= c.co2_max_mL_min).mean() < 0.05
    assert (base[:, late] >= c.base_max_mL_h).mean() < 0.05


def test_base_added_stays_a_few_percent_of_the_volume(normal):
    b = normal.batches
    share = b["base_L"] / b["initial_volume_L"]
    assert (share > 0.005).all() and (share < 0.08).all()


def test_ph_failures_still_leave_the_band_with_their_signature():
    cfg = clean_config(days=6.0)
    c = cfg.control
    weakest = cfg.faults.ph_control_failure.severity[0]  # hardest case for a PI loop to show
    spec = {"start_h": (80.0, 80.0), "duration_h": (24.0, 24.0), "severity": (weakest, weakest)}
    ok = simulate(cfg, n_batches=8, seed=8)
    bad = simulate(only_fault(cfg, "ph_control_failure", **spec), n_batches=8, seed=8)
    ph, lo, _ = _band(bad)
    win = slice(81, 104)  # fault active 80 <= t < 104
    co2_mode = bad.faults["affected"].str.contains("co2_flow").to_numpy()
    assert co2_mode.any() and (~co2_mode).any()  # both modes drawn
    assert (ph[:, win].min(axis=1) < lo[:, 0] - 0.04).all()  # pH leaves the band
    base, co2 = col(bad, "base_rate_mL_h"), col(bad, "co2_flow_mL_min")
    base_ok = col(ok, "base_rate_mL_h")
    assert base_ok.max() < 0.6 * c.base_max_mL_h
    # base pump: the loop calls for base that does not arrive, far above the same batch's use
    assert (base[~co2_mode, win].max(axis=1) == c.base_max_mL_h).all()
    assert (base[~co2_mode, win].mean(axis=1) > 2.0 * base_ok[~co2_mode, win].mean(axis=1)).all()
    # CO2 valve stuck open: the logged flow stays at the stuck opening, base fights it
    assert (co2[co2_mode, win] >= weakest * c.co2_max_mL_min - 1e-9).all()
    assert (col(ok, "co2_flow_mL_min")[co2_mode, win] < 0.7 * c.co2_max_mL_min).all()
    assert (base[co2_mode, win].max(axis=1) == c.base_max_mL_h).all()
    assert (ph[co2_mode, win].min(axis=1) < lo[co2_mode, 0] - 0.2).all()
    # back in the band within a day of the repair
    ph, lo, hi = (x[:, 128:] for x in _band(bad))
    assert ((ph >= lo - TOLERANCE) & (ph <= hi + TOLERANCE)).mean() > 0.9
