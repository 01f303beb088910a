"""Golden-batch envelope: the time-varying mean +- k standard deviations of good batches.

Batches are aligned on a common axis, then each good batch's variable is interpolated onto
a common grid of that axis::

    env = envelope(table, good_ids=["B01", "B02", "B03"], variable="glucose_g_L", align="ivcd")
    exc = excursions(table, env, ["B07"], variable="glucose_g_L", align="ivcd")

Alignment axes (one value per row of a batch, see :func:`aligned`):

- ``time``: hours since inoculation (``time_h``).
- ``cumfeed``: feed volume given so far (mL for CHO), the feed rate held from each row to
  the next; ``feed`` names the process's feed (default the CHO feed rate; a process
  without one cannot align on it).
- ``ivcd``: integral of viable cell density (1e6 cells x day / mL), the VCD assays joined
  linearly between samples (trapezoids), held at the first sample before it.

Offline assays (NaN between samples) enter through their samples only: a good batch is
interpolated between its own samples, never beyond its first or last one, and a compared
batch is judged at its samples. The envelope exists where at least ``min_batches`` good
batches have values; elsewhere its row is left out.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError

__all__ = ["ALIGN", "aligned", "envelope", "excursions"]

#: alignment -> (column name of the aligned axis, label with unit)
ALIGN: dict[str, tuple[str, str]] = {
    "time": (schema.TIME, "time since inoculation (h)"),
    "cumfeed": ("cum_feed_mL", "cumulative feed (mL)"),
    "ivcd": ("ivcd_1e6_cells_day_mL", "integral of viable cells (1e6 cells x day/mL)"),
}
EXCURSION_COLUMNS = [schema.BATCH_ID, "variable", "side", "start_x", "end_x", "start_h", "end_h",
                     "n_points", "max_sd"]  # fmt: skip
_VCD = "vcd_1e6_cells_mL"


def aligned(rows: pd.DataFrame, align: str = "time", feed: str | None = schema.FEED) -> np.ndarray:
    """The aligned axis of one batch's rows (sorted by time), one value per row.

    Args:
        rows: one batch, canonical columns, sorted by ``time_h``.
        align: ``time``, ``cumfeed`` or ``ivcd`` (see the module docstring).

    Returns:
        (rows,) float array, non-decreasing for ``cumfeed`` and ``ivcd``.

    Raises:
        DataError: unknown alignment, or the column it needs is missing or empty.
    """
    if align not in ALIGN:
        raise DataError(f"unknown alignment {align!r}; expected one of {', '.join(ALIGN)}")
    t = rows[schema.TIME].to_numpy(dtype=float)
    if align == "time":
        return t
    if align == "cumfeed" and feed is None:
        raise DataError("aligning on cumfeed needs a feed; the process has none")
    col = feed if align == "cumfeed" else _VCD
    if col not in rows.columns:
        raise DataError(f"aligning on {align} needs the column {col}")
    v = pd.to_numeric(rows[col], errors="coerce").to_numpy(dtype=float)
    dt = np.diff(t)
    if align == "cumfeed":
        rate = np.nan_to_num(v[:-1], nan=0.0)  # the rate given at a row holds until the next
        return np.concatenate([[0.0], np.cumsum(rate * dt)])
    ok = np.isfinite(v)
    if not ok.any():
        batch = rows[schema.BATCH_ID].iloc[0] if len(rows) else None
        raise DataError(f"aligning on ivcd needs VCD samples; batch {batch} has none")
    vcd = np.interp(t, t[ok], v[ok])  # held at the first / last sample outside them
    return np.concatenate([[0.0], np.cumsum(0.5 * (vcd[1:] + vcd[:-1]) * dt)]) / 24.0


def _series(
    rows: pd.DataFrame, variable: str, align: str, feed: str | None = schema.FEED
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aligned x, time_h, value) at the rows where ``variable`` has a value."""
    rows = rows.sort_values(schema.TIME, kind="stable")
    x = aligned(rows, align, feed)
    t = rows[schema.TIME].to_numpy(dtype=float)
    y = pd.to_numeric(rows[variable], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(y) & np.isfinite(x)
    return x[ok], t[ok], y[ok]


def _check(table: pd.DataFrame, variable: str) -> None:
    for col in (schema.BATCH_ID, schema.TIME, variable):
        if col not in table.columns:
            raise DataError(f"the table has no column {col}")


def envelope(
    table: pd.DataFrame,
    good_ids: list[str],
    variable: str,
    align: str = "time",
    k: float = 3.0,
    *,
    n_grid: int = 200,
    min_batches: int = 2,
    feed: str | None = schema.FEED,
) -> pd.DataFrame:
    """The golden-batch envelope of one variable.

    Args:
        table: batch table (canonical columns, several batches).
        good_ids: the batches marked as good.
        variable: canonical column, e.g. ``glucose_g_L``.
        align: ``time``, ``cumfeed`` or ``ivcd``.
        k: half-width of the band in standard deviations.
        n_grid: points of the common grid (evenly spaced over the good batches' range).
        min_batches: fewest good batches with a value at a grid point for it to be kept.
        feed: the process's feed column (``cumfeed``); None: the process has none.

    Returns:
        One row per kept grid point: ``x`` (the aligned axis, named in ``attrs["x_label"]``),
        ``mean``, ``sd`` (sample standard deviation, ddof=1), ``lower``, ``upper``
        (mean -+ k sd) and ``n`` (good batches with a value there).

    Raises:
        DataError: fewer than ``min_batches`` good batches with values, an unknown
            batch, variable or alignment.
    """
    _check(table, variable)
    if k < 0:
        raise DataError(f"k must be >= 0, got {k}")
    groups = {str(b): g for b, g in table.groupby(schema.BATCH_ID, sort=False)}
    missing = [b for b in good_ids if str(b) not in groups]
    if missing:
        raise DataError(f"good batches not in the table: {', '.join(map(str, missing[:5]))}")
    series = [
        s for s in (_series(groups[str(b)], variable, align, feed) for b in good_ids) if s[0].size
    ]
    if len(series) < max(min_batches, 1):
        raise DataError(
            f"an envelope needs at least {min_batches} good batches with {variable} values; "
            f"got {len(series)}"
        )
    lo = min(float(s[0].min()) for s in series)
    hi = max(float(s[0].max()) for s in series)
    grid = np.linspace(lo, hi, max(int(n_grid), 2))
    values = np.full((len(series), grid.size), np.nan)
    for i, (x, _, y) in enumerate(series):
        x, first = np.unique(x, return_index=True)  # an axis that stands still: first value
        inside = (grid >= x[0]) & (grid <= x[-1])
        values[i, inside] = np.interp(grid[inside], x, y[first])
    n = np.isfinite(values).sum(axis=0)
    keep = n >= min_batches
    vals = values[:, keep]
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # one batch at a point: no spread
        mean = np.nanmean(vals, axis=0)
        sd = np.nan_to_num(np.nanstd(vals, axis=0, ddof=1), nan=0.0)
    out = pd.DataFrame({"x": grid[keep], "mean": mean, "sd": sd, "lower": mean - k * sd,
                        "upper": mean + k * sd, "n": n[keep]})  # fmt: skip
    out.attrs.update(variable=variable, align=align, k=k, x_label=ALIGN[align][1])
    return out


def excursions(
    table: pd.DataFrame,
    env: pd.DataFrame,
    batch_ids: list[str],
    variable: str,
    align: str = "time",
    feed: str | None = schema.FEED,
) -> pd.DataFrame:
    """Where and when each batch leaves an envelope.

    A batch is judged at its own rows with a value of ``variable`` that lie within the
    envelope's range of ``x``; consecutive points on the same side outside the band form one
    excursion.

    Args:
        table: batch table.
        env: from :func:`envelope` with the same ``variable`` and ``align``.
        batch_ids: batches to judge.
        variable: canonical column.
        align: the envelope's alignment.

    Returns:
        One row per excursion: ``batch_id``, ``variable``, ``side`` (above / below),
        ``start_x``, ``end_x`` (aligned axis), ``start_h``, ``end_h`` (time since
        inoculation), ``n_points`` and ``max_sd`` (the largest distance from the mean, in
        standard deviations; inf where the band has no width).
    """
    _check(table, variable)
    rows_out: list[tuple] = []
    if env.empty:
        return pd.DataFrame(rows_out, columns=EXCURSION_COLUMNS)
    ex = env["x"].to_numpy(dtype=float)
    groups = {str(b): g for b, g in table.groupby(schema.BATCH_ID, sort=False)}
    for b in batch_ids:
        if str(b) not in groups:
            raise DataError(f"batch {b} is not in the table")
        x, t, y = _series(groups[str(b)], variable, align, feed)
        inside = (x >= ex[0]) & (x <= ex[-1])
        x, t, y = x[inside], t[inside], y[inside]
        if not x.size:
            continue
        lower = np.interp(x, ex, env["lower"].to_numpy(dtype=float))
        upper = np.interp(x, ex, env["upper"].to_numpy(dtype=float))
        mean = np.interp(x, ex, env["mean"].to_numpy(dtype=float))
        sd = np.interp(x, ex, env["sd"].to_numpy(dtype=float))
        side = np.where(y > upper, 1, np.where(y < lower, -1, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            dist = np.where(sd > 0, np.abs(y - mean) / sd, np.inf)
        change = np.flatnonzero(np.diff(side)) + 1
        for s, e in zip(np.r_[0, change], np.r_[change, side.size]):
            if side[s] == 0:
                continue
            rows_out.append((str(b), variable, "above" if side[s] > 0 else "below",
                             float(x[s]), float(x[e - 1]), float(t[s]), float(t[e - 1]),
                             int(e - s), float(dist[s:e].max())))  # fmt: skip
    return pd.DataFrame(rows_out, columns=EXCURSION_COLUMNS)
