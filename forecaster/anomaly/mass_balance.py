"""Feed-pump mass balance: is the feed the pumps log reaching the vessel?

Without sampling or evaporation the culture volume changes only by what is pumped in, so

    y_t = volume_t (mL) - cumulative feed and base pumped up to t (mL)

is flat plus the reading's noise in a normal batch (the simulator's volume reading is the
true volume + white noise, sd 5 mL). When the pump stops at ``t0`` while still logging its
commanded rate, ``y`` falls below its earlier level by the volume logged since ``t0``. So
for every candidate onset ``j`` within the last ``feed_check_h`` hours the share of the
pumped volume that is missing is fitted by least squares (a matched filter),

    ref_j - y_s = f x (P_s - P_j),  rows s after j,

with ``ref_j`` the mean of ``y`` over the ``feed_reference_h`` hours up to ``j`` and ``P``
the cumulative pumped volume. The standard error of ``f`` combines the reading noise in
those rows and in the reference mean; the noise sd is the batch's own estimate over the
reference window (from successive differences, so slow drifts do not inflate it), but at
least ``feed_volume_sd_mL``. The rule flags a row when some onset gives ``f`` at least
``feed_missing_frac`` and ``feed_z`` standard errors above 0.

A logged rate may hold over the step after its row (a sampled command, as in the simulator)
or over the step before it (an interval average): the balance is computed both ways and the
weaker evidence is used, so a one-hour bolus logged at its first row is not "missing". Data
with sample withdrawals or evaporation need those volumes in the balance first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.rule_signals import Rows, RuleResult, col

MIN_ROWS_AFTER_ONSET = 3  # rows after a candidate onset (fewer: too little to fit f)


@dataclass
class FeedBalance:
    """Best evidence of a missing feed at each row (NaN where not computable).

    Attributes:
        z: (T,) missing share in standard errors (the larger over the onsets).
        frac: (T,) fitted share of the pumped volume missing since the onset.
        onset_h: (T,) onset with the strongest evidence (h).
        pumped_mL: (T,) feed and base logged since that onset.
        sigma_mL: (T,) volume noise sd used.
    """

    z: np.ndarray
    frac: np.ndarray
    onset_h: np.ndarray
    pumped_mL: np.ndarray
    sigma_mL: np.ndarray

    @property
    def missing_mL(self) -> np.ndarray:
        """(T,) volume missing since the onset (mL) = share x pumped."""
        return self.frac * self.pumped_mL


def _csum(x: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(x)])


def _balance(
    t: np.ndarray, vol_mL: np.ndarray, pumped: np.ndarray, cfg: RulesConfig
) -> FeedBalance:
    """The matched filter for one way of integrating the logged rates (see module doc)."""
    n = len(t)
    y = vol_mL - pumped
    q = np.isfinite(y)  # rows with a volume reading
    y0, p = np.where(q, y, 0.0), np.where(q, pumped, 0.0)
    cq, cy, cp, cpy, cpp = (_csum(a) for a in (q.astype(float), y0, p, p * y0, p * p))
    d2 = np.zeros(n)
    both = q[1:] & q[:-1]
    d2[1:] = np.where(both, np.diff(np.where(q, y, 0.0)) ** 2, 0.0)
    cd, cdn = _csum(d2), _csum(np.concatenate([[0.0], both.astype(float)]))
    first = np.searchsorted(t, t - cfg.feed_check_h, side="left")
    k_max = int(np.max(np.arange(n) - first, initial=0))
    if k_max < MIN_ROWS_AFTER_ONSET:
        nan = np.full(n, np.nan)
        return FeedBalance(nan, nan, nan, nan, nan)
    i = np.arange(n)[:, None]
    j = i - np.arange(MIN_ROWS_AFTER_ONSET, k_max + 1)[None, :]  # (T, K) candidate onsets
    valid = (j >= 0) & (j >= first[:, None])
    j = np.clip(j, 0, None)
    r0 = np.searchsorted(t, t - cfg.feed_reference_h, side="right")[j]  # reference rows r0..j
    valid &= t[j] - t[r0] >= 0.5 * cfg.feed_reference_h
    n_ref = cq[j + 1] - cq[r0]
    n_d = cdn[j + 1] - cdn[r0 + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = (cy[j + 1] - cy[r0]) / n_ref
        sig = np.sqrt((cd[j + 1] - cd[r0 + 1]) / (2.0 * n_d))
        sig = np.fmax(np.where(n_d >= 2, sig, np.nan), cfg.feed_volume_sd_mL)
        pj = pumped[j]
        nn, sp_, sy = cq[i + 1] - cq[j + 1], cp[i + 1] - cp[j + 1], cy[i + 1] - cy[j + 1]
        spy, spp = cpy[i + 1] - cpy[j + 1], cpp[i + 1] - cpp[j + 1]
        sw = sp_ - nn * pj  # sum of w = P_s - P_j over the rows after the onset
        sw2 = spp - 2.0 * pj * sp_ + nn * pj * pj
        swe = ref * sw - (spy - pj * sy)  # sum of w x (ref - y)
        frac = swe / sw2
        se = sig * np.sqrt(1.0 / sw2 + (sw / sw2) ** 2 / n_ref)
        z = frac / se
    ok = valid & (n_ref >= 2) & (sw2 > 1e-6) & np.isfinite(z) & q[:, None]
    z = np.where(ok & (frac >= cfg.feed_missing_frac), z, -np.inf)
    best = np.argmax(z, axis=1)
    rows = np.arange(n)
    zb = z[rows, best]
    has = np.isfinite(zb)
    jb = j[rows, best]

    def pick(a: np.ndarray) -> np.ndarray:
        return np.where(has, a[rows, best], np.nan)

    return FeedBalance(
        np.where(has, zb, np.nan),
        pick(frac),
        np.where(has, t[jb], np.nan),
        np.where(has, pumped - pumped[jb], np.nan),
        pick(sig),
    )


def feed_balance(rows: Rows, cfg: RulesConfig) -> FeedBalance | None:
    """Evidence of a missing feed at each row of one batch; None without volume or feed."""
    vol, feed = col(rows, "volume_L"), col(rows, "feed_rate_mL_h")
    if vol is None or feed is None:
        return None
    t = np.asarray(rows["time_h"], dtype=float)
    base = col(rows, "base_rate_mL_h")
    rate = np.nan_to_num(feed) + (np.nan_to_num(base) if base is not None else 0.0)
    dt = np.diff(t, prepend=t[0])
    held_before = np.cumsum(rate * dt)  # mL up to each row, rate held over the step before
    held_after = np.cumsum(np.concatenate([[0.0], rate[:-1] * dt[1:]]))  # ...the step after
    a, b = (_balance(t, vol * 1000.0, p, cfg) for p in (held_before, held_after))
    weaker = ~(np.nan_to_num(a.z, nan=-np.inf) >= np.nan_to_num(b.z, nan=-np.inf))
    return FeedBalance(
        *(np.where(weaker, x, y) for x, y in zip(vars(a).values(), vars(b).values()))
    )


def feed_rule(rows: Rows, cfg: RulesConfig) -> RuleResult | None:
    """The ``feed_not_delivered`` rule (None without volume or feed columns)."""
    fb = feed_balance(rows, cfg)
    if fb is None:
        return None
    t = np.asarray(rows["time_h"], dtype=float)
    lim = cfg.feed_z
    with np.errstate(invalid="ignore"):
        flag = np.isfinite(fb.z) & (fb.z > lim)
    missing = fb.missing_mL

    def reason(i: int, start: float) -> str:
        f, pumped = fb.frac[i], fb.pumped_mL[i]
        # the fitted share is noisy and can pass 100 %: say "none" rather than "120 % missing"
        arrived = "none" if f >= 0.95 else f"only about {1.0 - f:.0%}"
        return (
            f"Of the {pumped:.0f} mL of feed and base the pumps logged since "
            f"{fb.onset_h[i]:.0f} h ({t[i] - fb.onset_h[i]:.0f} h), {arrived} shows in the "
            f"volume at {t[i]:.0f} h (about {missing[i]:.0f} mL missing, {fb.z[i]:.1f} standard "
            f"errors from none missing; limit {lim:g}, volume noise sd {fb.sigma_mL[i]:.1f} mL, "
            f"against the mean of the {cfg.feed_reference_h:g} h before): the feed is not "
            "reaching the vessel"
        )

    return RuleResult(
        "feed_not_delivered",
        "volume_L",
        flag,
        missing,
        fb.pumped_mL,
        np.nan_to_num(fb.z / lim),
        lim,
        0.0,
        reason,
        " standard errors",
    )
