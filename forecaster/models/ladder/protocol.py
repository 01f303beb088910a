"""The :class:`HarvestRung` protocol and the base of the rungs the ladder fits itself.

Every rung maps prefixes (a batch's rows up to its forecast origin) to the harvest titer:
``(n, 3)`` p10 / p50 / p90 in mg/L. The harvest is the batch's own last row for complete
training batches; for a prefix it is ``harvest_h`` when given (e.g. the planned run length,
or a finished batch's own end), else the median end of the training batches.

:class:`PointRung` adds, to a rung's point forecast, a spread learned on its training
batches: the 10 % and 90 % quantiles of ``log(final / forecast)`` at each origin day. Those
in-sample bands are rough; calibrated intervals come from
:mod:`forecaster.models.conformal` on out-of-fold residuals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data import targets
from forecaster.data.errors import MissingColumnError, ShortBatchError

#: floor of every titer forecast (mg/L): forecasts are scored and calibrated in log space
MIN_TITER = 1e-3


@runtime_checkable
class HarvestRung(Protocol):
    """A harvest-titer forecaster of the ladder."""

    name: str

    def fit(self, batches: list[pd.DataFrame]) -> HarvestRung:
        """Fit on complete training batches (one frame per batch, canonical columns)."""
        ...

    def predict(
        self, prefixes: Sequence[pd.DataFrame], harvest_h: float | Sequence[float] | None = None
    ) -> np.ndarray:
        """``(n, 3)`` harvest titer p10 / p50 / p90 (mg/L) of each prefix."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Plain values: what predicting needs."""
        ...


def titer_assays(rows: pd.DataFrame, product: str = schema.TITER) -> tuple[np.ndarray, np.ndarray]:
    """``(t (m,), y (m,))``: the finite product assays of one batch's rows, by time (h, its unit)."""
    t = rows[schema.TIME].to_numpy(dtype=float)
    y = rows[product].to_numpy(dtype=float)
    ok = np.isfinite(y) & np.isfinite(t)
    order = np.argsort(t[ok], kind="stable")
    return t[ok][order], y[ok][order]


def end_h(rows: pd.DataFrame) -> float:
    """Time of a batch's last row (h): the harvest of a complete batch."""
    return float(np.nanmax(rows[schema.TIME].to_numpy(dtype=float)))


def finals(batches: Sequence[pd.DataFrame], product: str = schema.TITER) -> np.ndarray:
    """``(n,)`` measured harvest product of each complete batch (NaN if never measured)."""
    return np.asarray([targets.harvest_titer(b, product) for b in batches], dtype=float)


def upto(rows: pd.DataFrame, origin_h: float) -> pd.DataFrame:
    """The rows of one batch (sorted by time) a forecast made at ``origin_h`` h sees."""
    t = rows[schema.TIME].to_numpy(dtype=float)
    return rows.iloc[: int(np.searchsorted(t, origin_h + 1e-9, side="right"))]


def check_batches(
    batches: Sequence[pd.DataFrame], what: str, product: str = schema.TITER
) -> list[pd.DataFrame]:
    """Each frame sorted by time, after checking the columns every rung reads.

    Raises:
        ShortBatchError: no frames, or an empty one.
        MissingColumnError: ``time_h`` or the product (``titer_mg_L`` for CHO) absent.
    """
    if len(batches) == 0:
        raise ShortBatchError(f"no {what} to use", expected="at least one batch")
    out = []
    for b in batches:
        for c in (schema.TIME, product):
            if c not in b.columns:
                raise MissingColumnError(c, available=b.columns, hint=f"needed by the {what}")
        if len(b) == 0:
            raise ShortBatchError(f"an empty {what}", expected="at least one row")
        out.append(b if b[schema.TIME].is_monotonic_increasing else b.sort_values(schema.TIME))
    return out


def harvest_hours(n: int, harvest_h: float | Sequence[float] | None, default: float) -> np.ndarray:
    """``(n,)`` harvest time of each prefix (h): ``harvest_h`` broadcast, else ``default``."""
    if harvest_h is None:
        return np.full(n, float(default))
    h = np.broadcast_to(np.asarray(harvest_h, dtype=float), (n,))
    return h.astype(float).copy()


def origin_day(origin_h: np.ndarray) -> np.ndarray:
    """Whole days of culture at each origin (h -> int; 71.5 h is day 2)."""
    return np.floor(np.asarray(origin_h, dtype=float) / 24.0 + 1e-9).astype(int)


class PointRung:
    """Base of the ladder's own rungs: public methods validate, ``_fit_core`` / ``_point``
    do the work, and a per-day spread turns the point forecast into p10 / p50 / p90.

    Attributes:
        name: the rung's name in the ladder and in metrics.
        planned_end_h: median last-row time of the training batches (h): the harvest of a
            prefix when no ``harvest_h`` is given.
        spread: ``{day: (lo, hi)}``, 10 % and 90 % quantiles of ``log(final / forecast)``
            on the training batches at origin ``24 * day`` h.
        product: the column forecast (the process's product; CHO: ``titer_mg_L``).
    """

    name = "point"
    #: whether the rung reads in-run product values (a product assayed only at harvest
    #: leaves it nothing to extrapolate)
    needs_in_run_product = True

    def __init__(self, product: str = schema.TITER) -> None:
        self.product = str(product)
        self.planned_end_h: float | None = None
        self.spread: dict[int, tuple[float, float]] = {}

    # ----------------------------------------------------------------- fitting
    def fit(self, batches: list[pd.DataFrame]) -> PointRung:
        """Fit on complete training batches; returns ``self``.

        Raises:
            ShortBatchError: no batch, or no batch with a measured harvest titer.
            MissingColumnError: a batch lacks ``time_h`` or ``titer_mg_L``.
        """
        rows = check_batches(batches, "training batches", self.product)
        y = finals(rows, self.product)
        rows = [b for b, f in zip(rows, y) if np.isfinite(f) and f > 0]
        if not rows:
            raise ShortBatchError(
                f"{self.name}: no training batch has a measured harvest {self.product}",
                column=self.product,
            )
        self.planned_end_h = float(np.median([end_h(b) for b in rows]))
        self._fit_core(rows)
        self.spread = self._fit_spread(rows)
        return self

    def _fit_spread(self, rows: list[pd.DataFrame]) -> dict[int, tuple[float, float]]:
        y, ends = finals(rows, self.product), np.asarray([end_h(b) for b in rows])
        out: dict[int, tuple[float, float]] = {}
        for day in range(0, int(np.max(ends) // 24) + 1):
            keep = [i for i, e in enumerate(ends) if e > 24.0 * day]
            if len(keep) < 2:
                continue
            pre = [upto(rows[i], 24.0 * day) for i in keep]
            keep = [i for i, p in zip(keep, pre) if len(p)]
            pre = [p for p in pre if len(p)]
            if len(pre) < 2:
                continue
            pt = self._point(pre, ends[keep])
            r = np.log(y[keep]) - np.log(np.maximum(pt, MIN_TITER))
            out[day] = (float(np.quantile(r, 0.1)), float(np.quantile(r, 0.9)))
        return out

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        raise NotImplementedError

    # -------------------------------------------------------------- prediction
    def predict(
        self, prefixes: Sequence[pd.DataFrame], harvest_h: float | Sequence[float] | None = None
    ) -> np.ndarray:
        """Harvest titer of each prefix.

        Args:
            prefixes: one frame per batch, its rows up to the origin (``time_h <= origin``).
            harvest_h: harvest time (h), one for all or ``(n,)``; None: ``planned_end_h``.

        Returns:
            ``(n, 3)`` p10, p50, p90 in mg/L (p50 >= ``MIN_TITER``).
        """
        if self.planned_end_h is None:
            raise RuntimeError(f"{self.name}: fit the rung first")
        if len(prefixes) == 0:
            return np.zeros((0, 3))
        rows = check_batches(prefixes, "prefixes", self.product)
        h = harvest_hours(len(rows), harvest_h, self.planned_end_h)
        p50 = np.maximum(np.asarray(self._point(rows, h), dtype=float), MIN_TITER)
        days = origin_day([end_h(r) for r in rows])
        lo, hi = np.zeros(len(rows)), np.zeros(len(rows))
        if self.spread:
            known = np.asarray(sorted(self.spread))
            for i, d in enumerate(days):
                k = known[np.clip(np.searchsorted(known, d, side="right") - 1, 0, None)]
                lo[i], hi[i] = self.spread[int(k)]
        return np.stack([p50 * np.exp(np.minimum(lo, 0)), p50, p50 * np.exp(np.maximum(hi, 0))], 1)

    def _point(self, prefixes: list[pd.DataFrame], harvest_h: np.ndarray) -> np.ndarray:
        """``(n,)`` point forecast of the harvest titer (mg/L) of sorted prefixes."""
        raise NotImplementedError

    # ------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready): name, planned end, spread and the rung's own state."""
        if self.planned_end_h is None:
            raise RuntimeError(f"{self.name}: fit the rung first")
        return {
            "name": self.name,
            "product": self.product,
            "planned_end_h": self.planned_end_h,
            "spread": {str(d): list(v) for d, v in self.spread.items()},
            **self._state(),
        }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> PointRung:
        """Inverse of :meth:`state_dict`."""
        if state.get("name") != cls.name:
            raise ValueError(f"state of rung {state.get('name')!r}, not {cls.name!r}")
        rung = cls._from_state(state)
        rung.planned_end_h = float(state["planned_end_h"])
        rung.spread = {int(d): (float(v[0]), float(v[1])) for d, v in state["spread"].items()}
        return rung

    def _state(self) -> dict[str, Any]:
        return {}

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> PointRung:
        return cls(product_of(state))


def product_of(state: Mapping[str, Any]) -> str:
    """The product of a saved rung (states saved before it was recorded: CHO titer)."""
    return str(state.get("product", schema.TITER))
