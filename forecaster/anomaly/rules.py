"""Day-one rule checks with plain-language reasons and the threshold each one used.

Each rule turns the rows of one batch into a per-row violation flag and the reading behind
it; :class:`RunTracker` then applies the rule's duration, so rules raise events exactly like
the scores do. Every flag at row t uses rows at or before t, at most
:func:`lookback_h` hours back, which is what lets the streaming monitor keep only a tail.
A rule whose columns are missing from the data is skipped. Rules read *parts* named like
the CHO columns; :class:`~forecaster.anomaly.rule_vars.RuleVariables` says which column of
the process plays each part (DO in mg/L, a feed in L/h), and reasons name that column in
the user's words (:mod:`~forecaster.anomaly.rule_text`). With a
:class:`~forecaster.anomaly.rule_profile.RuleProfile` (learned on the fault-free training
batches) the stuck and spike rules use the learned noise, and rules that fire on too many
normal batches are left out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel
from forecaster.anomaly.consistency_alarms import consistency_rules
from forecaster.anomaly.mass_balance import feed_rule
from forecaster.anomaly.rule_profile import PHYSICAL_LIMITS, RuleProfile
from forecaster.anomaly.rule_signals import (
    SETPOINT_COL,
    RuleResult,
    col,
    locf,
    nan_to_num,
    recent_max,
    returned_spikes,
    settling,
)
from forecaster.anomaly.rule_signals import severity as sev
from forecaster.anomaly.rule_text import PartText
from forecaster.anomaly.rule_vars import PHYSICAL, RuleVariables
from forecaster.data.errors import ConfigError
from forecaster.data.process import known_variable


def lookback_h(cfg: RulesConfig, dt_h: float = 1.0) -> float:
    """Hours of history any rule reads before the row it flags."""
    return max(
        cfg.drop_lookback_h,
        (cfg.spike_context_h + cfg.spike_return_rows + 1) * dt_h + cfg.setpoint_settle_h,
        cfg.feed_check_h + cfg.feed_reference_h + 2 * dt_h,
        (cfg.cusum_window_h + 1) * dt_h,
        cfg.demand_window_h + dt_h,
        2 * dt_h,
    )


def evaluate_rules(
    rows: pd.DataFrame | Mapping[str, np.ndarray],
    cfg: RulesConfig,
    agitation_max: float | None = None,
    consistency: ConsistencyModel | None = None,
    profile: RuleProfile | None = None,
    variables: RuleVariables | None = None,
) -> list[RuleResult]:
    """All applicable rules on the rows of one batch (sorted by time).

    Args:
        rows: one batch's rows, a DataFrame or ``{column: (T,) array}`` (canonical columns;
            missing columns skip their rules).
        cfg: thresholds and durations.
        agitation_max: highest agitation seen in fault-free training batches (rpm), used to
            say "while agitation was at its maximum".
        consistency: fitted controller-consistency checks (``consistency.py``); None skips them.
        profile: what the rules learned on the fault-free training batches (None: the
            config's thresholds alone, every rule on).
        variables: the process column of each rule part (None: the CHO columns).

    Returns:
        One :class:`RuleResult` per applicable rule; ``variable`` is the process's column,
        ``value``/``ref``/``threshold`` are in the part's unit (``threshold_unit`` says it).
    """
    rv = variables or RuleVariables.cho()
    rows = rv.view(rows) if variables is not None else rows
    t = np.asarray(rows[schema.TIME], dtype=float)
    prof = profile or RuleProfile()
    out = _do_low(rows, t, cfg, agitation_max, rv) + _bands(rows, t, cfg, rv)
    out += _assays(rows, t, cfg, rv) + _stuck(rows, t, cfg, prof, rv)
    out += _spikes(rows, t, cfg, prof, rv)
    fr = feed_rule(rows, cfg, prof.feed_volume_sd_mL or None, rv)
    if fr is not None:
        out.append(fr)
    if consistency is not None and cfg.consistency:
        out += consistency_rules(rows, cfg, consistency, rv)
    out = [r for r in out if r.name not in prof.off]
    for r in out:
        part = r.variable
        if part in rv.scale and r.threshold_unit == _part_unit(part):  # say it as logged
            r.threshold = rv.part_to_column(part, r.threshold)
            r.threshold_unit = f" {rv.units[part]}"
        r.variable = rv.column(part)
    return out


def _do_low(rows, t: np.ndarray, cfg: RulesConfig, agitation_max: float | None,
            rv: RuleVariables) -> list:  # fmt: skip
    do, do_sp, agit = col(rows, "do_pct"), col(rows, "do_setpoint_pct"), col(rows, "agitation_rpm")
    if do is None:
        return []
    floor = cfg.do_floor_pct
    do_ref = locf(do_sp) if do_sp is not None else np.full(len(t), np.nan)

    def do_reason(i: int, start: float) -> str:
        d, a = PartText("do_pct", rv), PartText("agitation_rpm", rv)
        if do[i] <= PHYSICAL_LIMITS["do_pct"][0]:  # pinned at 0 %: no frozen probe, no oxygen
            s = f"{d.label} at {d.with_unit(max(do[i], 0.0), d.level_fmt)} (oxygen-limited: the culture takes up the oxygen as fast as it arrives) at {d.voc.at(t[i])}"
        else:
            s = f"{d.label} fell to {d.with_unit(do[i], d.level_fmt)} at {d.voc.at(t[i])}"
        s += (
            f" against a {d.with_unit(do_ref[i], d.level_fmt)} setpoint"
            if np.isfinite(do_ref[i])
            else ""
        )
        s += f" (below the {d.with_unit(floor, 'g')} floor since {start:.0f} h)"
        if agit is not None and agitation_max and agit[i] >= 0.98 * agitation_max:
            s += f" while {a.label_lc} was at its maximum ({a.with_unit(agit[i], '.0f')})"
        return s

    flag, severity = do < floor, sev(floor - do, floor) + 1.0
    return [RuleResult("do_low", "do_pct", flag, do, do_ref, severity, floor,
                       cfg.do_floor_duration_h, do_reason, " %")]  # fmt: skip


def _bands(rows, t: np.ndarray, cfg: RulesConfig, rv: RuleVariables) -> list[RuleResult]:
    out = []
    for var, sp_name, limit, dur, name, fmt, unit in (
        ("ph", "ph_setpoint", cfg.ph_band, cfg.ph_duration_h, "ph_out_of_band", ".2f", ""),
        ("temperature_C", "temperature_setpoint_C", cfg.temperature_tolerance_C,
         cfg.temperature_duration_h, "temperature_off_setpoint", ".1f", " C"),
    ):  # fmt: skip
        x, sp = col(rows, var), col(rows, sp_name)
        if x is None or sp is None:
            continue
        sp = locf(sp)
        dev = x - sp
        settle = settling(t, sp, cfg.setpoint_settle_h, cfg.startup_h)

        def band_reason(
            i: int, start: float, x=x, sp=sp, dev=dev, limit=limit, fmt=fmt, var=var
        ) -> str:
            p = PartText(var, rv)
            word = "rose" if dev[i] > 0 else "fell"
            return (
                f"{p.label} {word} to {p.with_unit(x[i], fmt)} at {p.voc.at(t[i])} against a "
                f"{p.with_unit(sp[i], fmt)} setpoint, outside the +/-{p.delta_with_unit(limit)} "
                f"band since {start:.0f} h"
            )

        flag = (np.abs(dev) > limit) & ~settle
        out.append(RuleResult(name, var, flag, x, sp, sev(dev, limit), limit, dur, band_reason,
                              unit or " pH units"))  # fmt: skip
    return out


def _assays(rows, t: np.ndarray, cfg: RulesConfig, rv: RuleVariables) -> list[RuleResult]:
    out = []
    glc = col(rows, "glucose_g_L")
    if glc is not None:
        lvl = cfg.glucose_starvation_g_L

        def glc_reason(i: int, start: float) -> str:
            g = PartText("glucose_g_L", rv)
            return (
                f"{g.label} assay {g.with_unit(glc[i], '.2f')} at {g.voc.at(t[i])} is below the "
                f"{g.with_unit(lvl, 'g')} starvation level"
            )

        with np.errstate(invalid="ignore"):
            flag = np.isfinite(glc) & (glc < lvl)
        severity = sev(lvl - nan_to_num(glc, nan=lvl), lvl) + 1.0
        out.append(RuleResult("glucose_starvation", "glucose_g_L", flag, glc,
                              np.full(len(t), lvl), severity, lvl, 0.0, glc_reason, " g/L"))  # fmt: skip
    for var, name, frac, pts in (
        ("vcd_1e6_cells_mL", "vcd_drop", cfg.vcd_drop_frac, None),
        ("viability_pct", "viability_drop", None, cfg.viability_drop_pct),
    ):
        x = col(rows, var)
        if x is None:
            continue
        ref = recent_max(t, x, cfg.drop_lookback_h)
        limit = frac if frac is not None else pts
        drop = (ref - x) / np.where(ref > 0, ref, np.nan) if frac is not None else ref - x
        with np.errstate(invalid="ignore"):
            flag = np.isfinite(drop) & (drop > limit)

        def drop_reason(i: int, start: float, x=x, ref=ref, limit=limit, frac=frac, var=var) -> str:
            v = PartText(var, rv)
            lim = f"{limit:.0%}" if frac is not None else f"{limit:g} points"
            return (
                f"{v.label} fell to {v.with_unit(x[i], '.1f')} at {v.voc.at(t[i])} from "
                f"{v.num(ref[i], '.1f')} within {cfg.drop_lookback_h:g} h (drop limit {lim})"
            )

        unit = " (share of the recent highest assay)" if frac is not None else " % points"
        out.append(RuleResult(name, var, flag, x, ref, sev(nan_to_num(drop), limit), limit,
                              0.0, drop_reason, unit))  # fmt: skip
    return out


def _part_unit(part: str) -> str:
    """Unit of a part's values (thresholds are in it), as it follows a number."""
    if part in PHYSICAL:
        return f" {PHYSICAL[part][1]}"
    try:
        return f" {known_variable(part).unit}"
    except (ConfigError, KeyError):
        return ""


def _stuck(
    rows, t: np.ndarray, cfg: RulesConfig, prof: RuleProfile, rv: RuleVariables
) -> list[RuleResult]:
    """A reading that stops moving. Off for a reading without noise in training; a reading
    pinned at a physical limit or its training range's edge is at that limit, not frozen."""
    out = []
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    for var in cfg.stuck_variables:
        x = col(rows, var)
        if x is None or var in prof.stuck_off:
            continue
        d = np.abs(np.diff(x, prepend=np.nan))
        with np.errstate(invalid="ignore"):
            flag = np.isfinite(d) & (d <= cfg.stuck_tolerance) & ~prof.at_limit(var, x)
        dur = prof.stuck_duration_h(var, cfg, dt)
        unit = _part_unit(var)

        def stuck_reason(i: int, start: float, x=x, var=var, dur=dur) -> str:
            v = PartText(var, rv)
            return (
                f"{v.label} reading frozen at {v.with_unit(x[i], 'g')} from {start:.0f} h to {v.voc.at(t[i])} "
                f"(no change above {cfg.stuck_tolerance:g} for {dur:g} h or more, "
                "although it moves from reading to reading in the normal batches)"
            )

        out.append(RuleResult(f"stuck_{var}", var, flag, x, _previous(x), flag.astype(float),
                              cfg.stuck_tolerance, dur, stuck_reason, unit))  # fmt: skip
    return out


def _spikes(
    rows, t: np.ndarray, cfg: RulesConfig, prof: RuleProfile, rv: RuleVariables
) -> list[RuleResult]:
    """A spike is an excursion that comes back within ``spike_return_rows`` rows; the alarm
    is raised when it is back, so a lasting step (a DO collapse, a planned set-point change)
    is not called a spike. With a set point the excursion is that of ``x - setpoint``."""
    out = []
    back, k = cfg.spike_return_rows, cfg.spike_context_h
    for var, limit in cfg.spike_limits.items():
        limit = prof.spike_limits.get(var, limit)  # no tighter than the learned noise allows
        x = col(rows, var)
        if x is None:
            continue
        sp_col = col(rows, SETPOINT_COL.get(var, ""))
        sp = locf(sp_col) if sp_col is not None else np.zeros(len(t))
        flag, peak, med = returned_spikes(x - sp, limit, k, back)
        med = med + sp  # reference in reading units
        if sp_col is not None:  # the plant's response to a set-point change is no spike
            settle = settling(t, sp, cfg.setpoint_settle_h, cfg.startup_h)
            began = settle.copy()
            for lag in range(1, back + 1):  # ...nor an excursion that began while settling
                settle[lag:] |= began[:-lag]
            flag &= ~settle
        flag &= t >= cfg.startup_h
        unit = _part_unit(var)

        def spike_reason(i: int, start: float, x=x, med=med, limit=limit, var=var) -> str:
            v = PartText(var, rv)
            lo = max(0, i - back)  # the alarm comes when the reading is back: say the peak
            j = lo + int(np.argmax(np.abs(nan_to_num(x[lo:i] - med[lo:i]))))
            return (
                f"{v.label} spiked to {v.with_unit(x[j], '.3g')} at {v.voc.at(t[j])}, "
                f"{v.delta(x[j] - med[j]):+.3g} from the median of the previous {k} readings, "
                f"and was back at {t[i]:.0f} h (limit {v.delta_with_unit(limit)})"
            )

        out.append(RuleResult(f"spike_{var}", var, flag, x, med, sev(nan_to_num(peak), limit),
                              limit, 0.0, spike_reason, unit))  # fmt: skip
    return out


def _previous(x: np.ndarray) -> np.ndarray:
    """(T,) the reading before each row (the last row's at row 0: ``np.roll(x, 1)``)."""
    return np.concatenate([x[-1:], x[:-1]])
