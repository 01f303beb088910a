"""Reading user batch tables (CSV / Parquet, column map, units) and atomic writes.

:func:`read_table` turns a user's file into a batch table with canonical names and units:
file-level problems (not a table, empty, missing key or required columns, unknown units)
raise a :class:`~forecaster.data.errors.DataError`, all of a file's at once. The variables,
their units and ranges come from a process definition (:mod:`forecaster.data.process`;
default: the CHO preset). Raw file reading lives in :mod:`forecaster.data.raw`. Cells that are not numbers are
kept as their text so that :func:`~forecaster.data.validate.validate_table` can report (or
skip) the batch they are in; :func:`load_table` does both steps.

The table's index is the 0-based data-row number in the file, so messages can point at the
user's rows (CSV: line = index + 2, because of the header line).

Every file the project writes goes through :func:`atomic_path`: a temporary name in the same
folder, renamed onto the target only when writing succeeded, so a crash or an error never
leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data import local_time, units
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import (
    ConfigError,
    DataError,
    DuplicateColumnError,
    MissingColumnError,
    UnknownUnitError,
    combine,
)
from forecaster.data.process import Process, all_preset_names, default_process
from forecaster.data.raw import read_raw
from forecaster.data.resample import resample
from forecaster.data.validate import (
    ValidationReport,
    is_blank,
    row_numbering,
    to_float,
    validate_table,  # fmt: skip
)

#: ``table.attrs`` key of a table read from timestamps: ``{"starts": {batch_id: first
#: timestamp as read}, "format": strftime format or None}`` (outputs give dates/times back).
TIME_ORIGIN = "time_origin"

__all__ = ["TIME_ORIGIN", "atomic_path", "atomic_write_bytes", "atomic_write_text", "load_table", "read_raw",
           "read_table", "write_table"]  # fmt: skip


def read_table(
    path: str | os.PathLike,
    column_map: ColumnMap | Mapping[str, Any] | None = None,
    *,
    required: Sequence[str] = (),
    resample_h: float | None = None,
    process: Process | None = None,
    strict: bool = True,
) -> pd.DataFrame:
    """Read a batch table from CSV or Parquet, with canonical names and units.

    Args:
        path: ``.csv`` (also ``.tsv``/``.txt``) or ``.parquet``/``.pq``; another extension is
            tried as both.
        column_map: their names/units -> canonical ones, as a ColumnMap or its plain dict
            (None: names already canonical).
        required: canonical columns that must be present (besides ``batch_id``, ``time_h``).
        resample_h: put every batch on a regular grid of this step (hours). The table is
            then validated strictly first (see :func:`load_table` for the lenient way).
        process: the process definition (None: the CHO preset, and nothing is removed).
            Given, its product and feed are required, its ``ignore_columns`` and columns
            named after variables it does not have (dropped ones) are left out.
        strict: False: a batch with local times in a spring-forward gap is left out with a
            warning, its problem in ``table.attrs[local_time.GAP_BATCHES]``; True: raised.

    Returns:
        Rows sorted by batch (stable: file order within a batch), ``batch_id`` as str,
        numeric columns as float (cells that are not numbers keep their text), unknown
        columns kept; index = 0-based data row in the file.

    Raises:
        DataError: the file is not a table, is empty, lacks a key or required column, or a
            unit is unknown; every column's problem at once (DataProblems when several).
        FileNotFoundError: no such file.
    """
    src = str(path)
    table, cmap, problems, gaps = _read(path, column_map, required, process)
    if problems or (gaps and strict):
        raise combine([*problems, *gaps], what="problems in the file and its column map", file=src)
    if gaps:
        warnings.warn(local_time.gap_warning(gaps), stacklevel=2)
        table.attrs[local_time.GAP_BATCHES] = gaps
    if resample_h is not None:
        table = validate_table(table, source=src, required=required, process=process,
                               column_map=cmap).table  # fmt: skip
        table = resample(table, resample_h, process=process)
    return table


def load_table(
    path: str | os.PathLike,
    column_map: ColumnMap | Mapping[str, Any] | None = None,
    *,
    required: Sequence[str] = (),
    min_rows: int = 1,
    strict: bool = True,
    resample_h: float | None = None,
    process: Process | None = None,
    unchecked: Collection[str] = (),
) -> ValidationReport:
    """Read and validate a file: ``read_table`` then ``validate_table`` (then resample).

    With ``strict=False`` a batch with a problem (local times in a spring-forward gap
    included) is dropped and reported in ``report.problems``; table-level problems always
    raise. With ``strict=True`` every problem of the file is raised at once. ``min_rows``
    counts rows after resampling; ``unchecked`` columns get no range check.
    """
    src = str(path)
    table, cmap, problems, gaps = _read(path, column_map, required, process)
    if problems and not strict:
        raise combine(problems, what="problems in the file and its column map", file=src)
    problems = [*problems, *gaps] if strict else problems
    kw = {"process": process, "column_map": cmap, "unchecked": unchecked}
    present = [r for r in required if r in table.columns]
    try:
        if resample_h is None:
            report = validate_table(table, source=src, required=present, min_rows=min_rows,
                                    strict=strict, **kw)  # fmt: skip
        else:
            first = validate_table(table, source=src, required=present, strict=strict, **kw)
            report = first
            if not first.table.empty:
                regular = resample(first.table, resample_h, process=process)
                second = validate_table(regular, source=f"{src} (resampled)", required=present,
                                        min_rows=min_rows, strict=strict, **kw)  # fmt: skip
                report = ValidationReport(second.table, first.problems + second.problems)
    except DataError as err:
        if _wall_clock_as_utc(table, cmap):
            local_time.suggest_time_zone(err)
        if not problems:
            raise
        raise combine([*problems, err], what="problems in the file", file=src) from None
    if problems:
        raise combine(problems, what="problems in the file and its column map", file=src)
    for p in report.problems if _wall_clock_as_utc(table, cmap) else []:
        local_time.suggest_time_zone(p)
    report.problems[:0] = gaps if not strict else []
    return report


def _wall_clock_as_utc(table: pd.DataFrame, cmap: ColumnMap) -> bool:
    """Whether the time column held dates/times without an offset and no zone was given."""
    starts = (table.attrs.get(TIME_ORIGIN) or {}).get("starts") or {}
    return cmap.time_zone is None and any(s.tzinfo is None for s in starts.values())


def _read(
    path: str | os.PathLike,
    column_map: ColumnMap | Mapping[str, Any] | None,
    required: Sequence[str],
    process: Process | None,
) -> tuple[pd.DataFrame, ColumnMap, list[DataError], list[DataError]]:
    """The canonical table, the column map, the problems found (columns left out) and the
    batches left out for local times in a spring-forward gap."""
    src = str(path)
    if column_map is None or isinstance(column_map, Mapping):
        cmap = ColumnMap.from_dict(column_map, process, check=False)
    else:
        cmap = column_map
    problems = cmap.problems(process)
    for p in problems:
        p.file = p.file or src
    if any(not isinstance(p, UnknownUnitError) or p.column == schema.TIME for p in problems):
        raise combine(problems, what="problems in data.column_map", file=src)
    bad_units = {p.variable or p.column for p in problems}
    raw = read_raw(Path(path), text_columns=[cmap.source_name(schema.BATCH_ID)])
    if process is not None:
        ignore = set(process.ignore_columns)
        raw = raw[[c for c in raw.columns if c not in ignore]]
        required = [*required, *(t for t in process.targets if t not in required)]
    table, missing = _apply_column_map(raw, cmap, src, required, process)
    if process is not None:
        gone = (set(all_preset_names()) - set(process.names)) | set(process.ignore_columns)
        table = table[[c for c in table.columns if c not in gone]]
    table = table[[c for c in table.columns if c not in bad_units]]
    table, gaps = _convert(table, cmap, src, process)
    table = table.iloc[_batch_order(table[schema.BATCH_ID])]
    return table, cmap, [*problems, *missing], gaps


def _apply_column_map(
    raw: pd.DataFrame,
    cmap: ColumnMap,
    src: str,
    required: Sequence[str],
    process: Process | None,
) -> tuple[pd.DataFrame, list[DataError]]:
    """Rename their columns to canonical names; the required columns that are missing.

    Raises:
        DataError: a key column is missing or a column is there twice.
    """
    cols = list(raw.columns)
    renames = cmap.renames()
    for theirs, ours in renames.items():
        if theirs in cols and ours in cols and renames.get(ours) is None:
            raise DuplicateColumnError(
                f"both {theirs!r} (mapped to {ours}) and {ours!r} are in the file; "
                f"drop one or map {ours!r} to something else",
                file=src,
                column=ours,
            )
    table = raw.rename(columns={k: v for k, v in renames.items() if k in cols})
    present = set(table.columns)
    missing: list[DataError] = []
    targets = {} if process is None else {process.product: "product", process.feed: "feed"}
    for col in [*schema.KEYS, *required]:
        if col in present:
            continue
        theirs = cmap.source_name(col)
        hint = "" if theirs != col else "rename a column or map one to it in the column map"
        if col in targets:
            hint = (
                f"it is the process's {targets[col]}; map your {targets[col]} column to it in "
                f"data.column_map.columns, or name another variable with "
                f"data.process.{targets[col]}"
                + (" (or data.process.feed: none)" if targets[col] == "feed" else "")
            )
        err = MissingColumnError(col, available=cols, file=src,
                                 looked_for=theirs if theirs != col else None, hint=hint)  # fmt: skip
        if col in schema.KEYS:
            raise err
        missing.append(err)
    return table, missing


def _convert(
    table: pd.DataFrame, cmap: ColumnMap, src: str, process: Process | None = None
) -> tuple[pd.DataFrame, list[DataError]]:
    """Batch ids to str, numbers to float in the variables' units, time to hours; and the
    batches left out for local times in a spring-forward gap (one problem each)."""
    out, gaps = table.copy(), []
    bid = out[schema.BATCH_ID]
    blank = is_blank(bid)
    if pd.api.types.is_float_dtype(bid.dtype):  # Parquet ids 1.0, 2.0 -> "1", "2"
        bid = bid.map(lambda v: f"{v:.0f}" if float(v).is_integer() else f"{v:g}")
    text = bid.astype(str).str.strip().to_numpy(dtype=object, copy=True)
    text[blank] = None
    out[schema.BATCH_ID] = pd.array(text, dtype=object)

    names = set((process or default_process()).names)
    for col in [c for c in out.columns if c in names or c == schema.FAULT_LABEL]:
        unit = cmap.units.get(col)
        out[col] = _numeric(out[col], col, unit, src, process)
    time = out[schema.TIME]
    if units.is_timestamp(cmap.time_unit) or pd.api.types.is_datetime64_any_dtype(time.dtype):
        utc = None
        if cmap.time_zone is not None:  # batches with wall times in the spring gap: left out
            utc, gaps = local_time.to_utc_report(time, out[schema.BATCH_ID], cmap.time_zone)
            local_time.point_at(gaps, src, cmap.source_name(schema.TIME), *row_numbering(src))
            keep = ~out[schema.BATCH_ID].isin([g.batch for g in gaps]).to_numpy()
            out, time, utc = out[keep], time[keep], None if utc is None else utc[keep]
        out[schema.TIME] = _timestamps(time if utc is None else utc, out[schema.BATCH_ID], time)
        origins = _time_origins(time, out[schema.BATCH_ID], out[schema.TIME])
        if utc is not None:  # each start in the zone, so outputs give their wall times back
            origins["starts"] = local_time.starts(utc, out[schema.BATCH_ID], cmap.time_zone)
        out.attrs[TIME_ORIGIN] = origins
    else:
        out[schema.TIME] = _numeric(out[schema.TIME], schema.TIME, cmap.time_unit, src)
    return out, gaps


def _numeric(
    values: pd.Series, column: str, unit: str | None, src: str, process: Process | None = None
) -> pd.Series:
    """Float column in canonical units; cells that are not numbers keep their text."""
    if pd.api.types.is_timedelta64_dtype(values.dtype) and column == schema.TIME:
        return pd.Series(values.dt.total_seconds() / 3600.0, index=values.index)
    num, bad = to_float(values)
    if unit is not None:
        try:
            num = units.convert(num, column, unit, process)
        except DataError as err:
            err.file = err.file or src
            raise
    return _keep_text(num, values, bad)


def _timestamps(values: pd.Series, batch: pd.Series, cells: pd.Series) -> pd.Series:
    """Dates/times -> hours since each batch's first row; unparseable cells keep their text
    (``cells``: the column as read; ``values``: it, or its UTC timestamps)."""
    hours = units.timestamps_to_hours(values, batch.to_numpy())
    return _keep_text(hours, cells, np.isnan(hours) & ~is_blank(cells))


def _time_origins(values: pd.Series, batch: pd.Series, hours: pd.Series) -> dict[str, Any]:
    """Each batch's first timestamp as read (its time zone kept; naive stays naive), so
    outputs can turn hours back into the user's dates/times; ``format``: the strftime format
    of the text (None: ISO 8601)."""
    h = pd.to_numeric(hours, errors="coerce")
    first = h[h == 0.0].index.to_series().groupby(batch[h == 0.0].to_numpy()).first()
    starts: dict[str, pd.Timestamp] = {}
    fmt = None
    for b, row in first.items():
        cell = values.loc[row]
        if isinstance(cell, (int, float, np.number)) and not isinstance(cell, bool):
            starts[str(b)] = pd.Timestamp(float(cell), unit="s", tz="UTC")
            continue
        if isinstance(cell, str):
            from pandas.tseries.api import guess_datetime_format

            fmt = fmt or guess_datetime_format(cell.strip())
        for utc in (False, True):  # best effort: a batch without an origin gets hours only
            try:
                stamp = pd.to_datetime(pd.Series([cell]), format="mixed", utc=utc).iloc[0]
            except (ValueError, TypeError, OverflowError):
                continue
            if isinstance(stamp, pd.Timestamp):
                starts[str(b)] = stamp
            break
    return {"starts": starts, "format": fmt}


def _keep_text(num: np.ndarray, values: pd.Series, bad: np.ndarray) -> pd.Series:
    """Float column, except cells flagged ``bad`` which keep their original value."""
    if not bad.any():
        return pd.Series(num, index=values.index, dtype=float)
    mixed = pd.Series(num, index=values.index, dtype=object)
    mixed[bad] = values[bad].astype(object)
    return mixed


def _batch_order(batch: pd.Series) -> np.ndarray:
    """Positions sorting rows by batch id (stable); rows without an id last."""
    key = batch.fillna("").astype(str).to_numpy()
    missing = batch.isna().to_numpy()
    return np.lexsort((np.arange(len(key)), key, missing))


def write_table(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``table`` to ``.csv`` or ``.parquet``/``.pq`` atomically; returns the path."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise ConfigError(f"cannot write {path.name}: use a .csv or .parquet file name")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` only on success.

    The caller writes the temporary path (a file). On an exception the temporary file is
    removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))
