"""Validation of a batch table, with errors that name file, batch, column and rows.

Table-level problems (no rows, a missing key or required column, a required column with no
value at all) always raise. Per-batch problems (missing or non-increasing time, cells that
are not numbers, values outside the valid range of the process's variables, too few rows, a
required column empty in the batch) all raise together when ``strict`` (one entry per column
and kind of problem, over all batches, with the config change that fixes it); otherwise the
batch is dropped and its first problem recorded, so predict can go on with the other batches.

Ranges come from the process definition (default: the CHO preset = ``schema.VARIABLES``);
with a column map, messages name the user's column and give values in the user's unit.

Checks are vectorised over whole columns: 1,000 batches x 337 rows take well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.column_map import ColumnMap
from forecaster.data.errors import (
    DataError,
    DuplicateColumnError,
    EmptyColumnError,
    EmptyTableError,
    MissingBatchIdError,
    MissingColumnError,
    NonNumericError,
    RowKind,
    ShortBatchError,
    TimeOrderError,
    combine,
)
from forecaster.data.process import Process, default_process
from forecaster.data.ranges import Names, check_ranges

#: Cell texts that mean "no value" (compared after strip + lower case).
BLANKS = frozenset({"", "na", "n/a", "nan", "null", "none", "-", "--", "#n/a", "<na>"})
#: Sources whose row numbers are reported as file line numbers (header = line 1).
_LINE_SUFFIXES = (".csv", ".tsv", ".txt")


@dataclass
class ValidationReport:
    """Result of :func:`validate_table`.

    Attributes:
        table: rows of the batches without problems; numeric columns as float, ``batch_id``
            as str, index = the input's index (source row numbers for ``read_table``).
        problems: one error per skipped batch (``batch`` None for rows without a batch id).
    """

    table: pd.DataFrame
    problems: list[DataError] = field(default_factory=list)

    @property
    def skipped(self) -> list[str | None]:
        """Batch ids that were dropped."""
        return [p.batch for p in self.problems]


def row_numbering(source: str) -> tuple[RowKind, int]:
    """How index values of a table read from ``source`` become user-facing numbers."""
    if Path(str(source)).suffix.lower() in _LINE_SUFFIXES:
        return "line", 2  # 0-based data row -> line number after the header line
    return "row", 1


def is_blank(values: pd.Series) -> np.ndarray:
    """True where a cell holds no value (NaN, None, empty or NA-like text)."""
    blank = values.isna().to_numpy(copy=True)
    if not pd.api.types.is_numeric_dtype(values.dtype):
        text = values.astype(str).str.strip().str.lower()
        blank |= text.isin(BLANKS).to_numpy()
    return blank


def to_float(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Column -> (float values with NaN for blanks and bad cells, mask of bad cells)."""
    dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        bad = values.notna().to_numpy()
        return np.full(len(values), np.nan), bad
    if pd.api.types.is_numeric_dtype(dtype):
        return values.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(values), bool)
    try:
        num = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        num = np.array([_one_float(v) for v in values], dtype=float)
    bad = np.isnan(num) & ~is_blank(values)
    return num, bad


def _one_float(v: object) -> float:
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return np.nan


class _Collector:
    """First problem per batch (lenient) or one problem per check over all batches (strict)."""

    def __init__(
        self, codes: np.ndarray, labels: np.ndarray, rownum: np.ndarray, strict: bool
    ) -> None:
        self.codes, self.labels, self.rownum, self.strict = codes, labels, rownum, strict
        self.first: dict[int, DataError] = {}
        self.all: list[DataError] = []
        self.covered: dict[str | None, np.ndarray] = {}  # rows already reported, per column

    def add(self, mask: np.ndarray, make: Callable[..., DataError]):
        """Record ``make(batch, first_pos, shown_rows, n_rows, positions)`` for bad rows."""
        pos = np.flatnonzero(mask)
        if not pos.size:
            return
        if self.strict:  # one entry for the whole table: every column's problem at once
            col = getattr(make, "column", None)
            seen = self.covered.setdefault(col, np.zeros(len(self.codes), bool))
            if col is not None and seen[pos].all():
                return  # e.g. "time is missing" for a cell already reported as not a number
            seen[pos] = True
            ids = list(dict.fromkeys(self.codes[pos].tolist()))
            names = [None if c < 0 else str(self.labels[c]) for c in ids]
            shown = sorted(self.rownum[pos].tolist())[:5]
            self.all.append(make(_batches(names), int(pos[0]), shown, int(pos.size), pos))
            for c in ids:
                self.first.setdefault(c, self.all[-1])
            return
        codes = self.codes[pos]
        order = np.argsort(codes, kind="stable")
        uniq, start, count = np.unique(codes[order], return_index=True, return_counts=True)
        for code, s, n in zip(uniq.tolist(), start.tolist(), count.tolist()):
            if code in self.first:
                continue
            rows_pos = pos[order[s : s + n]]
            shown = sorted(self.rownum[rows_pos].tolist())[:5]
            batch = None if code < 0 else str(self.labels[code])
            self.first[code] = make(batch, int(rows_pos[0]), shown, n, rows_pos)


def validate_table(
    table: pd.DataFrame,
    *,
    source: str,
    required: Sequence[str] = (),
    min_rows: int = 1,
    strict: bool = True,
    process: Process | None = None,
    column_map: ColumnMap | None = None,
    unchecked: Collection[str] = (),
) -> ValidationReport:
    """Check a batch table; return the good batches and the problems of the others.

    Args:
        table: long-format batch table (canonical names), e.g. from ``read_table``.
        source: file name (or description) used in messages; a ``.csv`` source reports
            file line numbers, others 1-based data rows, both from ``table.index``.
        required: columns that must exist and hold at least one value in every batch.
        min_rows: fewest rows a batch may have.
        strict: raise every problem (all at once) instead of skipping batches.
        process: the variables and their ranges (default: the CHO preset).
        column_map: names messages after the user's columns and units.
        unchecked: variables whose range is not checked (not used by this run).

    Returns:
        ValidationReport with the rows of the good batches and one error per skipped batch.

    Raises:
        DataError: a table-level problem, or any problem when ``strict``.
    """
    src = str(source)
    kind, offset = row_numbering(src)
    if table.shape[1] == 0:
        raise EmptyTableError("the table has no columns", file=src)
    if len(table) == 0:
        raise EmptyTableError("the table has no data rows", file=src)
    cols = [str(c) for c in table.columns]
    dups = sorted({c for c in cols if cols.count(c) > 1}) if len(set(cols)) < len(cols) else []
    if dups:
        raise DuplicateColumnError(f"column name appears more than once: {dups[0]!r}", file=src)
    required = [str(r) for r in required]
    for col in [*schema.KEYS, *[r for r in required if r not in schema.KEYS]]:
        if col not in cols:
            raise MissingColumnError(
                col,
                available=cols,
                file=src,
                hint="rename a column or map one to it in the column map",
            )
    out = table.copy()
    out.columns = cols
    for col in [*schema.KEYS, *required]:
        if is_blank(out[col]).all():
            raise EmptyColumnError("the column has no values", file=src, column=col)

    if pd.api.types.is_integer_dtype(out.index.dtype):
        rownum = out.index.to_numpy(dtype=np.int64) + offset
    else:
        rownum = np.arange(len(out), dtype=np.int64) + offset
    raw_bid = out[schema.BATCH_ID]
    text = raw_bid.astype(str).str.strip()
    bid_blank = raw_bid.isna().to_numpy() | text.str.lower().isin(BLANKS).to_numpy()
    bid = text.mask(bid_blank) if bid_blank.any() else text
    codes, labels = pd.factorize(bid, use_na_sentinel=True)
    found = _Collector(codes, np.asarray(labels, dtype=object), rownum, strict)
    values: dict[str, np.ndarray] = {}  # numeric columns as float, filled below
    process = process or default_process()
    names = Names(process, column_map)

    def err(cls: type[DataError], msg: str, column: str | None = None, expected=None, fix=None):
        def make(batch, first, shown, n, pos):
            if callable(msg):
                text = msg(pos)
            elif column is None or "{value}" not in msg:
                text = msg
            elif column in values:  # after coercion: the number, else the cell's text
                text = msg.format(value=_fmt(values[column][first], out[column].iloc[first]))
            else:
                text = msg.format(value=_fmt(None, out[column].iloc[first]))
            theirs = names.column(column)
            return cls(
                text,
                file=src,
                column=theirs,
                batch=batch,
                rows=shown,
                n_rows=n,
                row_kind=kind,
                expected=expected() if callable(expected) else expected,
                fix=fix,
                variable=column if theirs != column else None,
            )

        make.column = column
        return make

    found.add(bid_blank, err(MissingBatchIdError, "rows without a batch id", schema.BATCH_ID))

    numeric = [schema.TIME, *[c for c in cols if c in process.names]]
    if schema.FAULT_LABEL in cols:
        numeric.append(schema.FAULT_LABEL)
    for col in numeric:
        num, bad = to_float(out[col])
        found.add(bad, err(NonNumericError, "value {value} is not a number" + _hint(col), col))
        values[col] = num

    _check_time(values[schema.TIME], codes, found, err)
    check_ranges(values, found, err, process, names, set(unchecked))
    _check_batches(values, codes, len(labels), required, min_rows, found, err)

    if found.all:
        raise combine(found.all, what="problems in the file", file=src)
    problems = [found.first[c] for c in sorted(found.first)]
    for col, v in values.items():
        if out[col].dtype != np.float64:  # assigning copies: only where the type changes
            out[col] = v
    out[schema.BATCH_ID] = bid
    keep = (codes >= 0) & ~np.isin(
        codes, np.fromiter(found.first, dtype=np.int64, count=len(found.first))
    )
    return ValidationReport(table=out[keep], problems=problems)


def _batches(names: list[str | None]) -> str | None:
    """``B1, B2, B3 and 12 more`` (None: only rows without a batch id)."""
    shown = [n for n in names if n is not None]
    if not shown:
        return None
    text = ", ".join(shown[:3])
    return text + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


def _check_batches(
    values: dict[str, np.ndarray],
    codes: np.ndarray,
    n_batches: int,
    required: Sequence[str],
    min_rows: int,
    found: _Collector,
    err,
) -> None:
    """Batches with too few rows or without any value of a required column."""
    valid = codes >= 0
    safe = np.where(valid, codes, 0)
    counts = np.bincount(codes[valid], minlength=n_batches)
    short = (counts < min_rows)[safe] & valid
    msg = "the batch has too few rows"
    found.add(short, err(ShortBatchError, msg, None, f"at least {min_rows}"))
    for col in required:
        if col in values:
            seen = np.isfinite(values[col][valid])
            has = np.bincount(codes[valid], weights=seen, minlength=n_batches)
            empty = (has == 0)[safe] & valid
            found.add(empty, err(EmptyColumnError, "no value in this batch", col))


def _check_time(t: np.ndarray, codes: np.ndarray, found: _Collector, err) -> None:
    """Missing, non-finite, duplicated or decreasing time within each batch."""
    found.add(
        ~np.isfinite(t) & ~np.isnan(t),
        err(TimeOrderError, "time {value} is not finite", schema.TIME),
    )
    found.add(np.isnan(t), err(TimeOrderError, "time is missing", schema.TIME))
    order = np.argsort(codes, kind="stable")
    tc, cc = t[order], codes[order]
    same = cc[1:] == cc[:-1]
    with np.errstate(invalid="ignore"):
        d = np.diff(tc)
    dup = np.zeros(len(t), bool)
    dec = np.zeros(len(t), bool)
    dup[order[1:][same & (d == 0)]] = True
    dec[order[1:][same & (d < 0)]] = True
    found.add(
        dup,
        err(
            TimeOrderError,
            "time {value} appears twice (duplicated row?)",
            schema.TIME,
            "time strictly increasing within a batch",
        ),
    )
    found.add(
        dec,
        err(
            TimeOrderError,
            "time goes back to {value}",
            schema.TIME,
            "rows in time order within a batch",
        ),
    )


def _hint(column: str) -> str:
    """Advice appended to a non-numeric error."""
    return " (for dates/times set time_unit: timestamp)" if column == schema.TIME else ""


def _fmt(number: float | None, cell: object) -> str:
    """Value for messages: the number when there is one, else the cell's text (short)."""
    if number is not None and not np.isnan(number):
        return f"{number:g}"
    text = repr(cell) if isinstance(cell, str) else str(cell)
    return text if len(text) <= 40 else text[:37] + "..."
