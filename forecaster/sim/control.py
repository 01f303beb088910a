"""Process control and transfer: DO cascade, oxygen/CO2 transfer, pH chemistry and loop.

- Oxygen transfer: kLa of the sparge follows van 't Riet (1979, Ind Eng Chem Process Des Dev
  18:357), kLa ~ (P/V)^0.4 vs^0.5 with P ~ N^3, i.e. ~ N^1.2 Q^0.5, scaled so that it equals
  the batch's ``kla_sparge_max_1_h`` at maximum agitation and flow; plus a small headspace
  term ~ N^1.5. The sparge is a blend that goes from air at minimum flow to pure O2 at
  maximum (saturation 100 % -> 476 % of air saturation), so a bench reactor can carry
  20e6 cells/mL with kLa ~ 5-15 1/h.
- DO cascade: one PI output u in [0, 2]; u in [0, 1] raises agitation, u in [1, 2] the sparge.
- pH: bicarbonate buffer, pH = 6.1 + log10([HCO3-] / [dCO2]) (Henderson-Hasselbalch).
  Lactate, bacterial acid and base move [HCO3-]; respiration adds dissolved CO2, and the
  sparge exchanges it with its gas (``co2_transfer``): air strips it, CO2 blended into the
  sparge by the pH loop dissolves (a mass balance, not a drawn curve). Dead-band control
  (``ph_loop``, split-range PI): CO2 holds the pH at set point + dead band when it rises,
  base at set point - dead band when it falls; set point 6.9-7.2 and band 0.05-0.1 as in
  bench CHO processes (``shared/DOMAIN.md``).
"""

from __future__ import annotations

import numpy as np

from forecaster.sim.config import Control

O2_AIR_FRACTION = 0.21
#: Effective CO2 transfer coefficients (1/h): headspace + per unit of relative sparge flow.
CO2_STRIP_BASE_1_H = 0.3
CO2_STRIP_SPARGE_1_H = 2.0
#: Dissolved CO2 (mM) in equilibrium with pure CO2 at 1 atm, 37 C: solubility ~0.030 mM/mmHg
#: times (760 - 47) mmHg (water vapour).
CO2_SAT_PURE_MM = 21.5
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


def ph_loop(
    ph: np.ndarray, lo: np.ndarray, hi: np.ndarray, integral: np.ndarray, c: Control, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split-range PI pH control with a dead band [lo, hi]; one step of ``dt`` h.

    Each actuator has its own PI loop whose set point is its edge of the band: the CO2 valve
    holds ``hi`` (set point + dead band), the base pump ``lo``. ``integral`` (n,) is the
    integral part of one output in [-1, 1]: > 0 is the CO2 valve's fraction open, < 0 the
    base pump's fraction on, so the two never run together. An actuator stays active while
    its integral is non-zero and holds the pH on its edge without offset; once the integral
    has run back to 0 both idle and the pH floats inside the band until it leaves it, which
    activates the actuator on that side. Gains are output fraction per pH unit, integral time
    ``ph_reset_time_h``.

    Returns:
        (base command mL/h, CO2 command mL/min, new integral), each (n,).
    """
    side = np.sign(integral)  # +1 CO2 active, -1 base active, 0 both idle
    side = np.where(side == 0.0, (ph > hi).astype(float) - (ph < lo), side)
    co2_side = side > 0.0
    err = (ph - np.where(co2_side, hi, lo)) * np.abs(side)  # > 0: too basic; 0 when idle
    gain = np.where(co2_side, c.co2_gain_per_pH, c.base_gain_per_pH)
    # side * clip(side * x, 0, 1) keeps x on the active side and within the actuator's range;
    # clamping the integral there is the anti-windup, and reaching 0 idles the actuator
    v = side * np.clip(side * (gain * err + integral), 0.0, 1.0)
    integral = side * np.clip(side * (integral + gain * err * (dt / c.ph_reset_time_h)), 0.0, 1.0)
    return c.base_max_mL_h * np.maximum(-v, 0.0), c.co2_max_mL_min * np.maximum(v, 0.0), integral


def co2_transfer(
    flow_L_min: np.ndarray, co2_mL_min: np.ndarray, c: Control
) -> tuple[np.ndarray, np.ndarray]:
    """CO2 gas-liquid transfer: (rate constant 1/h, CO2 delivered at zero dCO2 mM/h), each (n,).

    d[dCO2]/dt = k_hs (C_air - dCO2) + k_sp (y C_pure - dCO2) + CER, with the sparge's
    coefficient k_sp rising with its flow and y the CO2 share of the sparge gas (the CO2
    valve feeds the sparge line). So the same bubbles strip respiratory CO2 and carry the
    controller's CO2 in: more gas strips more, and a CO2-rich sparge adds more.
    """
    k_sp = CO2_STRIP_SPARGE_1_H * flow_L_min / c.airflow_max_L_min
    y = co2_mL_min / np.maximum(co2_mL_min + 1000.0 * flow_L_min, 1e-9)
    return CO2_STRIP_BASE_1_H + k_sp, k_sp * y * CO2_SAT_PURE_MM


def relax(x: np.ndarray, target: np.ndarray, rate: np.ndarray, dt: float) -> np.ndarray:
    """Exact step of dx/dt = rate * (target - x) over dt (stable for any rate >= 0)."""
    return target + (x - target) * np.exp(-rate * dt)
