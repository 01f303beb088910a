"""Time grids: the row and assay cadence of a table, and whether new data match a run's.

A run records the cadence it was trained on (:func:`detect_cadence`); prediction compares
new data with it (:func:`check_cadence`): a cadence within a factor ``tolerance`` passes, a
finer one is resampled onto the trained grid, a coarser one is refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster.data.errors import DataError

__all__ = ["Cadence", "check_cadence", "detect_cadence"]
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Cadence:
    """Median spacing of a table's rows and assays, in hours.

    Attributes:
        row_h: median row spacing over all batches [h].
        assay_h: variable -> median spacing of its non-empty values [h] (offline columns).
    """

    row_h: float
    assay_h: Mapping[str, float]

    def to_dict(self) -> dict:
        """Plain values with a format version (stored with the run)."""
        return {
            "format_version": FORMAT_VERSION,
            "row_h": self.row_h,
            "assay_h": dict(self.assay_h),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Cadence:
        """Inverse of :meth:`to_dict`."""
        return cls(float(data["row_h"]), {k: float(v) for k, v in data.get("assay_h", {}).items()})


def _median_step(times: pd.Series, batch: pd.Series) -> float:
    steps = times.groupby(batch, sort=False).diff().dropna()
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else float("nan")


def detect_cadence(
    table: pd.DataFrame, assays: Sequence[str] = (), batch: str = "batch_id", time: str = "time_h"
) -> Cadence:
    """The median row spacing per batch and each assay's median spacing [h].

    Args:
        table: canonical long table, one row per (batch, time), time in hours.
        assays: offline columns whose own cadence is measured (their non-empty rows).
    """
    row_h = _median_step(table[time], table[batch])
    assay_h = {}
    for name in assays:
        if name in table:
            seen = table[table[name].notna()]
            step = _median_step(seen[time], seen[batch])
            if np.isfinite(step):
                assay_h[name] = step
    return Cadence(row_h, assay_h)


def check_cadence(trained: Cadence, new: Cadence, tolerance: float = 1.5) -> str:
    """Compare new data's cadence with the trained one.

    Returns:
        ``"same"`` (within a factor ``tolerance``) or ``"resample"`` (the new rows are finer:
        resample them onto ``trained.row_h``).

    Raises:
        DataError: the new rows are coarser than the trained grid (resampling would invent
            values between rows); the message gives both cadences.
    """
    if not (np.isfinite(trained.row_h) and np.isfinite(new.row_h)):
        return "same"  # one row per batch: nothing to compare
    ratio = new.row_h / trained.row_h
    if 1 / tolerance <= ratio <= tolerance:
        return "same"
    if ratio < 1:
        return "resample"
    raise DataError(
        f"rows arrive every {new.row_h:g} h but the run was trained on rows every "
        f"{trained.row_h:g} h; coarser data would leave the models' inputs to be invented",
        expected=f"rows every {trained.row_h:g} h or finer (finer data are resampled)",
    )
