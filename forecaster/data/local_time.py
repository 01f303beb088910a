"""Local wall-clock timestamps without an offset -> UTC, with daylight-saving resolved.

A historian that writes local times without an offset repeats an hour in autumn (clocks go
back) and skips one in spring. :func:`localize` reads such a column in a named time zone
(``time_zone`` setting, e.g. ``Europe/Berlin``): a repeated wall time is resolved by row
order within each batch (the first occurrence is summer time, the one after it winter time),
so ``time 137 appears twice`` is no longer reported; a wall time inside the skipped hour is
refused with a message naming the batch, row and the gap, instead of silently adding an hour.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.data.errors import DataError

__all__ = ["localize"]


def localize(values: pd.Series, batch: pd.Series, time_zone: str) -> pd.Series:
    """Naive local timestamps -> timezone-aware UTC timestamps, DST resolved per batch.

    Args:
        values: local date/time text or naive timestamps, shape (n_rows,), rows in time order
            within each batch (as exported).
        batch: batch id per row, shape (n_rows,).
        time_zone: IANA zone name, e.g. ``"Europe/Berlin"``.

    Returns:
        UTC timestamps, shape (n_rows,), same index.

    Raises:
        DataError: unknown time zone, or a wall time inside a spring-forward gap (names the
            batch and row).
    """
    try:
        naive = pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(f"time: cannot read local timestamps ({exc})") from None
    if getattr(naive.dt, "tz", None) is not None:
        return naive.dt.tz_convert("UTC")
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    for b, idx in values.groupby(batch.to_numpy(), sort=False).groups.items():
        local = naive.loc[idx]
        try:
            aware = local.dt.tz_localize(time_zone, ambiguous=_first_is_summer(local, time_zone),
                                         nonexistent="raise")  # fmt: skip
        except pd.errors.OutOfBoundsDatetime as exc:  # pragma: no cover - defensive
            raise DataError(f"batch {b}: time out of range ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - pytz/zoneinfo raise different classes
            if "nonexistent" in f"{type(exc).__name__} {exc}".lower():
                row = _first_gap_row(local, time_zone)
                raise DataError(
                    f"batch {b}, row {row}: local time {naive.loc[row]} does not exist in "
                    f"{time_zone} (the hour skipped when clocks go forward); check the export"
                ) from None
            raise DataError(f"time_zone {time_zone!r}: {exc}") from None
        out.loc[idx] = aware.dt.tz_convert("UTC")
    return out


def _first_is_summer(local: pd.Series, time_zone: str) -> np.ndarray:
    """DST flag per row: within a repeated hour, rows before the clock goes back are summer.

    A repeated wall time shows as the time standing still or running backwards; rows before that step (in the
    repeated hour) are summer time (True), rows from it on are winter time (False).
    """
    t = local.to_numpy("datetime64[ns]")
    repeat = local.dt.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT").isna()
    repeat &= local.dt.tz_localize(time_zone, ambiguous=True, nonexistent="NaT").notna()
    step = np.diff(t) <= np.timedelta64(0, "ns")  # a plain duplicate elsewhere is not DST
    back = np.flatnonzero(step & repeat.to_numpy()[1:])
    flags = np.ones(len(t), dtype=bool)
    if back.size:
        flags[back[0] + 1 :] = False
    return flags


def _first_gap_row(local: pd.Series, time_zone: str):
    """Index label of the first wall time that does not exist in ``time_zone``."""
    aware = local.dt.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT")
    ambiguous = local.dt.tz_localize(time_zone, ambiguous=True, nonexistent="NaT")
    gap = aware.isna() & ambiguous.isna()
    return gap.index[gap.to_numpy()][0]
