"""``ridge_summary``: the batch-PLS style predictor for a product measured only at harvest.

When the product has no in-run assays there is no history to extrapolate; the classical
batch predictor regresses the harvest value on what is known at the origin instead: the
static (known-at-start) inputs, the set points and summaries of every other signal up to
the origin. For origin day d the features of each input column are its last value and its
mean over the prefix (NaN cells skipped); the rest is :class:`RidgeHistory`'s (one
``RidgeCV`` per origin day on standardised features, training medians for missing ones,
log harvest target, plain-array state).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.ladder.ridge import RidgeHistory


def summary_features(rows: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """``(2 * len(columns),)``: last value then mean of each column over ``rows`` (NaN if none)."""
    out = np.full(2 * len(columns), np.nan)
    for j, c in enumerate(columns):
        x = rows[c].to_numpy(dtype=float)
        x = x[np.isfinite(x)]
        if x.size:
            out[j], out[len(columns) + j] = x[-1], x.mean()
    return out


class RidgeSummary(RidgeHistory):
    """Ridge regression of the log harvest product on input summaries up to the origin.

    Args:
        product: the column forecast.
        inputs: the model inputs to summarise (the product itself is never one).
    """

    name = "ridge_summary"
    needs_in_run_product = False

    def __init__(self, product: str = schema.TITER, inputs: Sequence[str] = ()) -> None:
        super().__init__(product)
        self.inputs = tuple(str(v) for v in inputs if v != product)

    def _columns(self, batches: list[pd.DataFrame]) -> tuple[str, ...]:
        """The inputs present in every training batch."""
        return tuple(c for c in self.inputs if all(c in b.columns for b in batches))

    def _features(self, rows: pd.DataFrame, day: int) -> np.ndarray:
        return summary_features(rows, self.columns)
