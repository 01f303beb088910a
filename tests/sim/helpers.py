"""Helpers for the simulator tests: small configurations and column access."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from forecaster import schema
from forecaster.sim import SimConfig, SimResult


def clean_config(days: float = 9.0, **changes) -> SimConfig:
    """Fault-free, noise-free, dense config of ``days`` days (temperature shift included)."""
    cfg = SimConfig(run_length_days=days, noise_free_dense=True, **changes)
    cfg.faults.rate = 0.0
    return cfg


def only_fault(cfg: SimConfig, name: str, **spec) -> SimConfig:
    """Copy of ``cfg`` where every batch gets fault ``name`` with the given spec fields."""
    cfg = dataclasses.replace(cfg, faults=dataclasses.replace(cfg.faults, rate=1.0))
    for other in schema.FAULT_TYPES:
        setattr(cfg.faults, other, dataclasses.replace(getattr(cfg.faults, other), weight=0.0))
    setattr(cfg.faults, name, dataclasses.replace(getattr(cfg.faults, name), weight=1.0, **spec))
    return cfg


def batch(result: SimResult, batch_id: str) -> pd.DataFrame:
    """Rows of one batch, index reset."""
    t = result.table
    return t[t[schema.BATCH_ID] == batch_id].reset_index(drop=True)


def col(result: SimResult, name: str) -> np.ndarray:
    """(n_batches, rows) array of one column (every batch the same length)."""
    t = result.table
    n = t[schema.BATCH_ID].nunique()
    return t[name].to_numpy(float).reshape(n, -1)
