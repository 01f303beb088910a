"""Engineered tabular features of batch prefixes, for the RandomForest baseline.

A *prefix* is the rows of one batch with ``time_h <= origin``; its features use those rows
only, so a finished batch and a running one give the same numbers at the same hour. For a
list of canonical input variables the features of the prefix ending at row ``t`` are:

- dense variables (online, control, setpoint): the current value (last reading carried
  forward) and its slope over the last ``slope_window_h`` hours (unit/h); static variables:
  the value only;
- offline assays: the last measured value, its age (h), the slope between the last two
  measurements (unit/h) and, for VCD, the integral of viable cells so far
  (IVCD, 1e6 cells·h/mL, trapezoid over the assays taken up to ``t``);
- the process's feed (``feed_rate_mL_h`` for CHO; only if it is an input): the cumulative
  feed volume pumped (its unit x h);
- ``volume_L``: the volume added since the first row (L; feed + base - samples);
- the elapsed time ``time_h``.

A value that is not known yet (no assay so far, fewer than two assays) is NaN: the forest
handles missing values natively, and no value is invented. Each feature names its source
variable in :attr:`TabularFeatures.feature_variables` (``time_h`` for the clock), which is how
importances are reported per canonical variable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError, MissingColumnError, ShortBatchError, TimeOrderError
from forecaster.data.fill import carry_forward, last_index

VCD = "vcd_1e6_cells_mL"
IVCD_FEATURE = f"{VCD}:ivcd_1e6_cells_h_mL"
CUM_FEED_FEATURE = f"{schema.FEED}:cumulative_mL"


def cumulative_feature(feed: str) -> str:
    """Name of the cumulative-feed feature (``feed_rate_mL_h:cumulative_mL`` for CHO)."""
    return CUM_FEED_FEATURE if feed == schema.FEED else f"{feed}:cumulative"


VOLUME_ADDED_FEATURE = "volume_L:added_L"


@dataclass(frozen=True)
class TabularFeatures:
    """Feature builder for a fixed list of canonical input variables.

    Attributes:
        variables: canonical input variable names, in order.
        slope_window_h: window of the dense-variable slopes (hours).
        roles: ``(variable, role)`` of each input (the process's; empty: the CHO schema's).
        feed: the process's feed (its cumulative volume is a feature when it is an input).
    """

    variables: tuple[str, ...]
    slope_window_h: float = 6.0
    roles: tuple[tuple[str, str], ...] = ()
    feed: str | None = schema.FEED

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(str(v) for v in self.variables))
        given = dict(self.roles)
        for v in self.variables:
            if v not in given:
                given[v] = schema.variable(v).role  # raises with a suggestion on typos
        object.__setattr__(self, "roles", tuple((v, str(given[v])) for v in self.variables))
        if len(set(self.variables)) != len(self.variables):
            raise ConfigError(f"duplicate input variables in {list(self.variables)}")
        if not self.slope_window_h > 0:
            raise ConfigError(f"slope_window_h = {self.slope_window_h}", expected="> 0 hours")

    # ------------------------------------------------------------------ layout
    @cached_property
    def role(self) -> dict[str, str]:
        """Role of each input."""
        return dict(self.roles)

    @cached_property
    def dense(self) -> list[str]:
        """Dense inputs (every role but offline), in input order."""
        return [v for v in self.variables if self.role[v] != "offline"]

    @cached_property
    def sloped(self) -> list[str]:
        """Dense inputs that get a slope feature (static ones do not change in a batch)."""
        return [v for v in self.dense if self.role[v] != "static"]

    @cached_property
    def offline(self) -> list[str]:
        """Offline assay inputs, in input order."""
        return [v for v in self.variables if self.role[v] == "offline"]

    @cached_property
    def _layout(self) -> list[tuple[str, str]]:
        w = f"{self.slope_window_h:g}h"
        out = [(v, v) for v in self.dense]
        out += [(f"{v}:slope_{w}_per_h", v) for v in self.sloped]
        for v in self.offline:
            out += [(f"{v}:last", v), (f"{v}:age_h", v), (f"{v}:slope_per_h", v)]
        if VCD in self.offline:
            out.append((IVCD_FEATURE, VCD))
        if self.feed is not None and self.feed in self.variables:
            out.append((cumulative_feature(self.feed), self.feed))
        if "volume_L" in self.variables:
            out.append((VOLUME_ADDED_FEATURE, "volume_L"))
        return out + [(schema.TIME, schema.TIME)]

    @cached_property
    def feature_names(self) -> list[str]:
        """Names of the P feature columns, in order."""
        return [n for n, _ in self._layout]

    @cached_property
    def feature_variables(self) -> list[str]:
        """Canonical variable behind each feature column (``time_h`` for the clock)."""
        return [v for _, v in self._layout]

    @cached_property
    def n_features(self) -> int:
        return len(self._layout)

    # ---------------------------------------------------------------- building
    def at_rows(self, rows: pd.DataFrame, idx: np.ndarray | None = None) -> np.ndarray:
        """Features of the prefixes of one batch ending at the given rows, in one pass.

        Args:
            rows: rows of one batch, ``time_h`` strictly increasing.
            idx: ``(N,)`` row positions of the origins; default every row.

        Returns:
            ``(N, P)`` float64; row ``n`` uses ``rows[: idx[n] + 1]`` only.
        """
        t, dense, raw = self._arrays(rows)
        if np.any(np.diff(t) <= 0):
            raise TimeOrderError(
                "time_h not increasing",
                batch=_batch_of(rows),
                column=schema.TIME,
                expected="rows sorted by strictly increasing time_h",
            )
        return self._build(t, dense, raw, idx)

    def _build(
        self, t: np.ndarray, dense: np.ndarray, raw: np.ndarray, idx: np.ndarray | None
    ) -> np.ndarray:
        """Features from ``t (T,)``, dense ``(T, Vd)`` and assay ``(T, Vo)`` arrays."""
        n_rows = len(t)
        idx = np.arange(n_rows) if idx is None else np.asarray(idx, dtype=int)
        if idx.size and (idx.min() < 0 or idx.max() >= n_rows):
            raise IndexError(f"origin rows {idx.min()}..{idx.max()} outside 0..{n_rows - 1}")
        if n_rows == 0 or idx.size == 0:
            return np.zeros((idx.size, self.n_features))
        cols: list[np.ndarray] = []

        dense_ff = carry_forward(dense)
        cols.append(dense_ff[idx])
        if self.sloped:
            sloped = dense_ff[:, [self.dense.index(v) for v in self.sloped]]
            # earliest row inside the window; "- 1e-9" keeps a row exactly w hours back
            j = np.searchsorted(t, t[idx] - self.slope_window_h - 1e-9, side="left")
            dt = t[idx] - t[j]
            with np.errstate(invalid="ignore", divide="ignore"):
                slope = (sloped[idx] - sloped[j]) / dt[:, None]
            cols.append(np.where(dt[:, None] > 0, slope, np.nan))

        if self.offline:
            last = last_index(raw)  # (T, V) row of the last assay, -1 before the first
            # second-to-last assay = the last one seen strictly before the last assay's row
            before = np.vstack([np.full((1, raw.shape[1]), -1), last[:-1]])
            lc = np.clip(last, 0, None)
            second = np.where(last >= 0, np.take_along_axis(before, lc, axis=0), -1)
            sc = np.clip(second, 0, None)
            li, si, lci, sci = last[idx], second[idx], lc[idx], sc[idx]
            val_last = np.where(li >= 0, np.take_along_axis(raw, lci, axis=0), np.nan)
            val_second = np.where(si >= 0, np.take_along_axis(raw, sci, axis=0), np.nan)
            age = np.where(li >= 0, t[idx][:, None] - t[lci], np.nan)
            with np.errstate(invalid="ignore", divide="ignore"):
                slope = (val_last - val_second) / (t[lci] - t[sci])
            slope = np.where(si >= 0, slope, np.nan)
            per_var = np.stack([val_last, age, slope], axis=2)  # (N, V, 3)
            cols.append(per_var.reshape(len(idx), -1))
            if VCD in self.offline:
                k = self.offline.index(VCD)
                cols.append(_ivcd(t, raw[:, k], last[:, k])[idx][:, None])

        if self.feed is not None and self.feed in self.variables:
            cols.append(_cumulative(t, dense_ff[:, self.dense.index(self.feed)])[idx, None])
        if "volume_L" in self.variables:
            vol = dense_ff[:, self.dense.index("volume_L")]
            first = vol[np.flatnonzero(np.isfinite(vol))[0]] if np.isfinite(vol).any() else np.nan
            cols.append((vol[idx] - first)[:, None])
        cols.append(t[idx, None])
        return np.concatenate(cols, axis=1)

    def of_prefixes(self, prefixes: Sequence[pd.DataFrame], chunk: int = 256) -> np.ndarray:
        """Features of each prefix at its last row.

        Prefixes are concatenated ``chunk`` at a time so the column extraction is one pandas
        call per chunk, not one per prefix (pandas costs ~1 ms per call; numpy ~0.1 ms).

        Args:
            prefixes: one DataFrame per prefix (rows of one batch up to its origin).
            chunk: prefixes concatenated at once (bounds memory for long prefixes).

        Returns:
            ``(N, P)`` float64.
        """
        out = np.empty((len(prefixes), self.n_features))
        checked: set[int] = set()  # ids of column Indexes already checked (slices share one)
        for n, p in enumerate(prefixes):
            if len(p) == 0:
                raise ShortBatchError(f"prefix {n} has no rows", expected="at least one row")
            if id(p.columns) not in checked:
                self._check_columns(p)
                checked.add(id(p.columns))
        cols = [schema.TIME, *self.dense, *self.offline]
        n_dense = len(self.dense)
        for start in range(0, len(prefixes), chunk):
            part = prefixes[start : start + chunk]
            big = pd.concat(part, ignore_index=True)[cols]
            m = big.to_numpy(dtype=float, na_value=np.nan)
            ends = np.cumsum([len(p) for p in part])
            for k, (lo, hi) in enumerate(zip(np.concatenate([[0], ends[:-1]]), ends)):
                block = m[lo:hi]
                if np.any(np.diff(block[:, 0]) <= 0):  # unsorted: sort, insist on unique times
                    block = block[np.argsort(block[:, 0], kind="stable")]
                    if np.any(np.diff(block[:, 0]) <= 0):
                        raise _repeat_error(part[k])
                t, dense, raw = block[:, 0], block[:, 1 : 1 + n_dense], block[:, 1 + n_dense :]
                out[start + k] = self._build(t, dense, raw, np.array([len(t) - 1]))[0]
        return out

    def _check_columns(self, rows: pd.DataFrame) -> None:
        present = set(rows.columns)
        for c in (schema.TIME, *self.variables):
            if c not in present:
                err = MissingColumnError(c, available=rows.columns, hint="an RF baseline input")
                err.batch = _batch_of(rows)
                raise err

    def _arrays(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``t (T,)``, dense ``(T, Vd)`` and assay ``(T, Vo)`` float arrays of ``rows``."""
        self._check_columns(rows)
        m = rows[[schema.TIME, *self.dense, *self.offline]].to_numpy(dtype=float, na_value=np.nan)
        return m[:, 0], m[:, 1 : 1 + len(self.dense)], m[:, 1 + len(self.dense) :]


# ------------------------------------------------------------------ helpers
def sort_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in time order (sorted only if needed); raises TimeOrderError on repeated times."""
    t = rows[schema.TIME].to_numpy(dtype=float)
    if np.all(np.diff(t) > 0):
        return rows
    rows = rows.iloc[np.argsort(t, kind="stable")]
    if np.any(np.diff(rows[schema.TIME].to_numpy(dtype=float)) <= 0):
        raise _repeat_error(rows)
    return rows


def _repeat_error(rows: pd.DataFrame) -> TimeOrderError:
    return TimeOrderError(
        "time_h repeats", batch=_batch_of(rows), column=schema.TIME, expected="unique times"
    )


def _batch_of(rows: pd.DataFrame) -> str | None:
    return str(rows[schema.BATCH_ID].iloc[0]) if schema.BATCH_ID in rows and len(rows) else None


def _ivcd(t: np.ndarray, vcd: np.ndarray, last: np.ndarray) -> np.ndarray:
    """``(T,)`` trapezoid integral of the VCD assays up to each row (1e6 cells·h/mL)."""
    p = np.flatnonzero(np.isfinite(vcd))
    at_assay = np.full(len(t), np.nan)
    if p.size:
        steps = 0.5 * (vcd[p][1:] + vcd[p][:-1]) * np.diff(t[p])
        at_assay[p] = np.concatenate([[0.0], np.cumsum(steps)])
    return np.where(last >= 0, at_assay[np.clip(last, 0, None)], np.nan)


def _cumulative(t: np.ndarray, rate_mL_h: np.ndarray) -> np.ndarray:
    """``(T,)`` volume pumped before each row (mL): rate at row i holds until row i + 1."""
    rate = np.nan_to_num(rate_mL_h, nan=0.0)
    return np.concatenate([[0.0], np.cumsum(rate[:-1] * np.diff(t))])
