"""What the features of a running batch carry from row to row, and the assay-lag kernel.

Split from :mod:`forecaster.data.features` (which re-exports both).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureState:
    """What the features of a batch's next rows depend on from its earlier rows.

    Returned by :meth:`Preprocessor.transform_chunk` and passed back with the next chunk
    (:class:`~forecaster.data.streaming.StreamingFeatures` keeps it for a running batch).

    Attributes:
        dense_last: ``(V_dense,)`` scaled last reading of each dense variable (0 before any).
        assay_value: ``(V_offline,)`` scaled last assay of each offline variable.
        assay_time_h: ``(V_offline,)`` time of that assay, h.
        assay_has: ``(V_offline,)`` whether an assay was taken yet.
        assay_history: per history variable, its last ``history_lags + 1`` scaled assays
            (oldest first; see :func:`assay_lags`).
        n_rows: rows consumed so far.
        last_time_h: time of the last row consumed, h (NaN before the first).
    """

    dense_last: np.ndarray
    assay_value: np.ndarray
    assay_time_h: np.ndarray
    assay_has: np.ndarray
    assay_history: tuple[np.ndarray, ...]
    n_rows: int = 0
    last_time_h: float = float("nan")


def assay_lags(
    x: np.ndarray, k: int, prior: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Earlier assays at every row: column j is the (j+2)-th most recent assay (j = 0: the one
    before the latest) taken at or before the row, 0 where there is none.

    Args:
        x: (n,) scaled assay values, NaN on rows without an assay.
        k: number of lags.
        prior: assays of earlier rows (oldest first), for a batch fed chunk by chunk.

    Returns:
        ``(n, k)`` lags and the last ``k + 1`` assays seen (the ``prior`` of the next chunk).
    """
    prior = np.zeros(0) if prior is None else np.asarray(prior, dtype=float)
    seen = np.isfinite(x)
    vals = np.concatenate([prior, x[seen]])
    count = len(prior) + np.cumsum(seen)  # assays at or before each row
    out = np.zeros((len(x), k))
    for j in range(k):
        pos = count - 2 - j
        if vals.size:
            out[:, j] = np.where(pos >= 0, vals[np.minimum(np.maximum(pos, 0), vals.size - 1)], 0.0)
    return out, vals[max(0, vals.size - (k + 1)) :]
