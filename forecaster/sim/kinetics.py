"""CHO cell kinetics: specific growth, death, uptake, production rates (vectorised).

Unstructured, unsegregated Monod model with inhibition terms, the form Xing et al. (2010,
Biotechnol Prog 26:208-219) fitted to a 5,000 L CHO fed-batch process: growth limited by
glucose and glutamine (Monod) and inhibited by lactate and ammonia; glucose and glutamine
uptake as growth over yield plus maintenance (Xing et al. found maintenance took 83 % of the
glucose late in the run, hence the large ``m_glc``); ammonia from glutamine. Added to that
form: spontaneous glutamine degradation; lactate produced in proportion to glucose uptake
while cells grow fast (and when oxygen runs out) and consumed once growth slows or glucose
runs out (the metabolic shift); death that rises with ammonia, starvation, hypoxia, heat, pH
and a late apoptotic phase; a lumped density limit standing for unmodelled nutrients;
specific productivity higher in slow growth and after a temperature shift; oxygen uptake
proportional to viable cells. The numbers (``config.Kinetics``, ``config.Variability``) are
calibrated so that default batches land in the CHO ranges of ``shared/DOMAIN.md``; they are not
fitted to one published data set.

Units: cells in 1e6 cells/mL, so a specific rate in pmol/cell/h times VCD is a volumetric rate
in mM/h; glucose and lactate in g/L, glutamine and ammonia in mM, titer in mg/L
(qP in pg/cell/day times VCD is mg/L/day). All arrays are (n_batches,).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from forecaster.sim.config import Kinetics

MW_GLUCOSE = 180.16  # g/mol
MW_LACTATE = 90.08  # g/mol


class Rates(NamedTuple):
    """Specific rates, each (n_batches,).

    mu, kd: growth and death (1/h); g_rel: mu / mu_max (0-1); q_glc, q_gln, q_lac, q_amm:
    pmol/cell/h (q_lac net, negative when consuming); q_o2: pmol/cell/h at saturating DO
    (uptake is q_o2 * DO / (k_do + DO)); qp: pg/cell/day.
    """

    mu: np.ndarray
    kd: np.ndarray
    g_rel: np.ndarray
    q_glc: np.ndarray
    q_gln: np.ndarray
    q_lac: np.ndarray
    q_amm: np.ndarray
    q_o2: np.ndarray
    qp: np.ndarray


def growth_temperature_factor(temp_c: np.ndarray, width_c: float) -> np.ndarray:
    """(n,) growth factor: 1 at 37 C, exp(-((37 - T)/width)^2) below, steeper above."""
    dt = temp_c - 37.0
    return np.exp(-np.square(dt / np.where(dt < 0.0, width_c, 2.5)))


def metabolic_temperature_factor(temp_c: np.ndarray, per_c: float) -> np.ndarray:
    """(n,) factor on maintenance, lactate and oxygen rates: 1 - per_c per degree below 37 C."""
    return np.clip(1.0 + per_c * (temp_c - 37.0), 0.2, 1.3)


def shift_productivity_factor(
    temp_c: np.ndarray, t_pre: np.ndarray, t_post: np.ndarray, gain: np.ndarray
) -> np.ndarray:
    """(n,) qP factor: 1 at the pre-shift temperature, ``gain`` at (and below) the post-shift one.

    Linear in between, so a partial shift gives a partial gain (and an overheat gives none).
    """
    frac = np.clip((t_pre - temp_c) / np.maximum(t_pre - t_post, 1e-6), 0.0, 1.0)
    return 1.0 + (gain - 1.0) * frac


def rates(
    xv: np.ndarray,
    glc: np.ndarray,
    gln: np.ndarray,
    lac: np.ndarray,
    amm: np.ndarray,
    do: np.ndarray,
    ph: np.ndarray,
    temp_c: np.ndarray,
    t_h: float,
    p: dict[str, np.ndarray],
    k: Kinetics,
) -> Rates:
    """Specific rates of the cells at one instant.

    Args:
        xv: viable cells (1e6 cells/mL); glc: glucose (g/L); gln: glutamine (mM);
            lac: lactate (g/L); amm: ammonia (mM); do: dissolved O2 (% air sat.);
            ph: pH; temp_c: temperature (C). Each (n,).
        t_h: culture age (h).
        p: per-batch parameters from ``params.draw_batch_params``.
        k: shared kinetic constants.
    """
    f_glc = glc / (k.k_glc_g_L + glc)
    f_gln = k.gln_free_growth + (1.0 - k.gln_free_growth) * gln / (k.k_gln_mM + gln)
    f_inh = 1.0 / ((1.0 + np.square(lac / k.ki_lac_g_L)) * (1.0 + np.square(amm / k.ki_amm_mM)))
    f_do = do / (k.k_do_pct + do)
    f_ph = np.exp(-np.square((ph - 7.0) / 0.5))
    f_cap = np.clip(1.0 - np.square(xv / p["vcd_capacity_1e6_cells_mL"]), 0.0, 1.0)
    f_t = growth_temperature_factor(temp_c, k.t_cold_growth_width_C)
    g_rel = f_glc * f_gln * f_inh * f_do * f_ph * f_cap * f_t
    mu = p["mu_max_1_h"] * g_rel

    f_met = metabolic_temperature_factor(temp_c, k.t_metab_per_C)
    q_glc = (mu / k.y_x_glc_1e6_cells_mL_mM + k.m_glc_pmol_cell_h * f_met * f_glc) * p[
        "glucose_uptake_scale"
    ]
    f_gln_up = gln / (k.k_gln_mM + gln)
    q_gln = (mu / k.y_x_gln_1e6_cells_mL_mM + k.m_gln_pmol_cell_h) * f_gln_up
    q_amm = k.y_amm_gln_mol_mol * q_gln + k.q_amm_basal_pmol_cell_h * f_met

    # Metabolic shift: overflow lactate while growing fast on plentiful glucose, uptake after.
    g3 = g_rel * g_rel * g_rel
    w = g3 / (g3 + k.growth_half_for_lactate**3)
    # ... and glycolysis to lactate when oxygen runs out (Pasteur effect)
    anaerobic = np.square(2.0 / (2.0 + do))
    produce = p["lactate_yield_mol_mol"] * q_glc * np.maximum(w, anaerobic) * glc / (0.5 + glc)
    consume = k.q_lac_uptake_pmol_cell_h * f_met * (1.0 - w) * lac / (k.k_lac_uptake_g_L + lac)
    q_lac = produce - consume

    a3 = np.power(amm / k.kd_amm_half_mM, 3)
    do2 = np.square(do)
    kd = (
        k.kd_basal_1_h
        + k.kd_amm_1_h * a3 / (1.0 + a3)
        + k.kd_late_1_h / (1.0 + np.exp(-(t_h - p["death_onset_h"]) / k.kd_late_width_h))
        + k.kd_starve_1_h * k.k_starve_g_L**2 / (k.k_starve_g_L**2 + np.square(glc))
        + k.kd_hypoxia_1_h * k.k_do_pct**2 / (k.k_do_pct**2 + do2)
        + k.kd_heat_1_h_C * np.maximum(temp_c - 38.5, 0.0)
        + k.kd_ph_1_h * (np.maximum(6.7 - ph, 0.0) + np.maximum(ph - 7.4, 0.0))
    )

    q_o2 = p["qo2_pmol_cell_h"] * f_met  # at saturating DO; the engine applies the DO term
    qp = (
        p["qp_pg_cell_day"]
        * (1.0 + k.qp_stationary_boost * (1.0 - g_rel))
        * shift_productivity_factor(
            temp_c, p["temperature_pre_shift_C"], p["temperature_post_shift_C"], p["qp_shift_gain"]
        )
        * f_glc
        * f_do
    )
    return Rates(mu, kd, g_rel, q_glc, q_gln, q_lac, q_amm, q_o2, qp)
