"""process-improve's online batch monitoring, run in bulk, and the equal-false-alarm tools.

``PeerMonitor`` wraps ``process_improve.batch.BatchPCA`` and ``BatchMonitor`` for batches of
our table layout (rows of one batch: ``time_h`` and the variables). ``BatchMonitor`` asks its
model for a batch's online trace (the score estimate after every sample, the unseen future
treated as missing); ``BatchPCA.predict_online_trace`` rebuilds the trimmed-score-regression
operator of all 337 hourly patterns for every batch (about 1-3 s a batch here). The library
also exposes that operator, ``PCA.projection_matrix``, for callers that revisit one pattern
many times, so :class:`TraceServer` builds each hour's operator once and serves the same
traces to ``BatchMonitor`` for every batch (``tests/benchmarks/test_bench_peer_monitor.py``
checks they equal ``predict_online_trace``'s). The limits, the T2 and the alarms stay the
library's own.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from process_improve.batch import BatchMonitor, BatchPCA
from process_improve.multivariate import PCA
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch
from threadpoolctl import threadpool_limits

from forecaster import schema
from forecaster.anomaly.events import AlarmEvent, find_spans

#: Event closing / merging of the peer's alarms: those of our autoencoder (anomaly config).
CLEAR_STEPS, MERGE_GAP_H = 6, 12.0
SPE_STATISTICS = ("cumulative", "instantaneous")


class TraceServer(BaseEstimator):
    """Stands in for a fitted ``BatchPCA`` inside ``BatchMonitor``: serves precomputed traces.

    Args:
        model: the fitted batch model.
        pca: a ``process_improve.multivariate.PCA`` fitted on ``model``'s scaled training
            matrix (the same fit as the model's own; checked).
    """

    def __init__(self, model: BatchPCA, pca: PCA):
        if not np.allclose(
            pca.loadings_.to_numpy(float), model.loadings_.to_numpy(float), atol=1e-8
        ):
            raise RuntimeError("the refitted PCA does not reproduce BatchPCA's loadings")
        self.model, self.pca = model, pca
        self.n_timesteps_, self.loadings_ = int(model.n_timesteps_), model.loadings_
        seq = np.array([int(s) for s in model.feature_columns_.get_level_values("sequence")])
        # Columns in time order, so the cells seen after k samples are the first k * tags:
        # slices, not copies. Each hour's operator is the library's, its columns reordered.
        self._order = np.argsort(seq, kind="stable")
        self._width = np.searchsorted(seq[self._order], np.arange(1, self.n_timesteps_ + 1))
        self._ops = []
        for k in range(1, self.n_timesteps_ + 1):
            op = pca.projection_matrix(seq < k, method="tsr").matrix.to_numpy(float)
            self._ops.append(op[:, np.argsort(seq[seq < k], kind="stable")])
        self._cache: dict[int, tuple[pd.DataFrame, Bunch]] = {}

    def fit(self, *args, **kwargs) -> TraceServer:
        """Not fittable: it serves a fitted model's traces."""
        raise TypeError("TraceServer serves a fitted BatchPCA; fit the BatchPCA instead")

    def add(self, batches: dict[str, pd.DataFrame]) -> None:
        """Compute and keep the online trace of every batch (aligned, the model's tags).

        Each trace is that of ``BatchPCA.predict_online_trace`` (method ``tsr``): row
        ``k - 1`` uses samples ``0 .. k-1``.
        """
        x = self.model.unfold_and_scale(batches).to_numpy(float)[:, self._order]
        n, n_t = len(batches), self.n_timesteps_
        p = self.loadings_.to_numpy(float)[self._order]
        scores, spe, spe_new = (
            np.empty((n, n_t, p.shape[1])),
            np.empty((n, n_t)),
            np.empty((n, n_t)),
        )
        for k in range(n_t):
            w, w0 = self._width[k], self._width[k - 1] if k else 0
            t = x[:, :w] @ self._ops[k].T  # (n, components)
            resid = x[:, :w] - t @ p[:w].T
            scores[:, k] = t
            spe[:, k] = np.sqrt(np.einsum("ij,ij->i", resid, resid))
            spe_new[:, k] = np.sqrt(np.einsum("ij,ij->i", resid[:, w0:], resid[:, w0:]))
        s = self.pca.scaling_factor_for_scores_.to_numpy(float)
        cols = self.model.scores_.columns
        for i, batch in enumerate(batches.values()):
            self._cache[id(batch)] = (batch, Bunch(
                time=np.arange(1, n_t + 1), scores=pd.DataFrame(scores[i], columns=cols),
                hotellings_t2=np.sum((scores[i] / s) ** 2, axis=1), spe=spe[i],
                spe_instantaneous=spe_new[i], condition_number=np.full(n_t, np.nan),
            ))  # fmt: skip

    def drop(self) -> None:
        """Forget the kept traces."""
        self._cache.clear()

    def predict_online_trace(self, batch: pd.DataFrame, *, initial_conditions=None,
                             method: str = "tsr", ridge: float = 0.0) -> Bunch:  # fmt: skip
        """The kept trace of ``batch`` (the same object given to :meth:`add`)."""
        if method != "tsr" or ridge or initial_conditions is not None:
            raise ValueError("TraceServer holds tsr traces without ridge or initial conditions")
        got = self._cache.get(id(batch))
        if got is None or got[0] is not batch:
            raise KeyError("no trace kept for this batch; call add() with it first")
        return got[1]


class PeerMonitor:
    """process-improve's batch PCA monitor on tables of our layout.

    Args:
        variables: the columns to monitor (their trajectories are unfolded batchwise).
        n_components: PCA components.
        conf_level: confidence of ``BatchMonitor``'s per-sample limits.
    """

    def __init__(self, variables: list[str], n_components: int = 5, conf_level: float = 0.99):
        self.variables = list(variables)
        self.n_components, self.conf_level = int(n_components), float(conf_level)

    def aligned(self, bid: str, rows: pd.DataFrame, n_timesteps: int | None = None) -> pd.DataFrame:
        """One batch as a (samples, variables) frame: daily assays carried forward (online).

        Raises:
            ValueError: a column is missing or has no first value, or the batch has another
                length.
        """
        missing = [v for v in (schema.TIME, *self.variables) if v not in rows]
        if missing:
            raise ValueError(f"batch {bid}: columns {missing} missing (need {self.variables})")
        x = rows.sort_values(schema.TIME)[self.variables].ffill().reset_index(drop=True)
        empty = [v for v in self.variables if x[v].isna().any()]
        if empty:  # carried forward only: a value from later would leak the future
            raise ValueError(f"batch {bid}: columns {empty} have no value at the first row")
        if n_timesteps is not None and len(x) != n_timesteps:
            raise ValueError(f"batch {bid}: {len(x)} rows, the model was fitted on {n_timesteps} "
                             "(batch PCA needs aligned batches of one length)")  # fmt: skip
        return x.astype(float)

    def fit(self, batches: dict[str, pd.DataFrame]) -> PeerMonitor:
        """Fit the batch PCA and the monitor's limits on fault-free batches (rows per id)."""
        if len(batches) <= self.n_components + 1:
            raise ValueError(f"the peer needs more than {self.n_components + 1} reference batches "
                             f"for {self.n_components} components, got {len(batches)}")  # fmt: skip
        first = next(iter(batches))
        n_t = len(self.aligned(first, batches[first]))
        ref = {b: self.aligned(b, r, n_t) for b, r in batches.items()}
        a = self.n_components
        with threadpool_limits(1):
            self.model_ = BatchPCA(n_components=a).fit(ref)
            pca = PCA(n_components=a).fit(self.model_.unfold_and_scale(ref))
            self.server_ = TraceServer(self.model_, pca)
            self.server_.add(ref)
            self.monitors_ = {stat: BatchMonitor(self.server_, conf_level=self.conf_level,
                                                 spe_statistic=stat).fit(ref)
                              for stat in SPE_STATISTICS}  # fmt: skip
            self.server_.drop()
        self.n_reference_ = len(ref)
        return self

    def summary(self) -> dict:
        """Plain values describing the fitted model."""
        return {"n_components": int(self.model_.loadings_.shape[1]), "n_reference_batches": self.n_reference_,
                "n_timesteps": int(self.model_.n_timesteps_),
                "r2_cumulative": round(float(self.model_.r2_cumulative_.iloc[-1]), 4)}  # fmt: skip

    def ratios(
        self, groups: dict[str, pd.DataFrame], chunk: int = 64
    ) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
        """Per SPE statistic, per batch ``(time_h, max(T2 / T2 limit, SPE / SPE limit))``.

        A row's ratio uses that row and the earlier ones only (online); an alarm at limit
        scale ``c`` is a row with ratio > ``c``. Both of ``BatchMonitor``'s SPE statistics
        (``cumulative``, ``instantaneous``) are returned, the T2 being the same in both.
        """
        n_t = int(self.model_.n_timesteps_)
        out: dict[str, dict] = {stat: {} for stat in self.monitors_}
        ids = list(groups)
        with threadpool_limits(1):  # many small products: threads only contend
            for i in range(0, len(ids), chunk):
                part = {b: self.aligned(b, groups[b], n_t) for b in ids[i : i + chunk]}
                self.server_.add(part)
                for b, batch in part.items():
                    t = np.sort(groups[b][schema.TIME].to_numpy(float))
                    for stat, mon in self.monitors_.items():
                        r = mon.monitor(batch)
                        ratio = np.maximum(r.hotellings_t2 / r.t2_limit, r.spe / r.spe_limit)
                        out[stat][b] = (t, ratio)
                self.server_.drop()
        return out


def events_from_ratio(bid: str, t: np.ndarray, ratio: np.ndarray, scale: float) -> list[AlarmEvent]:
    """The peer's alarm events of one batch at limit scale ``scale`` (ratio > scale)."""
    spans = find_spans(t, ratio > scale, ratio, 1, 0.0, CLEAR_STEPS, MERGE_GAP_H)
    return [AlarmEvent(bid, "peer", s.start_h, s.raised_h, s.end_h, float(s.peak), float(scale), open=s.open)
            for s in spans]  # fmt: skip


def false_alarm_rate(events: list[AlarmEvent], free_days: float, prefix: str = "twin-") -> float:
    """Events on the fault-free batches (ids starting with ``prefix``) per 100 batch-days."""
    return round(100.0 * sum(e.batch_id.startswith(prefix) for e in events) / free_days, 3)


def scale_for_rate(free: dict[str, tuple[np.ndarray, np.ndarray]], target: float, free_days: float,
                   iters: int = 40) -> float:  # fmt: skip
    """Smallest limit scale (to bisection precision) whose false-alarm rate is <= ``target``.

    Args:
        free: fault-free batches' ``(time_h, ratio)`` (ids starting with ``twin-``).
        target: false alarms per 100 batch-days not to exceed.
        free_days: batch-days of ``free``.
    """

    def rate(c: float) -> float:
        ev = [e for b, (t, r) in free.items() for e in events_from_ratio(b, t, r, c)]
        return 100.0 * len(ev) / free_days

    hi = max(float(np.max(r)) for _, r in free.values()) * (1 + 1e-9) + 1e-12  # no alarm above
    lo = 1e-6
    if rate(lo) <= target:
        return lo
    for _ in range(iters):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if rate(mid) <= target else (mid, hi)
    return hi
