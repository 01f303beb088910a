"""Make a "bring your own data" example: simulated batches dressed as a user's plant export.

The simulator's batch table is renamed and converted the way real historian / LIMS exports
look: a ``Run`` column, wall-clock ``Timestamp`` instead of hours, glucose and lactate in
mmol/L, VCD in cells/mL, temperature in degF, volume in mL, feed in L/day, titer in g/L, and
no fault labels. The training file holds fault-free batches only (as a plant would pick its
good historical batches: with unlabelled faulty batches among them the alarm thresholds are
calibrated on faults); the new batches may carry faults. Two files are written::

    python examples/make_own_data.py --out data/examples/own_data.csv
    # data/examples/own_data.csv       training batches (complete)
    # data/examples/own_data_new.csv   new batches for predict (some still running)

``configs/examples/own_data.yaml`` holds the matching column map; ``docs/own_data.md``
walks through training and prediction on these files.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.io import atomic_path
from forecaster.data.units import to_unit

#: their column -> (canonical variable, the unit of their column)
COLUMNS: dict[str, tuple[str, str]] = {
    "DO (%)": ("do_pct", "%"),
    "pH": ("ph", "pH"),
    "Temp (degF)": ("temperature_C", "degF"),
    "Volume (mL)": ("volume_L", "mL"),
    "Agitation (rpm)": ("agitation_rpm", "rpm"),
    "Air (L/min)": ("airflow_L_min", "L/min"),
    "CO2 (mL/min)": ("co2_flow_mL_min", "mL/min"),
    "Base (mL/h)": ("base_rate_mL_h", "mL/h"),
    "Feed (L/day)": ("feed_rate_mL_h", "L/day"),
    "DO SP (%)": ("do_setpoint_pct", "%"),
    "pH SP": ("ph_setpoint", "pH"),
    "Temp SP (degF)": ("temperature_setpoint_C", "degF"),
    "Feed glucose (g/L)": ("feed_glucose_g_L", "g/L"),
    "VCD (cells/mL)": ("vcd_1e6_cells_mL", "cells/mL"),
    "Viability (%)": ("viability_pct", "%"),
    "Glucose (mmol/L)": ("glucose_g_L", "mmol/L"),
    "Lactate (mmol/L)": ("lactate_g_L", "mmol/L"),
    "Gln (mM)": ("glutamine_mM", "mM"),
    "NH3 (mM)": ("ammonia_mM", "mM"),
    "Titer (g/L)": ("titer_mg_L", "g/L"),
}
BATCH, TIME = "Run", "Timestamp"


def column_map() -> dict:
    """The column map of these files, as it appears in ``configs/examples/own_data.yaml``."""
    cols = {theirs: ours for theirs, (ours, _) in COLUMNS.items()}
    units = {ours: unit for ours, unit in COLUMNS.values() if unit != schema.variable(ours).unit}
    return {
        "batch_id": BATCH,
        "time": TIME,
        "time_unit": "timestamp",
        "columns": cols,
        "units": units,
    }


def to_user_format(table: pd.DataFrame, first_start: str, prefix: str) -> pd.DataFrame:
    """Canonical batch table -> the user's names, units and timestamps (no labels)."""
    ids = {b: f"{prefix}-{k + 1:04d}" for k, b in enumerate(pd.unique(table[schema.BATCH_ID]))}
    starts = {b: pd.Timestamp(first_start) + pd.Timedelta(days=3 * k) for k, b in enumerate(ids)}
    out = pd.DataFrame({BATCH: table[schema.BATCH_ID].map(ids)})
    start = table[schema.BATCH_ID].map(starts)
    stamps = start + pd.to_timedelta(table[schema.TIME].to_numpy(dtype=float), unit="h")
    out[TIME] = stamps.dt.strftime("%Y-%m-%d %H:%M")
    for theirs, (ours, unit) in COLUMNS.items():
        if ours in table:
            out[theirs] = to_unit(table[ours].to_numpy(dtype=float), ours, unit)
    return out


def truncate_some(table: pd.DataFrame, frac: float, seed: int) -> pd.DataFrame:
    """Cut ``frac`` of the batches at a random day (3-10) to mimic batches still running."""
    rng = np.random.default_rng(seed)
    keep = []
    for _, g in table.groupby(schema.BATCH_ID, sort=False):
        if rng.random() < frac:
            g = g[g[schema.TIME] <= 24.0 * rng.uniform(3.0, 10.0)]
        keep.append(g)
    return pd.concat(keep, ignore_index=True)


def simulated_batches(n_train: int, n_new: int, seed: int, n_days: float):
    """The simulator's results behind the two files: fault-free training batches, and new
    batches drawn with the default fault rate (another seed)."""
    from forecaster.sim import SimConfig, simulate

    cfg = SimConfig(run_length_days=n_days)
    fault_free = replace(cfg, faults=replace(cfg.faults, rate=0.0))
    train = simulate(fault_free, n_batches=n_train, seed=seed)
    return train, simulate(cfg, n_batches=n_new, seed=seed + 10_000)


def _write(table: pd.DataFrame, path: Path) -> None:
    """CSV with 6 significant digits (like an instrument export) or Parquet, atomically."""
    with atomic_path(path) as tmp:
        if path.suffix.lower() in (".parquet", ".pq"):
            table.to_parquet(tmp, index=False)
        else:
            table.to_csv(tmp, index=False, float_format="%.6g")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out", default="data/examples/own_data.csv", help="training file (.csv/.parquet)"
    )
    p.add_argument("--n_batches", type=int, default=120, help="training batches")
    p.add_argument("--n_new", type=int, default=10, help="new batches for predict")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n_days", type=float, default=14.0, help="run length (days)")
    a = p.parse_args(argv)
    train, new = simulated_batches(a.n_batches, a.n_new, a.seed, a.n_days)
    new = truncate_some(new.table, 0.5, a.seed)
    out = Path(a.out)
    new_path = out.with_name(f"{out.stem}_new{out.suffix}")
    _write(to_user_format(train.table, "2024-01-08 08:00", "RUN"), out)
    _write(to_user_format(new, "2025-03-03 09:00", "NEW"), new_path)
    print(
        f"wrote {out} ({a.n_batches} fault-free batches) and {new_path} "
        f"({a.n_new} new batches, some with faults, some still running)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
