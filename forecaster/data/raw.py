"""Reading a file as a raw table: CSV (delimiter, encoding, decimal comma) or Parquet.

:func:`read_raw` returns the file's columns under their own (stripped) names, with the
0-based data-row number as index; file-level problems (not a table, empty, duplicated column
names) raise a :class:`~forecaster.data.errors.DataError`.
"""

from __future__ import annotations

import csv
import errno
import io
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from forecaster.data.errors import (
    DataError,
    DuplicateColumnError,
    EmptyTableError,
    NotATableError,
)


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
