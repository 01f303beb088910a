"""Load the run's batches (simulated or the user's file) and split them by batch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from forecaster import schema
from forecaster.data.errors import ConfigError
from forecaster.data.io import read_table
from forecaster.data.splits import split_batches
from forecaster.data.validate import validate_table


@dataclass
class RunData:
    table: pd.DataFrame
    faults: pd.DataFrame
    splits: dict[str, list[str]]
    faulty: set[str]
    has_labels: bool
    batch_info: pd.DataFrame | None
    summary: dict
    sim: object = None  # the SimConfig actually used (seed included), None for user data


def _faulty_ids(table: pd.DataFrame, faults: pd.DataFrame) -> set[str]:
    ids = set(faults[schema.BATCH_ID].astype(str)) if len(faults) else set()
    if schema.FAULT_LABEL in table:
        ids |= set(table.loc[table[schema.FAULT_LABEL] > 0, schema.BATCH_ID].astype(str))
    return ids


def load_data(cfg, run_dir: Path) -> RunData:
    """Simulate (``data.path`` empty) or read + validate the user's table; split by batch."""
    batch_info = sim_cfg = None
    if cfg.data.path:
        path = Path(cfg.data.path)
        table = read_table(path, cfg.data.column_map)
        table = validate_table(table, source=str(path), min_rows=2, strict=True).table
        fpath = (
            Path(cfg.data.faults_path)
            if cfg.data.faults_path
            else path.with_name(path.stem + ".faults.csv")
        )
        if cfg.data.faults_path and not fpath.exists():
            raise ConfigError(f"fault table {fpath} not found (data.faults_path)", file=str(fpath))
        if fpath.exists():
            faults = pd.read_csv(fpath, dtype={schema.BATCH_ID: str})
        else:
            faults = pd.DataFrame(columns=list(schema.FAULT_TABLE_COLUMNS))
        has_labels = fpath.exists() or schema.FAULT_LABEL in table
        source = str(path)
    else:
        from forecaster.sim import simulate

        sim_cfg = replace(cfg.sim, seed=cfg.seed)
        res = simulate(sim_cfg, progress=cfg.trainer.enable_progress_bar)
        table, faults, batch_info = res.table, res.faults, res.batches
        has_labels = True
        source = "simulator"
    table[schema.BATCH_ID] = table[schema.BATCH_ID].astype(str)
    faulty = _faulty_ids(table, faults)
    ids = sorted(table[schema.BATCH_ID].unique())
    if len(ids) < 3:
        raise ConfigError(f"need at least 3 batches to split into train/val/test, got {len(ids)}")
    splits = split_batches(ids, faulty=faulty, fractions=tuple(cfg.data.split), seed=cfg.seed)
    summary = {"source": source, "n_batches": len(ids), "n_faulty_batches": len(faulty)}
    for k, v in splits.items():
        summary[f"n_{k}_batches"] = len(v)
        summary[f"n_{k}_faulty_batches"] = len([b for b in v if b in faulty])
    return RunData(table, faults, splits, faulty, has_labels, batch_info, summary, sim_cfg)
