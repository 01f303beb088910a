"""Fitted preprocessing: batch table rows -> model feature matrix, state as plain values.

Every model (forecaster, autoencoder, explainers, predict) sees a batch through one
:class:`Preprocessor`, fitted on training batches only. For a batch with ``T`` rows it
produces ``(T, F)`` float32 features, built causally (row ``t`` uses rows ``<= t`` only):

- dense variables (online, control, setpoint, static): standardised value; a missing
  reading carries the last one forward (0 = training mean before the first reading);
- offline assays: the last measured value, standardised (0 before the first assay), a mask
  that is 1 on rows where the assay was taken, and the hours since it was taken / 24 (days,
  capped at ``max_age_days``);
- elapsed time ``time_h / time_scale_h``;
- for the ``history_variables`` (assays; none by default, the forecaster uses titer and VCD),
  the standardised values of the ``history_lags`` assays before the last one (``{v}:lag1``
  is the assay before the latest, ...; 0 where the batch has fewer). A recurrent net carries
  a day-old assay through 24 hourly steps only approximately; with the assay history as
  inputs it can average the noisy daily titers and see the growth curve directly (see
  ``benchmarks/titer_ridge_check.py`` and docs/architecture.md for the measured effect).

Variables in ``log_variables`` (by default none; the forecaster uses titer and VCD) are
standardised as ``log(x + log_offset)``: early in a run a titer of 50 vs. 100 mg/L is a
large relative difference that a linear scale fitted on 0-6,000 mg/L would flatten.

``feature_variables`` maps each feature column back to its variable (``time_h`` for the
clock), which is how attributions are reported per variable. The state is a dict of
floats, strings and lists (``state_dict``), so it rides in a checkpoint loaded with
``torch.load(weights_only=True)``.

The fitted state also records the process it was fitted for (:data:`PREP_FORMAT` 2): each
input's role and valid range, and the names of the product and the feed (None: the process
has none), so a loaded model never looks roles up in :mod:`forecaster.schema`. States of
format 1 (none of these) were CHO runs and are completed from the CHO preset by
:func:`upgrade_prep_state`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.data.feature_state import FeatureState, assay_lags
from forecaster.data.fill import carry_forward
from forecaster.data.prep_state import PREP_FORMAT, upgrade_prep_state
from forecaster.data.prep_state import bounds as _bounds
from forecaster.data.prep_state import described as _described
from forecaster.data.process import Process, default_process

__all__ = ["PREP_FORMAT", "FeatureState", "Preprocessor", "assay_lags", "upgrade_prep_state"]


@dataclass
class Preprocessor:
    """Scaler and feature builder for a fixed list of canonical input variables.

    Attributes:
        variables: canonical variable names used as inputs, in order.
        mean, std: per-variable statistics over observed training values (same order).
        time_scale_h: elapsed-time divisor (default 14 days).
        max_age_days: cap of the time-since-assay feature.
        roles: role of each input variable (online, offline, control, setpoint, static).
        ranges: valid ``[lo, hi]`` of each input variable in its unit (None: unbounded).
        product: the process's product (the forecasting target; need not be an input).
        feed: the process's primary feed, or None for a process without one.
        units, labels: unit and short human name of each input, the product and the feed.
        product_in_run: whether the product was assayed during the training runs (False:
            measured only at harvest; the daily curve then carries no forecast before it).
    """

    variables: list[str]
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    time_scale_h: float = 336.0
    max_age_days: float = 5.0
    log_variables: list[str] = field(default_factory=list)
    log_offset: float = 1.0
    history_variables: list[str] = field(default_factory=list)
    history_lags: int = 0
    roles: dict[str, str] = field(default_factory=dict)
    ranges: dict[str, list[float | None]] = field(default_factory=dict)
    product: str = schema.TITER
    feed: str | None = schema.FEED
    units: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    product_in_run: bool = True

    def __post_init__(self) -> None:
        named = [*self.variables, self.product, *([self.feed] if self.feed else [])]
        missing = [v for v in named if v not in self.units or v not in self.roles]
        if missing:  # built by hand without a process: the CHO preset's
            cho = default_process()
            for v in missing:
                if v not in cho.names:
                    continue
                pv = cho.variable(v)
                if v in self.variables:
                    self.roles.setdefault(v, str(pv.role))
                    self.ranges.setdefault(v, _bounds(pv.lo, pv.hi))
                self.units.setdefault(v, pv.unit)
                self.labels.setdefault(v, pv.label)

    def unit(self, variable: str) -> str:
        """Unit of an input, the product or the feed ('' if unknown)."""
        return self.units.get(variable, "")

    def label(self, variable: str) -> str:
        """Short human name of an input, the product or the feed (its name if unknown)."""
        return self.labels.get(variable) or variable

    def role(self, variable: str) -> str:
        """Role of an input variable (as fitted)."""
        return self.roles[variable]

    def bounds(self, variable: str) -> tuple[float, float]:
        """Valid range of an input variable, ``(-inf, inf)`` where unbounded."""
        lo, hi = self.ranges.get(variable, [None, None])
        return (-np.inf if lo is None else float(lo), np.inf if hi is None else float(hi))

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(
        cls,
        table: pd.DataFrame,
        variables: Sequence[str],
        log_variables: Sequence[str] = (),
        history_variables: Sequence[str] = (),
        history_lags: int = 0,
        process: Process | None = None,
    ) -> Preprocessor:
        """Fit mean/std of each variable on the observed (non-NaN) values of ``table``.

        ``history_variables`` that are not offline inputs are ignored (nothing to look back on).
        ``process`` gives the roles, ranges, product and feed (default: the CHO preset);
        a variable it does not declare raises KeyError naming the closest one.
        """
        process = process or default_process()
        variables = [str(v) for v in variables]
        try:
            declared = {v: process.variable(v) for v in variables}
        except ConfigError as err:  # a typo: KeyError naming the closest variable
            raise KeyError(str(err)) from None
        if history_lags < 0:
            raise ValueError(f"history_lags must be >= 0, got {history_lags}")
        hist = [v for v in history_variables if v in variables and declared[v].role == "offline"]
        prep = cls(
            variables=variables,
            log_variables=[v for v in log_variables if v in variables],
            history_variables=hist if history_lags else [],
            history_lags=int(history_lags) if hist else 0,
            roles={v: str(pv.role) for v, pv in declared.items()},
            ranges={v: _bounds(pv.lo, pv.hi) for v, pv in declared.items()},
            product=process.product,
            feed=process.feed,
            units=_described(process, variables, "unit"),
            labels=_described(process, variables, "label"),
        )
        mean, std = [], []
        for v in variables:
            col = prep._raw(v, table[v])
            col = col[np.isfinite(col)]
            m = float(col.mean()) if col.size else 0.0
            s = float(col.std()) if col.size > 1 else 1.0
            mean.append(m)
            std.append(s if s > 1e-8 * max(1.0, abs(m)) and s > 0 else 1.0)
        prep.mean, prep.std = mean, std
        return prep

    def _raw(self, variable: str, values) -> np.ndarray:
        """Values before standardisation (log-transformed for ``log_variables``)."""
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":
            x = values.astype(float, copy=False)
        else:
            x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
        if variable in self.log_variables:
            x = np.log(np.maximum(x, 0.0) + self.log_offset)
        return x

    # ----------------------------------------------------------- feature layout
    @property
    def dense(self) -> list[str]:
        return [v for v in self.variables if self.roles[v] != "offline"]

    @property
    def offline(self) -> list[str]:
        return [v for v in self.variables if self.roles[v] == "offline"]

    @property
    def feature_names(self) -> list[str]:
        """Names of the F feature columns, in order."""
        names = list(self.dense)
        for v in self.offline:
            names += [v, f"{v}:measured", f"{v}:age_d"]
        names.append(schema.TIME)
        for v in self.history_variables:
            names += [f"{v}:lag{k}" for k in range(1, self.history_lags + 1)]
        return names

    @property
    def feature_variables(self) -> list[str]:
        """Variable behind each feature column (``time_h`` for the clock)."""
        out = list(self.dense)
        for v in self.offline:
            out += [v, v, v]
        out.append(schema.TIME)
        for v in self.history_variables:
            out += [v] * self.history_lags
        return out

    @property
    def n_features(self) -> int:
        return (
            len(self.dense)
            + 3 * len(self.offline)
            + 1
            + self.history_lags * len(self.history_variables)
        )

    def value_index(self, variable: str) -> int:
        """Column of ``variable``'s (scaled, last-known) value in the feature matrix."""
        return self.feature_names.index(variable)

    # ---------------------------------------------------------------- transform
    def scale(self, variable: str, values: np.ndarray) -> np.ndarray:
        """Raw values (canonical units) -> the model's standardised scale."""
        i = self.variables.index(variable)
        return (self._raw(variable, values) - self.mean[i]) / self.std[i]

    def unscale(self, variable: str, values: np.ndarray) -> np.ndarray:
        """Standardised values -> canonical units."""
        i = self.variables.index(variable)
        x = np.asarray(values, dtype=float) * self.std[i] + self.mean[i]
        return np.exp(x) - self.log_offset if variable in self.log_variables else x

    def transform_batch(self, batch: pd.DataFrame) -> np.ndarray:
        """Features of one batch, rows sorted by time.

        Args:
            batch: rows of one batch (canonical columns, ``time_h`` increasing).

        Returns:
            ``(T, F)`` float32 array, causal row by row.
        """
        cols = {c: batch[c].to_numpy(dtype=float) for c in (schema.TIME, *self.variables)}
        return self.transform_arrays(cols)

    def transform_arrays(self, cols: Mapping[str, np.ndarray]) -> np.ndarray:
        """One-shot features: the kernel (:meth:`transform_chunk`) on an empty state.

        Args:
            cols: ``time_h`` and every variable of the preprocessing, ``(T,)`` float arrays
                in canonical units, NaN where nothing was read; rows sorted by time.

        Returns:
            ``(T, F)`` float32 features, causal row by row.
        """
        return self.transform_chunk(cols, self.empty_state())[0]

    def empty_state(self) -> FeatureState:
        """The carried state of a batch before its first row."""
        n_d, n_o = len(self.dense), len(self.offline)
        return FeatureState(
            dense_last=np.zeros(n_d),
            assay_value=np.zeros(n_o),
            assay_time_h=np.zeros(n_o),
            assay_has=np.zeros(n_o, dtype=bool),
            assay_history=tuple(np.zeros(0) for _ in self.history_variables),
        )

    def transform_chunk(
        self, cols: Mapping[str, np.ndarray], state: FeatureState
    ) -> tuple[np.ndarray, FeatureState]:
        """The feature kernel: the next rows of one batch -> their features and the new state.

        Every path (training, prediction, the anomaly scorers, streaming) builds features
        here. For any split of a batch into chunks, feeding them in order (each with the
        state the previous one returned) gives the one-shot rows bit for bit: the same
        float64 arithmetic, cast to float32 at the end.

        Args:
            cols: ``time_h`` and every variable of the preprocessing, ``(n,)`` float arrays
                in canonical units, NaN where nothing was read; rows sorted by time and later
                than the rows behind ``state``.
            state: from :meth:`empty_state` or the previous call; not modified.

        Returns:
            ``(n, F)`` float32 features and the state after these rows.
        """
        t = np.asarray(cols[schema.TIME], dtype=float)
        n = len(t)
        if n == 0:
            return np.zeros((0, self.n_features), np.float32), state
        stat = {v: (m, s) for v, m, s in zip(self.variables, self.mean, self.std)}
        out = np.empty((n, self.n_features), dtype=np.float64)
        k = 0
        for j, v in enumerate(self.dense):  # scaled last reading (before the first: carried)
            m, s = stat[v]
            out[:, k] = carry_forward(
                (self._raw(v, cols[v]) - m) / s, before_first=state.dense_last[j]
            )
            k += 1
        idx = np.arange(n)
        val_end, time_end, has_end = [], [], []
        for j, v in enumerate(self.offline):  # last assay, its mask, its age in days
            m, s = stat[v]
            x = self._raw(v, cols[v])
            seen = np.isfinite(x)
            last = np.maximum.accumulate(np.where(seen, idx, -1))
            here = last >= 0
            li = np.maximum(last, 0)
            val = np.where(here, (x[li] - m) / s, state.assay_value[j])
            t_last = np.where(here, t[li], state.assay_time_h[j])
            has = here | state.assay_has[j]
            out[:, k] = np.where(has, val, 0.0)
            out[:, k + 1] = seen
            age = np.minimum((t - np.where(has, t_last, 0.0)) / 24.0, self.max_age_days)
            out[:, k + 2] = np.where(has, age, np.minimum(t / 24.0, self.max_age_days))
            val_end.append(val[-1])
            time_end.append(t_last[-1])
            has_end.append(has[-1])
            k += 3
        out[:, k] = t / self.time_scale_h
        k += 1
        history = []
        for j, v in enumerate(self.history_variables):  # earlier assays
            m, s = stat[v]
            scaled = (self._raw(v, cols[v]) - m) / s
            lags, prior = assay_lags(scaled, self.history_lags, state.assay_history[j])
            out[:, k : k + self.history_lags] = lags
            history.append(prior)
            k += self.history_lags
        new = FeatureState(
            dense_last=out[-1, : len(self.dense)].copy(),
            assay_value=np.asarray(val_end, dtype=float),
            assay_time_h=np.asarray(time_end, dtype=float),
            assay_has=np.asarray(has_end, dtype=bool),
            assay_history=tuple(history),
            n_rows=state.n_rows + n,
            last_time_h=float(t[-1]),
        )
        return out.astype(np.float32), new

    def transform(self, table: pd.DataFrame) -> dict[str, np.ndarray]:
        """Features of every batch in ``table``: ``{batch_id: (T_b, F) array}``."""
        out: dict[str, np.ndarray] = {}
        for bid, g in table.groupby(schema.BATCH_ID, sort=False):
            out[str(bid)] = self.transform_batch(g.sort_values(schema.TIME))
        return out

    # -------------------------------------------------------------- persistence
    def state_dict(self) -> dict:
        """Plain-value state (lists, floats, strings): safe for ``weights_only=True``."""
        return {
            "format_version": PREP_FORMAT,
            "variables": list(self.variables),
            "mean": [float(m) for m in self.mean],
            "std": [float(s) for s in self.std],
            "time_scale_h": float(self.time_scale_h),
            "max_age_days": float(self.max_age_days),
            "log_variables": list(self.log_variables),
            "log_offset": float(self.log_offset),
            "history_variables": list(self.history_variables),
            "history_lags": int(self.history_lags),
            "roles": {v: str(self.roles[v]) for v in self.variables},
            "ranges": {v: list(self.ranges.get(v, [None, None])) for v in self.variables},
            "product": str(self.product),
            "feed": None if self.feed is None else str(self.feed),
            "units": dict(self.units),
            "labels": dict(self.labels),
            "product_in_run": bool(self.product_in_run),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping) -> Preprocessor:
        """Inverse of :meth:`state_dict`; older states go through :func:`upgrade_prep_state`."""
        state = upgrade_prep_state(state)
        return cls(
            variables=list(state["variables"]),
            mean=[float(m) for m in state["mean"]],
            std=[float(s) for s in state["std"]],
            time_scale_h=float(state["time_scale_h"]),
            max_age_days=float(state["max_age_days"]),
            log_variables=list(state["log_variables"]),
            log_offset=float(state["log_offset"]),
            history_variables=list(state["history_variables"]),
            history_lags=int(state["history_lags"]),
            roles={str(k): str(r) for k, r in state["roles"].items()},
            ranges={str(k): list(r) for k, r in state["ranges"].items()},
            product=str(state["product"]),
            feed=None if state["feed"] is None else str(state["feed"]),
            units={str(k): str(u) for k, u in state["units"].items()},
            labels={str(k): str(u) for k, u in state["labels"].items()},
            product_in_run=bool(state.get("product_in_run", True)),
        )
