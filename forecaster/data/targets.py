"""Prediction targets derived from a batch's rows (one definition for every model).

- next feed: the feed rate to apply over the next step, i.e. the pump command logged at
  row t (a row's feed command holds from that row to the next; the operator sets it from
  what is known at t, including an assay taken at t). NaN at the last row (harvest);
- harvest titer: the titer measured at harvest (the last titer assay of a complete batch);
- daily titer: the titer assay on the daily grid, days 1..D (NaN where not measured).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema


def next_feed(rows: pd.DataFrame) -> np.ndarray:
    """(T,) feed rate (mL/h) applied from row t to row t+1; NaN at the last row."""
    out = rows[schema.FEED].to_numpy(dtype=float).copy()
    if len(out):
        out[-1] = np.nan
    return out


def harvest_titer(rows: pd.DataFrame) -> float:
    """Last measured titer of a (complete) batch in mg/L; NaN if never measured."""
    t = rows[schema.TITER].to_numpy(dtype=float)
    seen = np.flatnonzero(np.isfinite(t))
    return float(t[seen[-1]]) if seen.size else float("nan")


def titer_by_day(rows: pd.DataFrame, n_days: int, tol_h: float = 1.0) -> np.ndarray:
    """(n_days,) titer assay (mg/L) taken within ``tol_h`` of day d*24 h, d = 1..n_days."""
    t = rows[schema.TIME].to_numpy(dtype=float)
    y = rows[schema.TITER].to_numpy(dtype=float)
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    out = np.full(n_days, np.nan)
    if t.size == 0:
        return out
    days = np.arange(1, n_days + 1) * 24.0
    j = np.clip(np.searchsorted(t, days), 0, t.size - 1)
    for k in (j, np.clip(j - 1, 0, t.size - 1)):
        close = np.abs(t[k] - days) <= tol_h
        out = np.where(np.isnan(out) & close, y[k], out)
    return out
