"""Plant-visible inputs of a feed plan: the batch's recipe, its history so far, constraints.

Everything here is read from what a plant logs (the batch table up to now) and from the
recipe the batch was started with; nothing comes from the simulator's hidden parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.errors import DataError

#: Columns a history needs (CHO process names).
REQUIRED = (
    schema.TIME, "vcd_1e6_cells_mL", "viability_pct", "glucose_g_L", "glutamine_mM",
    "lactate_g_L", "ammonia_mM", "titer_mg_L", "volume_L", "feed_rate_mL_h",
    "temperature_setpoint_C", "feed_glucose_g_L", "do_setpoint_pct", "ph_setpoint",
)  # fmt: skip


@dataclass(frozen=True)
class Recipe:
    """The planned recipe of one batch (what the batch record states before it starts).

    Attributes:
        run_length_h: planned harvest time (h).
        feed_start_h: first feed decision (h).
        shift_h: planned temperature-shift time (h).
        temperature_pre_C, temperature_post_C: set points before and after the shift (C).
        feed_glucose_g_L: glucose in the feed medium (g/L).
        do_setpoint_pct, ph_setpoint: controlled set points.
    """

    run_length_h: float
    feed_start_h: float
    shift_h: float
    temperature_pre_C: float
    temperature_post_C: float
    feed_glucose_g_L: float
    do_setpoint_pct: float
    ph_setpoint: float


@dataclass(frozen=True)
class FeedConstraints:
    """Constraints every plan must hold (defaults: the CHO bench process).

    Attributes:
        glucose_min_g_L: starvation limit; glucose must stay above it (g/L).
        glucose_max_g_L: upper limit (osmolality, glycation) (g/L).
        working_volume_L: the vessel's working volume; the culture must stay below it (L).
        feed_max_mL_h: the feed pump's largest rate (mL/h); the smallest is 0.
        decision_interval_h: a plan's feed rates are constant over this interval (h).
    """

    glucose_min_g_L: float = 0.5
    glucose_max_g_L: float = 8.0
    working_volume_L: float = 2.5
    feed_max_mL_h: float = 30.0
    decision_interval_h: float = 24.0


@dataclass(frozen=True)
class History:
    """One batch's data up to now, on the hourly grid.

    Attributes:
        now_h: time of the latest row (whole hours).
        feed_mL_h, temp_sp_C, base_mL_h: (now_h,) values held over each past hour.
        assays: assay rows (time_h and the offline columns), NaN where not measured.
        x0: measured state at time 0 (keys of ``mechanistic.STATES``), each (1,).
    """

    now_h: int
    feed_mL_h: np.ndarray
    temp_sp_C: np.ndarray
    base_mL_h: np.ndarray
    assays: pd.DataFrame
    x0: dict[str, np.ndarray]


def history_from_rows(rows: pd.DataFrame, batch_id: str = "") -> History:
    """Hourly history of one batch from its table rows (sorted or not).

    Raises:
        DataError: a required column is missing, or the first row (time 0) lacks an assay.
    """
    where = f"batch {batch_id!r}" if batch_id else "the batch rows"
    missing = [c for c in REQUIRED if c not in rows.columns]
    if missing:
        raise DataError(f"{where}: column(s) {', '.join(missing)} missing; a feed plan needs them")
    rows = rows.sort_values(schema.TIME)
    t = rows[schema.TIME].to_numpy(dtype=float)
    if t.size == 0 or abs(t[0]) > 1e-6:
        raise DataError(
            f"{where}: the first row is at {t[0] if t.size else 'none'} h; expected 0 h"
        )
    now = int(round(t[-1]))
    hours = np.arange(now)

    def hourly(col: str, fill: float = 0.0) -> np.ndarray:
        v = rows[col].to_numpy(dtype=float)
        if v.size == 0:
            return np.full(now, fill)
        idx = np.clip(np.searchsorted(t, hours, side="right") - 1, 0, v.size - 1)
        return np.nan_to_num(v[idx], nan=fill)

    first = rows.iloc[0]
    need = ("vcd_1e6_cells_mL", "viability_pct", "glucose_g_L", "glutamine_mM", "lactate_g_L",
            "ammonia_mM", "volume_L")  # fmt: skip
    bad = [c for c in need if not np.isfinite(float(first[c]))]
    if bad:
        raise DataError(f"{where}: no value of {', '.join(bad)} at 0 h; the model starts there")
    xv = float(first["vcd_1e6_cells_mL"])
    via = min(max(float(first["viability_pct"]), 50.0), 99.9)
    x0 = {
        "xv": np.array([xv]),
        "xd": np.array([xv * (100.0 / via - 1.0)]),
        "glc": np.array([float(first["glucose_g_L"])]),
        "gln": np.array([float(first["glutamine_mM"])]),
        "lac": np.array([float(first["lactate_g_L"])]),
        "amm": np.array([float(first["ammonia_mM"])]),
        "titer": np.array([0.0]),
        "vol": np.array([float(first["volume_L"])]),
    }
    base = hourly("base_rate_mL_h") if "base_rate_mL_h" in rows.columns else np.zeros(now)
    assays = rows[rows["vcd_1e6_cells_mL"].notna()]
    return History(
        now_h=now,
        feed_mL_h=hourly("feed_rate_mL_h"),
        temp_sp_C=hourly("temperature_setpoint_C", float(first["temperature_setpoint_C"])),
        base_mL_h=base,
        assays=assays.reset_index(drop=True),
        x0=x0,
    )


def recipe_from_rows(rows: pd.DataFrame, defaults: Recipe) -> Recipe:
    """A recipe from the logged set points where they show it, else from ``defaults``.

    The pre-shift temperature, feed medium, DO and pH set points are logged from the start;
    the shift time and post-shift temperature only once the shift happened.
    """
    rows = rows.sort_values(schema.TIME)
    sp = rows["temperature_setpoint_C"].to_numpy(dtype=float)
    t = rows[schema.TIME].to_numpy(dtype=float)
    shifted = np.flatnonzero(sp < sp[0] - 0.05)
    return Recipe(
        run_length_h=defaults.run_length_h,
        feed_start_h=defaults.feed_start_h,
        shift_h=float(t[shifted[0]]) if shifted.size else max(defaults.shift_h, float(t[-1])),
        temperature_pre_C=float(sp[0]),
        temperature_post_C=float(sp[shifted[0]]) if shifted.size else defaults.temperature_post_C,
        feed_glucose_g_L=float(rows["feed_glucose_g_L"].iloc[0]),
        do_setpoint_pct=float(rows["do_setpoint_pct"].iloc[0]),
        ph_setpoint=float(rows["ph_setpoint"].iloc[0]),
    )
