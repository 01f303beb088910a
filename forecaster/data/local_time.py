"""Local wall-clock timestamps without an offset -> UTC, with daylight-saving resolved.

A historian that writes local times without an offset repeats an hour in autumn (clocks go
back) and skips one in spring. :func:`localize` reads such a column in a named time zone
(``time_zone`` setting, e.g. ``Europe/Berlin``): a repeated wall time is resolved by row
order within each batch (the first occurrence is summer time, the one after it winter time),
so ``time 137 appears twice`` is no longer reported; a wall time inside the skipped hour is
reported with the batch, its rows and the gap, instead of silently adding an hour.

:func:`to_utc` is what the reader uses (``data.column_map.time_zone``): only naive date/time
columns are read in the zone; timestamps with an offset, and numbers (Unix seconds), are
absolute already. A wall time in the spring gap cannot be placed (the clock that wrote it
did not go forward, or the hour was typed by hand: shifting it would guess), so
:func:`to_utc_report` returns one problem per such batch, listing all its rows, and leaves
that batch out; the reader then drops it when not strict and refuses the file when strict
(:func:`to_utc` raises them all). :func:`zone_problem` checks a zone name; :func:`suggest_time_zone` adds the
setting to a "time appears twice" message when no zone was given.
"""

from __future__ import annotations

import warnings
import zoneinfo

import numpy as np
import pandas as pd

from forecaster.data.errors import (
    ConfigError,
    DataError,
    DataProblems,
    TimeOrderError,
    combine,
    suggest,
)

__all__ = [
    "GAP_BATCHES",
    "localize",
    "localize_report",
    "localize_rows",
    "starts",
    "suggest_time_zone",
    "to_utc",
    "to_utc_report",
    "zone_problem",
]

#: ``table.attrs`` key of a table read leniently: the batches left out because wall times
#: fell in a spring-forward gap (a list of TimeOrderError, one per batch).
GAP_BATCHES = "time_zone_gaps"

#: Advice added to a duplicated / backwards time when naive timestamps were read as UTC.
ZONE_FIX = (
    "if the times are local wall-clock times, set data.column_map.time_zone (e.g. "
    "Europe/Berlin) so the hour repeated when clocks go back is read in row order"
)


def zone_problem(time_zone: object) -> ConfigError | None:
    """Why ``time_zone`` is not a usable zone name (None: it is one).

    Example:
        >>> zone_problem("Europe/Berlin") is None
        True
        >>> "did you mean 'Europe/Berlin'" in zone_problem("Europe/Berln").message
        True
    """
    expected = "an IANA zone name such as Europe/Berlin or America/New_York"
    if not isinstance(time_zone, str) or not time_zone.strip():
        return ConfigError("column map: time_zone must be a zone name", expected=expected)
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        close = suggest(time_zone, sorted(zoneinfo.available_timezones()))
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"column map: time_zone {time_zone!r} is not a known time zone{hint}"
        return ConfigError(msg, expected=expected)
    return None


def to_utc(values: pd.Series, batch: pd.Series, time_zone: str) -> pd.Series | None:
    """Date/time cells -> UTC timestamps; naive ones are read as wall-clock time in a zone.

    Args:
        values: the time column as read, shape (n_rows,), rows in file order per batch.
        batch: batch id per row, shape (n_rows,).
        time_zone: IANA zone name of naive timestamps.

    Returns:
        UTC timestamps, shape (n_rows,), NaT where a cell is not a date/time; None when the
        zone does not apply (numbers are Unix seconds; text with offsets, all or some, is
        absolute: the caller reads it as before).

    Raises:
        DataError: wall times inside a spring-forward gap (one problem per batch, its rows
            given; several batches: DataProblems).
    """
    utc, gaps = to_utc_report(values, batch, time_zone)
    if gaps:
        raise combine(gaps, what="local times in the spring-forward gap")
    return utc


def to_utc_report(
    values: pd.Series, batch: pd.Series, time_zone: str
) -> tuple[pd.Series | None, list[TimeOrderError]]:
    """:func:`to_utc` that reports the batches with wall times in a spring-forward gap.

    Returns:
        (UTC timestamps, shape (n_rows,), NaT on the rows of the reported batches; or None
        when the zone does not apply), and one TimeOrderError per batch with gap times
        (``batch``, ``rows`` = the index labels of all its gap rows).

    Raises:
        DataError: unknown time zone.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return None, []
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = values
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "could not infer format": mixed is asked for
            try:
                parsed = pd.to_datetime(values, errors="coerce", format="mixed")
            except (ValueError, TypeError, OverflowError):
                return None, []  # offsets that differ between rows: absolute times
    if not pd.api.types.is_datetime64_any_dtype(parsed.dtype) or parsed.dt.tz is not None:
        return None, []
    return localize_report(parsed, batch, time_zone)


def starts(utc: pd.Series, batch: pd.Series, time_zone: str) -> dict[str, pd.Timestamp]:
    """Batch id -> its earliest timestamp, aware in ``time_zone`` (outputs add hours to it).

    Args:
        utc: UTC timestamps, shape (n_rows,) (NaT: unreadable cells, skipped).
        batch: batch id per row, shape (n_rows,).
    """
    first = utc.groupby(batch.to_numpy()).min()
    return {str(b): t.tz_convert(time_zone) for b, t in first.items() if pd.notna(t)}


def suggest_time_zone(err: DataError) -> DataError:
    """``err`` with the ``time_zone`` advice on each duplicated or backwards time (in place)."""
    for p in err.problems if isinstance(err, DataProblems) else [err]:
        if (
            isinstance(p, TimeOrderError)
            and not p.fix
            and ("appears twice" in p.message or "goes back" in p.message)
        ):
            p.fix = ZONE_FIX
    return err


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
        DataError: unknown time zone, or wall times inside a spring-forward gap (one
            problem per batch: its ``batch`` and ``rows`` = the index labels of the rows).
    """
    utc, gaps = localize_report(values, batch, time_zone)
    if gaps:
        raise combine(gaps, what="local times in the spring-forward gap")
    return utc


def localize_report(
    values: pd.Series, batch: pd.Series, time_zone: str
) -> tuple[pd.Series, list[TimeOrderError]]:
    """:func:`localize` that reports, rather than raises, the batches with gap times.

    Returns:
        (UTC timestamps, shape (n_rows,), NaT on every row of a reported batch; one
        TimeOrderError per batch with wall times in a spring-forward gap, listing them all).

    Raises:
        DataError: unknown time zone, or cells that are not dates/times.
    """
    bad = zone_problem(time_zone)
    if bad is not None:
        raise bad
    try:
        naive = pd.to_datetime(values, format="mixed")
    except (ValueError, TypeError) as exc:
        raise DataError(f"time: cannot read local timestamps ({exc})") from None
    if getattr(naive.dt, "tz", None) is not None:
        return naive.dt.tz_convert("UTC"), []
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    gaps: list[TimeOrderError] = []
    for b, idx in values.groupby(batch.to_numpy(), sort=False, dropna=False).groups.items():
        local = naive.loc[idx]
        in_gap = _gap_mask(local, time_zone)
        if in_gap.any():
            gaps.append(_gap_problem(str(b), local, in_gap, time_zone))
            continue
        try:
            aware = local.dt.tz_localize(time_zone, ambiguous=_first_is_summer(local, time_zone),
                                         nonexistent="raise")  # fmt: skip
        except pd.errors.OutOfBoundsDatetime as exc:  # pragma: no cover - defensive
            raise DataError(f"batch {b}: time out of range ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - pytz/zoneinfo raise different classes
            raise DataError(f"time_zone {time_zone!r}: {exc}") from None
        out.loc[idx] = aware.dt.tz_convert("UTC")
    return out, gaps


def point_at(
    problems: list[TimeOrderError], file: str, column: str, row_kind: str, offset: int
) -> None:
    """Number the problems' rows as in the user's file and name its file and time column
    (in place): ``rows`` hold 0-based data-row labels, + ``offset`` in ``row_kind``."""
    for p in problems:
        p.rows, p.row_kind = tuple(r + offset for r in p.rows), row_kind
        p.file, p.column = file, column


def gap_warning(problems: list[DataError]) -> str:
    """One line saying which batches were left out for times in the spring gap."""
    ids = ", ".join(str(p.batch) for p in problems)
    return (
        f"{len(problems)} batch(es) left out ({ids}): local times in the hour skipped when "
        f"clocks go forward; first: {problems[0]}"
        if problems
        else ""
    )


def _gap_problem(
    batch: str, local: pd.Series, in_gap: np.ndarray, time_zone: str
) -> TimeOrderError:
    """The problem of one batch whose wall times ``local[in_gap]`` fall in a spring gap."""
    rows = [int(r) if isinstance(r, (int, np.integer)) else r for r in local.index[in_gap]]
    return TimeOrderError(
        f"local time {local[in_gap].iloc[0]} does not exist in {time_zone} (the hour skipped "
        "when clocks go forward); check the export",
        batch=batch,
        rows=[r for r in rows if isinstance(r, int)],
    )


def localize_rows(
    values: pd.Series, time_zone: str, last_utc: pd.Timestamp | None = None
) -> pd.Series:
    """New rows of ONE batch (a monitor update) -> UTC, continuing from the rows seen before.

    The repeated autumn hour may be split over two updates: the batch's last row already
    read (``last_utc``) says whether the clock had gone back, so 02:30 after a winter-time
    02:00 stays winter time, and 02:00 after a summer-time 02:50 becomes winter time.

    Args:
        values: the update's local date/time cells, shape (n_rows,), in time order.
        time_zone: IANA zone name of the batch's naive timestamps.
        last_utc: UTC time of the batch's last row already read (None: first update).

    Returns:
        UTC timestamps, shape (n_rows,), same index (NaT where a cell is not a date/time);
        timestamps with an offset are converted.

    Raises:
        DataError: unknown zone, or a wall time in a spring-forward gap.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": mixed is asked for
        naive = pd.to_datetime(values, errors="coerce", format="mixed")
    if last_utc is None:
        return localize(naive, pd.Series("", index=values.index), time_zone)
    prev = pd.Timestamp(last_utc).tz_convert(time_zone)
    if getattr(naive.dt, "tz", None) is not None:
        return naive.dt.tz_convert("UTC")
    wall = pd.concat([pd.Series([prev.tz_localize(None)], index=[None]), naive])
    wall = wall.astype(naive.dtype)
    flags = _first_is_summer(wall, time_zone, summer_at_start=bool(prev.dst()))
    try:
        aware = wall.dt.tz_localize(time_zone, ambiguous=flags, nonexistent="raise")
    except Exception:  # noqa: BLE001 - the gap: the batch-wise reader words it
        return localize(naive, pd.Series("", index=values.index), time_zone)
    return aware.iloc[1:].dt.tz_convert("UTC")


def _first_is_summer(local: pd.Series, time_zone: str, summer_at_start: bool = True) -> np.ndarray:
    """DST flag per row: within a repeated hour, rows before the clock goes back are summer.

    A repeated wall time shows as the time standing still or running backwards; rows before
    that step (in the repeated hour) are summer time (True), rows from it on are winter time
    (False). ``summer_at_start=False``: the clock had gone back before the first row.
    """
    t = local.to_numpy("datetime64[ns]")
    repeat = local.dt.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT").isna()
    repeat &= local.dt.tz_localize(time_zone, ambiguous=True, nonexistent="NaT").notna()
    step = np.diff(t) <= np.timedelta64(0, "ns")  # a plain duplicate elsewhere is not DST
    back = np.flatnonzero(step & repeat.to_numpy()[1:])
    flags = np.full(len(t), summer_at_start, dtype=bool)
    if back.size:
        flags[back[0] + 1 :] = False
    return flags


def _gap_mask(local: pd.Series, time_zone: str) -> np.ndarray:
    """(n,) True where a wall time does not exist in ``time_zone`` (a spring-forward gap)."""
    aware = local.dt.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT")
    ambiguous = local.dt.tz_localize(time_zone, ambiguous=True, nonexistent="NaT")
    return (aware.isna() & ambiguous.isna() & local.notna()).to_numpy()
