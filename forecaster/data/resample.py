"""Put batches logged at irregular or minute-level times on a regular time grid.

Grid row ``k`` of a batch sits at ``time_h = k * step_h`` and summarises the readings in
``((k - 1) * step_h, k * step_h]``: labelling a bin by its right edge keeps the grid causal
(a grid row never holds a reading taken after its time). Dense variables take the mean of
the bin, offline assays the last value in the bin (NaN if none), ``fault_label`` the
maximum, other columns the last value. Bins without any reading are NaN rows, so the grid
of a batch has no holes between its first and last reading.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.data.process import Process


def resample(table: pd.DataFrame, step_h: float, process: Process | None = None) -> pd.DataFrame:
    """Regular grid per batch.

    Args:
        table: validated batch table (numeric ``time_h``, no missing batch ids).
        step_h: grid step in hours (> 0).
        process: whose offline assays take the last value (default: the CHO preset's).

    Returns:
        New table, batches sorted by id, ``time_h`` = multiples of ``step_h``, RangeIndex.
    """
    try:
        step = float(step_h)
    except (TypeError, ValueError):
        step = math.nan
    if not math.isfinite(step) or step <= 0:
        raise ConfigError(f"resample step must be a positive number of hours, got {step_h!r}")
    t = table[schema.TIME].to_numpy(dtype=float)
    # Round first so that 24.000000001 h stays in the 24 h bin.
    k = np.ceil(np.round(t / step, 6)).astype(np.int64)
    offline = set(schema.OFFLINE if process is None else process.with_role("offline"))
    work = table.drop(columns=[schema.TIME]).assign(_k=k)
    aggs = {}
    for col in work.columns:
        if col in (schema.BATCH_ID, "_k"):
            continue
        if col == schema.FAULT_LABEL:
            aggs[col] = "max"
        elif col in offline or not pd.api.types.is_numeric_dtype(work[col].dtype):
            aggs[col] = "last"
        else:
            aggs[col] = "mean"
    binned = work.groupby([schema.BATCH_ID, "_k"], sort=True).agg(aggs)
    span = binned.index.to_frame(index=False).groupby(schema.BATCH_ID, sort=True)["_k"]
    lo, hi = span.min(), span.max()
    n = (hi - lo + 1).to_numpy()
    batches = np.repeat(lo.index.to_numpy(dtype=object), n)
    starts = np.repeat(lo.to_numpy(), n)
    offsets = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    grid = pd.MultiIndex.from_arrays([batches, starts + offsets], names=[schema.BATCH_ID, "_k"])
    out = binned.reindex(grid).reset_index()
    out.insert(1, schema.TIME, out.pop("_k").to_numpy(dtype=float) * step)
    return out[[c for c in table.columns if c in out.columns]]
