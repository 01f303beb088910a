"""The naive rungs: what a forecast must beat on the user's own data.

- ``naive_mean``: the mean harvest titer of the training batches, whatever the prefix;
- ``naive_ratio``: the last measured titer x the median training ratio
  ``final / titer at that hour since inoculation`` (the hour of the last assay; ratios are
  interpolated in log space between the hours the training batches were assayed at and held
  flat beyond them); the mean final titer before the first non-zero titer assay;
- ``naive_slope``: the straight line (least squares) through the titer assays of the last
  24 h before the origin, extended to the harvest; ``naive_ratio`` with fewer than two
  assays in that window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.models.ladder.protocol import (
    MIN_TITER,
    PointRung,
    end_h,
    finals,
    product_of,
    titer_assays,
)

#: window of ``naive_slope`` before the origin (h)
SLOPE_WINDOW_H = 24.0
#: assay hours are matched to the nearest multiple of this (h) when ratios are pooled
HOUR_BIN_H = 1.0


class NaiveMean(PointRung):
    """Mean harvest titer of the training batches (mg/L), the same for every prefix."""

    name = "naive_mean"
    needs_in_run_product = False

    def __init__(self, product: str = schema.TITER) -> None:
        super().__init__(product)
        self.mean_final: float | None = None

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        self.mean_final = float(np.mean(finals(batches, self.product)))

    def _point(self, prefixes: list[pd.DataFrame], harvest_h: np.ndarray) -> np.ndarray:
        return np.full(len(prefixes), self.mean_final)

    def _state(self) -> dict[str, Any]:
        return {"mean_final": self.mean_final}

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> NaiveMean:
        rung = cls(product_of(state))
        rung.mean_final = float(state["mean_final"])
        return rung


class NaiveRatio(PointRung):
    """Last measured titer x median training ``final / titer`` at the same hour.

    Attributes:
        hours: ``(H,)`` assay hours of the training batches (binned to ``HOUR_BIN_H``).
        ratios: ``(H,)`` median ``final / titer`` of the training assays at each hour.
        mean_final: the fallback before the first titer assay (mg/L).
    """

    name = "naive_ratio"

    def __init__(self, product: str = schema.TITER) -> None:
        super().__init__(product)
        self.hours = np.zeros(0)
        self.ratios = np.zeros(0)
        self.mean_final: float | None = None

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        self.mean_final = float(np.mean(finals(batches, self.product)))
        hours, ratios = [], []
        for b, final in zip(batches, finals(batches, self.product)):
            t, y = titer_assays(b, self.product)
            ok = y > 0
            hours.append(np.round(t[ok] / HOUR_BIN_H) * HOUR_BIN_H)
            ratios.append(final / y[ok])
        h, r = np.concatenate(hours), np.concatenate(ratios)
        self.hours = np.unique(h)
        self.ratios = np.asarray([np.median(r[h == x]) for x in self.hours])

    def ratio_at(self, hour: float) -> float:
        """Median training ``final / titer`` at ``hour`` since inoculation (log-interpolated)."""
        if self.hours.size == 0:
            return float("nan")
        return float(np.exp(np.interp(hour, self.hours, np.log(self.ratios))))

    def _point(self, prefixes: list[pd.DataFrame], harvest_h: np.ndarray) -> np.ndarray:
        out = np.full(len(prefixes), float(self.mean_final))
        for i, p in enumerate(prefixes):
            t, y = titer_assays(p, self.product)
            ok = y > 0
            if ok.any() and self.hours.size:
                out[i] = y[ok][-1] * self.ratio_at(t[ok][-1])
        return out

    def _state(self) -> dict[str, Any]:
        return {
            "mean_final": self.mean_final,
            "hours": self.hours.tolist(),
            "ratios": self.ratios.tolist(),
        }

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> NaiveRatio:
        rung = cls(product_of(state))
        rung.mean_final = float(state["mean_final"])
        rung.hours = np.asarray(state["hours"], dtype=float)
        rung.ratios = np.asarray(state["ratios"], dtype=float)
        return rung


class NaiveSlope(PointRung):
    """Straight line through the last 24 h of titer assays, extended to the harvest.

    Attributes:
        fallback: the :class:`NaiveRatio` used with fewer than two assays in the window.
    """

    name = "naive_slope"

    def __init__(self, product: str = schema.TITER) -> None:
        super().__init__(product)
        self.fallback = NaiveRatio(product)

    def _fit_core(self, batches: list[pd.DataFrame]) -> None:
        self.fallback._fit_core(batches)

    def _point(self, prefixes: list[pd.DataFrame], harvest_h: np.ndarray) -> np.ndarray:
        out = self.fallback._point(prefixes, harvest_h)
        for i, p in enumerate(prefixes):
            t, y = titer_assays(p, self.product)
            w = t >= end_h(p) - SLOPE_WINDOW_H - 1e-9
            if np.unique(t[w]).size >= 2:
                slope, icpt = np.polyfit(t[w], y[w], 1)
                out[i] = max(slope * harvest_h[i] + icpt, MIN_TITER)
        return out

    def _state(self) -> dict[str, Any]:
        return {"fallback": self.fallback._state()}

    @classmethod
    def _from_state(cls, state: Mapping[str, Any]) -> NaiveSlope:
        rung = cls(product_of(state))
        rung.fallback = NaiveRatio._from_state({"product": rung.product, **state["fallback"]})
        return rung
