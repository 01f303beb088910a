"""Reading user batch tables (CSV / Parquet, column map, units) and atomic writes.

:func:`read_table` turns a user's file into a batch table with canonical names and units:
file-level problems (not a table, empty, missing key or required columns, unknown units)
raise a :class:`~forecaster.data.errors.DataError` at once. Cells that are not numbers are
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
import csv
import errno
import io
import os
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from forecaster import schema
from forecaster.data import units
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import (
    ConfigError,
    DataError,
    DuplicateColumnError,
    EmptyTableError,
    MissingColumnError,
    NotATableError,
)
from forecaster.data.resample import resample
from forecaster.data.validate import ValidationReport, is_blank, to_float, validate_table


def read_table(
    path: str | os.PathLike,
    column_map: ColumnMap | Mapping[str, Any] | None = None,
    *,
    required: Sequence[str] = (),
    resample_h: float | None = None,
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

    Returns:
        Rows sorted by batch (stable: file order within a batch), ``batch_id`` as str,
        numeric columns as float (cells that are not numbers keep their text), unknown
        columns kept; index = 0-based data row in the file.

    Raises:
        DataError: the file is not a table, is empty, lacks a key or required column, or a
            unit is unknown.
        FileNotFoundError: no such file.
    """
    src = str(path)
    if column_map is None or isinstance(column_map, Mapping):
        cmap = ColumnMap.from_dict(column_map)  # plain dict straight from a config file
    else:
        cmap = column_map
        cmap.validate()
    raw = read_raw(Path(path), text_columns=[cmap.source_name(schema.BATCH_ID)])
    table = _apply_column_map(raw, cmap, src, required)
    table = _convert(table, cmap, src)
    table = table.iloc[_batch_order(table[schema.BATCH_ID])]
    if resample_h is not None:
        table = validate_table(table, source=src, required=required).table
        table = resample(table, resample_h)
    return table


def load_table(
    path: str | os.PathLike,
    column_map: ColumnMap | Mapping[str, Any] | None = None,
    *,
    required: Sequence[str] = (),
    min_rows: int = 1,
    strict: bool = True,
    resample_h: float | None = None,
) -> ValidationReport:
    """Read and validate a file: ``read_table`` then ``validate_table`` (then resample).

    With ``strict=False`` a batch with a problem is dropped and reported in
    ``report.problems``; table-level problems always raise. ``min_rows`` counts rows after
    resampling.
    """
    src = str(path)
    table = read_table(path, column_map, required=required)
    if resample_h is None:
        return validate_table(
            table, source=src, required=required, min_rows=min_rows, strict=strict
        )
    first = validate_table(table, source=src, required=required, strict=strict)
    if first.table.empty:
        return first
    regular = resample(first.table, resample_h)
    second = validate_table(
        regular, source=f"{src} (resampled)", required=required, min_rows=min_rows, strict=strict
    )
    return ValidationReport(table=second.table, problems=first.problems + second.problems)


def read_raw(path: Path, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """The file as a DataFrame with stripped str column names and all-empty rows dropped.

    Index = 0-based data row in the file. ``text_columns`` are read as text (batch ids).
    """
    src = str(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", src)
    if path.is_dir():
        raise NotATableError("this is a folder, not a CSV or Parquet file", file=src)
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise EmptyTableError("the file is empty", file=src)
    suffix = path.suffix.lower()
    if head.startswith(_PARQUET_MAGIC):
        df, header = _read_parquet(path), None
    elif suffix in (".parquet", ".pq"):
        raise NotATableError("not a Parquet file (no Parquet signature)", file=src)
    elif suffix in _WORKBOOKS or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise NotATableError("a workbook or archive, not a table: save the sheet as CSV", file=src)
    elif b"\x00" in head and head[:2] not in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 has NULs
        raise NotATableError("a binary file, not CSV or Parquet", file=src)
    else:
        df, header = _read_csv(path, head, suffix, text_columns)
    names = [str(c).strip() for c in df.columns]
    if header is not None and len(header) == len(names):
        names = header  # pandas renames duplicates to "x.1"; the header shows them
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise DuplicateColumnError(f"column name appears more than once: {dups[0]!r}", file=src)
    df.columns = names
    if df.shape[1] == 0:
        raise EmptyTableError("the file has no columns", file=src)
    df.index = pd.RangeIndex(len(df))
    df = df[~df.isna().all(axis=1).to_numpy()]
    if len(df) == 0:
        raise EmptyTableError("the file has no data rows", file=src)
    return df


_SNIFF_BYTES = 65536
_DECIMAL_COMMA = r"^(\s*[-+]?\d*),(\d+(?:[eE][-+]?\d+)?\s*)$"
_PARQUET_MAGIC = b"PAR1"
_WORKBOOKS = (".xlsx", ".xls", ".xlsm", ".ods", ".zip", ".gz")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        names = [str(n).strip() for n in pq.read_schema(path).names]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            msg = f"column name appears more than once: {dups[0]!r}"
            raise DuplicateColumnError(msg, file=str(path))
        return pd.read_parquet(path)
    except (MemoryError, DataError):
        raise
    except Exception as err:  # pyarrow raises many types for a damaged file
        msg = f"cannot be read as Parquet: {_first_line(err)}"
        raise NotATableError(msg, file=str(path)) from None


def _read_csv(
    path: Path, head: bytes, suffix: str, text_columns: Sequence[str]
) -> tuple[pd.DataFrame, list[str] | None]:
    """CSV in UTF-8 (BOM or not) or UTF-16, else Latin-1 (older Windows exports)."""
    utf16 = head[:2] in (b"\xff\xfe", b"\xfe\xff")
    try:
        return _parse_csv(path, head, "utf-16" if utf16 else "utf-8-sig", suffix, text_columns)
    except UnicodeDecodeError:
        if utf16:
            raise NotATableError("cannot be decoded as text", file=str(path)) from None
        return _parse_csv(path, head, "latin-1", suffix, text_columns)


def _parse_csv(
    path: Path, head: bytes, encoding: str, suffix: str, text_columns: Sequence[str]
) -> tuple[pd.DataFrame, list[str] | None]:
    """CSV with the delimiter guessed from the first lines (``;`` implies decimal comma)."""
    sample = head.decode(encoding, errors="replace")
    sep = "\t" if suffix == ".tsv" else _guess_sep(sample)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(
                path,
                sep=sep,
                decimal="," if sep == ";" else ".",
                encoding=encoding,
                dtype={c: str for c in text_columns},
                skip_blank_lines=False,  # keeps index = line number - 2
                index_col=False,
                low_memory=False,
            )
    except (UnicodeDecodeError, MemoryError):
        raise
    except pd.errors.EmptyDataError:
        raise EmptyTableError("the file has no header line", file=str(path)) from None
    except Exception as err:  # ParserError, csv.Error, ValueError, OverflowError...
        msg = f"cannot be read as CSV: {_first_line(err)}"
        raise NotATableError(msg, file=str(path)) from None
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise NotATableError(
            f"some rows have more fields than the header line (separator {sep!r} inside an "
            "unquoted value?)",
            file=str(path),
        )
    if sep == ";":  # decimal comma: the parser leaves "4,5" as text if a "3.25" is mixed in
        for col in df.columns.difference(list(text_columns)):
            if pd.api.types.is_string_dtype(df[col].dtype):
                df[col] = df[col].str.replace(_DECIMAL_COMMA, r"\1.\2", regex=True)
    return df, _first_record(sample, sep)


def _first_record(sample: str, sep: str) -> list[str] | None:
    """Header fields as the csv module parses them (None if it cannot)."""
    try:
        return [
            h.strip() for h in next(csv.reader(io.StringIO(sample.lstrip("\ufeff")), delimiter=sep))
        ]
    except (csv.Error, StopIteration):
        return None


def _guess_sep(sample: str) -> str:
    """Delimiter giving the widest header that the next lines match (comma on ties)."""

    def score(sep: str) -> tuple[bool, int]:
        try:
            records = list(csv.reader(io.StringIO(sample.lstrip("\ufeff")), delimiter=sep))
        except csv.Error:
            return (False, 0)
        records = [r for r in records[:-1] if r] or records[:1]  # last may be cut off
        width = len(records[0]) if records else 0
        return (width > 1 and all(len(r) == width for r in records), width)

    return max(",;\t|", key=score)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _apply_column_map(
    raw: pd.DataFrame, cmap: ColumnMap, src: str, required: Sequence[str]
) -> pd.DataFrame:
    """Rename their columns to canonical names; check keys and required columns exist."""
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
    for col in [*schema.KEYS, *required]:
        if col not in present:
            theirs = cmap.source_name(col)
            raise MissingColumnError(
                col,
                available=cols,
                file=src,
                looked_for=theirs if theirs != col else None,
                hint="" if theirs != col else "rename a column or map one to it in the column map",
            )
    return table


def _convert(table: pd.DataFrame, cmap: ColumnMap, src: str) -> pd.DataFrame:
    """Batch ids to str, numbers to float in canonical units, time to hours."""
    out = table.copy()
    bid = out[schema.BATCH_ID]
    blank = is_blank(bid)
    if pd.api.types.is_float_dtype(bid.dtype):  # Parquet ids 1.0, 2.0 -> "1", "2"
        bid = bid.map(lambda v: f"{v:.0f}" if float(v).is_integer() else f"{v:g}")
    text = bid.astype(str).str.strip().to_numpy(dtype=object, copy=True)
    text[blank] = None
    out[schema.BATCH_ID] = pd.array(text, dtype=object)

    for col in [c for c in out.columns if c in schema.BY_NAME or c == schema.FAULT_LABEL]:
        unit = cmap.units.get(col)
        out[col] = _numeric(out[col], col, unit, src)
    time = out[schema.TIME]
    if units.is_timestamp(cmap.time_unit) or pd.api.types.is_datetime64_any_dtype(time.dtype):
        out[schema.TIME] = _timestamps(time, out[schema.BATCH_ID])
    else:
        out[schema.TIME] = _numeric(out[schema.TIME], schema.TIME, cmap.time_unit, src)
    return out


def _numeric(values: pd.Series, column: str, unit: str | None, src: str) -> pd.Series:
    """Float column in canonical units; cells that are not numbers keep their text."""
    if pd.api.types.is_timedelta64_dtype(values.dtype) and column == schema.TIME:
        return pd.Series(values.dt.total_seconds() / 3600.0, index=values.index)
    num, bad = to_float(values)
    if unit is not None:
        try:
            num = units.convert(num, column, unit)
        except DataError as err:
            err.file = err.file or src
            raise
    return _keep_text(num, values, bad)


def _timestamps(values: pd.Series, batch: pd.Series) -> pd.Series:
    """Dates/times -> hours since each batch's first row; unparseable cells keep their text."""
    hours = units.timestamps_to_hours(values, batch.to_numpy())
    return _keep_text(hours, values, np.isnan(hours) & ~is_blank(values))


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
