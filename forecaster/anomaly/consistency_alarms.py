"""The controller-consistency checks as rule results, with plain-language reasons.

:mod:`~forecaster.anomaly.consistency` fits the checks and computes their statistics; this
module compares each statistic with ``consistency_margin`` x its highest value on the good
training batches and says why in the user's names and units (through
:class:`~forecaster.anomaly.rule_text.PartText`). A check without such a value (a detector
fitted before the check existed) is left out, so an older run folder keeps its alarms.

The two CUSUMs of each residual differ only in their allowance: ``ph_controller_mismatch``
and ``do_shift`` (``cusum_k``, a small lasting offset) and ``ph_drift`` and ``do_drift``
(``drift_k``, a reading that ramps away); both reasons give the CUSUM and its limit.
"""

from __future__ import annotations

import numpy as np

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.consistency import ConsistencyModel, statistics
from forecaster.anomaly.rule_signals import Rows, RuleResult, col, locf, nan_to_num
from forecaster.anomaly.rule_text import PartText
from forecaster.anomaly.rule_vars import RuleVariables

#: CUSUM checks on the pH and DO residuals, and the setting that holds each one's allowance.
CUSUM_K: dict[str, str] = {
    "ph_controller_mismatch": "cusum_k",
    "ph_drift": "drift_k",
    "do_shift": "cusum_k",
    "do_drift": "drift_k",
}


def window_mean(x: np.ndarray, w: int) -> np.ndarray:
    """(T,) mean of the last ``w`` rows of ``x`` (fewer at the start; NaN read as 0)."""
    c = np.concatenate([[0.0], np.cumsum(nan_to_num(x))])
    n = np.minimum(np.arange(1, len(x) + 1), w)
    return (c[1:] - c[np.arange(len(x)) + 1 - n]) / n


def cusum_unit(cfg: RulesConfig, k: float) -> str:
    """What a CUSUM limit means, printed after it in the alarm."""
    w = max(2, int(round(cfg.cusum_window_h)))
    return (
        f" sd-hours (CUSUM: the residual in normal sds, less {k:g} per hourly row, "
        f"summed over up to {w} rows; {cfg.consistency_margin:g} x the highest on the good "
        "training batches)"
    )


def consistency_rules(
    rows: Rows, cfg: RulesConfig, m: ConsistencyModel, rv: RuleVariables | None = None
) -> list[RuleResult]:
    """The checks as :class:`RuleResult` (reason sentences included) on one batch's rows
    (rule parts; ``rv`` says which process column each is, for the reasons)."""
    rv = rv or RuleVariables.cho()
    t = np.asarray(rows["time_h"], dtype=float)
    out = []
    for name, (stat, ex) in statistics(rows, cfg, m).items():
        if name not in m.train_max:  # fitted before this check existed: not run
            continue
        lim = cfg.consistency_margin * max(m.train_max[name], 1e-9)
        if name.startswith("ph_"):
            res = _ph_check(name, rows, t, cfg, m, rv, stat, ex, lim)
        elif name.startswith("do_"):
            res = _do_check(name, t, cfg, m, rv, stat, ex, lim)
        elif name == "oxygen_demand_rise":
            res = _demand_check(rows, t, cfg, rv, stat, ex, lim)
        else:
            res = _base_check(t, cfg, rv, ex, lim)
        var, value, ref, why, unit = res
        out.append(RuleResult(name, var, stat > lim, value, ref, stat / lim, lim, 0.0, why, unit))
    return out


def _ph_check(name, rows, t, cfg, m, rv, stat, ex, lim) -> tuple:
    ph, imp, base, co2 = ex
    w = max(2, int(round(cfg.cusum_window_h)))
    ramp = name == "ph_drift"

    def why(i: int, start: float) -> str:  # what only the reason reads is built here
        sp = locf(col(rows, "ph_setpoint"))  # type: ignore[arg-type]
        mean_r = window_mean(ph - imp, w)  # reading - implied pH, last w rows
        p, b, c = (PartText(x, rv) for x in ("ph", "base_rate_mL_h", "co2_flow_mL_min"))
        s = (
            f"{p.label} reading {ph[i]:.2f} at {p.voc.at(t[i])} against a {sp[i]:.2f} "
            f"setpoint, while the pH controller's outputs ({b.label_lc} "
            f"{b.with_unit(base[i], '.2g')}, {c.label} {c.with_unit(co2[i], '.2g')}) "
            f"imply about {imp[i]:.2f}; over the last {w} h the "
            f"reading ran {mean_r[i]:+.3f} pH from what they imply on average (normal "
            f"sd {m.ph_sigma:.3f}; CUSUM {stat[i]:.0f} against {lim:.0f}) since "
            f"{start:.0f} h: "
        )
        if ramp:
            return s + "the pH reading is moving away from what the loop does (probe drift?)"
        return s + "the pH probe drifts or an actuator does not do what it is told"

    return "ph", ph, imp, why, cusum_unit(cfg, getattr(cfg, CUSUM_K[name]))


def _do_check(name, t, cfg, m, rv, stat, ex, lim) -> tuple:
    do, sp, dev = ex
    w = max(2, int(round(cfg.cusum_window_h)))
    ramp = name == "do_drift"

    def why(i: int, start: float) -> str:
        mean_w = window_mean(dev, w)  # only the reason reads it
        d = PartText("do_pct", rv)
        s = (
            f"{d.label} reading {d.with_unit(do[i], d.level_fmt)} at {d.voc.at(t[i])} against a "
            f"{d.with_unit(sp[i], d.level_fmt)} setpoint has run {d.delta(mean_w[i]):+.2g}{d.unit} from "
            f"it on average over the last {w} h (normal sd {d.delta_with_unit(m.do_sigma, '.2g')}; "
            f"CUSUM {stat[i]:.0f} against {lim:.0f}) since {start:.0f} h: "
        )
        if ramp:
            return (
                s
                + "the reading is moving away while the oxygen cascade stays where it was (probe drift?)"
            )
        return s + "probe drift, or oxygen supply short of demand"

    return "do_pct", do, sp, why, cusum_unit(cfg, getattr(cfg, CUSUM_K[name]))


def _demand_check(rows, t, cfg, rv, stat, ex, lim) -> tuple:
    agit, flow = col(rows, "agitation_rpm"), col(rows, "airflow_L_min")

    def why(i: int, start: float) -> str:
        a, f = PartText("agitation_rpm", rv), PartText("airflow_L_min", rv)
        return (
            f"The DO cascade rose by {stat[i]:.2f} of its range in "
            f"{cfg.demand_window_h:g} h to {a.label_lc} {a.with_unit(agit[i], '.0f')} and "  # type: ignore[index]
            f"{f.label_lc} {f.with_unit(flow[i], '.3g')} at {a.voc.at(t[i])}, faster than in any good batch: oxygen "  # type: ignore[index]
            "demand is outgrowing the cells (contamination?) or oxygen transfer is failing"
        )

    unit = f" of the cascade range in {cfg.demand_window_h:g} h"
    return "airflow_L_min", ex[0], ex[0] - stat, why, unit


def _base_check(t, cfg, rv, ex, lim) -> tuple:
    base = ex[0]

    def why(i: int, start: float) -> str:
        b = PartText("base_rate_mL_h", rv)
        return (
            f"{b.label} {b.with_unit(base[i], '.3g')} at {b.voc.at(t[i])} is above "
            f"{b.with_unit(lim, '.3g')} "
            f"({cfg.consistency_margin:g} x the highest rate of the good batches): acid "
            "production is unusually high or the base is not reaching the vessel"
        )

    return "base_rate_mL_h", base, np.full(len(t), lim), why, " mL/h"
