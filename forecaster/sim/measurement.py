"""Measurement layer: true trajectories -> logged readings on the sample grid.

Online sensors (DO, pH, temperature, volume) carry additive noise on every row; controls and
setpoints are logged as commanded; offline assays (VCD, viability, glucose, lactate,
glutamine, ammonia, titer) exist only at assay rows (every ``assay_interval_h`` and the final
row of each batch) with multiplicative noise (titer CV 5 % by default). Sensor faults are
applied last. ``noise_free_dense`` gives noise-free assays on every row.
"""

from __future__ import annotations

import numpy as np

from forecaster import schema
from forecaster.sim.config import SimConfig
from forecaster.sim.engine import Trajectory
from forecaster.sim.faults import FaultPlan, apply_sensor_faults
from forecaster.sim.noise import Noise, assay_value, volume_reading


def assay_rows(time_h: np.ndarray, run_length_h: np.ndarray, cfg: SimConfig) -> np.ndarray:
    """(R, n) bool: rows with offline assays (every assay interval, plus each harvest row)."""
    if cfg.noise_free_dense:
        return np.ones((time_h.size, run_length_h.size), dtype=bool)
    on_grid = np.isclose(np.mod(time_h + 1e-9, cfg.assay_interval_h), 0.0, atol=1e-6)
    harvest = np.isclose(time_h[:, None], run_length_h[None, :])
    return on_grid[:, None] | harvest


def readings(
    traj: Trajectory, cfg: SimConfig, p: dict[str, np.ndarray], plan: FaultPlan, noise: Noise
) -> dict[str, np.ndarray]:
    """Every ``schema.VARIABLES`` column as a (R, n) array (NaN where not measured)."""
    r = traj.rec
    rows = slice(None)
    n_rows, n = r["xv"].shape
    time_h = np.arange(n_rows) * cfg.sample_interval_h
    total = r["xv"] + r["xd"]
    out = {
        "do_pct": r["do"] + noise.z["do_pct"],
        "ph": r["ph"] + noise.z["ph"],
        "temperature_C": r["temp"] + noise.z["temperature_C"],
        "volume_L": volume_reading(r["vol"], noise, rows),
        "agitation_rpm": r["rpm"],
        "airflow_L_min": r["flow"],
        "co2_flow_mL_min": r["co2"],
        "base_rate_mL_h": r["base"],
        "feed_rate_mL_h": r["feed"],
        "do_setpoint_pct": np.broadcast_to(p["do_setpoint_pct"], (n_rows, n)).copy(),
        "ph_setpoint": np.broadcast_to(p["ph_setpoint"], (n_rows, n)).copy(),
        "temperature_setpoint_C": r["temp_sp"],
        "feed_glucose_g_L": np.broadcast_to(p["feed_glucose_g_L"], (n_rows, n)).copy(),
        "vcd_1e6_cells_mL": assay_value(r["xv"], noise, "vcd_1e6_cells_mL", rows),
        "viability_pct": np.clip(
            100.0 * r["xv"] / np.maximum(total, 1e-12) + noise.z["viability_pct"], 0.0, 100.0
        ),
        "glucose_g_L": assay_value(r["glc"], noise, "glucose_g_L", rows),
        "lactate_g_L": assay_value(r["lac"], noise, "lactate_g_L", rows),
        "glutamine_mM": assay_value(r["gln"], noise, "glutamine_mM", rows),
        "ammonia_mM": assay_value(r["amm"], noise, "ammonia_mM", rows),
        "titer_mg_L": assay_value(r["titer"], noise, "titer_mg_L", rows),
    }
    apply_sensor_faults(out, time_h, plan)
    sparse = ~assay_rows(time_h, p["run_length_h"], cfg)
    for name in schema.OFFLINE:
        out[name][sparse] = np.nan
    for name in ("do_pct", "ph", "temperature_C", "volume_L"):
        v = schema.BY_NAME[name]
        np.clip(out[name], v.lo, v.hi, out=out[name])
    return out
