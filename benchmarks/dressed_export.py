"""Our simulator dressed as another plant: a 2,000 L vessel, hourly assays, its own tags.

The batches are ours (``forecaster.sim``, CHO fed-batch) but everything a reader could lean
on is changed the way another site's historian would change it:

- **scale**: volumes and flows x ``SCALE`` (a 2 L bench vessel -> 2,000 L; concentrations,
  the titer included, are unchanged);
- **cadence**: offline assays every hour (``assay_interval_h = 1``) and noise-free (the
  simulator's offline assay noise set to 0; online sensors keep theirs);
- **time**: local wall-clock timestamps without an offset in ``Europe/Berlin``, batches
  starting every three days from 20 September 2026, so the later ones run through the
  night the clocks go back (02:00-03:00 appears twice);
- **names and units**: tag names and units of another historian (below). No fault labels:
  the batches are fault-free (``faults.rate = 0``), as a plant export has no labels.

==========================  ====================  ==========  ==========================
their column                our variable          unit        note
==========================  ====================  ==========  ==========================
Lot, Timestamp              batch_id, time_h                  local time, no offset
TI-100.PV / TIC-100.SP      temperature (set pt)  degF
AI-110.PV / AIC-110.SP      DO (set point)        mg/L, %     mg/L at air saturation
AI-120.PV / AIC-120.SP      pH (set point)        pH
LI-130.PV                   volume_L              m3          x SCALE
SI-140.PV                   agitation_rpm         rpm
FIC-150.PV, FIC-151.PV      air, CO2 sparge       m3/h, L/min x SCALE
FIC-101.PV, FIC-102.PV      feed, base            L/h         x SCALE
Feed glucose [g/L]          feed_glucose_g_L      g/L
VCD [cells/mL] ...          offline assays        (in name)   hourly, noise-free
Titer [g/L]                 titer_mg_L            g/L         the product
==========================  ====================  ==========  ==========================

``configs/examples/dressed_plant.yaml`` reads it back through its column map alone.

Usage::

    python benchmarks/dressed_export.py --n 40 --seed 0 --out data/foreign/dressed_plant.csv
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.data.process import default_process
from forecaster.data.units import to_unit
from forecaster.sim import Measurement, SimConfig, simulate

#: Volume and flow factor: a 2 L bench vessel -> a 2,000 L production vessel.
SCALE = 1000.0
SCALED = ("volume_L", "airflow_L_min", "co2_flow_mL_min", "base_rate_mL_h", "feed_rate_mL_h")
TIME_ZONE = "Europe/Berlin"
FIRST_START = pd.Timestamp("2026-09-20 08:00")  # local wall-clock time
START_EVERY_H = 72.0
TIME_FORMAT = "%Y-%m-%d %H:%M"
BATCH, TIME = "Lot", "Timestamp"

#: Our variable -> (their column, their unit).
COLUMNS: dict[str, tuple[str, str]] = {
    "temperature_C": ("TI-100.PV", "degF"),
    "do_pct": ("AI-110.PV", "mg/L"),
    "ph": ("AI-120.PV", "pH"),
    "volume_L": ("LI-130.PV", "m3"),
    "agitation_rpm": ("SI-140.PV", "rpm"),
    "airflow_L_min": ("FIC-150.PV", "m3/h"),
    "co2_flow_mL_min": ("FIC-151.PV", "L/min"),
    "feed_rate_mL_h": ("FIC-101.PV", "L/h"),
    "base_rate_mL_h": ("FIC-102.PV", "L/h"),
    "temperature_setpoint_C": ("TIC-100.SP", "degF"),
    "do_setpoint_pct": ("AIC-110.SP", "%"),
    "ph_setpoint": ("AIC-120.SP", "pH"),
    "feed_glucose_g_L": ("Feed glucose [g/L]", "g/L"),
    "vcd_1e6_cells_mL": ("VCD [cells/mL]", "cells/mL"),
    "viability_pct": ("Viability [%]", "%"),
    "glucose_g_L": ("Glucose [mmol/L]", "mmol/L"),
    "lactate_g_L": ("Lactate [mmol/L]", "mmol/L"),
    "glutamine_mM": ("Gln [mmol/L]", "mmol/L"),
    "ammonia_mM": ("NH4+ [mmol/L]", "mmol/L"),
    "titer_mg_L": ("Titer [g/L]", "g/L"),
}
PRODUCT_COLUMN = COLUMNS["titer_mg_L"][0]


def sim_config(run_length_days: float = 14.0) -> SimConfig:
    """Our simulator set up as this plant: hourly rows and assays, assays noise-free, no
    faults."""
    quiet = Measurement(vcd_cv=0.0, viability_sd_pct=0.0, glucose_cv=0.0, lactate_cv=0.0,
                        glutamine_cv=0.0, ammonia_cv=0.0, titer_cv=0.0)  # fmt: skip
    cfg = SimConfig(sample_interval_h=1.0, assay_interval_h=1.0,
                    run_length_days=run_length_days, measurement=quiet)  # fmt: skip
    return replace(cfg, faults=replace(cfg.faults, rate=0.0))


def local_stamps(hours: np.ndarray, start: pd.Timestamp) -> list[str]:
    """Hours since a local start -> local wall-clock text without an offset.

    Args:
        hours: (n,) elapsed hours since ``start``.
        start: naive local start time (in ``TIME_ZONE``).
    """
    t0 = start.tz_localize(TIME_ZONE)
    utc = t0.tz_convert("UTC") + pd.to_timedelta(np.asarray(hours, dtype=float), unit="h")
    return list(utc.tz_convert(TIME_ZONE).strftime(TIME_FORMAT))


def dress(table: pd.DataFrame, first_start: pd.Timestamp = FIRST_START) -> pd.DataFrame:
    """Our canonical batch table -> their historian table (names, units, scale, times).

    Args:
        table: ``forecaster.sim`` output, canonical names and units, hourly rows.
        first_start: local start of the first batch; the others follow every
            ``START_EVERY_H`` hours in batch order.

    Returns:
        One row per (batch, hour), the columns of the module docstring; columns of ours
        that the plant does not log (fault labels, policy inputs, recipe plans) are absent.
    """
    process = default_process()
    out = pd.DataFrame(index=table.index)
    ids = pd.unique(table[schema.BATCH_ID])
    out[BATCH] = table[schema.BATCH_ID].map({b: f"L26-{i + 1:04d}" for i, b in enumerate(ids)})
    stamps = pd.Series(index=table.index, dtype=object)
    for i, b in enumerate(ids):
        rows = table[schema.BATCH_ID] == b
        start = first_start + pd.Timedelta(hours=START_EVERY_H * i)
        stamps[rows] = local_stamps(table.loc[rows, schema.TIME].to_numpy(), start)
    out[TIME] = stamps
    for var, (column, unit) in COLUMNS.items():
        x = table[var].to_numpy(dtype=float) * (SCALE if var in SCALED else 1.0)
        out[column] = to_unit(x, var, unit, process)
    return out.reset_index(drop=True)


def column_map() -> dict:
    """The column map of this export (what ``configs/examples/dressed_plant.yaml`` holds)."""
    return {
        "batch_id": BATCH,
        "time": TIME,
        "time_unit": "timestamp",
        "time_zone": TIME_ZONE,
        "columns": {column: var for var, (column, _) in COLUMNS.items()},
        "units": {var: unit for var, (_, unit) in COLUMNS.items()},
    }


def simulate_dressed(
    n: int, seed: int = 0, first_start: pd.Timestamp = FIRST_START, run_length_days: float = 14.0
) -> pd.DataFrame:
    """Simulate ``n`` fault-free batches and dress them (see :func:`dress`)."""
    res = simulate(sim_config(run_length_days), n_batches=int(n), seed=int(seed))
    return dress(res.table, first_start)


def write(
    path: str | Path,
    n: int,
    seed: int = 0,
    first_start: pd.Timestamp = FIRST_START,
    run_length_days: float = 14.0,
) -> Path:
    """Simulate, dress and write the export CSV; returns its path (parents are created)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = simulate_dressed(n, seed, first_start, run_length_days)
    table.to_csv(out, index=False, float_format="%.6g")
    return out


def main(argv: list[str] | None = None) -> None:
    """Command line: ``--n``, ``--seed``, ``--start`` (local), ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", default=str(FIRST_START), help="first batch's local start")
    parser.add_argument("--out", default="data/foreign/dressed_plant.csv")
    args = parser.parse_args(argv)
    out = write(args.out, args.n, seed=args.seed, first_start=pd.Timestamp(args.start))
    print(f"wrote {args.n} fault-free batches of a 2,000 L plant to {out}")


if __name__ == "__main__":
    main()
