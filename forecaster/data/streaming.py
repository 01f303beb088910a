"""Incremental model features for a running batch, equal to ``Preprocessor.transform_batch``.

A running batch gets new rows every hour. Rebuilding the ``(T, F)`` features of the whole
history each time costs O(T) per update; :class:`StreamingFeatures` keeps the little state
the features depend on (:class:`~forecaster.data.features.FeatureState`: last reading of
every dense variable, last assay value and time of every offline variable, earlier assays)
and hands each chunk of new rows to the one feature kernel,
:meth:`Preprocessor.transform_chunk`, in O(rows).

The result is the same as the one-shot transform: for any split of a batch into chunks,
``concatenate([s.update(chunk) for chunk in chunks]) == prep.transform_batch(batch)``
(bit for bit: both are the kernel, the one-shot on an empty state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.features import FeatureState, Preprocessor


class StreamingFeatures:
    """Feature builder for one running batch, fed chunk by chunk in time order.

    Args:
        prep: the fitted preprocessing of the model.

    Attributes:
        state: the carried kernel state after the rows consumed so far.
    """

    def __init__(self, prep: Preprocessor) -> None:
        self.prep = prep
        self._dense = prep.dense
        self._offline = prep.offline
        self.state: FeatureState = prep.empty_state()

    @property
    def n_rows(self) -> int:
        """Rows consumed so far."""
        return self.state.n_rows

    @property
    def last_time_h(self) -> float:
        """Time of the last row consumed, h (NaN before the first)."""
        return self.state.last_time_h

    def update(self, rows: pd.DataFrame) -> np.ndarray:
        """Feature rows of the new rows.

        Args:
            rows: new rows of the batch (canonical columns, ``time_h`` increasing and later
                than every row seen before).

        Returns:
            ``(n_new, F)`` float32, identical to the matching rows of ``transform_batch`` on
            the whole history.
        """
        cols = {c: rows[c].to_numpy(dtype=float) for c in (schema.TIME, *self.prep.variables)}
        return self._consume(cols)

    def update_arrays(self, t: np.ndarray, dense: np.ndarray, offline: np.ndarray) -> np.ndarray:
        """Same as :meth:`update` from arrays (no DataFrame).

        Args:
            t: (n,) times (h).
            dense: (n, len(prep.dense)) raw values in canonical units (NaN = missing).
            offline: (n, len(prep.offline)) raw assay values (NaN = not taken).

        Returns:
            (n, F) float32 features.
        """
        dense, offline = np.asarray(dense, dtype=float), np.asarray(offline, dtype=float)
        cols = {schema.TIME: np.asarray(t, dtype=float)}
        cols.update({v: dense[:, j] for j, v in enumerate(self._dense)})
        cols.update({v: offline[:, j] for j, v in enumerate(self._offline)})
        return self._consume(cols)

    def _consume(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        x, self.state = self.prep.transform_chunk(cols, self.state)
        return x
