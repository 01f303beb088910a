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
least the floor learned on the fault-free training batches (:func:`learn_volume_floor`) and
at least ``feed_volume_sd_mL``. The rule flags a row when some onset gives ``f`` at least
``feed_missing_frac`` and ``feed_z`` standard errors above 0.

A logged rate may hold over the step after its row (a sampled command, as in the simulator)
or over the step before it (an interval average): the balance is computed both ways and the
weaker evidence is used, so a one-hour bolus logged at its first row is not "missing". Data
with sample withdrawals or evaporation need those volumes in the balance first.

**Noise floor from the data.** The fixed ``feed_volume_sd_mL`` (5 mL) fits a 2 L bench
vessel; a 2,000 L or 100 m3 vessel reads its volume to litres, and a level or load cell
also wanders slowly (foam, pressure, unlogged samples) where successive differences do not
see it. So the floor is learned from the fault-free training batches: the spread of ``y``
over the rule's window, ``y_i - y_j`` with ``t_j`` ``feed_check_h`` before ``t_i`` (the
volume change minus the feed and base pumped in that window), as a robust sd (median
absolute value / 0.6745, over sqrt 2 because a difference holds two readings' noise),
pooled over the batches; or, when larger, the robust spread of the rule's own statistic
on those batches per unit noise sd (a reading that wanders over hours: successive
differences and a white-noise standard error understate it). It is in mL of the rule's volume part and scales with the plant;
``feed_volume_sd_mL`` stays its lower bound. Reasons give volumes in the user's volume unit
(in mL when that unit is mL or L and the amounts are under 10 L).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecaster.anomaly.config import RulesConfig
from forecaster.anomaly.rule_signals import Rows, RuleResult, col
from forecaster.anomaly.rule_text import PartText
from forecaster.anomaly.rule_vars import RuleVariables

MIN_ROWS_AFTER_ONSET = 3  # rows after a candidate onset (fewer: too little to fit f)
#: |difference| of Gaussian noise sd s has median 0.6745 x sqrt(2) x s
_MAD_DIFF = 0.6745 * np.sqrt(2.0)
#: User volume units in which the reasons keep speaking mL (a bench vessel's amounts).
_ML_UNITS = ("", "mL", "L", "ml", "l")
#: Largest amount (mL) the reasons give in mL; above it, in the user's unit (L, m3, gal).
BENCH_MAX_mL = 10_000.0


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
    t: np.ndarray,
    vol_mL: np.ndarray,
    pumped: np.ndarray,
    cfg: RulesConfig,
    floor_mL: float,
    null_out: list[np.ndarray] | None = None,
) -> FeedBalance:
    """The matched filter for one way of integrating the logged rates (see module doc);
    ``floor_mL`` is the least volume noise sd used (mL). ``null_out`` (learning): the
    fitted missing volume over its standard error per unit noise sd (mL), every row and
    onset, is appended to it."""
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
        sig = np.fmax(np.where(n_d >= 2, sig, np.nan), floor_mL)
        pj = pumped[j]
        nn, sp_, sy = cq[i + 1] - cq[j + 1], cp[i + 1] - cp[j + 1], cy[i + 1] - cy[j + 1]
        spy, spp = cpy[i + 1] - cpy[j + 1], cpp[i + 1] - cpp[j + 1]
        sw = sp_ - nn * pj  # sum of w = P_s - P_j over the rows after the onset
        sw2 = spp - 2.0 * pj * sp_ + nn * pj * pj
        swe = ref * sw - (spy - pj * sy)  # sum of w x (ref - y)
        frac = swe / sw2
        unit_se = np.sqrt(1.0 / sw2 + (sw / sw2) ** 2 / n_ref)  # per mL of noise sd
        z = frac / (sig * unit_se)
        z_unit = frac / unit_se
    fitted = valid & (n_ref >= 2) & (sw2 > 1e-6) & q[:, None]
    if null_out is not None:
        null_out.append(z_unit[fitted & np.isfinite(z_unit)])
    ok = fitted & np.isfinite(z)
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


def _pumped(rows: Rows) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]] | None:
    """(time h, volume mL, (pumped mL with each rate held over the step before its row,
    ... over the step after)), each (T,); None without volume or feed."""
    vol, feed = col(rows, "volume_L"), col(rows, "feed_rate_mL_h")
    if vol is None or feed is None:
        return None
    t = np.asarray(rows["time_h"], dtype=float)
    base = col(rows, "base_rate_mL_h")
    rate = np.nan_to_num(feed) + (np.nan_to_num(base) if base is not None else 0.0)
    dt = np.diff(t, prepend=t[0])
    held_before = np.cumsum(rate * dt)  # mL up to each row, rate held over the step before
    held_after = np.cumsum(np.concatenate([[0.0], rate[:-1] * dt[1:]]))  # ...the step after
    return t, vol * 1000.0, (held_before, held_after)


def volume_floor_mL(cfg: RulesConfig, learned_mL: float | None = None) -> float:
    """The least volume noise sd the rule uses (mL): the learned floor, at least the
    config's ``feed_volume_sd_mL``."""
    learned = learned_mL if learned_mL is not None and np.isfinite(learned_mL) else 0.0
    return float(max(cfg.feed_volume_sd_mL, learned))


def feed_balance(rows: Rows, cfg: RulesConfig, floor_mL: float | None = None) -> FeedBalance | None:
    """Evidence of a missing feed at each row of one batch; None without volume or feed.

    Args:
        rows: one batch in the rule parts' units (``volume_L`` in L, rates in mL/h).
        cfg: the rule's settings.
        floor_mL: volume noise floor learned on training batches (mL; None: the config's).
    """
    got = _pumped(rows)
    if got is None:
        return None
    t, vol_mL, ways = got
    floor = volume_floor_mL(cfg, floor_mL)
    a, b = (_balance(t, vol_mL, p, cfg, floor) for p in ways)
    weaker = ~(np.nan_to_num(a.z, nan=-np.inf) >= np.nan_to_num(b.z, nan=-np.inf))
    return FeedBalance(
        *(np.where(weaker, x, y) for x, y in zip(vars(a).values(), vars(b).values()))
    )


def window_changes_mL(rows: Rows, window_h: float) -> np.ndarray | None:
    """(n,) volume change minus the feed and base pumped over ``window_h`` hours (mL), one
    per row with a reading ``window_h`` earlier; the way of integrating the logged rates
    that fits the batch best (the smaller median size). None without volume or feed."""
    got = _pumped(rows)
    if got is None:
        return None
    t, vol_mL, ways = got
    j = np.searchsorted(t, t - window_h, side="right") - 1
    ok = j >= 0
    return _closest([(vol_mL - p) - (vol_mL - p)[np.clip(j, 0, None)] for p in ways], ok)


def null_statistics_mL(rows: Rows, cfg: RulesConfig) -> np.ndarray | None:
    """(m,) the rule's fitted missing share over its standard error per mL of noise sd, at
    every row and candidate onset of a fault-free batch (mL): its spread is the noise sd
    that makes the rule's z a standard normal there, slow wander of the reading included.
    The way of integrating the logged rates that fits best; None without volume or feed."""
    got = _pumped(rows)
    if got is None:
        return None
    t, vol_mL, ways = got
    stats = []
    for pumped in ways:
        out: list[np.ndarray] = []
        _balance(t, vol_mL, pumped, cfg, 0.0, out)
        stats.append(out[0] if out else np.zeros(0))
    return _closest(stats)


def _closest(candidates: list[np.ndarray], keep: np.ndarray | None = None) -> np.ndarray:
    """The finite values of the candidate with the smallest median size."""
    best = np.zeros(0)
    for c in candidates:
        c = c[keep] if keep is not None else c
        c = c[np.isfinite(c)]
        if c.size and (not best.size or np.median(np.abs(c)) < np.median(np.abs(best))):
            best = c
    return best


def learn_volume_floor(batches: list[Rows], cfg: RulesConfig) -> float | None:
    """Volume noise floor (mL) of the fault-free ``batches``, pooled: the larger of the
    robust spread of the volume change minus the pumped volume over the rule's window
    (``feed_check_h``) over sqrt 2, and the robust spread of the rule's own statistic per
    unit noise (:func:`null_statistics_mL`; larger when the reading wanders slowly).

    Args:
        batches: fault-free training batches in the rule parts' units, each sorted by time.
        cfg: the rule's settings (``feed_check_h``, ``feed_reference_h``).

    Returns:
        The floor in mL (may be under ``feed_volume_sd_mL``; :func:`volume_floor_mL` bounds
        it), or None when no batch has volume, feed and a full window.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> t = np.arange(200.0)
        >>> rows = {"time_h": t, "feed_rate_mL_h": np.full(200, 2000.0),
        ...         "volume_L": 1500 + 2.0 * t + rng.normal(0, 4.0, 200)}
        >>> 3.0 < learn_volume_floor([rows], RulesConfig()) / 1000 < 5.0  # 4 L of noise
        True
    """
    spreads = []
    for per_batch, scale in ((lambda b: window_changes_mL(b, cfg.feed_check_h), _MAD_DIFF),
                             (lambda b: null_statistics_mL(b, cfg), 0.6745)):  # fmt: skip
        parts = [per_batch(b) for b in batches]
        d = np.concatenate([p for p in parts if p is not None and p.size] or [np.zeros(0)])
        if d.size:
            spreads.append(float(np.median(np.abs(d)) / scale))
    return max(spreads) if spreads else None


def feed_rule(
    rows: Rows,
    cfg: RulesConfig,
    floor_mL: float | None = None,
    variables: RuleVariables | None = None,
) -> RuleResult | None:
    """The ``feed_not_delivered`` rule (None without volume or feed columns).

    Args:
        rows: one batch in the rule parts' units.
        cfg: the rule's settings.
        floor_mL: volume noise floor learned on training batches (mL; None: the config's
            ``feed_volume_sd_mL``), e.g. ``RuleProfile.feed_volume_sd_mL``.
        variables: the process column of each part (None: the CHO columns), for the reason.
    """
    fb = feed_balance(rows, cfg, floor_mL)
    if fb is None:
        return None
    t = np.asarray(rows["time_h"], dtype=float)
    lim = cfg.feed_z
    with np.errstate(invalid="ignore"):
        flag = np.isfinite(fb.z) & (fb.z > lim)
    missing = fb.missing_mL
    vol = PartText("volume_L", variables or RuleVariables.cho())

    def amount(ml: float, in_mL: bool, fmt: str = ".0f") -> str:
        """A volume (mL) as the user reads it: in mL, or in the unit of their column."""
        return f"{ml:{fmt}} mL" if in_mL else f"{vol.delta(ml / 1000.0):.3g}{vol.unit}"

    def reason(i: int, start: float) -> str:
        f, pumped = fb.frac[i], fb.pumped_mL[i]
        # mL where the user logs mL or L and the amounts are a bench vessel's (under 10 L)
        in_mL = vol.unit.strip() in _ML_UNITS and pumped < BENCH_MAX_mL
        # the fitted share is noisy and can pass 100 %: say "none" rather than "120 % missing"
        arrived = "none" if f >= 0.95 else f"only about {1.0 - f:.0%}"
        return (
            f"Of the {amount(pumped, in_mL)} of feed and base the pumps logged since "
            f"{fb.onset_h[i]:.0f} h ({t[i] - fb.onset_h[i]:.0f} h), {arrived} shows in the "
            f"volume at {t[i]:.0f} h (about {amount(missing[i], in_mL)} missing, {fb.z[i]:.1f} "
            f"standard errors from none missing; limit {lim:g}, volume noise sd "
            f"{amount(fb.sigma_mL[i], in_mL, '.1f')}, against the mean of the "
            f"{cfg.feed_reference_h:g} h before): the feed is not reaching the vessel"
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
