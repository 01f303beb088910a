"""Checks of a batch's rows before a forecaster sees them (shared by every predict path).

:meth:`SequenceForecaster.step_outputs` and the serving layer's ``Monitor``
call :func:`check_rows` on canonical values, so a batch is refused for the same reasons
with the same one-line :class:`~forecaster.data.errors.DataError` wherever it comes in:
time missing, repeated or going back (also against the last row of an earlier chunk),
a value infinite or outside the valid range of its variable (the ranges the model's
preprocessing was fitted with; without them the CHO ``schema.VARIABLES``).
Missing cells (NaN) are fine: the features carry the last reading forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError, MissingColumnError, RangeError, TimeOrderError

#: a variable's valid range: name -> (lo, hi), infinite where unbounded
Bounds = Callable[[str], tuple[float, float]]


def _cho_bounds(name: str) -> tuple[float, float]:
    v = schema.BY_NAME[name]
    return v.lo, v.hi


def physical_bounds(
    names: Sequence[str], bounds_of: Bounds | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(V,)`` lower and upper bounds of each column (time: unbounded).

    Args:
        names: ``time_h`` and variables.
        bounds_of: a variable's range (``Preprocessor.bounds``); default the CHO schema.
    """
    of = bounds_of or _cho_bounds
    pairs = [(-np.inf, np.inf) if c == schema.TIME else of(c) for c in names]
    return np.array([p[0] for p in pairs], dtype=float), np.array(
        [p[1] for p in pairs], dtype=float
    )


def check_rows(
    block: np.ndarray,
    names: Sequence[str],
    *,
    batch: str | None = None,
    first_row: int = 1,
    prev_time_h: float = float("nan"),
    source: str | None = None,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Refuse rows a forecaster cannot use.

    Args:
        block: ``(n, V)`` canonical values; column 0 is ``time_h`` (h), the others the
            variables ``names[1:]`` in canonical units (NaN = not read).
        names: ``time_h`` and the variables, in the order of ``block``'s columns.
        batch: batch id for the message.
        first_row: row number of ``block[0]`` in the user's data (1-based).
        prev_time_h: time of the batch's last row before this block (NaN: none).
        source: where the rows came from, for the message.
        bounds: :func:`physical_bounds` of ``names`` (pass it to save the lookup).

    Raises:
        TimeOrderError: time missing, infinite, or not after the previous row.
        RangeError: a value infinite or outside its variable's physical range.
    """
    if names[0] != schema.TIME:
        raise ValueError(f"column 0 must be {schema.TIME}, got {names[0]!r}")
    t = block[:, 0]
    steps = np.diff(t, prepend=prev_time_h if np.isfinite(prev_time_h) else -np.inf)
    bad = ~np.isfinite(t) | ~(steps > 0)
    if bad.any():
        raise TimeOrderError("time is missing, repeated or not after the previous row", batch=batch,
                             column=schema.TIME, rows=first_row + np.flatnonzero(bad), file=source,
                             expected="time strictly increasing, after the last row given")  # fmt: skip
    lo, hi = bounds if bounds is not None else physical_bounds(names)
    with np.errstate(invalid="ignore"):
        out = np.isinf(block) | (block < lo) | (block > hi)
    if out.any():
        i, j = np.argwhere(out)[0]
        v = schema.BY_NAME.get(names[j])
        unit = f" {v.unit}" if v is not None and (v.lo, v.hi) == (lo[j], hi[j]) else ""
        raise RangeError(f"value {block[i, j]:g} is outside the physical range", batch=batch,
                         column=names[j], rows=first_row + np.flatnonzero(out[:, j]), file=source,
                         expected=f"{lo[j]:g} to {hi[j]:g}{unit}")  # fmt: skip


def check_batch(
    rows: pd.DataFrame,
    variables: Sequence[str],
    source: str | None = None,
    bounds_of: Bounds | None = None,
) -> None:
    """:func:`check_rows` on one batch's rows (sorted by time) for the given variables,
    with their ranges from ``bounds_of`` (``Preprocessor.bounds``; default the CHO schema).

    Raises:
        DataError: rows of several batches.
        MissingColumnError: ``time_h`` or a variable is not a column of ``rows``.
        TimeOrderError, RangeError: as :func:`check_rows`.
    """
    names = [schema.TIME, *variables]
    for c in names:
        if c not in rows.columns:
            raise MissingColumnError(c, available=list(rows.columns), file=source)
    bid = None
    if schema.BATCH_ID in rows and len(rows):
        ids = rows[schema.BATCH_ID].astype(str).unique()
        if len(ids) > 1:
            raise DataError(
                f"rows of {len(ids)} batches ({', '.join(ids[:3])}, ...) given as one batch",
                file=source,
                expected="the rows of one batch (group by batch_id first)",
            )
        bid = str(ids[0])
    check_rows(rows[names].to_numpy(dtype=float), names, batch=bid, source=source,
               bounds=physical_bounds(names, bounds_of))  # fmt: skip
