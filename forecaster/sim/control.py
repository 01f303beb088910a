"""Process control and transfer: DO cascade, oxygen/CO2 transfer, pH chemistry and loop.

- Oxygen transfer: kLa of the sparge follows van 't Riet (1979, Ind Eng Chem Process Des Dev
  18:357), kLa ~ (P/V)^0.4 vs^0.5 with P ~ N^3, i.e. ~ N^1.2 Q^0.5, scaled so that it equals
  the batch's ``kla_sparge_max_1_h`` at maximum agitation and flow; plus a small headspace
  term ~ N^1.5. The sparge is a blend that goes from air at minimum flow to pure O2 at
  maximum (saturation 100 % -> 476 % of air saturation), so a bench reactor can carry
  20e6 cells/mL with kLa ~ 5-15 1/h.
- DO cascade: one PI output u in [0, 2]; u in [0, 1] raises agitation, u in [1, 2] the sparge.
- pH: bicarbonate buffer, pH = 6.1 + log10([HCO3-] / [dCO2]) (Henderson-Hasselbalch).
  Lactate, bacterial acid and base move [HCO3-]; respiration, CO2 sparge and stripping move
  dissolved CO2. Dead-band control: CO2 above the band, base below it (proportional).
"""

from __future__ import annotations

import numpy as np

from forecaster.sim.config import Control

O2_AIR_FRACTION = 0.21
#: Stripping of dissolved CO2 (1/h): headspace + per unit of relative sparge flow.
CO2_STRIP_BASE_1_H = 0.3
CO2_STRIP_SPARGE_1_H = 2.0
#: Dissolved CO2 (mM) that the CO2 sparge adds per hour at full valve opening.
CO2_SPARGE_MM_H = 3.0
#: Dissolved CO2 in equilibrium with air (mM).
CO2_AIR_MM = 0.03
#: Respiratory quotient (CO2 evolved / O2 taken up).
RQ = 0.9


def cascade(u: np.ndarray, c: Control) -> tuple[np.ndarray, np.ndarray]:
    """Map the DO controller output u (n,) in [0, 2] to (agitation rpm, sparge L/min)."""
    u1 = np.clip(u, 0.0, 1.0)
    u2 = np.clip(u - 1.0, 0.0, 1.0)
    rpm = c.agitation_min_rpm + u1 * (c.agitation_max_rpm - c.agitation_min_rpm)
    flow = c.airflow_min_L_min + u2 * (c.airflow_max_L_min - c.airflow_min_L_min)
    # exact maxima (no rounding above them), so "at its limit" is an equality in the data
    return np.minimum(rpm, c.agitation_max_rpm), np.minimum(flow, c.airflow_max_L_min)


def oxygen_transfer(
    rpm: np.ndarray, flow: np.ndarray, kla_max: np.ndarray, c: Control
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Headspace kLa, sparge kLa (1/h) and sparge saturation (% air sat.), each (n,)."""
    n_rel = rpm / c.agitation_max_rpm
    q_rel = flow / c.airflow_max_L_min
    kla_surface = c.kla_surface_1_h * n_rel**1.5
    kla_sparge = kla_max * n_rel**1.2 * np.sqrt(q_rel)
    span = max(c.airflow_max_L_min - c.airflow_min_L_min, 1e-12)
    o2 = O2_AIR_FRACTION + (1.0 - O2_AIR_FRACTION) * np.clip(
        (flow - c.airflow_min_L_min) / span, 0.0, 1.0
    )
    return kla_surface, kla_sparge, 100.0 * o2 / O2_AIR_FRACTION


def ph_from(hco3_mM: np.ndarray, dco2_mM: np.ndarray) -> np.ndarray:
    """(n,) pH from bicarbonate and dissolved CO2 (mM)."""
    return 6.1 + np.log10(np.maximum(hco3_mM, 1e-3) / np.maximum(dco2_mM, 1e-4))


def ph_commands(ph: np.ndarray, setpoint: np.ndarray, c: Control) -> tuple[np.ndarray, np.ndarray]:
    """Dead-band pH control. Returns (base command mL/h, CO2 command mL/min), each (n,)."""
    lo = setpoint - c.ph_deadband
    hi = setpoint + c.ph_deadband
    base = c.base_max_mL_h * np.clip(c.base_gain_per_pH * (lo - ph), 0.0, 1.0)
    co2 = c.co2_max_mL_min * np.clip(c.co2_gain_per_pH * (ph - hi), 0.0, 1.0)
    return base, co2


def co2_strip_rate(flow: np.ndarray, c: Control) -> np.ndarray:
    """(n,) CO2 stripping rate constant (1/h), rising with the sparge flow."""
    return CO2_STRIP_BASE_1_H + CO2_STRIP_SPARGE_1_H * flow / c.airflow_max_L_min


def relax(x: np.ndarray, target: np.ndarray, rate: np.ndarray, dt: float) -> np.ndarray:
    """Exact step of dx/dt = rate * (target - x) over dt (stable for any rate >= 0)."""
    return target + (x - target) * np.exp(-rate * dt)
