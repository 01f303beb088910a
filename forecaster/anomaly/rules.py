"""Day-one rule checks with plain-language reasons and the threshold each one used.

Each rule turns the rows of one batch into a per-row violation flag and the reading behind
it; :class:`RunTracker` then applies the rule's duration, so rules raise events exactly like
the scores do. Every flag at row t uses rows at or before t, at most
:func:`lookback_h` hours back, which is what lets the streaming monitor keep only a tail.
A rule whose columns are missing from the data is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.anomaly.config import RulesConfig

if TYPE_CHECKING:
    from forecaster.anomaly.consistency import ConsistencyModel


@dataclass
class RuleResult:
    """Per-row outcome of one rule on one batch.

    Attributes:
        name: rule name (``do_low``, ``spike_ph``, ...).
        variable: the checked canonical variable.
        flag: (T,) bool, the condition holds at this row.
        value: (T,) the reading checked (variable units).
        ref: (T,) what it was compared with (set point, earlier assay, median...).
        severity: (T,) how far past the threshold, in multiples of the threshold (>= 1 when
            flagged), used as the event's peak score.
        threshold: the threshold used (variable units).
        min_duration_h: the condition must last this long to raise an alarm.
        describe: builds the reason sentence from the row index.
    """

    name: str
    variable: str
    flag: np.ndarray
    value: np.ndarray
    ref: np.ndarray
    severity: np.ndarray
    threshold: float
    min_duration_h: float
    describe: Callable[[int, float], str]


def lookback_h(cfg: RulesConfig, dt_h: float = 1.0) -> float:
    """Hours of history any rule reads before the row it flags."""
    return max(
        cfg.drop_lookback_h,
        (cfg.spike_context_h + cfg.spike_return_rows + 1) * dt_h + cfg.setpoint_settle_h,
        cfg.feed_check_h + 3 * dt_h,
        (cfg.cusum_window_h + 1) * dt_h,
        cfg.demand_window_h + dt_h,
        2 * dt_h,
    )


_SETPOINT = {
    "do_pct": "do_setpoint_pct",
    "ph": "ph_setpoint",
    "temperature_C": "temperature_setpoint_C",
}


def _col(rows: Mapping[str, np.ndarray] | pd.DataFrame, name: str) -> np.ndarray | None:
    return np.asarray(rows[name], dtype=float) if name in rows else None


def _locf(x: np.ndarray) -> np.ndarray:
    idx = np.maximum.accumulate(np.where(np.isfinite(x), np.arange(len(x)), 0))
    return x[idx]


def _settling(t: np.ndarray, sp: np.ndarray | None, hours: float, startup_h: float) -> np.ndarray:
    """(T,) True during start-up or within ``hours`` after a set-point change."""
    if sp is None or hours <= 0:
        return t < startup_h
    changed = np.flatnonzero(np.abs(np.diff(sp)) > 1e-9) + 1
    t_change = np.full(len(t), -np.inf)
    t_change[changed] = t[changed]
    return (t - np.maximum.accumulate(t_change) < hours) | (t < startup_h)


def evaluate_rules(
    rows: pd.DataFrame | Mapping[str, np.ndarray],
    cfg: RulesConfig,
    agitation_max: float | None = None,
    consistency: ConsistencyModel | None = None,
) -> list[RuleResult]:
    """All applicable rules on the rows of one batch (sorted by time).

    Args:
        rows: one batch's rows, a DataFrame or ``{column: (T,) array}`` (canonical columns;
            missing columns skip their rules).
        cfg: thresholds and durations.
        agitation_max: highest agitation seen in fault-free training batches (rpm), used to
            say "while agitation was at its maximum".
        consistency: fitted controller-consistency checks (``consistency.py``); None skips them.
    """
    t = np.asarray(rows[schema.TIME], dtype=float)
    out: list[RuleResult] = []
    nan = np.full(len(t), np.nan)

    def sev(excess: np.ndarray, limit: float) -> np.ndarray:
        return np.nan_to_num(np.abs(excess) / max(abs(limit), 1e-12))

    do, do_sp, agit = (
        _col(rows, "do_pct"),
        _col(rows, "do_setpoint_pct"),
        _col(rows, "agitation_rpm"),
    )
    if do is not None:
        floor = cfg.do_floor_pct
        do_ref = _locf(do_sp) if do_sp is not None else nan

        def do_reason(i: int, start: float, sp=do_ref) -> str:
            s = f"DO fell to {do[i]:.0f} % at {t[i]:.0f} h"
            s += f" against a {sp[i]:.0f} % setpoint" if np.isfinite(sp[i]) else ""
            s += f" (below the {floor:g} % floor since {start:.0f} h)"
            if agit is not None and agitation_max and agit[i] >= 0.98 * agitation_max:
                s += f" while agitation was at its maximum ({agit[i]:.0f} rpm)"
            return s

        out.append(
            RuleResult(
                "do_low",
                "do_pct",
                do < floor,
                do,
                do_ref,
                sev(floor - do, floor) + 1.0,
                floor,
                cfg.do_floor_duration_h,
                do_reason,
            )
        )
    for var, sp_name, limit, dur, name, fmt, unit in (
        ("ph", "ph_setpoint", cfg.ph_band, cfg.ph_duration_h, "ph_out_of_band", ".2f", ""),
        (
            "temperature_C",
            "temperature_setpoint_C",
            cfg.temperature_tolerance_C,
            cfg.temperature_duration_h,
            "temperature_off_setpoint",
            ".1f",
            " C",
        ),
    ):
        x, sp = _col(rows, var), _col(rows, sp_name)
        if x is None or sp is None:
            continue
        sp = _locf(sp)
        dev = x - sp
        label = schema.variable(var).label
        settle = _settling(t, sp, cfg.setpoint_settle_h, cfg.startup_h)

        def band_reason(
            i: int, start: float, x=x, sp=sp, dev=dev, limit=limit, fmt=fmt, unit=unit, label=label
        ) -> str:
            word = "rose" if dev[i] > 0 else "fell"
            return (
                f"{label} {word} to {x[i]:{fmt}}{unit} at {t[i]:.0f} h against a {sp[i]:{fmt}}{unit} "
                f"setpoint, outside the +/-{limit:g}{unit} band since {start:.0f} h"
            )

        out.append(
            RuleResult(
                name,
                var,
                (np.abs(dev) > limit) & ~settle,
                x,
                sp,
                sev(dev, limit),
                limit,
                dur,
                band_reason,
            )
        )
    glc = _col(rows, "glucose_g_L")
    if glc is not None:
        lvl = cfg.glucose_starvation_g_L

        def glc_reason(i: int, start: float) -> str:
            return f"Glucose assay {glc[i]:.2f} g/L at {t[i]:.0f} h is below the {lvl:g} g/L starvation level"

        with np.errstate(invalid="ignore"):
            flag = np.isfinite(glc) & (glc < lvl)
        out.append(
            RuleResult(
                "glucose_starvation",
                "glucose_g_L",
                flag,
                glc,
                np.full(len(t), lvl),
                sev(lvl - np.nan_to_num(glc, nan=lvl), lvl) + 1.0,
                lvl,
                0.0,
                glc_reason,
            )
        )
    for var, name, frac, pts in (
        ("vcd_1e6_cells_mL", "vcd_drop", cfg.vcd_drop_frac, None),
        ("viability_pct", "viability_drop", None, cfg.viability_drop_pct),
    ):
        x = _col(rows, var)
        if x is None:
            continue
        ref = _recent_max(t, x, cfg.drop_lookback_h)
        limit = frac if frac is not None else pts
        drop = (ref - x) / np.where(ref > 0, ref, np.nan) if frac is not None else ref - x
        with np.errstate(invalid="ignore"):
            flag = np.isfinite(drop) & (drop > limit)
        var_ = schema.variable(var)

        def drop_reason(i: int, start: float, x=x, ref=ref, limit=limit, frac=frac, v=var_) -> str:
            lim = f"{limit:.0%}" if frac is not None else f"{limit:g} points"
            return (
                f"{v.label} fell to {x[i]:.1f} {v.unit} at {t[i]:.0f} h from {ref[i]:.1f} "
                f"within {cfg.drop_lookback_h:g} h (drop limit {lim})"
            )

        out.append(
            RuleResult(
                name, var, flag, x, ref, sev(np.nan_to_num(drop), limit), limit, 0.0, drop_reason
            )
        )
    for var in cfg.stuck_variables:
        x = _col(rows, var)
        if x is None:
            continue
        d = np.abs(np.diff(x, prepend=np.nan))
        with np.errstate(invalid="ignore"):
            flag = np.isfinite(d) & (d <= cfg.stuck_tolerance)
        v = schema.variable(var)

        def stuck_reason(i: int, start: float, x=x, v=v) -> str:
            return (
                f"{v.label} reading frozen at {x[i]:g} {v.unit} from {start:.0f} h to {t[i]:.0f} h "
                f"(no change above {cfg.stuck_tolerance:g} for {cfg.stuck_duration_h:g} h or more)"
            )

        out.append(
            RuleResult(
                f"stuck_{var}",
                var,
                flag,
                x,
                np.roll(x, 1),
                flag.astype(float),
                cfg.stuck_tolerance,
                cfg.stuck_duration_h,
                stuck_reason,
            )
        )
    for var, limit in cfg.spike_limits.items():
        x = _col(rows, var)
        if x is None:
            continue
        sp_col = _col(rows, _SETPOINT.get(var, ""))
        v = schema.variable(var)
        if sp_col is not None:
            # With a set point the spike is a jump of the deviation (x - setpoint), flagged at
            # once; the settling window after a set-point change covers the plant's response.
            sp = _locf(sp_col)
            med = _prev_median(x - sp, cfg.spike_context_h) + sp
            jump = x - med
            with np.errstate(invalid="ignore"):
                flag = (
                    np.isfinite(jump)
                    & (np.abs(jump) > limit)
                    & ~_settling(t, sp, cfg.setpoint_settle_h, cfg.startup_h)
                )
        else:
            # Without a set point a planned set-point change (the temperature shift) is a
            # lasting step: only an excursion that comes back is a spike.
            flag, peak, med = _returned_spikes(x, limit, cfg.spike_context_h, cfg.spike_return_rows)
            flag &= t >= cfg.startup_h
            jump = peak

        def spike_reason(
            i: int, start: float, x=x, med=med, limit=limit, v=v, setpoint=sp_col is not None
        ) -> str:
            j = i  # without a set point the alarm comes when the reading is back: say the peak
            if not setpoint:
                lo = max(0, i - cfg.spike_return_rows)
                j = lo + int(np.argmax(np.abs(np.nan_to_num(x[lo:i] - med[lo:i]))))
            return (
                f"{v.label} spiked to {x[j]:.3g} {v.unit} at {t[j]:.0f} h, {x[j] - med[j]:+.3g} from "
                f"the median of the previous {cfg.spike_context_h} readings (limit {limit:g})"
            )

        out.append(
            RuleResult(
                f"spike_{var}",
                var,
                flag,
                x,
                med,
                sev(np.nan_to_num(jump), limit),
                limit,
                0.0,
                spike_reason,
            )
        )
    fb = _feed_balance(rows, t, cfg)
    if fb is not None:
        missing, pumped = fb
        allowed = np.maximum(cfg.feed_missing_mL, cfg.feed_missing_frac * pumped)
        with np.errstate(invalid="ignore"):
            flag = np.isfinite(missing) & (missing > allowed)

        def feed_reason(i: int, start: float) -> str:
            return (
                f"Volume rose {pumped[i] - missing[i]:.0f} mL in the last {cfg.feed_check_h:g} h "
                f"while the pumps report {pumped[i]:.0f} mL fed (missing {missing[i]:.0f} mL, limit "
                f"{allowed[i]:.0f} mL) at {t[i]:.0f} h: the feed is not reaching the vessel"
            )

        out.append(
            RuleResult(
                "feed_not_delivered",
                "volume_L",
                flag,
                missing,
                pumped,
                sev(np.nan_to_num(missing), cfg.feed_missing_mL),
                cfg.feed_missing_mL,
                0.0,
                feed_reason,
            )
        )
    if consistency is not None and cfg.consistency:
        from forecaster.anomaly.consistency import consistency_rules  # imports this module

        out += consistency_rules(rows, cfg, consistency)
    return out


def _feed_balance(
    rows: pd.DataFrame | Mapping[str, np.ndarray], t: np.ndarray, cfg: RulesConfig
) -> tuple[np.ndarray, np.ndarray] | None:
    """(missing_mL, pumped_mL) over the last ``feed_check_h`` hours at each row (NaN when
    less history).

    Volume and pumped volume are both averaged over the last 3 readings (probe noise). A
    logged rate may hold over the step after its row (a sampled command, as in the
    simulator) or the step before it (an interval average): the smaller missing volume of
    the two readings is used, so a one-hour bolus logged at its first row is not "missing".
    """
    vol, feed = _col(rows, "volume_L"), _col(rows, "feed_rate_mL_h")
    if vol is None or feed is None:
        return None
    base = _col(rows, "base_rate_mL_h")
    rate = np.nan_to_num(feed) + (np.nan_to_num(base) if base is not None else 0.0)
    dt = np.diff(t, prepend=t[0])
    fed_before = np.cumsum(rate * dt)  # mL up to each row, rate held over the step before
    fed_after = np.cumsum(np.concatenate([[0.0], rate[:-1] * dt[1:]]))  # held over the step after
    j = np.searchsorted(t, t - cfg.feed_check_h)
    ok = (t - t[j]) >= 0.9 * cfg.feed_check_h
    v3 = _mean3(_locf(vol) * 1000.0)
    rose = v3 - v3[j]
    missing, pumped = np.full(len(t), np.inf), np.zeros(len(t))
    for fed in (fed_before, fed_after):
        f3 = _mean3(fed)
        p = f3 - f3[j]
        m = p - rose
        better = m < missing
        missing, pumped = np.where(better, m, missing), np.where(better, p, pumped)
    return np.where(ok, missing, np.nan), np.where(ok, pumped, np.nan)


def _mean3(x: np.ndarray) -> np.ndarray:
    """(T,) mean of each row and the two before it (NaN for the first two rows)."""
    out = np.convolve(x, np.ones(3) / 3.0, mode="full")[: len(x)]
    out[:2] = np.nan
    return out


def _returned_spikes(
    x: np.ndarray, limit: float, k: int, back: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spikes that came back, for a reading without a set point.

    Row i is flagged when one of the ``back`` rows before it jumped more than ``limit`` from
    the median of its previous ``k`` rows and row i is back within ``limit / 2`` of that
    median (a step that lasts is not flagged).

    Returns:
        ``flag: (T,)``, ``peak: (T,)`` the excursion seen at each flagged row (NaN else),
        ``med: (T,)`` the previous-``k`` median of each row.
    """
    med = _prev_median(x, k)
    dev = x - med
    flag = np.zeros(len(x), dtype=bool)
    peak = np.full(len(x), np.nan)
    with np.errstate(invalid="ignore"):
        for lag in range(1, max(1, back) + 1):
            if len(x) <= lag:
                break
            out = np.abs(dev[:-lag]) > limit  # row i - lag jumped...
            ret = np.abs(x[lag:] - med[:-lag]) <= 0.5 * limit  # ...and row i is back
            hit = np.isfinite(dev[:-lag]) & out & ret
            if lag > 1:  # the rows in between are part of the excursion
                for m in range(1, lag):
                    hit &= np.abs(x[lag - m : len(x) - m] - med[:-lag]) > 0.5 * limit
            new = hit & ~flag[lag:]
            flag[lag:] |= hit
            peak[lag:] = np.where(new, dev[:-lag], peak[lag:])
    return flag, peak, med


def _recent_max(t: np.ndarray, x: np.ndarray, hours: float) -> np.ndarray:
    """(T,) highest finite ``x`` at rows in [t - hours, t) (NaN if none); causal."""
    seen = np.flatnonzero(np.isfinite(x))
    out = np.full(len(x), np.nan)
    for i in seen:  # assays are sparse (about one a day), so this loop is short
        prev = seen[(seen < i) & (t[seen] >= t[i] - hours)]
        if prev.size:
            out[i] = np.max(x[prev])
    return out


def _prev_median(x: np.ndarray, k: int) -> np.ndarray:
    """(T,) median of the ``k`` rows before each row (NaN for the first k rows)."""
    out = np.full(len(x), np.nan)
    if len(x) > k:
        win = np.lib.stride_tricks.sliding_window_view(x, k)[:-1]  # rows i-k..i-1 for i >= k
        out[k:] = np.nanmedian(win, axis=1) if np.isnan(win).any() else np.median(win, axis=1)
    return out
