"""A tiny synthetic batch table with every canonical column (no simulator needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster import schema


def synthetic_table(n_batches: int = 4, n_hours: int = 96, seed: int = 0) -> pd.DataFrame:
    """Hourly rows; assays every 24 h; titer grows with the VCD integral."""
    rng = np.random.default_rng(seed)
    frames = []
    t = np.arange(n_hours + 1, dtype=float)
    for b in range(n_batches):
        mu = rng.uniform(0.02, 0.03)
        vcd = 0.5 * np.exp(mu * t)
        df = pd.DataFrame({schema.BATCH_ID: f"S{b:03d}", schema.TIME: t})
        for v in schema.VARIABLES:
            mid = (v.lo + v.hi) / 2 if np.isfinite(v.hi) else 1.0
            df[v.name] = mid * (1 + 0.01 * rng.standard_normal(len(t)))
        df["do_pct"] = 40 + rng.standard_normal(len(t))
        df["ph"] = 7.0 + 0.01 * rng.standard_normal(len(t))
        df["temperature_C"] = 36.8
        df["volume_L"] = 2.0 + 0.001 * t
        df["vcd_1e6_cells_mL"] = vcd
        df["glucose_g_L"] = 6 - 0.02 * t
        df["titer_mg_L"] = 5 * np.cumsum(vcd)
        df["feed_rate_mL_h"] = np.floor(t / 24) * vcd[(np.floor(t / 24) * 24).astype(int)]
        offline = np.isin(t % 24, [0])
        for v in schema.OFFLINE:
            df.loc[~offline, v] = np.nan
        df[schema.FAULT_LABEL] = 0
        df[schema.FAULT_TYPE] = "none"
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
