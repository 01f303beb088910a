"""Tiny synthetic batch tables of a non-CHO process (the microbial preset's variables).

Two shapes, written with the user's own column names and units (a column map renames them):

- ``assays``: hourly rows, daily biomass / substrate / product assays and a substrate feed;
- ``harvest_only``: no feed, the product measured once at harvest (the last row of each
  batch, as batch PLS data are), rows every 0.5 day, static initial conditions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

#: user column -> canonical variable (the column map of both tables)
USER_COLUMNS = {
    "DO2 (mg/L)": "do_mg_L",
    "pH": "ph",
    "Temp (C)": "temperature_C",
    "Volume (L)": "volume_L",
    "O2 off-gas (%)": "offgas_o2_pct",
    "CO2 off-gas (%)": "offgas_co2_pct",
    "Stirrer (rpm)": "agitation_rpm",
    "Air (L/min)": "airflow_L_min",
    "Base (L/h)": "base_flow_L_h",
    "Acid (L/h)": "acid_flow_L_h",
    "Sugar feed (L/h)": "feed_flow_L_h",
    "pH SP": "ph_setpoint",
    "T SP (C)": "temperature_setpoint_C",
    "Feed sugar (g/L)": "feed_substrate_g_L",
    "Biomass (g/L)": "biomass_g_L",
    "Sugar (g/L)": "substrate_g_L",
    "Penicillin (g/L)": "product_g_L",
}
#: static initial conditions added to the harvest-only process (user column -> variable)
INITIAL = {"Inoculum (g/L)": "inoculum_g_L", "Start sugar (g/L)": "start_sugar_g_L"}
PRODUCT_COLUMN = "Penicillin (g/L)"
FEED_COLUMN = "Sugar feed (L/h)"


def microbial_table(
    n_batches: int = 12,
    days: float = 8.0,
    step_h: float = 1.0,
    harvest_only: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """Rows of every batch with the user's column names.

    The product grows with the biomass integral times a per-batch yield that the inoculum
    and the start sugar (static inputs) and the temperature set point explain, so a model
    that reads those inputs beats the training mean.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, days * 24.0 + 1e-9, step_h)
    frames = []
    for b in range(n_batches):
        inoculum = rng.uniform(0.5, 1.5)
        start_sugar = rng.uniform(10.0, 30.0)
        t_sp = rng.uniform(28.0, 32.0)
        mu = 0.02 + 0.004 * (t_sp - 28.0) / 4.0
        biomass = np.minimum(inoculum * np.exp(mu * t), 60.0)
        product = 0.02 * (start_sugar / 20.0) * np.cumsum(biomass) * step_h / 24.0
        n = len(t)
        noise = rng.standard_normal
        df = pd.DataFrame({"Batch": f"M{b:03d}", "Time (h)": t})
        df["DO2 (mg/L)"] = 3.0 + 0.1 * noise(n) - 0.02 * biomass
        df["pH"] = 6.5 + 0.01 * noise(n)
        df["Temp (C)"] = t_sp + 0.05 * noise(n)
        df["Volume (L)"] = 60_000.0 + 50.0 * t
        df["O2 off-gas (%)"] = 20.9 - 0.05 * biomass + 0.02 * noise(n)
        df["CO2 off-gas (%)"] = 0.1 + 0.05 * biomass + 0.02 * noise(n)
        df["Stirrer (rpm)"] = 300.0 + 2.0 * biomass
        df["Air (L/min)"] = 30_000.0 + 100.0 * biomass
        df["Base (L/h)"] = 5.0 + 0.2 * biomass
        df["Acid (L/h)"] = 0.5 + 0.01 * noise(n) ** 2
        df["pH SP"] = 6.5
        df["T SP (C)"] = t_sp
        df["Feed sugar (g/L)"] = 500.0
        df["Biomass (g/L)"] = biomass * (1 + 0.03 * noise(n))
        df["Sugar (g/L)"] = np.maximum(start_sugar - 0.3 * biomass, 0.1)
        df["Penicillin (g/L)"] = product * (1 + 0.02 * noise(n))
        if harvest_only:
            df["Inoculum (g/L)"] = inoculum
            df["Start sugar (g/L)"] = start_sugar
            df.loc[df.index[:-1], PRODUCT_COLUMN] = np.nan
            assay = (t % 24.0) == 0
            df.loc[~assay, ["Biomass (g/L)", "Sugar (g/L)"]] = np.nan
        else:
            df[FEED_COLUMN] = np.floor(t / 24.0) * 20.0 * (1 + 0.1 * biomass / 60.0)
            assay = (t % 24.0) == 0
            df.loc[~assay, ["Biomass (g/L)", "Sugar (g/L)", PRODUCT_COLUMN]] = np.nan
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def write_case(folder: Path, harvest_only: bool, **table_kw) -> tuple[Path, Path]:
    """Write the table and its run config (tiny trainer settings) under ``folder``.

    Returns:
        ``(config path, table path)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    kw = {"days": 10.0, "step_h": 12.0} if harvest_only else {}
    table = microbial_table(harvest_only=harvest_only, **{**kw, **table_kw})
    data = folder / ("harvest.csv" if harvest_only else "assays.csv")
    table.to_csv(data, index=False)
    columns = {c: v for c, v in USER_COLUMNS.items() if c in table.columns}
    process: dict = {"preset": "microbial_fedbatch"}
    if harvest_only:
        columns.update(INITIAL)
        process["feed"] = "none"
        process["drop"] = ["feed_flow_L_h"]
        process["variables"] = {
            "inoculum_g_L": {"unit": "g/L", "role": "initial", "range": [0, 10]},
            "start_sugar_g_L": {"unit": "g/L", "role": "initial", "range": [0, 100]},
        }
    cfg = {
        "run_name": "harvest" if harvest_only else "assays",
        "output_dir": str(folder / "runs"),
        "seed": 0,
        "data": {
            "path": str(data),
            "process": process,
            "column_map": {
                "batch_id": "Batch",
                "time": "Time (h)",
                "time_unit": "h",
                "columns": columns,
            },  # fmt: skip
        },
        "model": {
            "hidden_size": 8,
            "num_layers": 1,
            "batch_size": 4,
            "n_days": 10,
            "min_prefix_h": 24.0,
            "exclude_inputs": [] if harvest_only else ["feed_flow_L_h"],
        },  # fmt: skip
        "trainer": {"max_epochs": 1, "patience": 1, "enable_progress_bar": False, "threads": 1},
        "rf": {"n_estimators": [10], "max_depth": [4], "min_samples_leaf": [2]},
        "anomaly": {"enabled": False},
        "explain": {"enabled": False},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path, data
