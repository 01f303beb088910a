"""Controller-consistency checks: what the control loops do against what the readings say.

The DO and pH loops hold their readings at set point, so a probe drift, a stuck CO2 valve
or a contamination barely moves the readings; they show as controller outputs that do not
fit the readings or the culture. Four checks, fitted on fault-free training batches (every
fitted value is a plain float, stored in ``thresholds.json``):

- ``ph_controller_mismatch``: a dead-band pH loop doses base only below its band and CO2
  only above it, so its outputs say on which side of the band the pH is:
  ``pH - setpoint = a + b x output`` in each regime (least squares; with a PI loop, as in
  the simulator, ``b`` is near 0 and ``a`` near the band's edge, for a proportional loop
  ``b`` carries the distance); with both idle the pH lies in ``[a_base, a_co2]``; a
  saturated output gives only a bound. A drifting reading,
  or CO2 sparged while base is needed, leaves a residual; a CUSUM (Page 1954, Biometrika
  41:100) of the standardised residual over the last ``cusum_window_h`` rows alarms.
- ``ph_drift`` and ``do_drift``: the same residuals under a CUSUM with the larger
  allowance ``drift_k`` (1 sd: tuned to a shift of 2 sds, Page's k = shift / 2). A probe
  drifting at 0.3-2.4 noise sds an hour passes 3 sds within hours, and this CUSUM's limit
  (from the good batches, as every other) is reached about an hour after that, where the
  ``cusum_k`` = 0.5 one, tuned to a small lasting offset, needs two to four.
- ``do_shift``: the same CUSUM on the DO deviation from set point that the cascade does not
  explain (probe drift, DO short): less the PI loop's lag behind a ramping demand (fitted on
  the cascade's rate of change), and only the unexplained side while the cascade sits at its
  floor (start-up: DO above set point) or ceiling (DO below it). After a saturated period
  (an aeration failure the loop then corrects) the CUSUM restarts once the loop's error is
  back in band (:func:`do_recovery`): the recovery transient is no probe drift.
- ``oxygen_demand_rise``: the DO cascade output (agitation + sparge, each scaled to the range
  of the good batches) rising faster over ``demand_window_h`` than in any good batch: cells
  grow at most ~0.045 1/h (``shared/DOMAIN.md``), bacteria ten times faster.
- ``base_demand_high``: base pumped faster than in any good batch.

Each check alarms above ``consistency_margin`` x the highest value of its statistic on the
good training batches; a check without such a value (a detector fitted before the check
existed) is not run. Alarms and their reasons: :mod:`~forecaster.anomaly.consistency_alarms`. A flag at row t uses rows back to t - max(cusum window, demand
window) only, so streaming and one-shot detection agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.rule_signals import Rows, col, locf, nan_to_num

PH_COLS = ("ph", "ph_setpoint", "base_rate_mL_h", "co2_flow_mL_min")
#: Cascade output (0-2: agitation + sparge, each 0-1 of the good range) within this of its
#: floor (0) or ceiling (2) counts as saturated.
CASCADE_SATURATED = 0.01
#: Hours over which the cascade's rate of change is taken (DO loop tracking lag).
CASCADE_RATE_H = 2.0
#: After a saturated period the DO residual must be back within this many normal sds...
DO_BAND_SD = 3.0
#: ...or this many hours must have passed before ``do_shift`` counts it again.
DO_RECOVERY_MAX_H = 6.0


@dataclass
class ConsistencyModel:
    """Fitted values of the checks (raw units; ``None`` where the columns were missing).

    Attributes:
        ph_fit: ``[a_base, b_base, a_co2, b_co2]``: pH - setpoint = a + b x output (mL/h,
            mL/min) while that output alone is on.
        ph_sigma: robust sd of the pH residual (pH units).
        base_max, co2_max: highest output seen (saturation; base envelope).
        do_mean, do_sigma: median and robust sd of DO - setpoint (% air saturation) on the
            rows where the cascade is not saturated (after ``do_fit`` where there is one).
        do_fit: ``[a, b]``: DO - setpoint = a + b x the cascade's rate of change (range per
            h, over ``CASCADE_RATE_H``): a PI loop lags behind a demand that ramps up.
        cascade_lo, cascade_hi: ``[rpm, L/min]`` ranges of agitation and sparge.
        train_max: highest statistic of each check on the good batches.
    """

    ph_fit: list[float] | None = None
    ph_sigma: float | None = None
    base_max: float | None = None
    co2_max: float | None = None
    do_mean: float | None = None
    do_sigma: float | None = None
    do_fit: list[float] | None = None
    cascade_lo: list[float] | None = None
    cascade_hi: list[float] | None = None
    train_max: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _robust_sd(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(max(1.4826 * np.median(np.abs(x - np.median(x))), 1e-9)) if x.size else 1.0


def fit_consistency(batches: list[pd.DataFrame], cfg: RulesConfig) -> ConsistencyModel:
    """Fit the checks on fault-free batches (each sorted by time; start-up rows skipped)."""
    rows = pd.concat([b[b["time_h"] >= cfg.startup_h] for b in batches], ignore_index=True)
    m, have = ConsistencyModel(), set(rows.columns)
    if set(PH_COLS) <= have:
        dev = (rows["ph"] - rows["ph_setpoint"]).to_numpy(float)
        base, co2 = (rows[c].fillna(0.0).to_numpy(float) for c in PH_COLS[2:])
        m.base_max, m.co2_max = float(base.max()), float(co2.max())
        fit: list[float] = []
        for u, other, umax in ((base, co2, m.base_max), (co2, base, m.co2_max)):
            on = (u > 0) & (other <= 0) & (u < 0.99 * umax) & np.isfinite(dev)
            b, a = np.polyfit(u[on], dev[on], 1) if on.sum() > 10 else (0.0, 0.0)
            fit += [float(a), float(b)]
        m.ph_fit = fit
        active = (base > 0) | (co2 > 0)  # idle rows inside the band have residual 0 exactly
        m.ph_sigma = _robust_sd(_ph_residual(dev, base, co2, m)[active])
    if {"agitation_rpm", "airflow_L_min"} <= have:
        x = rows[["agitation_rpm", "airflow_L_min"]].to_numpy(float)
        m.cascade_lo, m.cascade_hi = np.nanmin(x, 0).tolist(), np.nanmax(x, 0).tolist()
    if {"do_pct", "do_setpoint_pct"} <= have:
        d = (rows["do_pct"] - rows["do_setpoint_pct"]).to_numpy(float)
        if m.cascade_lo is not None:  # the loop's own error: rows where it is not saturated
            u, rate = _cascade_and_rate(batches, m, cfg)
            free = (u > CASCADE_SATURATED) & (u < 2.0 - CASCADE_SATURATED) & np.isfinite(d)
            if free.sum() > 10:
                b, a = np.polyfit(rate[free], d[free], 1)
                m.do_fit = [float(a), float(b)]
                d = d[free] - b * rate[free]
        m.do_mean, m.do_sigma = float(np.nanmedian(d)), _robust_sd(d)
    for b in batches:  # limits from the statistic without the restart (as before it existed),
        # so the restart only removes alarms: recoveries of normal batches that touch the
        # ceiling keep the DO limit where it was, and drift is caught as early as before
        for name, (stat, _) in statistics(b, cfg, m, restart=False).items():
            top = float(np.nanmax(stat, initial=0.0))
            m.train_max[name] = max(m.train_max.get(name, 0.0), top)
    return m


def _ph_residual(
    dev: np.ndarray, base: np.ndarray, co2: np.ndarray, m: ConsistencyModel
) -> np.ndarray:
    """(T,) pH - setpoint minus what the controller outputs imply (0 inside the idle band)."""
    a_b, b_b, a_c, b_c = m.ph_fit  # type: ignore[misc]
    r_idle = np.where(dev > a_c, dev - a_c, np.where(dev < a_b, dev - a_b, 0.0))
    r_c, r_b = dev - (a_c + b_c * co2), dev - (a_b + b_b * base)
    r_c = np.where(co2 >= 0.99 * m.co2_max, np.minimum(r_c, 0.0), r_c)  # saturated: a bound
    r_b = np.where(base >= 0.99 * m.base_max, np.maximum(r_b, 0.0), r_b)
    return np.where(co2 > 0, r_c, np.where(base > 0, r_b, r_idle))


def windowed_cusum(
    z: np.ndarray, k: float | Sequence[float], w: int, restart: np.ndarray | None = None
) -> np.ndarray:
    """Two-sided CUSUM of ``z: (T,)`` over the last ``w`` rows at each row -> (T,).

    ``max(0, max over t-w < j <= t of sum_{j..t} (|z| - k))``, taken for a rise and a fall
    separately: a recursive CUSUM restarted ``w`` rows back, so it depends on those rows only.
    ``restart: (T,)`` bool marks rows left out: the statistic is 0 there and sums start
    after the last such row (a restarted CUSUM). Several allowances ``k: (K,)`` give
    ``(K, T)``, one row each, in one pass (the streaming monitor runs this at every row).
    """
    ks = np.atleast_1d(np.asarray(k, dtype=float))
    z = nan_to_num(np.asarray(z, dtype=float))
    n = len(z)
    if restart is not None and restart.any():
        z = np.where(restart, 0.0, z)
        last = np.maximum.accumulate(np.where(restart, np.arange(n), -1))
    else:
        restart, last = None, None
    # rows: rise then fall of each allowance; cumulative sums run along each row
    s = (np.stack([z, -z])[None] - ks[:, None, None]).reshape(2 * len(ks), n)
    c = np.concatenate([np.zeros((len(s), 1)), np.cumsum(s, axis=1)], axis=1)
    pad = np.concatenate([np.full((len(s), w - 1), np.inf), c[:, :-1]], axis=1)
    win = np.lib.stride_tricks.sliding_window_view(pad, w, axis=1)  # [., t]: c[t-w+1..t]
    if last is not None:  # c[j] with j <= last restart row cannot start a sum
        j = np.arange(n)[:, None] - (w - 1) + np.arange(w)[None, :]
        win = np.where(j <= last[:, None], np.inf, win)
    lo = win.min(axis=2)
    side = np.where(np.isfinite(lo), c[:, 1:] - lo, 0.0)
    out = np.maximum(np.maximum(np.zeros((len(ks), n)), side[0::2]), side[1::2])
    if restart is not None:
        out[:, restart] = 0.0
    return out if np.ndim(k) else out[0]


def do_recovery(t: np.ndarray, u: np.ndarray | None, z: np.ndarray) -> np.ndarray:
    """(T,) rows of the DO loop's recovery from a saturated period, left out of ``do_shift``.

    While the cascade sits at its floor or ceiling (an aeration failure, start-up) and for
    ``CASCADE_RATE_H`` hours after (its rate then spans the saturated rows, and the lag
    correction ``do_fit`` means nothing), and until the residual ``z`` (in normal sds) is
    back within ``DO_BAND_SD`` (at most ``DO_RECOVERY_MAX_H`` hours), the loop is
    recovering, not drifting: the CUSUM restarts once it is back in band.
    """
    if u is None:
        return np.zeros(len(t), dtype=bool)
    idx = np.arange(len(t))
    sat = (u <= CASCADE_SATURATED) | (u >= 2.0 - CASCADE_SATURATED)
    last_sat = np.maximum.accumulate(np.where(sat, idx, -1))
    since = np.where(last_sat >= 0, t - t[np.maximum(last_sat, 0)], np.inf)
    rate_window = since <= CASCADE_RATE_H
    ok = (np.abs(nan_to_num(z)) <= DO_BAND_SD) & ~sat & ~rate_window
    last_ok = np.maximum.accumulate(np.where(ok, idx, -1))
    not_back = (last_sat >= 0) & (last_ok <= last_sat) & (since <= DO_RECOVERY_MAX_H)
    return sat | rate_window | not_back


def _cascade(rows: Rows, m: ConsistencyModel) -> np.ndarray:
    """(T,) DO cascade output: agitation + sparge, each scaled to [0, 1] of the good range."""
    lo, hi = np.asarray(m.cascade_lo), np.asarray(m.cascade_hi)
    span = np.maximum(hi - lo, 1e-9)
    cols = ("agitation_rpm", "airflow_L_min")
    return sum((locf(np.asarray(rows[c], float)) - lo[i]) / span[i] for i, c in enumerate(cols))


def _cascade_rate(t: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(T,) change of the cascade output over the last ``CASCADE_RATE_H`` hours, per hour."""
    j = np.searchsorted(t, t - CASCADE_RATE_H)
    dt = t - t[j]
    return np.where(dt > 0, (u - u[j]) / np.maximum(dt, 1e-9), 0.0)


def _cascade_and_rate(
    batches: list[pd.DataFrame], m: ConsistencyModel, cfg: RulesConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Cascade output and its rate on the fitting rows (start-up skipped), concatenated."""
    us, rates = [], []
    for b in batches:
        t, u = b["time_h"].to_numpy(float), _cascade(b, m)
        keep = t >= cfg.startup_h
        us.append(u[keep])
        rates.append(_cascade_rate(t, u)[keep])
    return np.concatenate(us), np.concatenate(rates)


def _do_residual(
    d: np.ndarray, u: np.ndarray | None, t: np.ndarray, m: ConsistencyModel
) -> np.ndarray:
    """(T,) DO deviation from set point that the cascade does not explain (% saturation).

    ``d`` is the deviation less the normal offset; ``u`` the cascade output (``_cascade``),
    None where the batch or the fit lacks it; ``t`` the row times (h). A PI loop whose demand ramps up lags behind it
    by ``b`` x the cascade's rate (``do_fit``; a drifting probe does not move the cascade, so
    its offset stays in the residual). With the cascade at its floor (minimum agitation and
    sparge) the culture cannot use the oxygen the headspace brings in, so a reading above set
    point is expected (start-up); at its ceiling a reading below set point is (demand beyond
    the transfer capacity, the ``do_low`` rule's case). Only the unexplained side counts
    there; elsewhere all of it.
    """
    if u is None:
        return d
    if m.do_fit is not None:
        d = d - m.do_fit[1] * _cascade_rate(t, u)
    floor, ceiling = u <= CASCADE_SATURATED, u >= 2.0 - CASCADE_SATURATED
    return np.where(floor, np.minimum(d, 0.0), np.where(ceiling, np.maximum(d, 0.0), d))


def statistics(
    rows: Rows, cfg: RulesConfig, m: ConsistencyModel, restart: bool = True
) -> dict[str, tuple]:
    """``{check: (stat: (T,), extras)}`` for the checks whose columns and fit exist.

    Statistics are 0 during start-up (``cfg.startup_h``); ``restart=False`` leaves the DO
    loop's recoveries in ``do_shift`` (how its limit is fitted)."""
    t = np.asarray(rows["time_h"], dtype=float)
    early = t < cfg.startup_h
    w = max(2, int(round(cfg.cusum_window_h)))
    ks = [cfg.cusum_k, cfg.drift_k] if cfg.drift_k > 0 else [cfg.cusum_k]  # both in one pass
    out: dict[str, tuple] = {}
    ph_cols = [col(rows, c) for c in PH_COLS]
    if m.ph_fit is not None and all(c is not None for c in ph_cols):
        ph, sp, base, co2 = ph_cols
        base, co2 = nan_to_num(locf(base)), nan_to_num(locf(co2))  # type: ignore[arg-type]
        sp = locf(sp)  # type: ignore[arg-type]
        r = _ph_residual(ph - sp, base, co2, m)  # type: ignore[operator]
        z = np.where(early, 0.0, r / m.ph_sigma)
        stat = windowed_cusum(z, ks, w)
        out["ph_controller_mismatch"] = (stat[0], (ph, ph - r, base, co2))
        if cfg.drift_k > 0:
            out["ph_drift"] = (stat[1], (ph, ph - r, base, co2))
    have_cascade = m.cascade_lo is not None and "agitation_rpm" in rows and "airflow_L_min" in rows
    u = _cascade(rows, m) if have_cascade else None
    do, do_sp = col(rows, "do_pct"), col(rows, "do_setpoint_pct")
    if m.do_mean is not None and do is not None and do_sp is not None:
        d = do - locf(do_sp)
        z = _do_residual(d - m.do_mean, u, t, m) / m.do_sigma
        rec = do_recovery(t, u, z) if restart else None
        z = np.where(early, 0.0, z)
        stat, sp = windowed_cusum(z, ks, w, rec), locf(do_sp)
        out["do_shift"] = (stat[0], (do, sp, d))
        if cfg.drift_k > 0:
            out["do_drift"] = (stat[1], (do, sp, d))
    if u is not None:
        j = np.searchsorted(t, t - cfg.demand_window_h)
        ok = (t - t[j] >= 0.9 * cfg.demand_window_h) & ~early
        out["oxygen_demand_rise"] = (np.where(ok, u - u[j], 0.0), (u,))
    base = col(rows, "base_rate_mL_h")
    if m.base_max is not None and base is not None:
        out["base_demand_high"] = (np.where(early, 0.0, nan_to_num(base)), (base,))
    return out
