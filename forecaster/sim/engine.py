"""The time loop: one explicit step of every batch at once, states recorded on the sample grid.

Cells and metabolites are integrated by explicit Euler on masses (concentration x volume),
so volume and glucose balances close exactly; the fast DO, CO2 and temperature states use
the exact exponential step of their linear(ised) dynamics, which is stable at any dt.
Physical faults act here; sensor faults only in ``measurement.py``. Contamination seeds a
bacterial population (g dry weight/L) that grows on glucose (Monod, faster with oxygen),
respires, secretes organic acids and kills CHO cells as it grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from forecaster.sim import control as ctl
from forecaster.sim.config import SimConfig
from forecaster.sim.faults import FaultPlan
from forecaster.sim.feed_policy import FeedPolicy, PolicyParams
from forecaster.sim.kinetics import MW_GLUCOSE, MW_LACTATE, rates
from forecaster.sim.noise import Noise, assay_value, volume_reading
from forecaster.sim.result import Perturbation
from forecaster.sim.schedule import FeedSchedule

O2_SAT_AIR_MM = 0.21  # dissolved O2 at 100 % air saturation, 37 C (mM)
HCO3_INITIAL_MM = 24.0  # medium bicarbonate
# Contaminating bacteria (a fast aerobe/facultative anaerobe, g dry weight per L).
BAC_INOCULUM_G_L = 2e-5
BAC_MU_PER_SEVERITY_1_H = 0.9
BAC_YIELD_G_G = 0.45  # biomass per glucose
BAC_O2_MMOL_G = 20.0  # O2 per biomass formed
BAC_MAINT_O2 = 4.0  # endogenous respiration on amino acids etc. (mmol O2/g/h)
BAC_ACID_MMOL_G = 8.0  # organic acids (acetate overflow) per biomass formed
BAC_KD_CHO_1_H = 0.03  # CHO death at high bacterial load (half at BAC_KD_HALF_G_L)
BAC_KD_HALF_G_L = 0.2
#: Recorded true series, each (rows, n_batches).
RECORDED = (
    "xv", "xd", "glc", "gln", "lac", "amm", "titer", "vol", "do", "ph", "temp",
    "rpm", "flow", "co2", "base", "feed", "temp_sp", "bac",
)  # fmt: skip


@dataclass
class Trajectory:
    """Recorded true values, (rows, n) arrays, plus per-batch totals (n,) and policy inputs."""

    rec: dict[str, np.ndarray]
    policy: dict[str, np.ndarray]
    totals: dict[str, np.ndarray]


def run(
    cfg: SimConfig,
    p: dict[str, np.ndarray],
    plan: FaultPlan,
    noise: Noise,
    policy: FeedPolicy,
    perturb: Perturbation | Sequence[Perturbation | None] | None = None,
    progress: bool = False,
    schedule: FeedSchedule | None = None,
) -> Trajectory:
    """Integrate every batch to the longest run length; record every sample step.

    ``schedule`` (optional) replaces the operator's feed decisions and the shift times.
    ``perturb``: one perturbation for every batch, or one (or None) per batch.
    """
    c, kin, n = cfg.control, cfg.kinetics, p["run_length_h"].size
    dt = cfg.dt_h
    spr = int(round(cfg.sample_interval_h / dt))
    rpa = int(round(cfg.assay_interval_h / cfg.sample_interval_h))
    n_rows = int(round(p["run_length_h"].max() / cfg.sample_interval_h)) + 1
    n_steps = (n_rows - 1) * spr
    events = _perturb_events(perturb, dt, n)
    params = PolicyParams(cfg.feed, cfg.assay_interval_h)
    bolus = policy.name == "daily_bolus"

    xv = p["inoculum_vcd_1e6_cells_mL"].copy()
    xd = xv * (100.0 / p["inoculum_viability_pct"] - 1.0)
    glc, gln = p["initial_glucose_g_L"].copy(), p["initial_glutamine_mM"].copy()
    lac, amm = p["initial_lactate_g_L"].copy(), p["initial_ammonia_mM"].copy()
    vol = p["initial_volume_L"].copy()
    titer, bac = np.zeros(n), np.zeros(n)
    do = np.full(n, 100.0)
    hco3 = np.full(n, HCO3_INITIAL_MM)
    # the medium is conditioned in the vessel, pH loop on, before inoculation
    dco2 = hco3 / 10 ** (p["ph_setpoint"] - 6.1)
    ph_int = np.zeros(n)
    temp = p["temperature_pre_shift_C"].copy()
    u_int = np.zeros(n)
    feed_cmd, bolus_end = np.zeros(n), np.full(n, -np.inf)
    our_noise = np.zeros(n)
    tot = {k: np.zeros(n) for k in ("feed_L", "base_L", "glucose_fed_g", "glucose_used_g")}
    pol = {name: np.full((n_rows, n), np.nan) for name in policy.inputs}
    pol_now = {name: np.full(n, np.nan) for name in policy.inputs}
    rec = {name: np.empty((n_rows, n)) for name in RECORDED}

    a_s, a_e, a_sev = plan.of_type("aeration_failure")
    ph_s, ph_e, ph_sev = plan.of_type("ph_control_failure")
    base_sev, co2_sev = ph_sev * (plan.mode == 0), ph_sev * (plan.mode == 1)
    f_s, f_e, f_sev = plan.of_type("feed_pump_failure")
    t_s, t_e, t_sev = plan.of_type("temperature_control_failure")
    t_off = 3.0 * t_sev * plan.sign
    c_s, _, c_sev = plan.of_type("contamination")
    k_cont = np.where(np.isfinite(c_s), np.round(c_s / dt), -1).astype(np.int64)
    mu_bac_max = BAC_MU_PER_SEVERITY_1_H * c_sev
    gfeed, shift_h = p["feed_glucose_g_L"], p["temperature_shift_h"]
    feed_start, run_h = p["feed_start_h"], p["run_length_h"]
    if schedule is not None:
        shift_h = schedule.shift_times(shift_h)
    t_pre, t_post = p["temperature_pre_shift_C"], p["temperature_post_shift_C"]
    do_sp, ph_sp, kla_max = p["do_setpoint_pct"], p["ph_setpoint"], p["kla_sparge_max_1_h"]
    ph_lo, ph_hi = ph_sp - c.ph_deadband, ph_sp + c.ph_deadband
    ar = np.exp(-dt / 1.0)  # OUR noise: AR(1), 1 h correlation time, 3 % sd
    ar_sd = 0.03 * np.sqrt(1.0 - ar * ar)

    for k in tqdm(range(n_steps + 1), disable=not progress, desc="simulating", unit="step"):
        t = round(k * dt, 9)  # exact grid times, so faults start on their row
        if k in events:
            xv, xd, glc, gln, lac, amm, titer, vol = _perturb(
                events[k], xv, xd, glc, gln, lac, amm, titer, vol
            )
        ph = ctl.ph_from(hco3, dco2)
        row, sample = divmod(k, spr)
        sample = sample == 0
        if sample and row % rpa == 0:  # assay time: the operator may decide a feed
            now = (t >= feed_start - 1e-9) & (t < run_h - 1e-9)
            if now.any():
                seen = {
                    "glucose_g_L": assay_value(glc, noise, "glucose_g_L", row),
                    "vcd_1e6_cells_mL": assay_value(xv, noise, "vcd_1e6_cells_mL", row),
                    "volume_L": volume_reading(vol, noise, row),
                    "feed_glucose_g_L": gfeed,
                }
                seen = {name: seen[name] for name in policy.inputs}
                for name in policy.inputs:
                    pol_now[name] = np.where(now, seen[name], pol_now[name])
                rate = policy.decide(seen, params)
                if schedule is not None:
                    rate = schedule.feed_at(row // rpa, rate)
                rate = rate * noise.operator[row // rpa]
                feed_cmd = np.where(now, rate, feed_cmd)
                bolus_end = np.where(now, t + cfg.feed.bolus_duration_h, bolus_end)
        feed_now = np.where(t < bolus_end - 1e-9, feed_cmd, 0.0) if bolus else feed_cmd
        temp_sp = np.where(t >= shift_h - 1e-9, t_post, t_pre)
        err = (do_sp - do) / 100.0
        u = np.clip(c.do_kp * err + u_int, 0.0, 2.0)
        u_int = np.clip(u_int + c.do_ki_1_h * err * dt, 0.0, 2.0)
        rpm, flow = ctl.cascade(u, c)
        base_cmd, co2_cmd, ph_int = ctl.ph_loop(ph, ph_lo, ph_hi, ph_int, c, dt)
        ph_on = (t >= ph_s) & (t < ph_e)
        co2 = np.where(ph_on, np.maximum(co2_cmd, co2_sev * c.co2_max_mL_min), co2_cmd)
        if sample:
            for name, val in (
                ("xv", xv), ("xd", xd), ("glc", glc), ("gln", gln), ("lac", lac),
                ("amm", amm), ("titer", titer), ("vol", vol), ("do", do), ("ph", ph),
                ("temp", temp), ("rpm", rpm), ("flow", flow), ("co2", co2),
                ("base", base_cmd), ("feed", feed_now), ("temp_sp", temp_sp), ("bac", bac),
            ):  # fmt: skip
                rec[name][row] = val
            for name in policy.inputs:
                pol[name][row] = pol_now[name]
        if k == n_steps:
            break

        # --- physics from t to t + dt ---
        bac = np.where(k == k_cont, BAC_INOCULUM_G_L, bac)
        r = rates(xv, glc, gln, lac, amm, do, ph, temp, t, p, kin)
        f_do_bac = do / (1.0 + do)
        mu_bac = mu_bac_max * glc / (0.05 + glc) * (0.4 + 0.6 * f_do_bac)
        grow_bac = mu_bac * bac  # g/L/h
        demand = (r.q_glc * xv * MW_GLUCOSE / 1000.0 + grow_bac / BAC_YIELD_G_G) * dt
        used = np.minimum(demand, glc)
        # bacteria cannot grow on glucose that is not there (CHO growth is Monod-limited)
        grow_bac = grow_bac * np.where(demand > 0, used / np.maximum(demand, 1e-300), 1.0)
        kd = r.kd + BAC_KD_CHO_1_H * bac / (BAC_KD_HALF_G_L + bac)

        # oxygen: uptake linearised in DO (Monod), transfer from headspace and sparge
        our_noise = ar * our_noise + ar_sd * noise.process[k]
        our_cells = r.q_o2 * xv * (1.0 + our_noise)  # mM/h at saturating DO
        # aerobic share of bacterial growth is 0.6 * f_do; uptake at saturating DO:
        our_bac = BAC_O2_MMOL_G * 0.6 * grow_bac / (0.4 + 0.6 * f_do_bac) + BAC_MAINT_O2 * bac
        kla_s, kla_sp, do_star = ctl.oxygen_transfer(rpm, flow, kla_max, c)
        gas = 1.0 - a_sev * ((t >= a_s) & (t < a_e))  # share of the sparge gas delivered
        kla_sp = kla_sp * gas
        up_cells = our_cells * 100.0 / O2_SAT_AIR_MM / (kin.k_do_pct + do)
        up_bac = our_bac * 100.0 / O2_SAT_AIR_MM / (1.0 + do)
        rate_do = kla_s + kla_sp + up_cells + up_bac
        cer = ctl.RQ * (up_cells + up_bac) * do * O2_SAT_AIR_MM / 100.0  # mM/h

        # volumes (mL/h): commands, minus what failed pumps do not deliver
        feed = feed_now * (1.0 - f_sev * ((t >= f_s) & (t < f_e)))
        base = base_cmd * (1.0 - base_sev * ph_on)
        vol_new = vol + (feed + base) * dt / 1000.0
        keep = vol / vol_new  # dilution of what was already in the vessel

        fed_g = gfeed * feed * dt / 1000.0
        tot["glucose_fed_g"] += fed_g
        tot["glucose_used_g"] += used * vol
        tot["feed_L"] += feed * dt / 1000.0
        tot["base_L"] += base * dt / 1000.0
        glc = (glc - used) * keep + fed_g / vol_new

        g_demand = (r.q_gln * xv + kin.k_gln_deg_1_h * gln) * dt
        g_used = np.minimum(g_demand, gln)
        frac = np.where(g_demand > 0, g_used / np.maximum(g_demand, 1e-300), 1.0)
        amm = (amm + (r.q_amm * xv * dt + kin.k_gln_deg_1_h * gln * dt) * frac) * keep
        gln = (gln - g_used) * keep
        d_lac = r.q_lac * xv * dt  # mM
        lac = np.maximum(lac + d_lac * MW_LACTATE / 1000.0, 0.0) * keep
        acid = d_lac + BAC_ACID_MMOL_G * grow_bac * dt  # mM over the step
        hco3 = np.maximum((hco3 - acid) * keep + base * c.base_conc_M * dt / vol_new, 0.5)
        strip, co2_in = ctl.co2_transfer(flow * gas, co2, c)
        dco2 = ctl.relax(dco2, ctl.CO2_AIR_MM + (cer + co2_in) / strip, strip, dt)
        do = ctl.relax(do, (kla_s * 100.0 + kla_sp * do_star) / rate_do, rate_do, dt)

        titer = (titer + r.qp / 24.0 * xv * dt) * keep
        death = kd * xv * dt
        xd = (xd + death - kin.k_lysis_1_h * xd * dt) * keep
        xv = (xv + r.mu * xv * dt - death) * keep
        bac = (bac + grow_bac * dt) * keep
        vol = vol_new

        t_on = (t >= t_s) & (t < t_e)
        tau = np.where(t_on, 1.5, c.temperature_tau_h)
        temp = ctl.relax(temp, temp_sp + t_off * t_on, 1.0 / tau, dt)

    return Trajectory(rec, pol, tot)


#: order of the states :func:`_perturb` receives
_PERTURB_ORDER = ("vcd", "dead", "glucose", "glutamine", "lactate", "ammonia", "titer", "volume")


def _perturb_events(
    perturb: Perturbation | Sequence[Perturbation | None] | None, dt: float, n: int
) -> dict[int, list[tuple[int, float | np.ndarray]]]:
    """Integration step -> [(state index, factor: scalar or (n,) with 1 elsewhere)]."""
    if perturb is None:
        return {}

    def step(pt: Perturbation) -> int:  # the first integration step at or after at_h
        return int(np.ceil(pt.at_h / dt - 1e-9))

    if isinstance(perturb, Perturbation):
        return {step(perturb): [(_PERTURB_ORDER.index(perturb.state), perturb.factor)]}
    if len(perturb) != n:
        raise ValueError(f"{len(perturb)} perturbations for {n} batches; expected one per batch")
    factors: dict[tuple[int, int], np.ndarray] = {}
    for b, pt in enumerate(perturb):
        if pt is not None:
            key = (step(pt), _PERTURB_ORDER.index(pt.state))
            factors.setdefault(key, np.ones(n))[b] = pt.factor
    events: dict[int, list[tuple[int, float | np.ndarray]]] = {}
    for (k, i), f in factors.items():
        events.setdefault(k, []).append((i, f))
    return events


def _perturb(
    changes: list[tuple[int, float | np.ndarray]], *states: np.ndarray
) -> list[np.ndarray]:
    out = list(states)
    for i, factor in changes:
        out[i] = out[i] * factor
    return out
