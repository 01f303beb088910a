"""Incremental model features for a running batch, equal to ``Preprocessor.transform_batch``.

A running batch gets new rows every hour. Rebuilding the ``(T, F)`` features of the whole
history each time costs O(T) per update; :class:`StreamingFeatures` keeps the little state
the features depend on (last reading of every dense variable, last assay value and time of
every offline variable) and turns each chunk of new rows into its feature rows in O(rows).

The result is the same as the one-shot transform: for any split of a batch into chunks,
``concatenate([s.update(chunk) for chunk in chunks]) == prep.transform_batch(batch)``
(bit for bit: the same float64 arithmetic, cast to float32 at the end).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.features import Preprocessor, assay_lags


class StreamingFeatures:
    """Feature builder for one running batch, fed chunk by chunk in time order.

    Args:
        prep: the fitted preprocessing of the model.

    Attributes:
        n_rows: rows consumed so far.
        last_time_h: time of the last row consumed (NaN before the first).
    """

    def __init__(self, prep: Preprocessor) -> None:
        self.prep = prep
        self._dense = prep.dense
        self._offline = prep.offline
        idx = {v: i for i, v in enumerate(prep.variables)}
        self._d_mean = np.array([prep.mean[idx[v]] for v in self._dense], dtype=float)
        self._d_std = np.array([prep.std[idx[v]] for v in self._dense], dtype=float)
        self._o_mean = np.array([prep.mean[idx[v]] for v in self._offline], dtype=float)
        self._o_std = np.array([prep.std[idx[v]] for v in self._offline], dtype=float)
        logs = set(getattr(prep, "log_variables", ()))
        self._d_log = np.array([v in logs for v in self._dense], dtype=bool)
        self._o_log = np.array([v in logs for v in self._offline], dtype=bool)
        # carried state; before any reading a dense value is 0 (the training mean)
        self._d_last = np.zeros(len(self._dense))
        self._o_val = np.zeros(len(self._offline))  # scaled last assay
        self._o_time = np.zeros(len(self._offline))  # time of the last assay (h)
        self._o_has = np.zeros(len(self._offline), dtype=bool)
        # earlier assays of the history variables (scaled, oldest first; see ``assay_lags``)
        self._h_col = [self._offline.index(v) for v in prep.history_variables]
        self._h_prior = [np.zeros(0) for _ in self._h_col]
        self.n_rows = 0
        self.last_time_h = float("nan")

    def update(self, rows: pd.DataFrame) -> np.ndarray:
        """Feature rows of the new rows.

        Args:
            rows: new rows of the batch (canonical columns, ``time_h`` increasing and later
                than every row seen before).

        Returns:
            ``(n_new, F)`` float32, identical to the matching rows of ``transform_batch`` on
            the whole history.
        """
        t = rows[schema.TIME].to_numpy(dtype=float)
        dense = (
            np.stack([rows[v].to_numpy(dtype=float) for v in self._dense], 1)
            if self._dense
            else np.zeros((len(t), 0))
        )
        off = (
            np.stack([rows[v].to_numpy(dtype=float) for v in self._offline], 1)
            if self._offline
            else np.zeros((len(t), 0))
        )
        return self.update_arrays(t, dense, off)

    def _raw(self, values: np.ndarray, log: np.ndarray) -> np.ndarray:
        """Values before standardisation: ``Preprocessor._raw`` (log for its log variables)."""
        x = np.array(values, dtype=float)
        if log.any():
            x[:, log] = np.log(np.maximum(x[:, log], 0.0) + self.prep.log_offset)
        return x

    def update_arrays(self, t: np.ndarray, dense: np.ndarray, offline: np.ndarray) -> np.ndarray:
        """Same as :meth:`update` from arrays (faster: no DataFrame).

        Args:
            t: (n,) times (h).
            dense: (n, len(prep.dense)) raw values in canonical units (NaN = missing).
            offline: (n, len(prep.offline)) raw assay values (NaN = not taken).

        Returns:
            (n, F) float32 features.
        """
        t = np.asarray(t, dtype=float)
        n = len(t)
        if n == 0:
            return np.zeros((0, self.prep.n_features), np.float32)
        rows = np.arange(n)[:, None]
        # dense: scaled value, last one carried forward (from earlier chunks too)
        x = (self._raw(dense, self._d_log) - self._d_mean) / self._d_std
        seen = np.isfinite(x)
        last = np.maximum.accumulate(np.where(seen, rows, -1), axis=0)
        cols = np.arange(x.shape[1])[None, :]
        d_out = np.where(last >= 0, x[np.clip(last, 0, None), cols], self._d_last[None, :])
        # offline: last assay (value, time), its mask, its age in days
        raw = self._raw(offline, self._o_log)
        o_seen = np.isfinite(raw)
        o_last = np.maximum.accumulate(np.where(o_seen, rows, -1), axis=0)
        ocols = np.arange(raw.shape[1])[None, :]
        here = o_last >= 0
        safe = np.clip(o_last, 0, None)
        val = np.where(here, (raw[safe, ocols] - self._o_mean) / self._o_std, self._o_val)
        t_last = np.where(here, t[safe], self._o_time)
        has = here | self._o_has
        cap = self.prep.max_age_days
        age = np.where(
            has,
            np.minimum((t[:, None] - np.where(has, t_last, 0.0)) / 24.0, cap),
            np.minimum(t[:, None] / 24.0, cap),
        )
        val = np.where(has, val, 0.0)
        parts = [d_out]
        if raw.shape[1]:
            trip = np.stack([val, o_seen.astype(float), age], axis=2)  # (n, V_off, 3)
            parts.append(trip.reshape(n, -1))
        parts.append((t / self.prep.time_scale_h)[:, None])
        for j, c in enumerate(self._h_col):
            scaled = (raw[:, c] - self._o_mean[c]) / self._o_std[c]
            lags, self._h_prior[j] = assay_lags(scaled, self.prep.history_lags, self._h_prior[j])
            parts.append(lags)
        out = np.concatenate(parts, axis=1).astype(np.float32)
        # carry the state into the next chunk
        if x.shape[1]:
            self._d_last = d_out[-1].copy()
        if raw.shape[1]:
            self._o_val, self._o_time, self._o_has = (
                val[-1].copy(),
                t_last[-1].copy(),
                has[-1].copy(),
            )
        self.n_rows += n
        self.last_time_h = float(t[-1])
        return out
