"""Simulator configuration: a dataclass tree whose field names are the YAML keys.

``SimConfig`` is the root; ``configs/sim/default.yaml`` writes the defaults out. Every
batch-to-batch spread is a :class:`Dist` (normal, given as mean and coefficient of variation,
clipped to ``[lo, hi]`` and optionally rounded to ``step``). Kinetic constants shared by all
batches are in :class:`Kinetics` (see ``kinetics.py`` for the equations and sources); faults
are in ``fault_config.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forecaster.sim.fault_config import FaultsConfig


@dataclass
class Dist:
    """A per-batch draw: ``clip(mean * (1 + cv * z), lo, hi)``, z ~ N(0, 1), rounded to step.

    Attributes:
        mean: central value (units of the field it configures).
        cv: coefficient of variation (0 = the same value in every batch).
        lo, hi: hard bounds of the draw (None = unbounded).
        step: round the draw to a multiple of ``step`` (0 = no rounding), e.g. setpoints.
    """

    mean: float
    cv: float = 0.0
    lo: float | None = None
    hi: float | None = None
    step: float = 0.0


@dataclass
class Variability:
    """Batch-to-batch (clone, raw material, operator) spread, drawn once per batch.

    Defaults sit inside the CHO fed-batch ranges of ``shared/DOMAIN.md``: seeding 0.3-1.0e6
    cells/mL (CV 20 %), mu_max 0.03-0.045 1/h (CV 7 %), density limit CV 15 %, specific
    productivity 14 pg/cell/day at full growth (CV 20 % clone-to-clone; ~20-35 pg/cell/day
    once growth slows after the shift), shift gain 1.5 (CV 12 %), glucose uptake CV 10 %,
    lactate yield CV 12 %, temperature shift 36.5-37 -> 31-34 C on day 3-6, DO setpoint
    30-50 %, pH setpoint 6.9-7.2, feed glucose 120-180 g/L, feeding from day 2-3.

    What this gives (default config, fault-free, 200 batches, median and 5-95 % range): peak
    VCD 13.9 (8.6-19.5) 1e6 cells/mL on day 6 (4-11), then a plateau; viability 94 % on
    day 5, 90 % on day 7, 67 % (61-73 %) at harvest; glutamine gone on day 3.4 (2.9-4.1);
    lactate peak 2.9 (2.1-3.9) g/L on day 4-6, then consumed; ammonia peak 6.8 (5.7-7.9) mM;
    glucose 2.9-6.9 g/L; harvest titer 2.9 (1.6-4.6) g/L, CV 32 %. The spread is
    deliberately literature-sized, not shrunk to make forecasting easy.
    """

    inoculum_vcd_1e6_cells_mL: Dist = field(default_factory=lambda: Dist(0.5, 0.2, 0.3, 1.0))
    inoculum_viability_pct: Dist = field(default_factory=lambda: Dist(97.0, 0.01, 93.0, 99.5))
    initial_glucose_g_L: Dist = field(default_factory=lambda: Dist(6.8, 0.06, 6.0, 8.0))
    initial_glutamine_mM: Dist = field(default_factory=lambda: Dist(6.0, 0.15, 4.0, 8.0))
    initial_lactate_g_L: Dist = field(default_factory=lambda: Dist(0.2, 0.3, 0.05, 0.5))
    initial_ammonia_mM: Dist = field(default_factory=lambda: Dist(0.6, 0.3, 0.1, 1.5))
    initial_volume_L: Dist = field(default_factory=lambda: Dist(1.5, 0.02, 1.4, 1.6))
    mu_max_1_h: Dist = field(default_factory=lambda: Dist(0.041, 0.07, 0.03, 0.045))
    vcd_capacity_1e6_cells_mL: Dist = field(default_factory=lambda: Dist(30.0, 0.15, 18.0, 45.0))
    qp_pg_cell_day: Dist = field(default_factory=lambda: Dist(14.0, 0.2, 5.0, 40.0))
    qp_shift_gain: Dist = field(default_factory=lambda: Dist(1.5, 0.12, 1.0, 2.2))
    glucose_uptake_scale: Dist = field(default_factory=lambda: Dist(1.0, 0.1, 0.7, 1.3))
    lactate_yield_mol_mol: Dist = field(default_factory=lambda: Dist(1.0, 0.12, 0.5, 1.6))
    qo2_pmol_cell_h: Dist = field(default_factory=lambda: Dist(0.3, 0.12, 0.15, 0.5))
    death_onset_h: Dist = field(default_factory=lambda: Dist(235.0, 0.08, 170.0, 320.0))
    kla_sparge_max_1_h: Dist = field(default_factory=lambda: Dist(12.0, 0.1, 8.0, 16.0))
    temperature_shift_day: Dist = field(default_factory=lambda: Dist(5.0, 0.12, 3.0, 6.0, 0.5))
    temperature_pre_shift_C: Dist = field(
        default_factory=lambda: Dist(36.8, 0.003, 36.5, 37.0, 0.1)
    )
    temperature_post_shift_C: Dist = field(
        default_factory=lambda: Dist(33.0, 0.03, 31.0, 34.0, 0.5)
    )
    do_setpoint_pct: Dist = field(default_factory=lambda: Dist(40.0, 0.12, 30.0, 50.0, 5.0))
    ph_setpoint: Dist = field(default_factory=lambda: Dist(7.0, 0.01, 6.9, 7.2, 0.05))
    feed_glucose_g_L: Dist = field(default_factory=lambda: Dist(150.0, 0.05, 120.0, 180.0))
    feed_start_day: Dist = field(default_factory=lambda: Dist(2.5, 0.2, 2.0, 3.0, 1.0))


@dataclass
class Kinetics:
    """Kinetic constants shared by all batches (equations and sources in ``kinetics.py``)."""

    k_glc_g_L: float = 0.2  # Monod constant of growth on glucose
    k_gln_mM: float = 0.3  # Monod constant of growth on glutamine
    gln_free_growth: float = 0.8  # growth fraction left without glutamine (GS activity)
    ki_lac_g_L: float = 8.0  # lactate inhibition constant (Hill n=2)
    ki_amm_mM: float = 15.0  # ammonia inhibition constant (Hill n=2)
    k_do_pct: float = 1.5  # Monod constant of growth and uptake on dissolved oxygen
    y_x_glc_1e6_cells_mL_mM: float = 0.5  # cells per glucose (5e8 cells/mmol)
    m_glc_pmol_cell_h: float = 0.07  # glucose maintenance uptake
    y_x_gln_1e6_cells_mL_mM: float = 1.3  # cells per glutamine (1.3e9 cells/mmol)
    m_gln_pmol_cell_h: float = 0.003  # glutamine maintenance uptake
    k_gln_deg_1_h: float = 0.003  # spontaneous glutamine degradation (half-life ~10 days)
    y_amm_gln_mol_mol: float = 0.8  # ammonia released per glutamine consumed
    q_amm_basal_pmol_cell_h: float = 0.0012  # ammonia from other amino acids
    growth_half_for_lactate: float = 0.4  # relative growth at which lactate flux turns
    q_lac_uptake_pmol_cell_h: float = 0.05  # maximum lactate consumption (metabolic shift)
    k_lac_uptake_g_L: float = 0.3  # Monod constant of lactate consumption
    kd_basal_1_h: float = 0.001  # death rate in good conditions
    kd_amm_1_h: float = 0.015  # extra death at high ammonia (Hill n=3, half at kd_amm_half)
    kd_amm_half_mM: float = 15.0
    kd_late_1_h: float = 0.004  # extra late-culture (apoptosis) death, sigmoid at death_onset
    kd_late_width_h: float = 24.0
    kd_starve_1_h: float = 0.03  # extra death when glucose is exhausted
    k_starve_g_L: float = 0.2
    kd_hypoxia_1_h: float = 0.006  # extra death when DO is near zero
    kd_heat_1_h_C: float = 0.02  # extra death per degree above 38.5 C
    kd_ph_1_h: float = 0.05  # extra death per pH unit outside 6.7-7.4
    k_lysis_1_h: float = 0.01  # dead-cell lysis (removes dead cells from counts)
    qp_stationary_boost: float = 0.4  # qP(no growth) / qP(full growth) - 1
    t_cold_growth_width_C: float = 3.0  # growth falls as exp(-((37 - T) / width)^2) below 37
    t_metab_per_C: float = 0.07  # fractional drop of metabolic rates per degree below 37 C


@dataclass
class Control:
    """Process control: DO cascade, pH (CO2 / base) with dead band, temperature loop."""

    agitation_min_rpm: float = 80.0
    agitation_max_rpm: float = 250.0
    airflow_min_L_min: float = 0.03  # sparge; pure air at minimum, pure O2 at maximum
    airflow_max_L_min: float = 0.3
    kla_surface_1_h: float = 0.8  # headspace transfer at maximum agitation
    do_kp: float = 0.3  # cascade output per (setpoint - DO) / 100
    do_ki_1_h: float = 1.5
    ph_deadband: float = 0.05  # CO2 holds set point + band, base set point - band
    base_max_mL_h: float = 3.0  # ~2x the peak need of a normal batch (~1.3 mL/h)
    base_conc_M: float = 1.0  # base equivalents (e.g. 1 M NaHCO3 / 0.5 M Na2CO3)
    base_gain_per_pH: float = 20.0  # pump fraction per pH unit below its edge (PI gain)
    co2_max_mL_min: float = 60.0  # CO2 blended into the sparge line
    co2_gain_per_pH: float = 20.0  # valve fraction per pH unit above its edge (PI gain)
    ph_reset_time_h: float = 2.0  # integral time of the pH loop (PI)
    temperature_tau_h: float = 0.5  # closed-loop time constant of the jacket


@dataclass
class FeedPolicyConfig:
    """Parameters of the operator feed policies (see ``feed_policy.py``)."""

    target_glucose_g_L: float = 5.0
    q_glc_est_pg_cell_day: float = 300.0  # operator's expected glucose use per cell
    correction_gain: float = 1.0  # fraction of the gap to the target closed per decision
    max_rate_mL_h: float = 30.0
    noise_cv: float = 0.05  # lognormal operator noise on every decision
    continuous_pct_per_day: float = 2.5  # continuous: % of volume per day at vcd_ref
    continuous_vcd_ref: float = 10.0
    bolus_pct: float = 3.5  # daily_bolus: % of volume per bolus at target glucose
    bolus_duration_h: float = 1.0
    bolus_glucose_gain: float = 0.15  # daily_bolus: relative change per g/L below target


@dataclass
class Measurement:
    """Sensor noise (sd, online) and assay noise (CV or sd, offline)."""

    do_sd_pct: float = 1.0
    ph_sd: float = 0.01
    temperature_sd_C: float = 0.05
    volume_sd_L: float = 0.005
    vcd_cv: float = 0.06
    viability_sd_pct: float = 1.0
    glucose_cv: float = 0.03
    lactate_cv: float = 0.04
    glutamine_cv: float = 0.06
    ammonia_cv: float = 0.06
    titer_cv: float = 0.05


@dataclass
class SimConfig:
    """Root of the simulator configuration (YAML keys = field names).

    Attributes:
        n_batches: number of batches (runs) to simulate.
        seed: seed of every random draw.
        dt_h: internal integration step (h); must divide ``sample_interval_h``.
        sample_interval_h: row spacing of the table (h).
        assay_interval_h: offline assay spacing (h); a multiple of ``sample_interval_h``.
        run_length_days: nominal run length (days).
        run_length_spread_days: runs last ``run_length_days`` +- up to this many whole days.
        noise_free_dense: debugging: assays on every row, no measurement noise.
        feed_policy: ``glucose_setpoint`` | ``continuous`` | ``daily_bolus``.
        record_plan: write each batch's planned recipe on every row (``schema.PLAN``:
            feed start, shift time and temperature, harvest; static, known in advance).
            Off: those columns are absent and the table is otherwise the same.
    """

    n_batches: int = 200
    seed: int = 0
    dt_h: float = 0.1
    sample_interval_h: float = 1.0
    assay_interval_h: float = 24.0
    run_length_days: float = 14.0
    run_length_spread_days: int = 0
    noise_free_dense: bool = False
    feed_policy: str = "glucose_setpoint"
    record_plan: bool = True
    variability: Variability = field(default_factory=Variability)
    kinetics: Kinetics = field(default_factory=Kinetics)
    control: Control = field(default_factory=Control)
    feed: FeedPolicyConfig = field(default_factory=FeedPolicyConfig)
    measurement: Measurement = field(default_factory=Measurement)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
