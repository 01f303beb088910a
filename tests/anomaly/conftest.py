"""Tiny hand-made batch tables (no simulator needed) and shared fast trainer settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from forecaster import schema

torch.set_num_threads(1)

FAST_TRAINER = {
    "max_epochs": 3,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "logger": False,
    "accelerator": "cpu",
}


def make_batch(
    bid: str, n_hours: int = 96, seed: int = 0, do_fault_h: float | None = None
) -> pd.DataFrame:
    """One plausible CHO batch on an hourly grid; ``do_fault_h``: aeration failure from then on
    (DO falls towards 8 %, agitation runs to its 400 rpm maximum)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_hours, dtype=float)
    sp = 40.0
    do = sp + rng.normal(0, 1.0, n_hours)
    agit = 120 + 1.5 * t + rng.normal(0, 2, n_hours)
    if do_fault_h is not None:
        on = t >= do_fault_h
        do[on] = 8.0 + 30.0 * np.exp(-(t[on] - do_fault_h) / 2.0) + rng.normal(0, 1.0, on.sum())
        agit[on] = 400.0
    vcd = 0.5 * np.exp(0.03 * t) * (1 + rng.normal(0, 0.03, n_hours))
    daily = (t % 24) == 0
    off = lambda x: np.where(daily, x, np.nan)  # noqa: E731
    df = pd.DataFrame({
        schema.BATCH_ID: bid,
        schema.TIME: t,
        "do_pct": do,
        "ph": 7.0 + rng.normal(0, 0.01, n_hours),
        "temperature_C": 36.8 + rng.normal(0, 0.05, n_hours),
        "volume_L": np.nan,
        "agitation_rpm": agit,
        "airflow_L_min": 0.1 + 0.001 * t + rng.normal(0, 0.002, n_hours),
        "co2_flow_mL_min": 5 + rng.normal(0, 0.2, n_hours),
        "base_rate_mL_h": 0.5 + rng.normal(0, 0.05, n_hours),
        "feed_rate_mL_h": np.where(t >= 48, 2.0, 0.0),
        "do_setpoint_pct": sp,
        "ph_setpoint": 7.0,
        "temperature_setpoint_C": 36.8,
        "feed_glucose_g_L": 100.0,
        # the planned recipe (known in advance): feed from 48 h, no shift, harvest at the end
        "planned_feed_start_h": 48.0,
        "planned_shift_h": float(n_hours),
        "planned_post_shift_temperature_C": 36.8,
        "planned_harvest_h": float(n_hours),
        "vcd_1e6_cells_mL": off(vcd),
        "viability_pct": off(97 + rng.normal(0, 0.5, n_hours)),
        "glucose_g_L": off(6.0 - 0.02 * t),
        "lactate_g_L": off(0.2 + 0.01 * t),
        "glutamine_mM": off(np.maximum(6 - 0.05 * t, 0)),
        "ammonia_mM": off(0.6 + 0.02 * t),
        "titer_mg_L": off(2.0 * t),
        schema.FAULT_LABEL: (t >= do_fault_h).astype(int) if do_fault_h is not None else 0,
        schema.FAULT_TYPE: np.where(t >= (do_fault_h or 1e9), "aeration_failure", "none"),
    })  # fmt: skip
    # The volume follows what the pumps deliver (each logged rate held over the next hour),
    # read with 5 mL noise from its own stream so the other draws stay as they were.
    pumped = np.cumsum(df["feed_rate_mL_h"] + df["base_rate_mL_h"]).shift(1, fill_value=0.0)
    noise = np.random.default_rng(seed + 10_000).normal(0, 0.005, n_hours)
    df["volume_L"] = 1.5 + pumped / 1000.0 + noise
    return df


def make_table(
    n_normal: int, faulty: dict[str, float] | None = None, n_hours: int = 96, seed: int = 0
):
    """``n_normal`` fault-free batches N000.. plus faulty ones {batch_id: fault start (h)};
    returns (table, fault table)."""
    parts = [make_batch(f"N{i:03d}", n_hours, seed + i) for i in range(n_normal)]
    rows = []
    for j, (bid, start) in enumerate((faulty or {}).items()):
        parts.append(make_batch(bid, n_hours, seed + 1000 + j, do_fault_h=start))
        rows.append({schema.BATCH_ID: bid, "type": "aeration_failure", "start_h": start,
                     "end_h": float(n_hours - 1), "severity": 1.0, "affected": "do_pct;agitation_rpm"})  # fmt: skip
    faults = pd.DataFrame(rows, columns=list(schema.FAULT_TABLE_COLUMNS))
    return pd.concat(parts, ignore_index=True), faults


@pytest.fixture
def fast_trainer() -> dict:
    return dict(FAST_TRAINER)
