"""Prediction targets derived from a batch's rows (one definition for every model).

The product and the feed are the process's (``Preprocessor.product`` / ``.feed``; the
defaults are the CHO titer and feed rate):

- next feed: the feed rate to apply over the next step, i.e. the pump command logged at
  row t (a row's feed command holds from that row to the next; the operator sets it from
  what is known at t, including an assay taken at t). NaN at the last row (harvest), and
  NaN everywhere for a process without a feed;
- harvest product: the product measured at harvest (the last product assay of a complete
  batch; for a product assayed only at harvest, the last row's value);
- daily product: the product assay on the daily grid, days 1..D (NaN where not measured).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema


def next_feed(rows: pd.DataFrame, feed: str | None = schema.FEED) -> np.ndarray:
    """(T,) feed rate (the feed's unit) applied from row t to row t+1; NaN at the last row.

    All NaN when the process has no feed (``feed`` None) or the rows lack its column.
    """
    if feed is None or feed not in rows:
        return np.full(len(rows), np.nan)
    out = rows[feed].to_numpy(dtype=float).copy()
    if len(out):
        out[-1] = np.nan
    return out


def harvest_titer(rows: pd.DataFrame, product: str = schema.TITER) -> float:
    """Last measured product value of a (complete) batch; NaN if never measured."""
    t = rows[product].to_numpy(dtype=float)
    seen = np.flatnonzero(np.isfinite(t))
    return float(t[seen[-1]]) if seen.size else float("nan")


def titer_by_day(
    rows: pd.DataFrame, n_days: int, tol_h: float = 1.0, product: str = schema.TITER
) -> np.ndarray:
    """(n_days,) product assay taken within ``tol_h`` of day d*24 h, d = 1..n_days."""
    t = rows[schema.TIME].to_numpy(dtype=float)
    return daily_assay(t, rows[product].to_numpy(dtype=float), n_days, tol_h)


def daily_assay(t: np.ndarray, y: np.ndarray, n_days: int, tol_h: float = 1.0) -> np.ndarray:
    """``(n_days,)`` assay within ``tol_h`` of day d * 24 h, d = 1..n_days (NaN if none).

    Args:
        t: ``(T,)`` sample times (h), sorted.
        y: ``(T,)`` values of any assay column (NaN between samples).
    """
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    out = np.full(n_days, np.nan)
    if t.size == 0:
        return out
    days = np.arange(1, n_days + 1) * 24.0
    j = np.clip(np.searchsorted(t, days), 0, t.size - 1)
    for k in (j, np.clip(j - 1, 0, t.size - 1)):
        out = np.where(np.isnan(out) & (np.abs(t[k] - days) <= tol_h), y[k], out)
    return out


def assayed_in_run(table: pd.DataFrame, product: str) -> bool:
    """Whether any batch has a product value before its last row (in-run assays).

    False for a product measured only at harvest (batch PLS data): then the product is no
    model input and the rungs that extrapolate in-run values have nothing to extrapolate.
    """
    if product not in table:
        return False
    for _, g in table.groupby(schema.BATCH_ID, sort=False):
        y = g.sort_values(schema.TIME)[product].to_numpy(dtype=float)
        if np.isfinite(y[:-1]).any():
            return True
    return False
