"""What every rule returns (:class:`RuleResult`) and the causal signal helpers they share.

All helpers take one batch's rows sorted by time and return ``(T,)`` arrays whose value at
row t uses rows at or before t only (so streaming and one-shot detection agree).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.data.fill import carry_forward

Rows = pd.DataFrame | Mapping[str, np.ndarray]

#: Set-point column of each controlled reading.
SETPOINT_COL: dict[str, str] = {
    "do_pct": "do_setpoint_pct",
    "ph": "ph_setpoint",
    "temperature_C": "temperature_setpoint_C",
}


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
        threshold: the threshold used (in ``threshold_unit``).
        min_duration_h: the condition must last this long to raise an alarm.
        describe: builds the reason sentence from the row index and the event's start (h).
        threshold_unit: unit or meaning of ``threshold``, printed after it in the alarm
            (e.g. ``" %"``, ``" standard errors"``).
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
    threshold_unit: str = ""


def col(rows: Rows, name: str) -> np.ndarray | None:
    """Column ``name`` as a float array, or None when the rows lack it."""
    return np.asarray(rows[name], dtype=float) if name in rows else None


def locf(x: np.ndarray) -> np.ndarray:
    """Last finite value carried forward; NaN before the first reading."""
    return carry_forward(x)


def severity(excess: np.ndarray, limit: float) -> np.ndarray:
    """``|excess| / |limit|`` with NaN read as 0 (how many thresholds past the limit)."""
    return nan_to_num(np.abs(excess) / max(abs(limit), 1e-12))


def nan_to_num(x: np.ndarray, nan: float = 0.0) -> np.ndarray:
    """``np.nan_to_num(x, nan=nan)`` of a float array (NaN -> ``nan``, +/-inf -> the
    largest finite floats), the same values at a fifth of its cost: the rules call it
    dozens of times at every streaming update."""
    x = np.asarray(x, dtype=float)
    out = np.where(np.isnan(x), nan, x)
    inf = np.isinf(x)
    if inf.any():
        out = np.where(inf, np.where(x > 0, _BIG, -_BIG), out)
    return out


_BIG = float(np.finfo(float).max)


def settling(t: np.ndarray, sp: np.ndarray | None, hours: float, startup_h: float) -> np.ndarray:
    """(T,) True during start-up or within ``hours`` after a set-point change."""
    if sp is None or hours <= 0:
        return t < startup_h
    changed = np.flatnonzero(np.abs(np.diff(sp)) > 1e-9) + 1
    t_change = np.full(len(t), -np.inf)
    t_change[changed] = t[changed]
    return (t - np.maximum.accumulate(t_change) < hours) | (t < startup_h)


def prev_median(x: np.ndarray, k: int) -> np.ndarray:
    """(T,) median of the ``k`` rows before each row (NaN for the first k rows)."""
    out = np.full(len(x), np.nan)
    if len(x) > k:
        win = np.lib.stride_tricks.sliding_window_view(x, k)[:-1]  # rows i-k..i-1 for i >= k
        out[k:] = np.nanmedian(win, axis=1) if np.isnan(win).any() else np.median(win, axis=1)
    return out


def recent_max(t: np.ndarray, x: np.ndarray, hours: float) -> np.ndarray:
    """(T,) highest finite ``x`` at rows in [t - hours, t) (NaN if none); causal."""
    seen = np.flatnonzero(np.isfinite(x))
    out = np.full(len(x), np.nan)
    for i in seen:  # assays are sparse (about one a day), so this loop is short
        prev = seen[(seen < i) & (t[seen] >= t[i] - hours)]
        if prev.size:
            out[i] = np.max(x[prev])
    return out


def returned_spikes(
    x: np.ndarray, limit: float, k: int, back: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Excursions that came back (a lasting step is not a spike).

    Row i is flagged when one of the ``back`` rows before it jumped more than ``limit`` from
    the median of its previous ``k`` rows, the rows in between stayed out by more than
    ``limit / 2``, and row i is back within ``limit / 2`` of that median.

    Args:
        x: (T,) reading, or its deviation from set point.

    Returns:
        ``flag: (T,)``, ``peak: (T,)`` the excursion seen at each flagged row (NaN else),
        ``med: (T,)`` the previous-``k`` median of each row.
    """
    med = prev_median(x, k)
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
