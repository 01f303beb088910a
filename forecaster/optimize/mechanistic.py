"""A reduced mechanistic model of a CHO fed-batch culture, vectorised over parameter sets.

The planner's process model: the simulator's cell kinetics (``forecaster.sim.kinetics``,
the Xing et al. 2010 Monod form) with the controlled variables at their set points (DO, pH,
temperature following its set point), cells growing exponentially within each step (exact
for constant rates, so a 1 h step is accurate), metabolites by explicit Euler on masses,
feed and base as volumes. It is the model a process engineer would write down for a CHO
process; it is not the simulator (no DO/pH dynamics, no process noise, coarser step).

Shapes: every state is (m,), one column per parameter set / candidate plan; records are
(hours + 1, m) on the hourly grid. Units as in the simulator: cells 1e6 cells/mL, glucose
and lactate g/L, glutamine and ammonia mM, titer mg/L, volume L, feed and base mL/h.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from forecaster.sim.config import Kinetics
from forecaster.sim.kinetics import MW_GLUCOSE, MW_LACTATE, rates

STATES = ("xv", "xd", "glc", "gln", "lac", "amm", "titer", "vol")

#: feed(hour, state) -> (m,) feed rate (mL/h) held for that hour.
FeedRule = Callable[[int, dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Setpoints:
    """Controlled conditions of one batch (scalars, or (m,) arrays for candidates).

    Attributes:
        do_pct: DO set point (% air saturation).
        ph: pH set point.
        feed_glucose_g_L: glucose in the feed medium (g/L).
        base_mL_h: base addition assumed while integrating (mL/h).
    """

    do_pct: float
    ph: float
    feed_glucose_g_L: float
    base_mL_h: float | np.ndarray = 0.0


def integrate(
    p: dict[str, np.ndarray],
    x0: dict[str, np.ndarray],
    t0_h: int,
    hours: int,
    feed: FeedRule,
    temp_c: Callable[[int], np.ndarray],
    sp: Setpoints,
    kin: Kinetics,
    base_mL_h: Callable[[int], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Integrate ``hours`` hours from hour ``t0_h`` with state ``x0``.

    Args:
        p: per-column parameters (the ``Variability`` names the kinetics read), each (m,).
        x0: initial state, each (m,) (keys ``STATES``).
        t0_h: culture age at ``x0`` (whole hours).
        hours: how many 1 h steps.
        feed: feed rule, called at every hour with the state then.
        temp_c: temperature (C) at each hour, (m,) or scalar.
        sp: set points and feed medium.
        kin: kinetic constants.
        base_mL_h: base addition per hour (default: ``sp.base_mL_h``).

    Returns:
        dict state name -> (hours + 1, m) record, plus ``feed`` (hours + 1, m) (mL/h, the
        last row repeats the last rate).
    """
    x = {k: np.asarray(v, dtype=float).copy() for k, v in x0.items()}
    m = x["xv"].shape[0]
    rec = {k: np.empty((hours + 1, m)) for k in (*STATES, "feed")}
    do = np.full(m, float(sp.do_pct))
    ph = np.full(m, float(sp.ph))
    gfeed = np.asarray(sp.feed_glucose_g_L, dtype=float)
    rate = np.zeros(m)
    for j in range(hours + 1):
        h = t0_h + j
        for k in STATES:
            rec[k][j] = x[k]
        if j == hours:
            rec["feed"][j] = rate
            break
        rate = np.broadcast_to(np.asarray(feed(h, x), dtype=float), (m,))
        rec["feed"][j] = rate
        base = sp.base_mL_h if base_mL_h is None else base_mL_h(h)
        x = _step(x, p, kin, float(h), rate, base, gfeed, do, ph, temp_c(h))
    return rec


def _step(x, p, kin, t, feed, base, gfeed, do, ph, temp) -> dict[str, np.ndarray]:
    """One 1 h step (see module docstring)."""
    xv, xd, glc, gln, lac, amm = x["xv"], x["xd"], x["glc"], x["gln"], x["lac"], x["amm"]
    temp = np.broadcast_to(np.asarray(temp, dtype=float), xv.shape)
    r = rates(xv, glc, gln, lac, amm, do, ph, temp, t, p, kin)
    g = r.mu - r.kd
    growth = np.exp(g)
    # mean viable density over the hour (exact for constant g)
    xv_mean = xv * np.where(np.abs(g) > 1e-9, np.expm1(g) / np.where(g == 0, 1, g), 1.0)
    vol = x["vol"]
    vol_new = vol + (feed + base) / 1000.0
    keep = vol / vol_new
    used = np.minimum(r.q_glc * xv_mean * MW_GLUCOSE / 1000.0, glc)
    fed = gfeed * feed / 1000.0  # g
    g_demand = r.q_gln * xv_mean + kin.k_gln_deg_1_h * gln
    g_used = np.minimum(g_demand, gln)
    frac = np.where(g_demand > 0, g_used / np.maximum(g_demand, 1e-300), 1.0)
    return {
        "xv": xv * growth * keep,
        "xd": (xd + r.kd * xv_mean - kin.k_lysis_1_h * xd) * keep,
        "glc": (glc - used) * keep + fed / vol_new,
        "gln": (gln - g_used) * keep,
        "lac": np.maximum(lac + r.q_lac * xv_mean * MW_LACTATE / 1000.0, 0.0) * keep,
        "amm": (amm + (r.q_amm * xv_mean + kin.k_gln_deg_1_h * gln) * frac) * keep,
        "titer": (x["titer"] + r.qp / 24.0 * xv_mean) * keep,
        "vol": vol_new,
    }


def glucose_use_g_h(x: dict[str, np.ndarray], p, kin: Kinetics, temp, sp: Setpoints) -> np.ndarray:
    """(m,) glucose the culture takes up now (g per hour, whole vessel)."""
    m = x["xv"].shape[0]
    temp = np.broadcast_to(np.asarray(temp, dtype=float), (m,))
    r = rates(
        x["xv"], x["glc"], x["gln"], x["lac"], x["amm"], np.full(m, float(sp.do_pct)),
        np.full(m, float(sp.ph)), temp, 0.0, p, kin,
    )  # fmt: skip
    return r.q_glc * x["xv"] * MW_GLUCOSE / 1000.0 * x["vol"]
