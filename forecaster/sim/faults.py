"""Fault draws, their activity in the time loop, ground-truth labels and sensor-fault effects.

At most one fault per batch. A fault is active in the physics for ``start_h <= t < end_h``;
a row is labelled when ``start_h <= time_h <= end_h`` (the row at ``end_h`` still shows the
fault's last effect). Start and end lie on the sample grid, so labels match rows exactly.
Sensor faults change readings only: the process and its controllers see the true values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.sim.fault_config import FaultsConfig, FaultSpec

MAX_SPIKES = 8
#: Directly affected readings per physical fault type (ph_control_failure depends on mode).
AFFECTED: dict[str, str] = {
    "aeration_failure": "do_pct;agitation_rpm;airflow_L_min",
    "feed_pump_failure": "glucose_g_L;volume_L",
    "temperature_control_failure": "temperature_C",
    "contamination": "do_pct;ph;glucose_g_L;viability_pct",
}
PH_AFFECTED = ("ph;base_rate_mL_h", "ph;co2_flow_mL_min;base_rate_mL_h")  # base / CO2 mode
#: Sensor fault scales: drift end offset and spike height at severity 1, per reading.
DRIFT_SCALE = {"do_pct": -40.0, "ph": 0.3, "temperature_C": 2.0}
SPIKE_SCALE = {"do_pct": 30.0, "ph": 0.3, "temperature_C": 3.0}


@dataclass
class FaultPlan:
    """The drawn faults, (n,) arrays; ``kind`` is an index into ``schema.FAULT_TYPES`` or -1.

    Attributes:
        kind, start_h, end_h, severity: the fault of each batch (start = inf if none).
        variable: sensor faults' reading ("" otherwise).
        mode: ph_control_failure mode, 0 = base pump, 1 = CO2 valve stuck open.
        sign: +1 / -1 (temperature offset, pH drift direction).
        spike_u: (n, MAX_SPIKES) uniforms placing spikes; spike_sign: (n, MAX_SPIKES) +-1;
            spike_n: (n,) spike count.
    """

    kind: np.ndarray
    start_h: np.ndarray
    end_h: np.ndarray
    severity: np.ndarray
    variable: np.ndarray
    mode: np.ndarray
    sign: np.ndarray
    spike_u: np.ndarray
    spike_sign: np.ndarray
    spike_n: np.ndarray

    def of_type(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(start, end, severity) arrays that are inactive (inf, inf, 0) for other batches."""
        hit = self.kind == schema.FAULT_TYPES.index(name)
        return (
            np.where(hit, self.start_h, np.inf),
            np.where(hit, self.end_h, np.inf),
            np.where(hit, self.severity, 0.0),
        )

    def type_names(self) -> np.ndarray:
        """(n,) fault type per batch, "none" if none."""
        names = np.array(("none",) + schema.FAULT_TYPES, dtype=object)
        return names[self.kind + 1]


def _uniform(window: tuple[float, float], u: np.ndarray) -> np.ndarray:
    return window[0] + u * (window[1] - window[0])


def draw_faults(
    cfg: FaultsConfig, run_length_h: np.ndarray, sample_h: float, rng: np.random.Generator
) -> FaultPlan:
    """Draw at most one fault per batch; the number of random draws is fixed by n alone."""
    n = run_length_h.size
    draws = rng.random((n, 9 + 2 * MAX_SPIKES))  # batch-major: batch i's draws never move
    u = draws[:, :8].T
    spike_u = draws[:, 8 : 8 + MAX_SPIKES]
    spike_sign = np.where(draws[:, 8 + MAX_SPIKES : 8 + 2 * MAX_SPIKES] < 0.5, -1.0, 1.0)
    spike_n = 3 + np.minimum((draws[:, -1] * (MAX_SPIKES - 2)).astype(int), MAX_SPIKES - 3)
    specs: list[FaultSpec] = [getattr(cfg, name) for name in schema.FAULT_TYPES]
    weights = np.array([s.weight for s in specs], dtype=float)
    kind = np.full(n, -1)
    if cfg.rate > 0 and weights.sum() > 0:
        cum = np.cumsum(weights) / weights.sum()
        chosen = np.minimum(np.searchsorted(cum, u[1], side="right"), len(specs) - 1)
        kind = np.where(u[0] < cfg.rate, chosen, -1)
    start = np.full(n, np.inf)
    end = np.full(n, np.inf)
    sev = np.zeros(n)
    var = np.full(n, "", dtype=object)
    for k, spec in enumerate(specs):
        hit = kind == k
        if not hit.any():
            continue
        s = np.round(_uniform(spec.start_h, u[2]) / sample_h) * sample_h
        s = np.clip(s, 0.0, run_length_h - sample_h)
        if spec.duration_h is None:
            e = run_length_h.astype(float)
        else:
            d = np.maximum(np.round(_uniform(spec.duration_h, u[3]) / sample_h), 1) * sample_h
            e = np.minimum(s + d, run_length_h)
        start = np.where(hit, s, start)
        end = np.where(hit, e, end)
        sev = np.where(hit, _uniform(spec.severity, u[4]), sev)
        if spec.variables:
            pick = np.minimum((u[5] * len(spec.variables)).astype(int), len(spec.variables) - 1)
            var = np.where(hit, np.array(spec.variables, dtype=object)[pick], var)
    mode = (u[6] < 0.5).astype(int)
    sign = np.where(u[7] < 0.5, -1.0, 1.0)
    return FaultPlan(kind, start, end, sev, var, mode, sign, spike_u, spike_sign, spike_n)


def fault_table(plan: FaultPlan, batch_ids: np.ndarray) -> pd.DataFrame:
    """One row per injected fault, columns ``schema.FAULT_TABLE_COLUMNS``."""
    idx = np.flatnonzero(plan.kind >= 0)
    rows = []
    for i in idx:
        name = schema.FAULT_TYPES[plan.kind[i]]
        if name in schema.SENSOR_FAULTS:
            affected = plan.variable[i]
        elif name == "ph_control_failure":
            affected = PH_AFFECTED[plan.mode[i]]
        else:
            affected = AFFECTED[name]
        rows.append(
            (batch_ids[i], name, plan.start_h[i], plan.end_h[i], plan.severity[i], affected)
        )
    table = pd.DataFrame(rows, columns=list(schema.FAULT_TABLE_COLUMNS))
    return table.astype({"start_h": float, "end_h": float, "severity": float})


def row_labels(plan: FaultPlan, time_h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(R, n) int labels and (R, n) object fault types for row times ``time_h`` (R,)."""
    t = time_h[:, None]
    on = (t >= plan.start_h[None, :]) & (t <= plan.end_h[None, :])
    types = np.where(on, plan.type_names()[None, :], "none").astype(object)
    return on.astype(np.int64), types


def apply_sensor_faults(
    readings: dict[str, np.ndarray], time_h: np.ndarray, plan: FaultPlan
) -> None:
    """Change (R, n) readings in place: drift (ramp to its end offset), stuck, spikes."""
    drift, stuck, spikes = (schema.FAULT_TYPES.index(x) for x in schema.SENSOR_FAULTS)
    for i in np.flatnonzero(np.isin(plan.kind, (drift, stuck, spikes))):
        name = plan.variable[i]
        x = readings[name][:, i]
        rows = np.flatnonzero((time_h >= plan.start_h[i]) & (time_h <= plan.end_h[i]))
        if rows.size == 0:
            continue
        if plan.kind[i] == drift:
            span = max(plan.end_h[i] - plan.start_h[i], 1e-9)
            sign = plan.sign[i] if name == "ph" else 1.0
            ramp = (time_h[rows] - plan.start_h[i]) / span
            x[rows] += sign * plan.severity[i] * DRIFT_SCALE[name] * ramp
        elif plan.kind[i] == stuck:
            x[rows] = x[max(rows[0] - 1, 0)]
        else:
            # A spike on the first and last row of the window, the rest inside it.
            k = int(min(plan.spike_n[i], rows.size))
            inner = rows[np.minimum((plan.spike_u[i, :k] * rows.size).astype(int), rows.size - 1)]
            at = np.unique(np.concatenate(([rows[0], rows[-1]], inner[: max(k - 2, 0)])))
            x[at] += plan.spike_sign[i, : at.size] * plan.severity[i] * SPIKE_SCALE[name]
