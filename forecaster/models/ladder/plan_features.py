"""Features that carry the physics of a planned temperature shift, for the plan-aware rungs.

A linear model in the plan values (``ridge_plan``) sees the shift time and the temperature
after it as two separate numbers, but their effect on the harvest titer is joint: the
colder the culture after the shift, the slower it grows and the more each cell makes, for
as many hours as remain after the shift, from as many cells as are there at the shift.
:func:`physics_features` turns the plan and the state at the origin into the quantities
that carry that effect (hours left before / after the planned shift, the temperature drop,
their products with the cell mass and growth rate, and projections of the final titer
from the current specific productivity).

Every feature is computed from the rows up to the origin, the plan columns the rung uses,
and the harvest time; a plan without a shift (or without the plan columns) reads as a shift
at the harvest with no temperature drop, so the features then carry only time and state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.targets import daily_assay

#: plan column: time of the temperature shift (h since inoculation)
SHIFT_H = "planned_shift_h"
#: plan column: temperature set point after the shift (degC)
POST_SHIFT_C = "planned_post_shift_temperature_C"
#: the temperature set point column: its first value is the pre-shift temperature
SETPOINT_C = "temperature_setpoint_C"
#: reference temperature (degC) when the batch records no set point (the usual 37 C)
REFERENCE_C = 37.0
#: assumed productivity gain after the shift in one projection (the gain itself is learned
#: by the regression on top; this only shapes the feature)
SHIFT_GAIN = 1.5
_FLOOR = 1e-3

#: names of the values :func:`physics_features` returns, in order
PHYSICS_NAMES: tuple[str, ...] = (
    "hours_before_shift",
    "hours_after_shift",
    "temperature_drop_C",
    "hours_after_x_drop",
    "hours_before_x_log_cells",
    "hours_after_x_log_cells",
    "hours_before_x_growth",
    "hours_after_x_growth",
    "hours_after_x_drop_x_log_cells",
    "hours_before_sq",
    "hours_after_sq",
    "drop_sq",
    "log_projection_flat",
    "log_projection_gain",
    "log_projection_growth",
    "log_cells",
    "log_product",
    "growth_per_h",
    "log_productivity",
    "days_since_shift",
    "days_since_shift_x_drop",
)


@dataclass(frozen=True)
class Prefix:
    """The columns of one batch's rows that the plan-aware rungs read, as arrays.

    Built once per batch (pandas column access is slow when done per feature and day);
    :meth:`upto` gives the rows a forecast at an origin sees.

    Attributes:
        time: ``(T,)`` hours since inoculation, sorted.
        values: column -> ``(T,)`` float values (NaN where not measured).
    """

    time: np.ndarray
    values: dict[str, np.ndarray]
    _daily: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, rows: pd.DataFrame, columns: tuple[str, ...]) -> Prefix:
        """The arrays of ``columns`` present in ``rows`` (sorted by time)."""
        have = [c for c in dict.fromkeys((schema.TIME, *columns)) if c in rows.columns]
        block = rows[have].to_numpy(dtype=float)  # one copy: per-column access is slow
        return cls(block[:, 0], {c: block[:, j] for j, c in enumerate(have) if j})

    def upto(self, origin_h: float) -> Prefix:
        """The rows at or before ``origin_h`` h."""
        n = int(np.searchsorted(self.time, origin_h + 1e-9, side="right"))
        return Prefix(self.time[:n], {c: v[:n] for c, v in self.values.items()})

    def daily(self, column: str, day: int) -> np.ndarray:
        """``(day,)`` assay of ``column`` at days 1..day (NaN where not measured or absent)."""
        if column not in self.values:
            return np.full(day, np.nan)
        key = (column, day)
        if key not in self._daily:  # the design reads each twice (history and physics)
            self._daily[key] = daily_assay(self.time, self.values[column], day)
        return self._daily[key].copy()

    def static(self, column: str) -> float:
        """Last finite value of a static column (NaN when absent or never given)."""
        v = self.values.get(column)
        if v is None:
            return float("nan")
        ok = np.flatnonzero(np.isfinite(v))
        return float(v[ok[-1]]) if ok.size else float("nan")

    def first(self, column: str) -> float:
        """First finite value of a column (NaN when absent or never given)."""
        v = self.values.get(column)
        ok = np.flatnonzero(np.isfinite(v)) if v is not None else np.zeros(0, int)
        return float(v[ok[0]]) if ok.size else float("nan")


def shift_plan(prefix: Prefix, plan: tuple[str, ...], harvest_h: float) -> tuple[float, float]:
    """``(shift time (h), temperature drop (degC))`` of a batch's plan.

    No shift in the plan (columns not in ``plan``, missing values, or a shift at or after
    the harvest) reads as a shift at the harvest with no drop.
    """
    shift = prefix.static(SHIFT_H) if SHIFT_H in plan else float("nan")
    post = prefix.static(POST_SHIFT_C) if POST_SHIFT_C in plan else float("nan")
    pre = prefix.first(SETPOINT_C)
    pre = pre if np.isfinite(pre) else REFERENCE_C
    if not np.isfinite(shift) or shift >= harvest_h:
        return float(harvest_h), 0.0
    return float(shift), float(pre - post) if np.isfinite(post) else 0.0


def physics_features(
    prefix: Prefix,
    day: int,
    harvest_h: float,
    plan: tuple[str, ...],
    product: str = schema.TITER,
    cells: str | None = "vcd_1e6_cells_mL",
) -> np.ndarray:
    """``(len(PHYSICS_NAMES),)`` plan-physics features of one prefix at origin day ``day``.

    Args:
        prefix: the batch's rows up to the origin ``24 * day`` h.
        day: origin day (>= 1); the daily assays of days 1..day are read.
        harvest_h: harvest time of the batch (h).
        plan: the plan columns the rung uses (``SHIFT_H`` / ``POST_SHIFT_C`` among them).
        product: the product column (mg/L for CHO titer).
        cells: the cell-mass column (VCD, 1e6 cells/mL), or None when the data have none.

    Returns:
        Hours are h, temperatures degC, logs natural; NaN where an assay is missing (the
        rung fills it with the training median).
    """
    origin = 24.0 * day
    shift, drop = shift_plan(prefix, plan, harvest_h)
    left = max(harvest_h - origin, 0.0)
    before = float(np.clip(shift - origin, 0.0, left))
    after = left - before
    since_d = max(origin - shift, 0.0) / 24.0

    prod = prefix.daily(product, day)
    x = prefix.daily(cells, day) if cells is not None else np.ones(day)
    p_now, x_now = prod[-1], x[-1]
    log_x = _log(x_now)
    growth = (log_x - _log(x[-2])) / 24.0 if day >= 2 else 0.0
    qp = _productivity(prod, x)
    # titer at harvest if the current productivity held on the current cells (mg/L)
    flat = p_now + qp * x_now * left / 24.0
    gain = p_now + qp * x_now * (before + SHIFT_GAIN * after) / 24.0
    grown = before * np.exp(np.clip(growth, -0.05, 0.05) * before / 2.0) if before else 0.0
    grow = p_now + qp * x_now * (grown + SHIFT_GAIN * after) / 24.0
    return np.asarray(
        [
            before,
            after,
            drop,
            after * drop,
            before * log_x,
            after * log_x,
            before * growth,
            after * growth,
            after * drop * log_x,
            before**2,
            after**2,
            drop**2,
            _log(flat),
            _log(gain),
            _log(grow),
            log_x,
            _log(p_now),
            growth,
            _log(qp),
            since_d,
            since_d * drop,
        ],
        dtype=float,
    )


def _productivity(prod: np.ndarray, cells: np.ndarray) -> float:
    """Product made per cell-day over the last two days (mg/L per (cells x day)), from the
    daily assays (trapezoid integral of the cells); NaN when it cannot be formed."""
    if prod.size < 2:
        return float(prod[-1] / cells[-1]) if cells[-1] > 0 else float("nan")
    k = min(2, prod.size - 1)
    made = prod[-1] - prod[-1 - k]
    integral = float(np.sum(0.5 * (cells[-k:] + cells[-k - 1 : -1])))
    return max(made / integral, _FLOOR) if integral > 0 and np.isfinite(made) else float("nan")


def _log(v: float) -> float:
    return float(np.log(max(v, _FLOOR))) if np.isfinite(v) else float("nan")
